#!/usr/bin/env bash
# The README's main job: set everything up, build and install the wheel, then
# load a realistic ~1 GiB checkpoint with weightstream and with safetensors,
# side by side, and print tensors, bytes, GB/s and peak memory for each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
export WEIGHTSTREAM_PYTHON="$PWD/.venv/bin/python"
rm -rf wheelhouse
python tools/build_wheel.py --out wheelhouse
python -m pip install -q --no-index --no-deps --force-reinstall wheelhouse/weightstream-*.whl
python bench/demo.py "$@"
