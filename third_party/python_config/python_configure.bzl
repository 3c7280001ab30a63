"""Repository rule: Python headers and pybind11 for one interpreter.

The extension module must be built for the interpreter that will import it, so
the interpreter is chosen at configure time: $WEIGHTSTREAM_PYTHON if set, else
`python3` on PATH. Changing either re-runs the rule, while the C++ core objects
stay cached (they do not depend on Python).

Generates:
  :python_headers  cc_library with Python.h
  :pybind11        cc_library with pybind11 headers (+ python_headers)
  defs.bzl         EXT_SUFFIX (e.g. ".cpython-311-x86_64-linux-gnu.so"),
                   PYTHON_VERSION ("3.11"), PYTHON_BIN, and
                   TARGET_EXT_SUFFIX: a select() giving the suffix for the
                   target platform (//toolchains: .bazelrc platform configs)

Cross builds (see toolchains/): for a Linux aarch64 target on another host the
two libraries are the arm64 root's (@linux_aarch64_sysroot, Python 3.11); for
macOS targets these headers serve (the extension looks Python's symbols up at
load time: -undefined dynamic_lookup), with macOS's suffix.
"""

_QUERY = """
import sys, sysconfig
import pybind11
print(sysconfig.get_paths()["include"])
print(pybind11.get_include())
print(sysconfig.get_config_var("EXT_SUFFIX"))
print("%d.%d" % sys.version_info[:2])
print(sys.executable)
print(sys.implementation.cache_tag)
import platform
print(platform.machine())
"""

def _python_configure_impl(ctx):
    python = ctx.os.environ.get("WEIGHTSTREAM_PYTHON", "")
    if not python:
        found = ctx.which("python3")
        if not found:
            fail("python3 not found on PATH; set WEIGHTSTREAM_PYTHON")
        python = str(found)
    result = ctx.execute([python, "-c", _QUERY])
    if result.return_code != 0:
        fail("%s cannot report its headers (is pybind11 installed for it?):\n%s" %
             (python, result.stderr))
    include, pybind11_include, ext_suffix, version, executable, cache_tag, machine = result.stdout.strip().split("\n")
    host_is_linux_aarch64 = machine in ("aarch64", "arm64") and not ctx.os.name.lower().startswith("mac")
    ctx.symlink(include, "python_include")
    ctx.symlink(pybind11_include, "pybind11_include")
    # A Linux aarch64 target on any other host takes the arm64 root's headers.
    cross = "" if host_is_linux_aarch64 else """
        ":cross_linux_aarch64": "@linux_aarch64_sysroot//:{name}","""
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

config_setting(
    name = "cross_linux_aarch64",
    constraint_values = ["@platforms//os:linux", "@platforms//cpu:aarch64"],
)

config_setting(
    name = "target_macos",
    constraint_values = ["@platforms//os:macos"],
)

cc_library(
    name = "python_headers_host",
    hdrs = glob(["python_include/**/*.h"]),
    includes = ["python_include"],
)

cc_library(
    name = "pybind11_host",
    hdrs = glob(["pybind11_include/**/*.h"]),
    # With libc++ pybind11 gives its exception classes default visibility
    # (for exception translation across modules that share one libc++); the
    # macOS extension links its own libc++ privately and must export only
    # PyInit_* (on Linux the version script hides them).
    defines = select({{
        ":target_macos": ["PYBIND11_EXPORT_EXCEPTION="],
        "//conditions:default": [],
    }}),
    includes = ["pybind11_include"],
    deps = [":python_headers_host"],
)

alias(
    name = "python_headers",
    actual = select({{{cross_h}
        "//conditions:default": ":python_headers_host",
    }}),
)

alias(
    name = "pybind11",
    actual = select({{{cross_p}
        "//conditions:default": ":pybind11_host",
    }}),
)
""".format(
        cross_h = cross.format(name = "python_headers"),
        cross_p = cross.format(name = "pybind11"),
    ))
    cross_suffix = "" if host_is_linux_aarch64 else \
        """\n    "@local_python//:cross_linux_aarch64": _AARCH64_EXT_SUFFIX,"""
    ctx.file("defs.bzl", """
load("@linux_aarch64_sysroot//:defs.bzl", _AARCH64_EXT_SUFFIX = "EXT_SUFFIX")

EXT_SUFFIX = "{ext}"
PYTHON_VERSION = "{ver}"
PYTHON_BIN = "{bin}"
TARGET_EXT_SUFFIX = select({{
    "@local_python//:target_macos": ".{tag}-darwin.so",{cross_suffix}
    "//conditions:default": EXT_SUFFIX,
}})
""".format(ext = ext_suffix, ver = version, bin = executable, tag = cache_tag, cross_suffix = cross_suffix))

python_configure = repository_rule(
    implementation = _python_configure_impl,
    environ = ["WEIGHTSTREAM_PYTHON", "PATH", "VIRTUAL_ENV"],
    local = True,
)
