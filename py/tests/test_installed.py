"""The package under test is the one we mean to test, and it is well formed."""

import os
import subprocess
import sys

import pytest
import weightstream
from weightstream import _native


def test_version_is_a_release_string():
    parts = weightstream.__version__.split(".")
    assert len(parts) >= 3 and all(p.isdigit() for p in parts[:3])


@pytest.mark.skipif(
    os.environ.get("WEIGHTSTREAM_EXPECT_INSTALLED") != "1",
    reason="only when testing an installed wheel",
)
def test_imported_from_the_installed_wheel_not_the_source_tree():
    location = os.path.realpath(weightstream.__file__)
    assert "site-packages" in location, location
    assert os.path.realpath(sys.prefix) in location


def test_package_is_typed():
    assert os.path.exists(os.path.join(os.path.dirname(weightstream.__file__), "py.typed"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF check")
def test_native_module_exports_only_its_init_function():
    out = subprocess.run(
        ["nm", "-D", "--defined-only", _native.__file__],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # Upper-case types are global symbols; local TLS entries may remain.
    exported = [line.split()[-1] for line in out.splitlines() if line.split()[1].isupper()]
    assert exported == ["PyInit__native"], exported


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF check")
def test_native_module_needs_no_cxx_runtime():
    out = subprocess.run(
        ["readelf", "-d", _native.__file__], check=True, capture_output=True, text=True
    ).stdout
    needed = [line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
    assert not any(n.startswith(("libstdc++", "libgcc_s")) for n in needed), needed
