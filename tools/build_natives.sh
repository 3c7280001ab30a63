#!/usr/bin/env bash
# Phase 1 of the release: build the native module for one or more platforms
# and Pythons, gather it in dist/natives/<platform>/weightstream/, and check
# its structure (tools/check_natives.py).
#
#   tools/build_natives.sh [--python PY]... PLATFORM...
#
# PLATFORM: a .bazelrc config (linux_x86_64, linux_aarch64, macos_x86_64,
# macos_arm64, linux_aarch64_gcc) or `native` (the host toolchain). --python
# (repeatable; default: $WEIGHTSTREAM_PYTHON, else python3) picks the
# interpreters whose headers and EXT_SUFFIX the module is built for; only the
# bindings are rebuilt per interpreter. A Linux aarch64 cross build always
# targets the arm64 root's Python 3.11 (see toolchains/sysroot.bzl), so one
# --python is enough there.
#
# The release workflow runs this on each platform's own runner; here it
# cross-builds every platform (tools/release_check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

pythons=()
platforms=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python) pythons+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) platforms+=("$1"); shift ;;
  esac
done
[ ${#platforms[@]} -gt 0 ] || { echo "usage: $0 [--python PY]... PLATFORM..." >&2; exit 2; }
[ ${#pythons[@]} -gt 0 ] || pythons=("${WEIGHTSTREAM_PYTHON:-$(command -v python3)}")

# Stamped into the module (build_info()); only release builds pay the relink.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit+dirty"
stamp=(--define=ws_commit="$commit")

for platform in "${platforms[@]}"; do
  dest="dist/natives/$platform"
  rm -rf "$dest"
  mkdir -p "$dest/weightstream"
  for py in "${pythons[@]}"; do
    start=$SECONDS
    echo "== phase 1: $platform, $($py -c 'import sys; print(sys.implementation.cache_tag)')"
    WEIGHTSTREAM_PYTHON=$py bazel build --config="$platform" "${stamp[@]}" //:natives
    # This configuration's output directory (its --platform_suffix); MANIFEST
    # names the module just built there.
    bin=$(WEIGHTSTREAM_PYTHON=$py bazel info --config="$platform" "${stamp[@]}" bazel-bin 2>/dev/null)
    out="$bin/natives/$(cat "$bin/natives/MANIFEST")"
    cp -f "$out" "$dest/weightstream/"
    chmod u+w "$dest/weightstream/"*
    echo "   $dest/weightstream/$(basename "$out") ($((SECONDS - start)) s)"
  done
  python3 tools/check_natives.py "$dest"
done
