"""Loading over HTTP(S) end to end: the real cloud plugin (weightstream-cloud)
against nginx on loopback, plus a fault-injecting TCP proxy in front of it.

Everything is compared byte for byte with loading the same files locally.
The plugin comes from WEIGHTSTREAM_CLOUD_LIBRARY (Bazel: run_pytest.py) or
the installed weightstream_cloud package; without either the module is
skipped, visibly -- unless WEIGHTSTREAM_EXPECT_CLOUD=1 (tools/test.sh), where
a missing plugin is a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator

import gguf
import numpy as np
import pytest
import safetensors.numpy
import weightstream as ws
from http_servers import Nginx
from weightstream import _remote, errors


def _plugin_available() -> bool:
    try:
        _remote.plugin_for("http")
        return True
    except errors.PluginNotInstalledError:
        return False


if not _plugin_available():
    if os.environ.get("WEIGHTSTREAM_EXPECT_CLOUD") == "1":
        raise RuntimeError("WEIGHTSTREAM_EXPECT_CLOUD=1 but the cloud plugin cannot be loaded")
    pytest.skip("the cloud plugin (weightstream-cloud) is not available", allow_module_level=True)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory) -> Iterator[Nginx]:
    with Nginx.running(tmp_path_factory.mktemp("nginx")) as server:
        yield server


def tensors(n: int, seed: int = 0, rows: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        dtype = [np.float32, np.float16, np.int8, np.int64][i % 4]
        out[f"layer{i:04d}.weight"] = rng.integers(-100, 100, size=(rows, i % 7 + 1)).astype(dtype)
    return out


def put_safetensors(nginx: Nginx, name: str, data: dict[str, np.ndarray]) -> bytes:
    raw = safetensors.numpy.save(data)
    nginx.put(name, raw)
    return raw


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), k


def test_single_file_equals_local(nginx):
    data = tensors(50, seed=1)
    put_safetensors(nginx, "single/model.safetensors", data)
    got = ws.load_file(nginx.url("single/model.safetensors"))
    assert_same(got, ws.load_file(nginx.www / "single" / "model.safetensors"))
    assert_same(got, data)


def test_large_tensors_use_parallel_ranges(nginx):
    rng = np.random.default_rng(2)
    data = {f"big{i}": rng.standard_normal((1024, 1024)).astype(np.float32) for i in range(6)}
    raw = put_safetensors(nginx, "big/model.safetensors", data)
    got = ws.load_file(nginx.url("big/model.safetensors"), concurrency=4, chunk_size=1 << 20)
    assert_same(got, data)
    gets = [e for e in nginx.log("model.safetensors") if "/big/" in e.uri and e.method == "GET"]
    # 24 MiB in 1 MiB requests: parallel ranged GETs, not one stream.
    assert len(gets) >= 24
    assert all(e.status == 206 for e in gets)
    assert sum(e.bytes_sent for e in gets) < len(raw) + 64 * 1024


def test_index_url_with_shards(nginx):
    data = tensors(40, seed=3)
    names = sorted(data)
    weight_map = {}
    for i, part in enumerate((names[:20], names[20:])):
        shard = f"model-0000{i + 1}-of-00002.safetensors"
        put_safetensors(nginx, f"sharded/{shard}", {k: data[k] for k in part})
        weight_map.update({k: shard for k in part})
    index = json.dumps({"metadata": {}, "weight_map": weight_map}).encode()
    nginx.put("sharded/model.safetensors.index.json", index)
    assert_same(ws.load_file(nginx.url("sharded/model.safetensors.index.json")), data)
    with ws.open(nginx.url("sharded/model.safetensors.index.json")) as f:
        assert len(f) == 40
        np.testing.assert_array_equal(f.get_tensor(names[33]), data[names[33]])


def test_gguf_over_http(nginx, tmp_path):
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(os.fspath(path), "llama")
    writer.add_key_value("general.name", "tiny", gguf.GGUFValueType.STRING)
    rng = np.random.default_rng(4)
    for i in range(30):
        writer.add_tensor(f"t{i}", rng.standard_normal((i + 1, 16)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    nginx.put("gguf/m.gguf", path.read_bytes())
    remote = ws.load_file(nginx.url("gguf/m.gguf"))
    local = ws.gguf.load_file(path)
    assert list(remote) == list(local)
    for k in local:
        assert remote[k].tobytes() == local[k].tobytes()
    with ws.gguf.open(nginx.url("gguf/m.gguf")) as f:
        assert f.metadata["general.name"] == "tiny"


def test_streamer_over_local_and_remote(nginx, tmp_path):
    a, b = tensors(20, seed=5), tensors(10, seed=6, rows=3)
    b = {"b." + k: v for k, v in b.items()}
    safetensors.numpy.save_file(a, tmp_path / "a.safetensors")
    put_safetensors(nginx, "mix/b.safetensors", b)
    with ws.SafetensorsStreamer(memory_limit=4 << 20) as s:
        s.stream_files([tmp_path / "a.safetensors", nginx.url("mix/b.safetensors")])
        got = dict(s.get_tensors())
    assert_same(got, {**a, **b})


def test_get_slice_reads_only_its_rows(nginx):
    rows, cols = 4096, 256
    w = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
    put_safetensors(nginx, "slice/model.safetensors", {"w": w})
    url = nginx.url("slice/model.safetensors")
    with ws.open(url) as f:
        before = len(nginx.wait_log("model.safetensors", 1))
        got = f.get_slice("w")[100:110]
    np.testing.assert_array_equal(got, w[100:110])
    entries = nginx.wait_log("model.safetensors", before + 1)[before:]
    entries = [e for e in entries if "/slice/" in e.uri]
    assert len(entries) == 1
    assert entries[0].status == 206
    assert entries[0].bytes_sent == 10 * cols * 4  # 10 rows, nothing else


def test_many_small_tensors_take_few_requests(nginx):
    data = {f"t{i:05d}": np.full(8, i, dtype=np.float32) for i in range(3000)}
    put_safetensors(nginx, "small/model.safetensors", data)
    url = nginx.url("small/model.safetensors")
    assert_same(ws.load_file(url), data)
    requests = [e for e in nginx.log("model.safetensors") if "/small/" in e.uri]
    # Open (size), header, and the ~100 KB of tensors coalesced into one or a
    # few ranged GETs -- not 3000.
    assert len(requests) <= 8, [(e.method, e.range) for e in requests]


def test_tls_needs_a_trusted_certificate(nginx):
    data = tensors(5, seed=7)
    put_safetensors(nginx, "tls/model.safetensors", data)
    url = nginx.https_url("tls/model.safetensors")
    with pytest.raises(OSError) as e:
        ws.load_file(url, options={"max_retries": 0})
    assert "127.0.0.1" in str(e.value)
    got = ws.load_file(url, options={"ca_bundle": os.fspath(nginx.cert)})
    assert_same(got, data)


def test_404_is_file_not_found_naming_the_url(nginx):
    url = nginx.url("nowhere/model.safetensors")
    with pytest.raises(FileNotFoundError) as e:
        ws.load_file(url)
    assert isinstance(e.value, errors.RemoteFileNotFoundError)
    assert e.value.status == 404
    assert url in str(e.value)


def test_403_is_permission_error(nginx):
    nginx.put("model.safetensors", safetensors.numpy.save(tensors(1)))
    with pytest.raises(PermissionError) as e:
        ws.load_file(nginx.url("model.safetensors", location="forbidden"))
    assert isinstance(e.value, errors.RemotePermissionError)
    assert e.value.status == 403


def test_sha256_over_http(nginx):
    raw = put_safetensors(nginx, "sha/model.safetensors", tensors(10, seed=8))
    digest = hashlib.sha256(raw).hexdigest()
    url = nginx.url("sha/model.safetensors")
    assert ws.sha256_file(url) == digest
    ws.load_file(url, sha256=digest)
    with pytest.raises(ws.IntegrityError):
        ws.load_file(url, sha256="f" * 64)


def test_missing_plugin_gives_the_install_message(monkeypatch, nginx):
    monkeypatch.setenv("WEIGHTSTREAM_CLOUD_LIBRARY", "/nonexistent/libweightstream_cloud.so")
    with pytest.raises(errors.PluginNotInstalledError, match=r"pip install 'weightstream\[http\]'"):
        ws.load_file(nginx.url("single/model.safetensors"))


# --------------------------------------------------------------------------
# Faults: a TCP proxy between the plugin and nginx
# --------------------------------------------------------------------------


class FaultyProxy:
    """Forwards TCP connections to `upstream_port`. The first `faults`
    connections that carry a response body are cut after `cut_after` bytes
    of the response: the client sees a connection reset / short body."""

    def __init__(self, upstream_port: int, faults: int, cut_after: int) -> None:
        self.upstream_port = upstream_port
        self.faults = faults
        self.cut_after = cut_after
        self.cuts = 0
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))

        def pump_up() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    upstream.sendall(data)

        threading.Thread(target=pump_up, daemon=True).start()
        sent = 0
        try:
            while data := upstream.recv(65536):
                with self.lock:
                    cut = self.cuts < self.faults and sent + len(data) > self.cut_after
                    if cut:
                        self.cuts += 1
                if cut:
                    client.sendall(data[: max(0, self.cut_after - sent)])
                    break
                client.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
            upstream.close()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.stopping = True
        self.server.close()


@contextlib.contextmanager
def proxy(nginx: Nginx, faults: int, cut_after: int) -> Iterator[FaultyProxy]:
    p = FaultyProxy(nginx.port, faults, cut_after)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture(scope="module")
def big_file(nginx) -> tuple[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(9)
    data = {f"w{i}": rng.standard_normal((512, 512)).astype(np.float32) for i in range(4)}
    put_safetensors(nginx, "faults/model.safetensors", data)
    return "faults/model.safetensors", data


def test_dropped_connections_are_retried_to_exact_data(nginx, big_file):
    name, data = big_file
    with proxy(nginx, faults=3, cut_after=300_000) as p:
        got = ws.load_file(p.url(name), chunk_size=1 << 20, concurrency=2)
        assert p.cuts == 3  # the faults really happened
    assert_same(got, data)


def test_persistent_truncation_fails_never_returns_wrong_data(nginx, big_file):
    name, _ = big_file
    with proxy(nginx, faults=10_000, cut_after=200_000) as p:
        with pytest.raises(OSError) as e:
            ws.load_file(p.url(name), chunk_size=1 << 20, options={"max_retries": 2})
        assert p.cuts > 0
    assert isinstance(e.value, ws.ReadError)
    assert str(p.port) in str(e.value)
