"""Where the CUDA toolkit is: the @cuda repository's :toolkit target."""

CudaToolkitPathInfo = provider(fields = ["path", "version", "searched"])

def _impl(ctx):
    return [CudaToolkitPathInfo(
        path = ctx.attr.path,
        version = ctx.attr.version,
        searched = ctx.attr.searched,
    )]

cuda_toolkit_path = rule(
    implementation = _impl,
    attrs = {
        "path": attr.string(doc = "Toolkit root, or empty if none was found."),
        "version": attr.string(),
        "searched": attr.string(),
    },
)
