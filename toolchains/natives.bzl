"""Phase 1's output: the native module under its final name.

`bazel build //:natives [--config=PLATFORM]` leaves
bazel-bin/natives/weightstream/_native<EXT_SUFFIX>, EXT_SUFFIX being the
target's (the host interpreter's for the host; `.cpython-3XY-darwin.so` for
macOS; the arm64 root's Python for a cross Linux aarch64 build).
tools/build_natives.sh copies it to dist/natives/<platform>/ for phase 2.
"""

def _natives_impl(ctx):
    module = ctx.file.module
    out = ctx.actions.declare_file("natives/weightstream/_native" + ctx.attr.ext_suffix)
    ctx.actions.run_shell(
        inputs = [module],
        outputs = [out],
        command = "cp \"$1\" \"$2\" && chmod u+w \"$2\"",
        arguments = [module.path, out.path],
        mnemonic = "CopyNative",
    )
    # Names the module just built: several Pythons' modules can share the
    # output directory, this file always names the current one.
    manifest = ctx.actions.declare_file("natives/MANIFEST")
    ctx.actions.write(manifest, "weightstream/" + out.basename + "\n")
    return [DefaultInfo(files = depset([out, manifest]))]

natives = rule(
    implementation = _natives_impl,
    attrs = {
        "module": attr.label(allow_single_file = True, mandatory = True),
        "ext_suffix": attr.string(mandatory = True),
    },
)
