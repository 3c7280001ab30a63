"""The installed weightstream-cloud wheel: where the plugin library comes
from, what it links and exports, and that the core loads it.

Runs only where both wheels are installed (WEIGHTSTREAM_EXPECT_INSTALLED=1
and WEIGHTSTREAM_EXPECT_CLOUD=1, both set by tools/test.sh), where the plugin
must come from site-packages. The core-only wheel tests (cibuildwheel's
test-command) skip it.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("WEIGHTSTREAM_EXPECT_INSTALLED") != "1"
    or os.environ.get("WEIGHTSTREAM_EXPECT_CLOUD") != "1",
    reason="only when testing the installed core and weightstream-cloud wheels",
)


def test_installed_from_site_packages_with_its_library():
    import weightstream_cloud

    path = weightstream_cloud.library_path()
    assert "site-packages" in path
    assert os.path.isfile(path)
    assert os.path.isfile(os.path.join(os.path.dirname(path), "py.typed"))
    assert "WEIGHTSTREAM_CLOUD_LIBRARY" not in os.environ


def test_the_core_loads_the_installed_plugin():
    import weightstream_cloud
    from weightstream import _native, _remote

    plugin = _remote.plugin_for("s3")
    assert plugin.path == weightstream_cloud.library_path()
    assert plugin.name == "weightstream-cloud"
    assert plugin.version == weightstream_cloud.__version__
    assert plugin.abi_version == _native.SOURCE_PLUGIN_ABI_VERSION
    assert set(weightstream_cloud.SCHEMES) <= set(plugin.schemes)


@pytest.mark.skipif(shutil.which("ldd") is None, reason="no ldd")
def test_every_dependency_resolves_inside_the_wheel_or_the_system():
    import weightstream_cloud

    path = weightstream_cloud.library_path()
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    assert "not found" not in out
    # libcurl is bundled by auditwheel (it is not on the manylinux list).
    curl = [line for line in out.splitlines() if "libcurl" in line]
    assert curl and all("weightstream_cloud.libs" in line for line in curl), out


@pytest.mark.skipif(shutil.which("nm") is None, reason="no nm")
def test_exports_only_the_entry_point():
    import weightstream_cloud

    out = subprocess.run(
        ["nm", "-D", "--defined-only", weightstream_cloud.library_path()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    symbols = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert symbols == {"ws_source_plugin_v1"}, symbols
