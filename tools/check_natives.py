#!/usr/bin/env python3
"""Structural checks of phase 1's natives, for any platform, on this host.

    python tools/check_natives.py dist/natives/<platform> [...]

For each native module under <dir>/weightstream/ checks what can be checked
without running it (Linux aarch64 modules are also run under qemu by
tools/release_check.sh; macOS ones cannot run here at all):

  Linux (ELF)   machine; dynamic exports = PyInit_* only; NEEDED only from
                the manylinux allow-list (no libstdc++/libgcc_s); no
                GLIBCXX/CXXABI versions; highest GLIBC symbol version <= the
                platform's floor (2.17 for the zig configs).
  macOS (Mach-O)  file type (dylib/bundle), CPU type, minimum macOS
                (LC_BUILD_VERSION / LC_VERSION_MIN_MACOSX) <= the floor;
                load commands only /usr/lib/libSystem.B.dylib (libc++ is
                linked in); exported symbols = _PyInit_* only, plus the two
                markers the linker itself defines (__mh_*_header,
                ___dso_handle: data, no code); Python's symbols looked up
                at load time (-undefined dynamic_lookup).

Prints one line per module and exits non-zero on the first violation. Uses
`file`, `llvm-readelf`/`llvm-nm`/`llvm-objdump` (Debian's llvm).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys

# platform -> (format, arch as `file` names it, floor)
PLATFORMS = {
    "linux_x86_64": ("elf", "x86-64", (2, 17)),
    "linux_aarch64": ("elf", "ARM aarch64", (2, 17)),
    "linux_aarch64_gcc": ("elf", "ARM aarch64", None),
    "native": ("elf", None, None),
    "macos_x86_64": ("macho", "x86_64", (10, 15)),
    "macos_arm64": ("macho", "arm64", (11, 0)),
}
MANYLINUX_LIBS = {
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}
MACHO_LINKER_MARKERS = {"__mh_dylib_header", "__mh_bundle_header", "___dso_handle"}


def tool(name: str) -> str:
    # Debian's llvm; on a Mac, Xcode's nm and objdump are LLVM's.
    plain = name.removeprefix("llvm-")
    for candidate in (name, name + "-14", name + "-15", name + "-16", plain):
        path = shutil.which(candidate)
        if path:
            return path
    sys.exit(f"check_natives: {name} not found (apt-get install llvm)")


def out(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


class Failed(Exception):
    pass


def need(cond: bool, msg: str) -> None:
    if not cond:
        raise Failed(msg)


def check_elf(path: str, arch: str | None, floor: tuple[int, int] | None) -> str:
    desc = out(["file", "-b", path])
    need(desc.startswith("ELF 64-bit LSB shared object"), f"not an ELF shared object: {desc}")
    if arch:
        need(arch in desc, f"wrong machine, want {arch}: {desc}")
    dyn = out([tool("llvm-readelf"), "--dynamic-table", path])
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn)
    extra = sorted(set(needed) - MANYLINUX_LIBS)
    need(not extra, f"depends on libraries outside the manylinux allow-list: {extra}")
    exports = out([tool("llvm-nm"), "-D", "--defined-only", "--format=just-symbols", path]).split()
    bad = [s for s in exports if not s.startswith("PyInit_")]
    need(exports and not bad, f"exports more than PyInit_*: {bad[:10]} ({len(bad)} in all)")
    versions = out([tool("llvm-readelf"), "--version-info", path])
    cxx = sorted(set(re.findall(r"\b((?:GLIBCXX|CXXABI|GCC)_[0-9.]+)", versions)))
    need(not cxx, f"needs the system C++ runtime: {cxx}")
    found = re.findall(r"\bGLIBC_([0-9]+\.[0-9]+)", versions)
    glibc = sorted({tuple(int(x) for x in v.split(".")) for v in found})
    top = glibc[-1] if glibc else (0, 0)
    if floor:
        need(top <= floor, f"needs GLIBC_{top[0]}.{top[1]} > the floor {floor[0]}.{floor[1]}")
    return (
        f"{desc.split(',')[1].strip()}, exports {','.join(exports)}, NEEDED {','.join(needed)}, "
        f"max GLIBC_{top[0]}.{top[1]}"
    )


def check_macho(path: str, arch: str, floor: tuple[int, int]) -> str:
    desc = out(["file", "-b", path])
    need(desc.startswith("Mach-O 64-bit"), f"not a 64-bit Mach-O: {desc}")
    need(arch in desc, f"wrong CPU, want {arch}: {desc}")
    need(
        "dynamically linked shared library" in desc or "bundle" in desc,
        f"not a dylib/bundle: {desc}",
    )
    headers = out([tool("llvm-objdump"), "--macho", "--private-headers", path])
    m = re.search(r"cmd LC_BUILD_VERSION.*?minos ([0-9.]+)", headers, re.S) or re.search(
        r"cmd LC_VERSION_MIN_MACOSX.*?version ([0-9.]+)", headers, re.S
    )
    need(m is not None, "no minimum macOS version load command")
    minos = tuple(int(x) for x in m.group(1).split(".")[:2])
    need(minos <= floor, f"minimum macOS {m.group(1)} > the floor {floor[0]}.{floor[1]}")
    dylibs = re.findall(r"cmd LC_LOAD(?:_WEAK)?_DYLIB.*?name (\S+)", headers, re.S)
    need(dylibs == ["/usr/lib/libSystem.B.dylib"], f"loads {dylibs}, want only libSystem")
    exports = out([tool("llvm-nm"), "-gU", "--format=just-symbols", path]).split()
    init = [s for s in exports if s.startswith("_PyInit_")]
    bad = [s for s in exports if not s.startswith("_PyInit_") and s not in MACHO_LINKER_MARKERS]
    need(init and not bad, f"exports more than _PyInit_*: {bad[:10]} ({len(bad)} in all)")
    undefined = out([tool("llvm-nm"), "-u", "--format=just-symbols", path]).split()
    need(any(s.startswith("_Py") for s in undefined), "no undefined Python symbols?")
    return (
        f"{desc.split(' ')[2]} {'dylib' if 'library' in desc else 'bundle'}, minos {m.group(1)}, "
        f"loads {','.join(dylibs)}, exports {','.join(init)} (+ linker markers "
        f"{','.join(sorted(set(exports) & MACHO_LINKER_MARKERS)) or 'none'})"
    )


def main() -> int:
    dirs = sys.argv[1:]
    if not dirs:
        print(__doc__)
        return 2
    failures = 0
    for d in dirs:
        platform = os.path.basename(os.path.normpath(d))
        fmt, arch, floor = PLATFORMS.get(platform, ("elf", None, None))
        modules = sorted(glob.glob(os.path.join(d, "weightstream", "_native*")))
        if not modules:
            print(f"FAIL {d}: no native module")
            failures += 1
            continue
        for path in modules:
            size = os.path.getsize(path)
            try:
                if fmt == "elf":
                    detail = check_elf(path, arch, floor)
                else:
                    detail = check_macho(path, arch, floor)
                print(f"ok   {platform}: {os.path.basename(path)} ({size / 1e6:.2f} MB): {detail}")
            except Failed as e:
                print(f"FAIL {platform}: {os.path.basename(path)}: {e}")
                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
