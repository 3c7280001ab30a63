#!/usr/bin/env bash
# Sets up a fresh Debian (bookworm) machine for building and testing
# weightstream. Idempotent: a second run only checks.
#
#   - Debian packages: Bazel 4.2.3, googletest and nlohmann-json sources,
#     Python headers/venv when the system Python is used.
#   - .venv: build and test tools (tools/requirements-*.txt).
#   - .cache/wheels: every wheel the tests install into a fresh venv, fetched
#     now so that building and testing never download anything.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${WEIGHTSTREAM_PYTHON:-python3}
APT_PACKAGES=(bazel-bootstrap nlohmann-json3-dev googletest libssl-dev openssl nginx-light clang libclang-rt-14-dev)
# Cross builds and the release rehearsal (tools/setup_release.sh).
APT_PACKAGES+=(file llvm)
[ "${WEIGHTSTREAM_CROSS:-1}" = 0 ] || APT_PACKAGES+=(g++-aarch64-linux-gnu qemu-user-static binfmt-support debootstrap)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# The system Python needs its headers and venv module; pyenv builds have both.
if ! "$PYTHON" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
  missing+=(python3-dev)
fi
if ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat tools/requirements-*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python build and test tools into .venv"
  .venv/bin/python -m pip install -q -r tools/requirements-dev.txt -r tools/requirements-release.txt
  mkdir -p .cache/wheels
  .venv/bin/python -m pip download -q -d .cache/wheels -r tools/requirements-test.txt numpy==2.4.6 ml_dtypes==0.6.0
  # torch: only a CPU build available without downloading CUDA (pip's
  # find-links may provide one). Without it the torch tests are skipped.
  if .venv/bin/python -m pip download -q --no-deps -d .cache/wheels torch==2.13.0 2>/dev/null \
      && ls .cache/wheels/torch-2.13.0+cpu* >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q --find-links .cache/wheels -r tools/requirements-torch.txt
    .venv/bin/python -m pip download -q -d .cache/wheels --find-links .cache/wheels -r tools/requirements-torch.txt
  else
    rm -f .cache/wheels/torch-*.whl
    echo "setup: no CPU build of torch available offline; torch tests will be skipped"
  fi
  echo "$want" >"$stamp"
fi
bash tools/setup_release.sh
# The cloud plugin: libcurl/expat headers, storage servers for its tests.
bash tools/setup_cloud.sh
echo "setup: ok ($(.venv/bin/python --version), $(bazel --version 2>/dev/null || echo 'bazel ?'))"
