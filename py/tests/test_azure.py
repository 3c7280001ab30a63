"""az:// (and Azure https URLs) through the weightstream-cloud plugin against
Azurite.

Blobs are uploaded with the official client (azure-storage-blob) and read
back with weightstream; every load is compared with loading the same bytes
from a local file. Azurite runs as a separate process on 127.0.0.1
(azure_server.py) and checks Shared Key signatures and SAS tokens the way
Azure does, so a wrong key is a real 403.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import weightstream as ws
from azure_server import ACCOUNT, KEY, Azurite
from weightstream import _remote
from weightstream.errors import PluginNotInstalledError

pytest.importorskip("azure.storage.blob")

# A key of the right shape that is not the account's.
WRONG_KEY = "V1JPTkctS0VZLVNFQ1JFVC0wMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODk="


def _plugin_available() -> bool:
    try:
        _remote.plugin_for("az")
        return True
    except PluginNotInstalledError:
        return False


if not _plugin_available():
    if os.environ.get("WEIGHTSTREAM_EXPECT_CLOUD") == "1":
        raise RuntimeError("WEIGHTSTREAM_EXPECT_CLOUD=1 but the cloud plugin cannot be loaded")
    pytest.skip("the cloud plugin (weightstream-cloud) is not available", allow_module_level=True)


def tensors(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        f"block{seed}.weight": rng.standard_normal((48, 65)).astype(np.float32),
        f"block{seed}.scale": rng.standard_normal(17).astype(np.float16),
        f"block{seed}.ids": rng.integers(-(2**31), 2**31, size=(4, 9), dtype=np.int32),
    }


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        assert got[name].dtype == value.dtype, name
        assert got[name].shape == value.shape, name
        assert got[name].tobytes() == value.tobytes(), name


@pytest.fixture(scope="module")
def azurite(tmp_path_factory) -> Iterator[Azurite]:
    with Azurite.running(tmp_path_factory.mktemp("azurite")) as server:
        yield server


@pytest.fixture(scope="module")
def container(azurite: Azurite):
    return azurite.client().create_container("models")


@pytest.fixture()
def clean_env(monkeypatch) -> None:
    for name in (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def upload(container, name: str, content: dict[str, np.ndarray]) -> bytes:
    data = safetensors.numpy.save(content)
    container.upload_blob(name, data, overwrite=True)
    return data


def test_connection_string_option_byte_equal_to_local(
    azurite, container, tmp_path: Path, clean_env
) -> None:
    data = upload(container, "single/model.safetensors", tensors(1))
    local = tmp_path / "model.safetensors"
    local.write_bytes(data)
    got = ws.load_file(
        "az://models/single/model.safetensors",
        options={"connection_string": azurite.connection_string},
    )
    assert_same(got, ws.load_file(local))
    assert_same(got, tensors(1))


def test_small_chunks_cover_every_byte(azurite, container, clean_env) -> None:
    upload(container, "chunks/model.safetensors", tensors(2))
    got = ws.load_file(
        "az://models/chunks/model.safetensors",
        options={"connection_string": azurite.connection_string},
        chunk_size=4096,
        concurrency=8,
    )
    assert_same(got, tensors(2))


def test_environment_connection_string_and_account_key(
    azurite, container, monkeypatch, clean_env
) -> None:
    upload(container, "env/model.safetensors", tensors(3))
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    assert_same(ws.load_file("az://models/env/model.safetensors"), tensors(3))

    # Account name + key from the environment, endpoint from the options.
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("AZURE_STORAGE_KEY", KEY)
    got = ws.load_file(
        "az://models/env/model.safetensors", options={"endpoint_url": azurite.endpoint}
    )
    assert_same(got, tensors(3))


def test_sharded_checkpoint_with_index_and_prefix(
    azurite, container, tmp_path: Path, clean_env
) -> None:
    shards = {
        "model-00001-of-00002.safetensors": tensors(10),
        "model-00002-of-00002.safetensors": tensors(11),
    }
    weight_map = {}
    for shard, content in shards.items():
        (tmp_path / shard).write_bytes(upload(container, f"sharded/{shard}", content))
        weight_map.update(dict.fromkeys(content, shard))
    index = json.dumps({"metadata": {}, "weight_map": weight_map})
    container.upload_blob("sharded/model.safetensors.index.json", index, overwrite=True)
    (tmp_path / "model.safetensors.index.json").write_text(index)
    want = {**tensors(10), **tensors(11)}
    options = {"connection_string": azurite.connection_string}

    assert_same(
        ws.load_file("az://models/sharded/model.safetensors.index.json", options=options), want
    )
    by_prefix = ws.load_file("az://models/sharded/", options=options)
    assert_same(by_prefix, want)
    assert_same(by_prefix, ws.load_file(tmp_path))


def test_prefix_listing_without_index(azurite, container, clean_env) -> None:
    upload(container, "plain/a.safetensors", tensors(20))
    upload(container, "plain/b.safetensors", tensors(21))
    upload(container, "plainer/c.safetensors", tensors(22))  # Same string prefix.
    got = ws.load_file(
        "az://models/plain/", options={"connection_string": azurite.connection_string}
    )
    assert_same(got, {**tensors(20), **tensors(21)})


def test_missing_blob_and_container(azurite, container, clean_env) -> None:
    options = {"connection_string": azurite.connection_string}
    with pytest.raises(FileNotFoundError) as e:
        ws.load_file("az://models/nope/model.safetensors", options=options)
    assert "az://models/nope/model.safetensors" in str(e.value)
    assert "BlobNotFound" in str(e.value)
    with pytest.raises(FileNotFoundError):
        ws.load_file("az://no-such-container/model.safetensors", options=options)


def test_wrong_key_is_403_without_the_key(azurite, container, clean_env) -> None:
    upload(container, "auth/model.safetensors", tensors(4))
    bad = azurite.connection_string.replace(KEY, WRONG_KEY)
    with pytest.raises(PermissionError) as e:
        ws.load_file("az://models/auth/model.safetensors", options={"connection_string": bad})
    message = str(e.value)
    assert "403" in message
    assert "az://models/auth/model.safetensors" in message
    assert WRONG_KEY not in message and KEY not in message
    assert WRONG_KEY[:12] not in message

    with pytest.raises(PermissionError) as e:
        ws.load_file(
            "az://models/auth/model.safetensors",
            options={
                "account_name": ACCOUNT,
                "account_key": WRONG_KEY,
                "endpoint_url": azurite.endpoint,
            },
        )
    assert WRONG_KEY[:12] not in str(e.value)

    # Unsigned requests are refused too (the container is private).
    with pytest.raises(PermissionError, match="no credentials found"):
        ws.load_file(
            "az://models/auth/model.safetensors",
            options={"account_name": ACCOUNT, "endpoint_url": azurite.endpoint},
        )


def blob_sas(container_name: str, blob: str) -> str:
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas  # noqa: PLC0415

    return generate_blob_sas(
        ACCOUNT,
        container_name,
        blob,
        account_key=KEY,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
    )


def container_sas(container_name: str) -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas  # noqa: PLC0415

    return generate_container_sas(
        ACCOUNT,
        container_name,
        account_key=KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
    )


def test_sas_option_and_environment(azurite, container, monkeypatch, clean_env) -> None:
    upload(container, "sas/a.safetensors", tensors(5))
    upload(container, "sas/b.safetensors", tensors(6))
    sas = container_sas("models")
    options = {"account_name": ACCOUNT, "endpoint_url": azurite.endpoint, "sas_token": sas}
    assert_same(ws.load_file("az://models/sas/a.safetensors", options=options), tensors(5))
    assert_same(ws.load_file("az://models/sas/", options=options), {**tensors(5), **tensors(6)})

    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", "?" + sas)
    got = ws.load_file(
        "az://models/sas/b.safetensors",
        options={"account_name": ACCOUNT, "endpoint_url": azurite.endpoint},
    )
    assert_same(got, tensors(6))


def test_sas_in_url_never_shown(azurite, container, clean_env) -> None:
    upload(container, "sasurl/model.safetensors", tensors(7))
    sas = blob_sas("models", "sasurl/model.safetensors")
    signature = dict(p.split("=", 1) for p in sas.split("&"))["sig"]
    # The emulator's path-style URL with its SAS: the signature must not show
    # in any message, whichever provider reads it.
    url = f"{azurite.endpoint}/models/sasurl/model.safetensors?{sas}"
    options = {"endpoint_url": azurite.endpoint, "account_name": ACCOUNT}
    assert_same(ws.load_file(url, options=options), tensors(7))

    # A SAS for another blob is refused; the error shows neither signature.
    other = f"{azurite.endpoint}/models/sasurl/model.safetensors?" + blob_sas("models", "other")
    with pytest.raises(PermissionError) as e:
        ws.load_file(other, options=options)
    assert "sig=" not in str(e.value)
    assert signature not in str(e.value)
    assert "/models/sasurl/model.safetensors" in str(e.value)


def test_path_style_url_under_endpoint_is_served_as_azure(azurite, container, clean_env) -> None:
    # Only the Azure provider signs with the account key (no SAS in the URL)
    # and explains a 404 with the service's error code.
    upload(container, "pathstyle/model.safetensors", tensors(9))
    options = {"connection_string": azurite.connection_string}
    url = f"{azurite.endpoint}/models/pathstyle/model.safetensors"
    assert_same(ws.load_file(url, options=options), tensors(9))
    with pytest.raises(FileNotFoundError, match="BlobNotFound"):
        ws.load_file(f"{azurite.endpoint}/models/pathstyle/nope.safetensors", options=options)


def test_blob_replaced_mid_read_is_an_error(azurite, container, clean_env) -> None:
    original = tensors(8)
    upload(container, "replaced/model.safetensors", original)
    changed = {k: v.copy() for k, v in original.items()}
    for value in changed.values():
        value.view(np.uint8)[...] ^= 0x5A  # Same size, other bytes.
    options = {"connection_string": azurite.connection_string}
    with ws.open("az://models/replaced/model.safetensors", options=options) as f:
        name = next(iter(original))
        assert f.get_tensor(name).tobytes() == original[name].tobytes()
        upload(container, "replaced/model.safetensors", changed)
        with pytest.raises(OSError, match="changed") as e:
            f.get_tensor(name)
        assert "az://models/replaced/model.safetensors" in str(e.value)


def test_bad_settings_are_specific(azurite, clean_env) -> None:
    with pytest.raises(ValueError, match="no Azure storage account"):
        ws.load_file("az://models/x.safetensors")
    with pytest.raises(ValueError, match="not valid base64") as e:
        ws.load_file(
            "az://models/x.safetensors",
            options={"account_name": ACCOUNT, "account_key": "SECRET not base64!"},
        )
    assert "SECRET" not in str(e.value)
    with pytest.raises(ValueError, match="container name"):
        ws.load_file(
            "az://Models_/x.safetensors", options={"connection_string": azurite.connection_string}
        )
