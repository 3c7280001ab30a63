"""gs:// through the weightstream-cloud plugin against gcp-storage-emulator.

Objects are uploaded with the official client (google-cloud-storage) and
read back with weightstream; every load is compared with loading the same
bytes from a local file. The emulator runs as a separate process on
127.0.0.1 (gcs_server.py); credentials are exercised with a real OAuth2
token endpoint on loopback that verifies the service account's RS256
assertion with the public key, and an emulator that then insists on the
token it issued. Concurrency stays at 4: the emulator serves one request at
a time with a listen backlog of 5.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import weightstream as ws
from gcs_server import GcsEmulator
from weightstream import _remote
from weightstream.errors import PluginNotInstalledError

pytest.importorskip("google.cloud.storage")

CONCURRENCY = 4


def _plugin_available() -> bool:
    try:
        _remote.plugin_for("gs")
        return True
    except PluginNotInstalledError:
        return False


if not _plugin_available():
    if os.environ.get("WEIGHTSTREAM_EXPECT_CLOUD") == "1":
        raise RuntimeError("WEIGHTSTREAM_EXPECT_CLOUD=1 but the cloud plugin cannot be loaded")
    pytest.skip("the cloud plugin (weightstream-cloud) is not available", allow_module_level=True)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Google settings or gcloud files from the machine running the tests."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))


def tensors(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        f"layer{seed}.weight": rng.standard_normal((64, 33)).astype(np.float32),
        f"layer{seed}.bias": rng.integers(-(2**40), 2**40, size=(7,), dtype=np.int64),
        f"layer{seed}.mask": (rng.random(1000) > 0.5),
        f"layer{seed}.u8": rng.integers(0, 255, size=(3, 5, 2), dtype=np.uint8),
    }


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        assert got[name].dtype == value.dtype, name
        assert got[name].shape == value.shape, name
        assert got[name].tobytes() == value.tobytes(), name


@pytest.fixture(scope="module")
def emulator() -> Iterator[GcsEmulator]:
    with GcsEmulator.running() as server:
        yield server


@pytest.fixture(scope="module")
def bucket(emulator: GcsEmulator):
    return emulator.client().create_bucket("models")


def opts(emulator: GcsEmulator, **extra) -> dict:
    return {"endpoint_url": emulator.endpoint, **extra}


def test_single_file_byte_equal_to_local(emulator, bucket, tmp_path: Path) -> None:
    data = safetensors.numpy.save(tensors(1), metadata={"format": "np"})
    bucket.blob("single/model.safetensors").upload_from_string(data)
    local = tmp_path / "model.safetensors"
    local.write_bytes(data)

    got = ws.load_file(
        "gs://models/single/model.safetensors", options=opts(emulator), concurrency=CONCURRENCY
    )
    assert_same(got, ws.load_file(local))
    assert_same(got, tensors(1))


def test_small_chunks_cover_every_byte(emulator, bucket) -> None:
    # Many ranged GETs per tensor: the ranges must tile the data exactly.
    data = safetensors.numpy.save(tensors(2))
    bucket.blob("chunks/model.safetensors").upload_from_string(data)
    got = ws.load_file(
        "gs://models/chunks/model.safetensors",
        options=opts(emulator),
        concurrency=CONCURRENCY,
        chunk_size=4096,
    )
    assert_same(got, tensors(2))


def test_storage_emulator_host_env(emulator, bucket, monkeypatch) -> None:
    bucket.blob("env/model.safetensors").upload_from_string(safetensors.numpy.save(tensors(3)))
    # The Google clients accept a bare host:port here; so do we.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint.removeprefix("http://"))
    got = ws.load_file("gs://models/env/model.safetensors", concurrency=CONCURRENCY)
    assert_same(got, tensors(3))


def test_sharded_checkpoint_with_index_and_prefix(emulator, bucket, tmp_path: Path) -> None:
    shards = {
        "model-00001-of-00002.safetensors": tensors(10),
        "model-00002-of-00002.safetensors": tensors(11),
    }
    weight_map = {}
    for shard, content in shards.items():
        data = safetensors.numpy.save(content)
        bucket.blob(f"sharded/{shard}").upload_from_string(data)
        (tmp_path / shard).write_bytes(data)
        weight_map.update(dict.fromkeys(content, shard))
    index = json.dumps({"metadata": {}, "weight_map": weight_map})
    bucket.blob("sharded/model.safetensors.index.json").upload_from_string(index)
    (tmp_path / "model.safetensors.index.json").write_text(index)
    want = {
        **shards["model-00001-of-00002.safetensors"],
        **shards["model-00002-of-00002.safetensors"],
    }

    by_index = ws.load_file(
        "gs://models/sharded/model.safetensors.index.json",
        options=opts(emulator),
        concurrency=CONCURRENCY,
    )
    assert_same(by_index, want)
    by_prefix = ws.load_file(
        "gs://models/sharded/", options=opts(emulator), concurrency=CONCURRENCY
    )
    assert_same(by_prefix, want)
    assert_same(by_prefix, ws.load_file(tmp_path))


def test_prefix_listing_without_index(emulator, bucket) -> None:
    bucket.blob("plain/a.safetensors").upload_from_string(safetensors.numpy.save(tensors(20)))
    bucket.blob("plain/b.safetensors").upload_from_string(safetensors.numpy.save(tensors(21)))
    # A sibling whose name shares the prefix string must not be listed.
    bucket.blob("plainer/c.safetensors").upload_from_string(safetensors.numpy.save(tensors(22)))
    got = ws.load_file("gs://models/plain/", options=opts(emulator), concurrency=CONCURRENCY)
    assert_same(got, {**tensors(20), **tensors(21)})


def test_missing_object_and_bucket(emulator, bucket) -> None:
    with pytest.raises(FileNotFoundError) as e:
        ws.load_file("gs://models/nope/model.safetensors", options=opts(emulator))
    assert "gs://models/nope/model.safetensors" in str(e.value)
    assert "404" in str(e.value)
    with pytest.raises(FileNotFoundError):
        ws.load_file("gs://no-such-bucket/model.safetensors", options=opts(emulator))


def test_bad_urls_are_specific(emulator) -> None:
    with pytest.raises(ValueError, match="bucket name"):
        ws.load_file("gs://UPPER/model.safetensors", options=opts(emulator))
    with pytest.raises(ValueError, match="endpoint_url"):
        ws.load_file("gs://models/x.safetensors", options={"endpoint_url": "ftp://x"})


def test_object_replaced_mid_read_is_an_error(emulator, bucket) -> None:
    original = safetensors.numpy.save(tensors(30))
    blob = bucket.blob("replaced/model.safetensors")
    blob.upload_from_string(original)
    changed = tensors(30)
    for value in changed.values():
        value.view(np.uint8)[...] ^= 0x5A  # Same layout, same size, other bytes.
    replacement = safetensors.numpy.save(changed)
    assert len(replacement) == len(original)

    with ws.open("gs://models/replaced/model.safetensors", options=opts(emulator)) as f:
        name = next(iter(tensors(30)))
        before = f.get_tensor(name)
        assert before.tobytes() == tensors(30)[name].tobytes()
        blob.upload_from_string(replacement)
        with pytest.raises(OSError, match="changed") as e:
            f.get_tensor(name)
        assert "gs://models/replaced/model.safetensors" in str(e.value)


# --- Credentials -----------------------------------------------------------


class TokenServer:
    """An OAuth2 token endpoint on 127.0.0.1 (RFC 6749/7523): verifies the
    service account's RS256 assertion with its public key, or the refresh
    token of an authorized_user file, and issues `token`."""

    def __init__(self, public_key, token: str, refresh_token: str) -> None:
        self.public_key = public_key
        self.token = token
        self.refresh_token = refresh_token
        self.grants: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                status, body = outer.answer(form, self.headers.get("Content-Type", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, form: dict, content_type: str) -> tuple[int, dict]:
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415

        self.grants.append(form)
        if content_type != "application/x-www-form-urlencoded":
            return 400, {"error": "invalid_request"}
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") != self.refresh_token or form.get("client_id") != "cid":
                return 400, {"error": "invalid_grant", "error_description": "Bad refresh token."}
            return 200, {"access_token": self.token, "expires_in": 3599, "token_type": "Bearer"}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}

        def b64(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        head, payload, signature = form["assertion"].split(".")
        try:
            self.public_key.verify(
                b64(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        header, claims = json.loads(b64(head)), json.loads(b64(payload))
        now = time.time()
        ok = (
            header == {"alg": "RS256", "typ": "JWT", "kid": "key-1"}
            and claims["iss"] == "loader@test.iam.gserviceaccount.com"
            and claims["aud"] == self.uri
            and claims["scope"] == "https://www.googleapis.com/auth/devstorage.read_only"
            and claims["iat"] - 60 <= now <= claims["exp"]
            and claims["exp"] - claims["iat"] == 3600
        )
        if not ok:
            return 400, {"error": "invalid_grant", "error_description": "Bad claims."}
        return 200, {"access_token": self.token, "expires_in": 3599, "token_type": "Bearer"}

    def __enter__(self) -> TokenServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


TOKEN = "ya29.issued-by-the-test-token-server"


@pytest.fixture(scope="module")
def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def token_server(rsa_key) -> Iterator[TokenServer]:
    with TokenServer(rsa_key.public_key(), TOKEN, "1//refresh-SECRET") as server:
        yield server


@pytest.fixture(scope="module")
def locked() -> Iterator[GcsEmulator]:
    """An emulator that refuses requests without `Bearer TOKEN`."""
    with GcsEmulator.running(require_token=TOKEN) as server:
        bucket = server.client().create_bucket("private")
        for shard in ("a", "b"):
            bucket.blob(f"ckpt/{shard}.safetensors").upload_from_string(
                safetensors.numpy.save(tensors(ord(shard)))
            )
        yield server


def service_account_file(path: Path, rsa_key, token_uri: str) -> Path:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "test",
                "private_key_id": "key-1",
                "private_key": pem,
                "client_email": "loader@test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path


def test_service_account_via_google_application_credentials(
    locked, token_server, rsa_key, tmp_path: Path, monkeypatch
) -> None:
    sa = service_account_file(tmp_path / "sa.json", rsa_key, token_server.uri)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa))
    before = len(token_server.grants)
    got = ws.load_file("gs://private/ckpt/", options=opts(locked), concurrency=CONCURRENCY)
    assert_same(got, {**tensors(ord("a")), **tensors(ord("b"))})
    # One exchange for the whole checkpoint: the token is cached and shared.
    assert len(token_server.grants) - before == 1
    assert token_server.grants[-1]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"


def test_service_account_via_option(locked, token_server, rsa_key, tmp_path: Path) -> None:
    sa = service_account_file(tmp_path / "sa-option.json", rsa_key, token_server.uri)
    got = ws.load_file(
        "gs://private/ckpt/a.safetensors", options=opts(locked, credentials_file=str(sa))
    )
    assert_same(got, tensors(ord("a")))


def test_wrong_service_account_key_is_refused(locked, token_server, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa = service_account_file(tmp_path / "wrong.json", other, token_server.uri)
    with pytest.raises(PermissionError) as e:
        ws.load_file(
            "gs://private/ckpt/a.safetensors", options=opts(locked, credentials_file=str(sa))
        )
    message = str(e.value)
    assert "Invalid JWT Signature" in message
    assert "loader@test.iam.gserviceaccount.com" in message
    assert "PRIVATE KEY" not in message and "assertion=" not in message


def test_authorized_user_refresh_token(locked, token_server, tmp_path: Path) -> None:
    user = tmp_path / "adc.json"
    user.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "cid",
                "client_secret": "csecret-SECRET",
                "refresh_token": "1//refresh-SECRET",
                "token_uri": token_server.uri,
            }
        )
    )
    got = ws.load_file(
        "gs://private/ckpt/b.safetensors", options=opts(locked, credentials_file=str(user))
    )
    assert_same(got, tensors(ord("b")))
    assert token_server.grants[-1]["grant_type"] == "refresh_token"


def test_token_option_and_refusals(locked) -> None:
    got = ws.load_file("gs://private/ckpt/a.safetensors", options=opts(locked, token=TOKEN))
    assert_same(got, tensors(ord("a")))

    with pytest.raises(PermissionError) as e:
        ws.load_file(
            "gs://private/ckpt/a.safetensors", options=opts(locked, token="ya29.WRONG-SECRET")
        )
    assert "401" in str(e.value)
    assert "WRONG-SECRET" not in str(e.value)
    assert "the token option" in str(e.value)

    with pytest.raises(PermissionError) as e:
        ws.load_file("gs://private/ckpt/a.safetensors", options=opts(locked, anonymous=True))
    assert "no credentials" in str(e.value)


def test_bad_credentials_file_is_an_open_error(locked, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "service_account", "private_key": "SECRET"}')
    with pytest.raises(ValueError) as e:
        ws.load_file(
            "gs://private/ckpt/a.safetensors", options=opts(locked, credentials_file=str(bad))
        )
    assert str(bad) in str(e.value)
    assert "client_email" in str(e.value)
    assert "SECRET" not in str(e.value)
