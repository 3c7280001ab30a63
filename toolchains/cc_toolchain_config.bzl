"""A small cc_toolchain_config for the cross toolchains (gcc cross and zig).

Bazel's autoconfigured toolchain stays the host default; these are selected
only by the `.bazelrc` platform configs (--extra_toolchains). Verified with
Bazel 4.2.3; uses only @bazel_tools APIs that Bazel >= 7 still provides.
"""

load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")
load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
)

_ALL_COMPILE = [
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
]
_CXX_COMPILE = [
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
]
_ALL_LINK = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _flags(actions, flags):
    return flag_set(actions = actions, flag_groups = [flag_group(flags = flags)]) if flags else None

def _impl(ctx):
    tools = dict(ctx.attr.tools)
    tool_paths = [tool_path(name = name, path = path) for name, path in tools.items()]
    reproducible = [
        "-Wno-builtin-macro-redefined",
        "-D__DATE__=\"redacted\"",
        "-D__TIMESTAMP__=\"redacted\"",
        "-D__TIME__=\"redacted\"",
    ]
    features = [
        feature(name = "supports_pic", enabled = True),
        feature(name = "supports_dynamic_linker", enabled = True),
        feature(
            name = "default_compile_flags",
            enabled = True,
            flag_sets = [s for s in [
                _flags(_ALL_COMPILE, ctx.attr.compile_flags + reproducible),
                _flags(_CXX_COMPILE, ctx.attr.cxx_flags),
            ] if s],
        ),
        feature(
            name = "default_link_flags",
            enabled = True,
            flag_sets = [s for s in [_flags(_ALL_LINK, ctx.attr.link_flags)] if s],
        ),
        feature(
            name = "opt",
            flag_sets = [_flags(_ALL_COMPILE, ["-O2", "-DNDEBUG", "-ffunction-sections", "-fdata-sections"])],
        ),
        feature(name = "dbg", flag_sets = [_flags(_ALL_COMPILE, ["-g", "-O0"])]),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = features,
        cxx_builtin_include_directories = ctx.attr.builtin_include_dirs,
        toolchain_identifier = ctx.attr.toolchain_identifier,
        host_system_name = "local",
        target_system_name = ctx.attr.target_system_name,
        target_cpu = ctx.attr.target_cpu,
        target_libc = ctx.attr.target_libc,
        compiler = ctx.attr.compiler,
        abi_version = ctx.attr.compiler,
        abi_libc_version = ctx.attr.target_libc,
        tool_paths = tool_paths,
    )

cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {
        "toolchain_identifier": attr.string(mandatory = True),
        "target_system_name": attr.string(mandatory = True),
        "target_cpu": attr.string(mandatory = True),
        "target_libc": attr.string(default = "glibc"),
        "compiler": attr.string(default = "gcc"),
        # gcc, ld, ar, cpp, gcov, nm, objdump, strip -> absolute path or a
        # path relative to the toolchain package.
        "tools": attr.string_dict(mandatory = True),
        "builtin_include_dirs": attr.string_list(),
        "compile_flags": attr.string_list(),
        "cxx_flags": attr.string_list(default = ["-std=c++17"]),
        "link_flags": attr.string_list(),
    },
    provides = [CcToolchainConfigInfo],
)
