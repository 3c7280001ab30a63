#!/usr/bin/env bash
# Sets up and runs every test (the README's test command; CI runs this).
#   1. tools/setup.sh (idempotent)
#   2. bazel test //...: C++ unit tests, fuzz-corpus replays, and the Python
#      tests against the package as Bazel builds it; then libFuzzer on both
#      parsers for a bounded time (tools/fuzz.sh)
#   3. phase 1 + phase 2: build, check and repair the wheels
#      (tools/build_wheel.py, tools/build_cloud_wheel.py)
#   4. install both wheels into a fresh venv and run the Python tests there
#   5. the CUDA plugin (tools/cuda_check.sh): nvcc build, its wheel, the
#      no-driver checks; GPU tests skip visibly without a GPU
#   6. the release machinery for four platforms (tools/release_check.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash tools/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
export WEIGHTSTREAM_PYTHON="$ROOT/.venv/bin/python"

echo "== bazel test //..."
bazel test //...

echo "== fuzzing the parsers (libFuzzer, bounded time)"
bash tools/fuzz.sh

echo "== building the wheels (core, cloud plugin)"
rm -rf wheelhouse
python tools/build_wheel.py --out wheelhouse
wheel=$(ls wheelhouse/weightstream-*.whl)
python tools/build_cloud_wheel.py --out wheelhouse
cloud_wheel=$(ls wheelhouse/weightstream_cloud-*.whl)
ls -l "$wheel" "$cloud_wheel"

echo "== testing the installed wheel in a fresh venv"
work=$(mktemp -d /tmp/ws-wheel-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
python -m venv "$work/venv"
extras=()
ls .cache/wheels/torch-*.whl >/dev/null 2>&1 && extras=(-r tools/requirements-torch.txt)
"$work/venv/bin/python" -m pip install -q --no-index --find-links .cache/wheels \
  "$wheel" "$cloud_wheel" -r tools/requirements-test.txt -r tools/requirements-cloud.txt "${extras[@]}"
cd "$work"
# The cloud plugin comes from its installed wheel (no override); the test
# plugin (test_remote_plugin.py) from Bazel's outputs.
bazel_bin=$(cd "$ROOT" && bazel info bazel-bin 2>/dev/null)
env -u WEIGHTSTREAM_CLOUD_LIBRARY WEIGHTSTREAM_EXPECT_INSTALLED=1 WEIGHTSTREAM_EXPECT_CLOUD=1 \
  WEIGHTSTREAM_TEST_PLUGIN="$bazel_bin/cpp/weightstream/plugin/libws_test_plugin.so" \
  "$work/venv/bin/python" -m pytest -p no:cacheprovider \
  --rootdir "$work" -c /dev/null -ra -q "$ROOT/py/tests"

echo "== CUDA plugin: build with nvcc, wheel, no-driver checks (tools/cuda_check.sh)"
cd "$ROOT"
WEIGHTSTREAM_CORE_WHEEL="$ROOT/$wheel" bash tools/cuda_check.sh

echo "== release: cross builds, workflows, phase-2 rehearsal (tools/release_check.sh)"
bash "$ROOT/tools/release_check.sh"
