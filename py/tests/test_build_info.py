"""The native module's build stamp and the plugin loader (weightstream._build_info)."""

import os
import sys

import pytest
import weightstream
from weightstream import _build_info


def test_build_info_matches_the_package():
    info = _build_info.build_info()
    assert info["native_version"] == weightstream.__version__ == info["version"]
    assert info["config"] in {
        "native",
        "linux_x86_64",
        "linux_aarch64",
        "linux_aarch64_gcc",
        "macos_x86_64",
        "macos_arm64",
    }
    for key in ("compiler", "target_cpu", "commit", "compilation_mode", "python", "platform"):
        assert info[key], key
    assert os.path.exists(info["native_module"])


def test_plugin_names_follow_the_platform():
    name = _build_info.plugin_filename("s3")
    assert name == ("libs3.dylib" if sys.platform == "darwin" else "libs3.so")
    assert _build_info.plugin_path("s3").endswith(name)


def test_plugin_location_overridable_by_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WEIGHTSTREAM_S3_LIBRARY", str(tmp_path / "custom.so"))
    assert _build_info.plugin_path("s3") == str(tmp_path / "custom.so")
    with pytest.raises(FileNotFoundError, match="WEIGHTSTREAM_S3_LIBRARY"):
        _build_info.load_plugin("s3")
    monkeypatch.delenv("WEIGHTSTREAM_S3_LIBRARY")
    monkeypatch.setenv("WEIGHTSTREAM_PLUGIN_DIR", str(tmp_path))
    assert _build_info.plugin_path("s3") == str(tmp_path / _build_info.plugin_filename("s3"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses the C library as a plugin")
def test_load_plugin_loads_a_shared_library(monkeypatch):
    monkeypatch.setenv("WEIGHTSTREAM_LIBC_LIBRARY", "libc.so.6")
    monkeypatch.setattr(os.path, "exists", lambda p: True)
    lib = _build_info.load_plugin("libc")
    assert lib.getpid() == os.getpid()


def test_module_bazel_declares_the_package_version():
    # The version is written once, in _version.py; Bazel's module() cannot read
    # a file, so this keeps MODULE.bazel's copy from drifting.
    import re

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    module = os.path.join(root, "MODULE.bazel")
    if not os.path.exists(module):
        pytest.skip("MODULE.bazel is not beside the tests (installed-wheel run from elsewhere)")
    text = open(module, encoding="utf-8").read()
    match = re.search(r'module\(\s*name = "weightstream",\s*version = "([^"]+)"', text)
    assert match, 'MODULE.bazel has no module(name = "weightstream", version = ...)'
    assert match.group(1) == weightstream.__version__


def test_build_info_is_public():
    assert weightstream.build_info is _build_info.build_info
