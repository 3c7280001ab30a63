"""Entry point for `bazel test //py/tests:python_tests`."""

import os
import sys

import pytest

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    tmp = os.environ.get("TEST_TMPDIR")
    args = [here, "-q", "-ra", "-p", "no:cacheprovider"]
    if tmp:
        args += ["--basetemp", os.path.join(tmp, "pytest")]
    sys.exit(pytest.main(args))
