#!/usr/bin/env bash
# Release workflow, phase 2 on a platform's own runner: cibuildwheel packages
# the phase-1 natives (dist/natives/<platform>/, downloaded artifact), repairs
# (auditwheel / delocate) and tests the wheels, as configured in
# pyproject.toml [tool.cibuildwheel]. Wheels land in wheelhouse/.
#
#   tools/ci_phase2.sh [CIBW_BUILD selector]   (default: every configured build)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .cache/cibw
.cache/cibw/bin/python -m pip install -q -r tools/requirements-release.txt
[ $# -eq 0 ] || export CIBW_BUILD="$1"
.cache/cibw/bin/python -m cibuildwheel --output-dir wheelhouse .
ls -l wheelhouse
