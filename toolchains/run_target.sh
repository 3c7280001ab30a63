#!/usr/bin/env bash
# --run_under for the cross configs: runs a test binary built for another
# architecture under qemu-user, or directly where the host can run it (a
# native arm64 CI runner, or x86_64 binaries here). The aarch64 glibc that
# qemu loads comes from Debian's cross toolchain (libc6-arm64-cross, glibc
# 2.36 >= the 2.17 the zig builds need), or WEIGHTSTREAM_QEMU_LD_PREFIX.
set -euo pipefail
bin=$1
# ELF e_machine (bytes 18-19, little-endian): b7 00 = aarch64.
machine=$(od -An -tx1 -j18 -N2 "$bin" 2>/dev/null | tr -d ' \n' || true)
if [ "$machine" = "b700" ] && [ "$(uname -m)" != "aarch64" ]; then
  exec qemu-aarch64-static -L "${WEIGHTSTREAM_QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}" "$@"
fi
exec "$@"
