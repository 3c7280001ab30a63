"""Repository rule: what a Linux aarch64 cross build takes from an arm64 root.

tools/setup_release.sh makes a Debian bookworm arm64 root with debootstrap
(.cache/arm64-root; WEIGHTSTREAM_AARCH64_SYSROOT overrides). A cross build of
the extension needs the target's Python headers (Debian's pyconfig.h is a
wrapper around <aarch64-linux-gnu/python3.11/pyconfig.h>) and the target's
libcrypto.a; pybind11's headers are architecture-independent and come from
the host interpreter's pybind11.

Generates :python_headers, :pybind11, :crypto (+ its headers) and defs.bzl
with EXT_SUFFIX. Loads even when the root is missing (the targets then fail
to build, saying how to make it), so builds that never select it are not
affected.
"""

PYTHON_VERSION = "3.11"  # Debian bookworm's
TRIPLE = "aarch64-linux-gnu"

_FIND_PYBIND11 = "import pybind11; print(pybind11.get_include())"

def _impl(rctx):
    workspace = str(rctx.path(Label("//:BUILD.bazel")).dirname)
    default_root = workspace + "/.cache/arm64-root"
    res = rctx.execute(["uname", "-sm"])
    if res.return_code == 0 and res.stdout.strip().split(" ") in (["Linux", "aarch64"], ["Linux", "arm64"]):
        # A native arm64 Linux host (the release runner) is its own root; only
        # libcrypto comes from here then (Python from @local_python).
        default_root = ""
    root = rctx.os.environ.get("WEIGHTSTREAM_AARCH64_SYSROOT", default_root)
    inc = root + "/usr/include"
    ok = rctx.path(root + "/usr/lib/" + TRIPLE + "/libcrypto.a").exists
    python_ok = rctx.path(inc + "/python" + PYTHON_VERSION + "/Python.h").exists
    python = rctx.os.environ.get("WEIGHTSTREAM_PYTHON", "") or "python3"
    res = rctx.execute([python, "-c", _FIND_PYBIND11])
    if res.return_code != 0:
        python_ok = False
    rctx.file("defs.bzl", "EXT_SUFFIX = \".cpython-%s-%s.so\"\nPYTHON_VERSION = \"%s\"\nAVAILABLE = %s\n" % (
        PYTHON_VERSION.replace(".", ""),
        TRIPLE,
        PYTHON_VERSION,
        ok,
    ))
    if not ok:
        rctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])
genrule(
    name = "missing",
    outs = ["missing.h"],
    cmd = "echo 'No arm64 root with libcrypto.a at {root}: run bash tools/setup.sh' >&2; exit 1",
)
cc_library(name = "python_headers", hdrs = [":missing"])
cc_library(name = "pybind11", hdrs = [":missing"])
cc_library(name = "crypto", hdrs = [":missing"])
""".format(root = root, ver = PYTHON_VERSION))
        return

    if python_ok:
        rctx.symlink(res.stdout.strip(), "pybind11_include")
        rctx.symlink(inc + "/python" + PYTHON_VERSION, "python_include")
        rctx.symlink(inc + "/" + TRIPLE + "/python" + PYTHON_VERSION, "multiarch/" + TRIPLE + "/python" + PYTHON_VERSION)

    # OpenSSL headers only (not the whole /usr/include, which would shadow the
    # cross compiler's libc): the common ones plus the arch's configuration.h.
    for d in [inc + "/openssl", inc + "/" + TRIPLE + "/openssl"]:
        for f in rctx.path(d).readdir():
            rctx.symlink(f, "openssl_include/openssl/" + f.basename)
    rctx.symlink(root + "/usr/lib/" + TRIPLE + "/libcrypto.a", "lib/libcrypto.a")

    python_libs = """
cc_library(
    name = "python_headers",
    hdrs = glob(["python_include/**/*.h", "multiarch/**/*.h"]),
    includes = ["python_include", "multiarch"],
)

cc_library(
    name = "pybind11",
    hdrs = glob(["pybind11_include/**/*.h"]),
    includes = ["pybind11_include"],
    deps = [":python_headers"],
)
""" if python_ok else """
cc_library(name = "python_headers", hdrs = [":missing"])
cc_library(name = "pybind11", hdrs = [":missing"])
"""
    rctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

genrule(
    name = "missing",
    outs = ["missing.h"],
    cmd = "echo 'No Python {ver} headers in {root}: run bash tools/setup.sh' >&2; exit 1",
)
""".format(root = root, ver = PYTHON_VERSION) + python_libs + """
cc_library(
    name = "crypto",
    srcs = ["lib/libcrypto.a"],
    hdrs = glob(["openssl_include/openssl/*.h"]),
    includes = ["openssl_include"],
    linkopts = ["-ldl", "-pthread"],
    linkstatic = True,
)
""")

linux_aarch64_sysroot = repository_rule(
    implementation = _impl,
    environ = ["WEIGHTSTREAM_AARCH64_SYSROOT", "WEIGHTSTREAM_PYTHON", "PATH"],
    local = True,
)
