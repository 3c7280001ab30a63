"""The cloud plugin's HTTP(S) provider, beyond test_remote_http.py: what it
does when HEAD is refused, how it pins reads to the version it opened, and
that URL secrets (userinfo, presigned query strings) never reach a message.
Real servers on loopback (nginx, http_servers.FlakyServer)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import safetensors.numpy
import weightstream as ws
from http_servers import FlakyServer, Nginx
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


def checkpoint_bytes(tmp_path, seed: int = 0, reverse: bool = False) -> tuple[bytes, dict]:
    t = {"w": np.arange(1 << 16, dtype=np.float32) * (seed + 1)}
    if reverse:
        t["w"] = t["w"][::-1].copy()
    p = tmp_path / f"c{seed}{int(reverse)}.safetensors"
    safetensors.numpy.save_file(t, str(p))
    return p.read_bytes(), t


def test_head_refused_falls_back_to_a_range_get(tmp_path) -> None:
    data, want = checkpoint_bytes(tmp_path)
    with FlakyServer.running() as server:  # has no HEAD: answers 501
        server.put("m.safetensors", data)
        got = ws.load_file(server.url("m.safetensors"))
        np.testing.assert_array_equal(got["w"], want["w"])
        ranges = [r.range for r in server.requests_for("m.safetensors")]
        assert ranges[0] == "bytes=0-0"


def test_file_replaced_after_open_is_an_error(tmp_path) -> None:
    a, _ = checkpoint_bytes(tmp_path)
    b, want_b = checkpoint_bytes(tmp_path, reverse=True)
    assert len(a) == len(b)
    with Nginx.running(tmp_path / "nginx", tls=False) as nginx:
        path = nginx.put("m.safetensors", a)
        url = nginx.url("m.safetensors")
        with ws.open(url) as f:
            time.sleep(1.1)  # a new mtime: nginx's ETag changes
            tmp = path.with_suffix(".new")
            tmp.write_bytes(b)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            with pytest.raises(OSError, match="changed"):
                f.get_tensor("w")
        statuses = [e.status for e in nginx.wait_log("m.safetensors", 3)]
        assert 412 in statuses
        np.testing.assert_array_equal(ws.load_file(url)["w"], want_b["w"])


def test_url_secrets_never_reach_messages(tmp_path) -> None:
    with FlakyServer.running() as server:
        url = (
            f"http://alice:PASSWORD123@127.0.0.1:{server.port}/missing.safetensors"
            "?X-Amz-Signature=SIGSECRET456&X-Amz-Credential=AKIA"
        )
        with pytest.raises(FileNotFoundError) as e:
            ws.load_file(url)
        text = str(e.value) + repr(e.value)
        assert f"127.0.0.1:{server.port}/missing.safetensors" in text
        for secret in ("PASSWORD123", "alice", "SIGSECRET456", "X-Amz-Signature"):
            assert secret not in text
        # The userinfo was used (Basic auth) and the query sent as given.
        req = server.requests_for("missing.safetensors")[0]
        assert req.authorization is not None and req.authorization.startswith("Basic ")
        assert "X-Amz-Signature=SIGSECRET456" in req.path


def test_http_has_no_listing() -> None:
    with pytest.raises(ValueError, match="cannot list an http"):
        _remote.list_prefix("http://127.0.0.1:9/models/")


def test_connection_refused_names_the_url_and_attempts() -> None:
    from http_servers import free_port  # noqa: PLC0415

    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}/m.safetensors"
    start = time.monotonic()
    with pytest.raises(OSError) as e:
        ws.load_file(url, options={"max_retries": 2})
    assert f"127.0.0.1:{port}/m.safetensors" in str(e.value)
    assert "3 attempts" in str(e.value)
    assert time.monotonic() - start < 10


def test_bad_option_values_are_not_echoed() -> None:
    with pytest.raises(ValueError) as e:
        ws.load_file("http://127.0.0.1:9/m.safetensors", options={"token": ["SECRETVALUE"]})
    assert "'token' must be a string" in str(e.value)
    assert "SECRETVALUE" not in str(e.value)
