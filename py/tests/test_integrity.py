"""SHA-256 verified while loading, and whole-file hashing."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import safetensors.numpy
import weightstream as ws


def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(7)
    tensors = {
        "a": rng.standard_normal((300, 70)).astype(np.float32),
        "b": rng.integers(0, 255, size=(5000,), dtype=np.uint8),
        "empty": np.zeros((0, 4), np.float16),
        "c": rng.standard_normal((64, 64)).astype(np.float64),
    }
    path = tmp_path / "m.safetensors"
    safetensors.numpy.save_file(tensors, path, metadata={"k": "v"})
    return path, tensors


@pytest.mark.parametrize("chunk_size", [4096, 1 << 20])
def test_load_with_matching_sha256_returns_tensors(model, chunk_size):
    path, tensors = model
    loaded = ws.load_file(path, sha256=_sha(path), chunk_size=chunk_size, concurrency=3)
    assert loaded.keys() == tensors.keys()
    for name, t in tensors.items():
        assert loaded[name].tobytes() == t.tobytes()


def test_sha256_is_case_and_space_insensitive(model):
    path, _ = model
    ws.load_file(path, sha256="  " + _sha(path).upper() + "\n")


def test_mismatch_raises_and_returns_nothing(model):
    path, _ = model
    wrong = "0" * 64
    with pytest.raises(ws.IntegrityError) as e:
        ws.load_file(path, sha256=wrong)
    assert isinstance(e.value, ValueError)
    assert str(path) in str(e.value)
    assert wrong in str(e.value) and _sha(path) in str(e.value)


def test_a_flipped_byte_in_the_data_is_caught(model):
    path, _ = model
    good = _sha(path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # inside the last tensor: still a valid file
    path.write_bytes(bytes(data))
    ws.load_file(path)  # loads fine without verification
    with pytest.raises(ws.IntegrityError):
        ws.load_file(path, sha256=good)


def test_a_changed_header_byte_is_caught(model):
    path, _ = model
    good = _sha(path)
    data = bytearray(path.read_bytes())
    # The metadata value "v" -> "w": the header still parses.
    i = data.index(b'"k":"v"')
    data[i + 5] = ord("w")
    path.write_bytes(bytes(data))
    assert ws.open(path).metadata() == {"k": "w"}
    with pytest.raises(ws.IntegrityError):
        ws.load_file(path, sha256=good)


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "0" * 63, 123])
def test_malformed_sha256_is_a_value_error(model, bad):
    path, _ = model
    with pytest.raises(ValueError, match="sha256"):
        ws.load_file(path, sha256=bad)


def test_sha256_with_several_files_is_refused(tmp_path):
    for i in range(2):
        safetensors.numpy.save_file(
            {f"t{i}": np.ones(3, np.float32)}, tmp_path / f"{i}.safetensors"
        )
    with pytest.raises(ValueError, match="one file"):
        ws.load_file(tmp_path, sha256="0" * 64)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 100_003, 3 << 20])
def test_sha256_file_equals_hashlib(tmp_path, size):
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(size))
    assert ws.sha256_file(path, chunk_size=4096, concurrency=4) == _sha(path)
    assert ws.sha256_file(str(path)) == _sha(path)


def test_verify(model):
    path, _ = model
    ws.verify(path, _sha(path))
    with pytest.raises(ws.IntegrityError):
        ws.verify(path, "f" * 64)


def test_sha256_file_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        ws.sha256_file(tmp_path / "nope")
