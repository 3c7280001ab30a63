"""Repository rule: Python headers and pybind11 for one interpreter.

The extension module must be built for the interpreter that will import it, so
the interpreter is chosen at configure time: $WEIGHTSTREAM_PYTHON if set, else
`python3` on PATH. Changing either re-runs the rule, while the C++ core objects
stay cached (they do not depend on Python).

Generates:
  :python_headers  cc_library with Python.h
  :pybind11        cc_library with pybind11 headers (+ python_headers)
  defs.bzl         EXT_SUFFIX (e.g. ".cpython-311-x86_64-linux-gnu.so"),
                   PYTHON_VERSION ("3.11"), PYTHON_BIN
"""

_QUERY = """
import sys, sysconfig
import pybind11
print(sysconfig.get_paths()["include"])
print(pybind11.get_include())
print(sysconfig.get_config_var("EXT_SUFFIX"))
print("%d.%d" % sys.version_info[:2])
print(sys.executable)
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
    include, pybind11_include, ext_suffix, version, executable = result.stdout.strip().split("\n")
    ctx.symlink(include, "python_include")
    ctx.symlink(pybind11_include, "pybind11_include")
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "python_headers",
    hdrs = glob(["python_include/**/*.h"]),
    includes = ["python_include"],
)

cc_library(
    name = "pybind11",
    hdrs = glob(["pybind11_include/**/*.h"]),
    includes = ["pybind11_include"],
    deps = [":python_headers"],
)
""")
    ctx.file("defs.bzl", """
EXT_SUFFIX = "{ext}"
PYTHON_VERSION = "{ver}"
PYTHON_BIN = "{bin}"
""".format(ext = ext_suffix, ver = version, bin = executable))

python_configure = repository_rule(
    implementation = _python_configure_impl,
    environ = ["WEIGHTSTREAM_PYTHON", "PATH", "VIRTUAL_ENV"],
    local = True,
)
