"""Entry point for `bazel test //py/tests:python_tests`."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Bazel puts the workspace root on sys.path, where our `py/` directory would
# shadow pytest's own `py` module; the package is reachable through `py/`.
WORKSPACE_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != WORKSPACE_ROOT]

import pytest  # noqa: E402

# Plugin libraries Bazel built (data dependencies of the test): the test
# plugin for test_remote_plugin.py, the cloud plugin for the remote tests
# (weightstream_cloud's own directory has no library under Bazel).
for variable, library in (
    ("WEIGHTSTREAM_TEST_PLUGIN", "cpp/weightstream/plugin/libws_test_plugin.so"),
    ("WEIGHTSTREAM_CLOUD_LIBRARY", "cpp/plugins/cloud/libweightstream_cloud.so"),
):
    candidate = os.path.join(WORKSPACE_ROOT, library)
    if variable not in os.environ and os.path.isfile(candidate):
        os.environ[variable] = candidate

if __name__ == "__main__":
    args = [HERE, "-q", "-ra", "-p", "no:cacheprovider"]
    tmp = os.environ.get("TEST_TMPDIR")
    if tmp:
        args += ["--basetemp", os.path.join(tmp, "pytest")]
    sys.exit(pytest.main(args))
