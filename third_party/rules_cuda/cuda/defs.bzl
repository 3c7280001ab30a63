"""Offline stand-in for bazel-contrib/rules_cuda's public API (cuda/defs.bzl).

Debian's Bazel 4.2.3 cannot fetch rules_cuda, so WORKSPACE.bazel points
@rules_cuda here; with Bazel >= 7, MODULE.bazel brings the real rule set and
the BUILD files stay unchanged. Implemented subset:

  cuda_library(name, srcs, hdrs, deps, copts, host_copts, defines,
               local_defines, includes, linkopts, alwayslink)

compiles every .cu/.cc source with nvcc (host compiler: the C++ toolchain's
compiler, -ccbin), for the architectures of --@rules_cuda//cuda:archs
(rules_cuda's grammar, e.g. "compute_80:sm_80,sm_86;compute_100:sm_100,
compute_100"), archives the objects and provides CcInfo, with the CUDA runtime
of --@rules_cuda//cuda:runtime (e.g. @cuda//:cuda_runtime_static) as a
dependency, like rules_cuda. Not implemented: rdc (relocatable device code),
clang as the CUDA compiler, cuda_objects, cuda_binary/cuda_test, toolchain
resolution (the toolkit is the one rules_cuda_toolchains() found).
"""

load("//cuda/private:cuda_library.bzl", _cuda_library = "cuda_library")

cuda_library = _cuda_library
