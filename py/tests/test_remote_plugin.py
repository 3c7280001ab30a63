"""URLs through a real source plugin, without a network: the test plugin
(cpp/weightstream/plugin/test_plugin.cc) serves ``testfile://`` URLs from
local files through the same C ABI, dlopen and bindings as the cloud plugin.

This covers the Python side of remote loading -- scheme routing, plugin
discovery and its errors, URL checkpoints (index, prefix), options, error
classes -- independently of HTTP. test_remote_http.py covers the real plugin.

The plugin's path comes from WEIGHTSTREAM_TEST_PLUGIN (set by run_pytest.py
under Bazel and by tools/test.sh for the installed wheel); without it the
module is skipped, visibly.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import gguf
import numpy as np
import pytest
import safetensors.numpy
import weightstream as ws
from weightstream import errors

TEST_PLUGIN = os.environ.get("WEIGHTSTREAM_TEST_PLUGIN", "")

pytestmark = pytest.mark.skipif(
    not os.path.isfile(TEST_PLUGIN), reason="WEIGHTSTREAM_TEST_PLUGIN not built/set"
)


@pytest.fixture(autouse=True)
def testfile_scheme(monkeypatch):
    monkeypatch.setenv("WEIGHTSTREAM_SOURCE_PLUGINS", f"testfile={TEST_PLUGIN}")


def url(path) -> str:
    return "testfile://" + os.fspath(path)


def tensors(n: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        dtype = [np.float32, np.float16, np.int8, np.int64][i % 4]
        shape = (i % 5 + 1, i % 3 + 2)
        out[f"layer{i}.weight"] = rng.integers(-100, 100, size=shape).astype(dtype)
    return out


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), k


def test_load_file_url_equals_local(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(tensors(), path, metadata={"format": "np"})
    remote = ws.load_file(url(path))
    assert_same(remote, ws.load_file(path))
    with ws.open(url(path)) as f:
        assert f.metadata() == {"format": "np"}
        local = safetensors.numpy.load_file(path)
        np.testing.assert_array_equal(
            f.get_slice("layer9.weight")[1:3], local["layer9.weight"][1:3]
        )
        assert f.get_tensor("layer3.weight").tobytes() == local["layer3.weight"].tobytes()


def write_sharded(directory, index_name="model.safetensors.index.json", shard_dir=""):
    all_tensors = tensors(30, seed=1)
    names = sorted(all_tensors)
    shards = {
        f"{shard_dir}model-00001-of-00002.safetensors": names[:15],
        f"{shard_dir}model-00002-of-00002.safetensors": names[15:],
    }
    weight_map = {}
    for shard, keys in shards.items():
        os.makedirs(os.path.dirname(os.path.join(directory, shard)) or directory, exist_ok=True)
        safetensors.numpy.save_file({k: all_tensors[k] for k in keys}, directory / shard)
        weight_map.update({k: shard for k in keys})
    (directory / index_name).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return all_tensors


def test_index_url_reads_its_shards(tmp_path):
    expected = write_sharded(tmp_path)
    assert_same(ws.load_file(url(tmp_path / "model.safetensors.index.json")), expected)


def test_prefix_prefers_the_index(tmp_path):
    expected = write_sharded(tmp_path)
    # A stray file the index does not list must not be read.
    safetensors.numpy.save_file({"stray": np.zeros(3)}, tmp_path / "extra.safetensors")
    assert_same(ws.load_file(url(tmp_path) + "/"), expected)
    # Without the trailing slash, a URL with no known suffix is a prefix too.
    assert_same(ws.load_file(url(tmp_path)), expected)


def test_prefix_without_index_reads_every_direct_safetensors(tmp_path):
    a, b = tensors(5, seed=2), {"other": np.arange(4, dtype=np.int32)}
    safetensors.numpy.save_file(a, tmp_path / "a.safetensors")
    safetensors.numpy.save_file(b, tmp_path / "b.safetensors")
    (tmp_path / "sub").mkdir()
    safetensors.numpy.save_file({"nested": np.ones(2)}, tmp_path / "sub" / "c.safetensors")
    assert_same(ws.load_file(url(tmp_path) + "/"), {**a, **b})


def test_empty_prefix_is_file_not_found_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no \\*.safetensors objects") as e:
        ws.load_file(url(tmp_path) + "/")
    assert url(tmp_path) in str(e.value)


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/x.safetensors", "s3://b/k"])
def test_index_shards_cannot_escape_the_prefix(tmp_path, shard):
    (tmp_path / "m.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": shard}}))
    with pytest.raises(ws.FormatError, match="outside the index's prefix"):
        ws.load_file(url(tmp_path / "m.safetensors.index.json"))


def test_invalid_index_is_a_format_error_naming_the_url(tmp_path):
    (tmp_path / "m.safetensors.index.json").write_text("{not json")
    with pytest.raises(ws.FormatError, match="invalid JSON") as e:
        ws.load_file(url(tmp_path / "m.safetensors.index.json"))
    assert url(tmp_path) in str(e.value)


def test_gguf_url_equals_local(tmp_path):
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(os.fspath(path), "llama")
    writer.add_key_value("general.name", "tiny", gguf.GGUFValueType.STRING)
    rng = np.random.default_rng(3)
    for i in range(20):
        writer.add_tensor(f"t{i}", rng.standard_normal((i + 1, 8)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    remote = ws.load_file(url(path))  # dispatched by the .gguf suffix
    local = ws.gguf.load_file(path)
    assert list(remote) == list(local)
    for k in local:
        assert remote[k].tobytes() == local[k].tobytes()
    with ws.gguf.open(url(path)) as f:
        assert f.metadata["general.name"] == "tiny"
        assert f.get_tensor("t5").tobytes() == local["t5"].tobytes()


def test_streamer_over_a_mix_of_local_and_remote(tmp_path):
    a, b = tensors(10, seed=4), {"b.x": np.arange(100, dtype=np.float64)}
    safetensors.numpy.save_file(a, tmp_path / "a.safetensors")
    safetensors.numpy.save_file(b, tmp_path / "b.safetensors")
    with ws.SafetensorsStreamer(memory_limit=1 << 20) as s:
        s.stream_files([tmp_path / "a.safetensors", url(tmp_path / "b.safetensors")])
        got = dict(s.get_tensors())
    assert_same(got, {**a, **b})


def test_sha256_on_urls(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(tensors(8), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert ws.sha256_file(url(path)) == digest
    ws.verify(url(path), digest)
    assert_same(ws.load_file(url(path), sha256=digest), ws.load_file(path))
    with pytest.raises(ws.IntegrityError, match="SHA-256 mismatch"):
        ws.load_file(url(path), sha256="0" * 64)


def test_404_is_file_not_found_with_the_url(tmp_path):
    missing = url(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError) as e:
        ws.load_file(missing)
    assert isinstance(e.value, errors.RemoteFileNotFoundError)
    assert e.value.status == 404 and e.value.url == missing
    assert missing in str(e.value)


def test_403_is_permission_error(tmp_path):
    with pytest.raises(PermissionError) as e:
        ws.open(url(tmp_path / "secret@403.safetensors"))
    assert isinstance(e.value, errors.RemotePermissionError)
    assert e.value.status == 403


def test_object_changed_mid_read_is_a_read_error(tmp_path):
    path = tmp_path / "m@changed.safetensors"
    safetensors.numpy.save_file(tensors(2), path)
    with pytest.raises(ws.ReadError, match="changed while it was being read"):
        ws.load_file(url(path))


def test_unknown_option_is_rejected_by_name(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(tensors(2), path)
    with pytest.raises(ValueError, match="regoin"):
        ws.load_file(url(path), options={"regoin": "us-east-1"})


def test_option_values_never_appear_in_errors(tmp_path):
    secret = "SECRETVALUE123"
    with pytest.raises(TypeError) as e:
        ws.load_file(url(tmp_path / "m.safetensors"), options={"token": {secret}})
    assert secret not in str(e.value) and secret not in repr(e.value)


def test_query_strings_are_redacted_from_error_urls(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        ws.load_file(url(tmp_path / "nope.safetensors") + "?sig=SECRETSIG")
    assert "SECRETSIG" not in e.value.url


@pytest.mark.parametrize(
    "scheme, extra", [("s3", "s3"), ("gs", "gcs"), ("az", "azure"), ("https", "http")]
)
def test_missing_plugin_says_what_to_install(monkeypatch, scheme, extra):
    monkeypatch.setenv("WEIGHTSTREAM_CLOUD_LIBRARY", "/nonexistent/libweightstream_cloud.so")
    with pytest.raises(ImportError) as e:
        ws.load_file(f"{scheme}://bucket/model.safetensors")
    assert isinstance(e.value, ws.errors.PluginNotInstalledError)
    assert f"pip install 'weightstream[{extra}]'" in str(e.value)
    assert "weightstream-cloud" in str(e.value)


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.delenv("WEIGHTSTREAM_CLOUD_LIBRARY", raising=False)
    # None in sys.modules makes `import weightstream_cloud` fail, as when
    # the package is not installed.
    monkeypatch.setitem(sys.modules, "weightstream_cloud", None)
    with pytest.raises(errors.PluginNotInstalledError, match=r"weightstream\[s3\]"):
        ws.open("s3://bucket/model.safetensors")


def test_unloadable_plugin_library_is_reported(monkeypatch, tmp_path):
    bogus = tmp_path / "libweightstream_cloud.so"
    bogus.write_text("not a library")
    monkeypatch.setenv("WEIGHTSTREAM_CLOUD_LIBRARY", os.fspath(bogus))
    with pytest.raises(errors.PluginNotInstalledError, match="cannot use the plugin library"):
        ws.load_file("https://example.invalid/model.safetensors")


def test_plugin_serving_other_schemes_says_so(monkeypatch):
    # The test plugin serves only testfile://: as a stand-in for an old cloud
    # plugin that lacks a scheme.
    monkeypatch.setenv("WEIGHTSTREAM_CLOUD_LIBRARY", TEST_PLUGIN)
    with pytest.raises(errors.PluginNotInstalledError, match="serves only testfile://"):
        ws.load_file("gs://bucket/model.safetensors")


def test_local_paths_that_look_like_urls_stay_local(tmp_path):
    # An unknown scheme is not a URL: it is a (missing) local path.
    with pytest.raises(FileNotFoundError) as e:
        ws.load_file("ftp://host/model.safetensors")
    assert not isinstance(e.value, errors.RemoteFileNotFoundError)


def test_cli_inspect_load_verify_take_urls(tmp_path, capsys):
    from weightstream import cli

    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(tensors(6), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert cli.main(["inspect", "--json", url(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tensor_count"] == 6 and summary["format"] == "safetensors"
    assert cli.main(["load", "--json", url(path)]) == 0
    assert json.loads(capsys.readouterr().out)["tensors"] == 6
    assert cli.main(["verify", url(path), "--sha256", digest]) == 0
    assert "OK" in capsys.readouterr().out
    assert cli.main(["verify", url(path), "--sha256", "0" * 64]) == 1
    assert cli.main(["inspect", url(tmp_path / "missing.safetensors")]) == 1
    assert "HTTP 404" in capsys.readouterr().err
