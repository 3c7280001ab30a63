#!/usr/bin/env bash
# cibuildwheel `before-build` (pyproject.toml [tool.cibuildwheel]): puts the
# phase-1 native module for this build's platform and Python into the package.
#
#   tools/cibw_before_build.sh PROJECT_DIR
#
# Phase 1 (tools/build_natives.sh, downloaded as an artifact in the release
# workflow) left PROJECT_DIR/dist/natives/<platform>/weightstream/_native<EXT_SUFFIX>.
# The platform comes from WEIGHTSTREAM_NATIVES_PLATFORM (set per wheel kind by
# the cibuildwheel overrides), the suffix from the Python that builds the
# wheel. Nothing is compiled here. tools/rehearse_release.sh runs this same
# script on a staged copy of the project.
set -euo pipefail
project=${1:?usage: $0 PROJECT_DIR}
platform=${WEIGHTSTREAM_NATIVES_PLATFORM:?set by [tool.cibuildwheel] overrides}
# WEIGHTSTREAM_EXT_SUFFIX: for the local rehearsal of another platform's wheel.
suffix=${WEIGHTSTREAM_EXT_SUFFIX:-$(python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')}
src="$project/dist/natives/$platform/weightstream/_native$suffix"
if [ ! -f "$src" ]; then
  echo "cibw_before_build: no $src; phase 1 built:" >&2
  ls -R "$project/dist/natives" >&2 || true
  exit 1
fi
rm -f "$project"/py/weightstream/_native*.so
cp "$src" "$project/py/weightstream/"
echo "cibw_before_build: $platform: $(basename "$src")"
