"""rules_cuda's WORKSPACE entry points, for the offline stand-in.

rules_cuda_toolchains() makes the @cuda repository from the local toolkit
($CUDA_PATH, else /usr/local/cuda), as rules_cuda's local toolchain detection
does: :toolkit (its path), :cuda_runtime (libcudart.so) and
:cuda_runtime_static (libcudart_static.a). Without a toolkit the repository
still exists, its runtime targets are empty and any cuda_library fails with a
message saying so, so builds that use no CUDA never notice.
"""

def _local_cuda_impl(ctx):
    candidates = []
    if ctx.os.environ.get("CUDA_PATH"):
        candidates.append(ctx.os.environ["CUDA_PATH"])
    if ctx.attr.toolkit_path:
        candidates.insert(0, ctx.attr.toolkit_path)
    candidates.append("/usr/local/cuda")
    root = ""
    for c in candidates:
        if ctx.path(c + "/bin/nvcc").exists:
            root = c
            break
    version = ""
    runtime = "cc_library(name = \"cuda_runtime\")\ncc_library(name = \"cuda_runtime_static\")\n"
    if root:
        header = ctx.read(root + "/include/cuda_runtime_api.h")
        for line in header.splitlines():
            if line.startswith("#define CUDART_VERSION"):
                n = int([w for w in line.split(" ") if w][-1])
                version = "%d.%d" % (n // 1000, n % 1000 // 10)
        for lib in ["libcudart_static.a", "libcudart.so"]:
            if ctx.path(root + "/lib64/" + lib).exists:
                ctx.symlink(root + "/lib64/" + lib, "lib64/" + lib)
        runtime = """
cc_library(
    name = "cuda_runtime",
    srcs = ["lib64/libcudart.so"],
)

# The runtime linked into the library: it needs only the driver at run time.
cc_library(
    name = "cuda_runtime_static",
    srcs = ["lib64/libcudart_static.a"],
    linkopts = ["-ldl", "-lrt", "-lpthread"],
)
"""
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.file("BUILD.bazel", """
load("@rules_cc//cc:defs.bzl", "cc_library")
load("@rules_cuda//cuda/private:toolkit.bzl", "cuda_toolkit_path")

package(default_visibility = ["//visibility:public"])

cuda_toolkit_path(
    name = "toolkit",
    path = "{root}",
    version = "{version}",
    searched = "{searched}",
)
{runtime}""".format(
        root = root,
        version = version,
        searched = ", ".join(candidates),
        runtime = runtime,
    ))

local_cuda = repository_rule(
    implementation = _local_cuda_impl,
    attrs = {"toolkit_path": attr.string()},
    environ = ["CUDA_PATH"],
    local = True,
)

def rules_cuda_dependencies():
    """rules_cuda's own dependencies: none offline."""
    pass

def rules_cuda_toolchains(name = "cuda", toolkit_path = "", register_toolchains = False):
    """Makes @cuda from the local toolkit. register_toolchains is accepted for
    compatibility; the stand-in's cuda_library finds the toolkit through @cuda."""
    if not native.existing_rule(name):
        local_cuda(name = name, toolkit_path = toolkit_path)
