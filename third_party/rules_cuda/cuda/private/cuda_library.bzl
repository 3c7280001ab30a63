"""cuda_library for the offline stand-in (see ../defs.bzl)."""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")
load(":flags.bzl", "BuildSettingInfo")
load(":toolkit.bzl", "CudaToolkitPathInfo")

_SOURCE_EXTENSIONS = [".cu", ".cc", ".cpp", ".cxx", ".c"]
_HEADER_EXTENSIONS = [".h", ".hh", ".hpp", ".cuh", ".inc", ".inl"]

def gencode_flags(spec_string):
    """-gencode flags for rules_cuda's arch spec grammar (see //cuda:archs)."""
    flags = []
    for spec in [s.strip() for s in spec_string.split(";") if s.strip()]:
        virtual = None
        gpus = spec
        if ":" in spec:
            virtual, gpus = spec.split(":", 1)
        gpu_list = [g.strip() for g in gpus.split(",") if g.strip()]
        for g in gpu_list + ([virtual] if virtual else []):
            if not (g.startswith("sm_") or g.startswith("compute_")):
                fail("bad CUDA arch %r in %r: expected sm_NN or compute_NN" % (g, spec_string))
        if virtual == None:
            # As rules_cuda: the lowest listed arch provides the virtual one.
            numbers = sorted([int(g.split("_")[1]) for g in gpu_list])
            virtual = "compute_%d" % numbers[0]
        for g in gpu_list:
            flags.append("-gencode=arch=%s,code=%s" % (virtual, g))
    return flags

def _is(f, extensions):
    for e in extensions:
        if f.basename.endswith(e):
            return True
    return False

def _cuda_library_impl(ctx):
    toolkit = ctx.attr._toolkit[CudaToolkitPathInfo]
    if not toolkit.path:
        fail(("%s needs the CUDA toolkit, and none was found (%s). Install CUDA " +
              "(nvcc) or build without --config=cuda.") % (ctx.label, toolkit.searched))
    if ctx.attr.rdc:
        fail("rdc = True is not implemented by the offline rules_cuda stand-in")
    cc_toolchain = find_cpp_toolchain(ctx)
    feature_configuration = cc_common.configure_features(
        ctx = ctx,
        cc_toolchain = cc_toolchain,
        requested_features = ctx.features,
        unsupported_features = ctx.disabled_features,
    )
    deps = [d[CcInfo] for d in ctx.attr.deps] + [ctx.attr._runtime[CcInfo]]
    dep_contexts = [d.compilation_context for d in deps]

    include_flags = ["-I.", "-I" + ctx.bin_dir.path]
    for c in dep_contexts:
        for d in c.includes.to_list() + c.quote_includes.to_list():
            include_flags.append("-I" + d)
        for d in c.system_includes.to_list():
            include_flags.append("-isystem=" + d)
        for d in c.defines.to_list():
            include_flags.append("-D" + d)
    pkg = ctx.label.package
    root = ctx.label.workspace_root
    for inc in ctx.attr.includes:
        base = "/".join([p for p in [root, pkg, inc] if p])
        include_flags += ["-I" + base, "-I" + ctx.bin_dir.path + "/" + base]
    defines = ["-D" + d for d in ctx.attr.defines + ctx.attr.local_defines]

    archs = ctx.attr._archs[BuildSettingInfo].value
    extra = [c for c in ctx.attr._copts[BuildSettingInfo].value.split(" ") if c]
    host = ["-Xcompiler=-fPIC"] + ["-Xcompiler=" + c for c in ctx.attr.host_copts]

    srcs = [f for f in ctx.files.srcs if _is(f, _SOURCE_EXTENSIONS)]
    private_hdrs = [f for f in ctx.files.srcs if _is(f, _HEADER_EXTENSIONS)]
    inputs = depset(
        ctx.files.srcs + ctx.files.hdrs,
        transitive = [c.headers for c in dep_contexts],
    )
    objects = []
    for src in srcs:
        obj = ctx.actions.declare_file("_objs/%s/%s.o" % (ctx.label.name, src.basename))
        args = ctx.actions.args()
        args.add_all(["-c", src.path, "-o", obj.path])
        args.add("-ccbin=" + cc_toolchain.compiler_executable)
        args.add_all(["-std=c++17", "-O2"])
        args.add_all(gencode_flags(archs))
        args.add_all(host + include_flags + defines + ctx.attr.copts + extra)
        if src.basename.endswith(".cu"):
            args.add("-x=cu")
        ctx.actions.run(
            executable = toolkit.path + "/bin/nvcc",
            arguments = [args],
            inputs = inputs,
            outputs = [obj],
            mnemonic = "NvccCompile",
            progress_message = "nvcc %s (%s)" % (src.short_path, archs or "default arch"),
            use_default_shell_env = True,
        )
        objects.append(obj)

    lib = ctx.actions.declare_file("lib%s.a" % ctx.label.name)
    ctx.actions.run(
        executable = cc_toolchain.ar_executable,
        arguments = ["rcsD", lib.path] + [o.path for o in objects],
        inputs = objects,
        outputs = [lib],
        mnemonic = "CudaArchive",
        use_default_shell_env = True,
    )
    library = cc_common.create_library_to_link(
        actions = ctx.actions,
        feature_configuration = feature_configuration,
        cc_toolchain = cc_toolchain,
        static_library = lib,
        pic_static_library = lib,
        alwayslink = ctx.attr.alwayslink,
    )
    linker_input = cc_common.create_linker_input(
        owner = ctx.label,
        libraries = depset([library]),
        user_link_flags = depset(ctx.attr.linkopts),
    )
    own = CcInfo(
        compilation_context = cc_common.create_compilation_context(
            headers = depset(ctx.files.hdrs + private_hdrs),
            defines = depset(ctx.attr.defines),
        ),
        linking_context = cc_common.create_linking_context(
            linker_inputs = depset([linker_input]),
        ),
    )
    return [
        DefaultInfo(files = depset([lib])),
        cc_common.merge_cc_infos(direct_cc_infos = [own], cc_infos = deps),
    ]

cuda_library = rule(
    implementation = _cuda_library_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = _SOURCE_EXTENSIONS + _HEADER_EXTENSIONS),
        "hdrs": attr.label_list(allow_files = _HEADER_EXTENSIONS),
        "deps": attr.label_list(providers = [CcInfo]),
        "copts": attr.string_list(doc = "nvcc options."),
        "host_copts": attr.string_list(doc = "Host compiler options (-Xcompiler)."),
        "defines": attr.string_list(),
        "local_defines": attr.string_list(),
        "includes": attr.string_list(),
        "linkopts": attr.string_list(),
        "alwayslink": attr.bool(default = False),
        "rdc": attr.bool(default = False),
        "_archs": attr.label(default = "//cuda:archs"),
        "_copts": attr.label(default = "//cuda:copts"),
        "_runtime": attr.label(default = "//cuda:runtime"),
        "_toolkit": attr.label(default = "@cuda//:toolkit"),
        "_cc_toolchain": attr.label(default = "@bazel_tools//tools/cpp:current_cc_toolchain"),
    },
    fragments = ["cpp"],
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
)
