#!/usr/bin/env bash
# cibuildwheel `test-command`: the Python suite against the installed wheel,
# from a directory where the source tree cannot shadow it (the wheel's
# test-extras installed pytest, safetensors, gguf).
#
#   tools/cibw_test.sh PROJECT_DIR [PYTHON]
set -euo pipefail
project=${1:?usage: $0 PROJECT_DIR [PYTHON]}
python=${2:-python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
WEIGHTSTREAM_EXPECT_INSTALLED=1 "$python" -m pytest -p no:cacheprovider \
  --rootdir "$work" -c /dev/null -q "$project/py/tests"
