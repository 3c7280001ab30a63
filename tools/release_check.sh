#!/usr/bin/env bash
# The release machinery, checked end to end on this (Linux x86_64) machine;
# tools/test.sh runs it last. Needs tools/setup.sh (done by test.sh).
#
#   1. workflows: GitHub's workflow schema (check-jsonschema) and a static
#      security audit (zizmor --offline); cibuildwheel's build identifiers
#      for each platform from pyproject.toml [tool.cibuildwheel]
#   2. phase 1 for all four release platforms (tools/build_natives.sh: zig
#      cross toolchains, glibc 2.17 / macOS floors) + structural checks
#   3. the C++ unit tests built for linux_aarch64, run under qemu-user
#   4. phase 2 rehearsal (tools/rehearse_release.sh): repaired wheels for
#      every platform; the x86_64 one tested in a fresh venv, the aarch64 one
#      with the arm64 Python under qemu; macOS ones checked structurally
#
# RELEASE_CHECK_PLATFORMS narrows step 2 and 4 (default: all four).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck disable=SC1091
source .venv/bin/activate
export WEIGHTSTREAM_PYTHON=${WEIGHTSTREAM_PYTHON:-$ROOT/.venv/bin/python}
platforms=(${RELEASE_CHECK_PLATFORMS:-linux_x86_64 linux_aarch64 macos_x86_64 macos_arm64})
t0=$SECONDS
step() { echo "== release_check: $* ($((SECONDS - t0)) s)"; }

step "workflows: schema"
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
step "workflows: zizmor --offline"
zizmor --offline --no-progress .github/workflows
step "cibuildwheel --print-build-identifiers"
want="cp310 cp311 cp312 cp313 cp314"
for spec in "linux x86_64 manylinux_x86_64" "linux aarch64 manylinux_aarch64" \
            "macos x86_64 macosx_x86_64" "macos arm64 macosx_arm64"; do
  read -r plat arch tag <<<"$spec"
  got=$(cibuildwheel --print-build-identifiers --platform "$plat" --archs "$arch" | tr '\n' ' ')
  expect=$(for v in $want; do printf '%s-%s ' "$v" "$tag"; done)
  if [ "$got" != "$expect" ]; then
    echo "cibuildwheel $plat/$arch: got '$got', want '$expect'" >&2
    exit 1
  fi
  echo "   $plat $arch: $got"
done

step "phase 1: natives for ${platforms[*]}"
bash tools/build_natives.sh "${platforms[@]}"

if [[ " ${platforms[*]} " == *" linux_aarch64 "* ]]; then
  step "C++ unit tests for linux_aarch64 under qemu-user"
  # The core only: the plugins are built natively on each release runner
  # (tools/ci_plugin_wheel.sh); the zig cross configs have no libcurl,
  # expat or CUDA for them.
  bazel test --config=linux_aarch64 //cpp/weightstream/... //cpp/python/...
fi

step "phase 2 rehearsal: ${platforms[*]}"
bash tools/rehearse_release.sh "${platforms[@]}"
step "done"
