"""Entry point for `bazel test //py/tests:python_tests`."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Bazel puts the workspace root on sys.path, where our `py/` directory would
# shadow pytest's own `py` module; the package is reachable through `py/`.
WORKSPACE_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != WORKSPACE_ROOT]

import pytest  # noqa: E402

if __name__ == "__main__":
    args = [HERE, "-q", "-ra", "-p", "no:cacheprovider"]
    tmp = os.environ.get("TEST_TMPDIR")
    if tmp:
        args += ["--basetemp", os.path.join(tmp, "pytest")]
    sys.exit(pytest.main(args))
