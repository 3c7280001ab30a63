#!/usr/bin/env python3
"""Phase 2 for the cloud plugin: package the Bazel-built plugin library into
the weightstream-cloud wheel.

    python tools/build_cloud_wheel.py [--library PATH] [--out wheelhouse] [--no-repair]

Phase 1 is `bazel build //cpp/plugins/cloud:libweightstream_cloud.so` (run
here unless --library names an existing build). The library is staged with
py/weightstream_cloud in a clean tree, setuptools builds a py3-none-<platform>
wheel (no Python extension: one wheel for every CPython; no build isolation:
nothing is downloaded), and auditwheel repairs it: libcurl and the libraries
it needs (OpenSSL, nghttp2, ...) are not on the manylinux allow-list, so
they are copied into weightstream_cloud.libs/ and the plugin's RPATH points
there. The repaired wheel is checked again with `auditwheel show`, and its
tag and contents are asserted.
"""

from __future__ import annotations

import os

from wheel_tools import ROOT, Plugin, bazel_bin, bazel_env, run

PLUGIN = Plugin(
    prog="build_cloud_wheel",
    module="weightstream_cloud",
    dist="weightstream-cloud",
    target="//cpp/plugins/cloud:libweightstream_cloud.so",
    library="libweightstream_cloud.so",
    tmp_prefix="ws-cloud-wheel-",
)


def build_library() -> str:
    env = bazel_env()
    run(["bazel", "build", PLUGIN.target], cwd=ROOT, env=env)
    return os.path.join(bazel_bin(env), "cpp", "plugins", "cloud", PLUGIN.library)


if __name__ == "__main__":
    PLUGIN.main(__doc__, build_library)
