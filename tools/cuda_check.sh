#!/usr/bin/env bash
# The always-run part of the CUDA plugin's checks (no GPU needed):
#   1. bazel test --config=cuda: the real plugin built by nvcc (cuda_library)
#      and loaded by the core (no driver here: the clean "no CUDA driver"
#      error; on a GPU machine it also copies 64 MiB through the ring), plus
#      the stager (fake copy engine) and loader (fake plugin) tests
#   2. phase 2: the weightstream-cuda13 wheel (tools/build_cuda_wheel.py),
#      checked by auditwheel, and the core wheel (tools/build_wheel.py, or
#      $WEIGHTSTREAM_CORE_WHEEL if tools/test.sh built it already)
#   3. both installed into a fresh venv: test_cuda.py (no driver -> the clear
#      error; GPU tests skip, visibly, without a GPU) and test_device.py
# Skips, loudly, where nvcc is absent. Run after tools/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NVCC=${CUDA_PATH:-/usr/local/cuda}/bin/nvcc
if [ ! -x "$NVCC" ] && ! command -v nvcc >/dev/null 2>&1; then
  echo "################################################################"
  echo "## cuda_check: SKIPPED -- nvcc not found (\$CUDA_PATH or"
  echo "## /usr/local/cuda): the CUDA plugin was NOT built or tested."
  echo "################################################################"
  exit 0
fi

# shellcheck disable=SC1091
source .venv/bin/activate
export WEIGHTSTREAM_PYTHON="$ROOT/.venv/bin/python"

echo "== cuda: bazel test --config=cuda (plugin, stager, loader)"
bazel test --config=cuda --test_output=errors \
  //cpp/plugins/cuda:cuda_plugin_test \
  //cpp/weightstream:device_stager_test \
  //cpp/weightstream:device_plugin_test

work=$(mktemp -d /tmp/ws-cuda-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== cuda: building the weightstream-cuda13 wheel"
python tools/build_cuda_wheel.py --out "$work/wheels"
cuda_wheel=$(ls "$work"/wheels/weightstream_cuda13-*.whl)
ls -l "$cuda_wheel"
unzip -l "$cuda_wheel" | grep libweightstream_cuda.so

core_wheel=${WEIGHTSTREAM_CORE_WHEEL:-}
if [ -z "$core_wheel" ]; then
  echo "== cuda: building the core wheel"
  python tools/build_wheel.py --out "$work/core"
  core_wheel=$(ls "$work"/core/weightstream-*.whl)
fi

echo "== cuda: both wheels in a fresh venv"
python -m venv "$work/venv"
extras=()
ls .cache/wheels/torch-*.whl >/dev/null 2>&1 && extras=(-r tools/requirements-torch.txt)
"$work/venv/bin/python" -m pip install -q --no-index --find-links .cache/wheels \
  "$core_wheel" "$cuda_wheel" -r tools/requirements-test.txt "${extras[@]}"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import weightstream, weightstream_cuda13, os
lib = weightstream_cuda13.library_path()
assert os.path.isfile(lib), lib
assert "site-packages" in weightstream.__file__ and "site-packages" in lib, (weightstream.__file__, lib)
print("installed:", weightstream.__file__, lib, os.path.getsize(lib), "bytes")
PY
env -u WEIGHTSTREAM_CUDA_LIBRARY "$work/venv/bin/python" -m pytest -p no:cacheprovider \
  --rootdir "$work" -c /dev/null -ra -q "$ROOT/py/tests/test_cuda.py" "$ROOT/py/tests/test_device.py"
echo "== cuda: ok"
