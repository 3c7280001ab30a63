#!/usr/bin/env bash
# Release workflow, the plugin wheels (Linux only): both phases for one plugin
# on the platform's own runner, leaving the repaired wheel in wheelhouse/.
#
#   tools/ci_plugin_wheel.sh cloud    # weightstream-cloud: phase 1 bazel, phase 2 auditwheel
#   tools/ci_plugin_wheel.sh cuda13   # weightstream-cuda13: needs nvcc (CUDA 13) on the runner
#
# A plugin wheel carries no Python extension (py3-none-<platform>), so one
# wheel per platform serves every CPython; it is built with the same Bazel
# setup as the core (tools/setup.sh: Debian's Bazel 4.2.3, WORKSPACE.bazel).
# The wheels are tested where tools/test.sh tests them; this script only
# builds and checks them (the build scripts assert tag, contents, exports).
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${1:?usage: $0 cloud|cuda13}

WEIGHTSTREAM_CROSS=0 bash tools/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
export WEIGHTSTREAM_PYTHON=$PWD/.venv/bin/python
case $plugin in
  cloud) python tools/build_cloud_wheel.py --out wheelhouse ;;
  cuda13) python tools/build_cuda_wheel.py --out wheelhouse ;;
  *) echo "ci_plugin_wheel: unknown plugin '$plugin' (cloud or cuda13)" >&2; exit 2 ;;
esac
ls -l wheelhouse/
