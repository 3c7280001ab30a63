"""Sharded checkpoints: directories of shards and *.safetensors.index.json."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import weightstream as ws
from conftest import np_bytes, save_numpy


def _write_index(path, weight_map, metadata=None) -> str:
    index = {"metadata": metadata or {"total_size": 0}, "weight_map": weight_map}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(index, f)
    return os.fspath(path)


@pytest.fixture
def sharded(tmp_path, rng):
    """Three shards written by the reference writer, plus their index."""
    directory = tmp_path / "ckpt"
    directory.mkdir()
    shards = {
        "model-00001-of-00003.safetensors": {
            "embed.weight": rng.standard_normal((32, 8)).astype(np.float32),
            "layers.0.w": rng.standard_normal((8, 8)).astype(np.float16),
        },
        "model-00002-of-00003.safetensors": {
            "layers.1.w": rng.standard_normal((8, 8)).astype(np.float16),
            "layers.1.b": np.arange(8, dtype=np.int32),
        },
        "model-00003-of-00003.safetensors": {
            "lm_head.weight": rng.standard_normal((32, 8)).astype(np.float32),
        },
    }
    expected = {}
    weight_map = {}
    for shard, tensors in shards.items():
        save_numpy(directory / shard, tensors, metadata={"format": "np"})
        for name, array in tensors.items():
            expected[name] = array
            weight_map[name] = shard
    return directory, expected, weight_map


def _assert_same(loaded, expected):
    assert list(loaded) == sorted(expected)
    for name, array in expected.items():
        assert loaded[name].dtype == array.dtype, name
        assert loaded[name].shape == array.shape, name
        assert np_bytes(loaded[name]) == np_bytes(array), name


def test_directory_of_shards_without_index(sharded):
    directory, expected, _ = sharded
    _assert_same(ws.load_file(directory), expected)
    _assert_same(ws.load_file(str(directory)), expected)


def test_index_file(sharded):
    directory, expected, weight_map = sharded
    index = _write_index(directory / "model.safetensors.index.json", weight_map)
    _assert_same(ws.load_file(index), expected)


def test_directory_prefers_its_index(sharded, rng):
    directory, expected, weight_map = sharded
    _write_index(directory / "model.safetensors.index.json", weight_map)
    # A stray file the index does not list: reading it would add a tensor.
    save_numpy(directory / "stray.safetensors", {"stray": np.zeros(3, np.float32)})
    loaded = ws.load_file(directory)
    assert "stray" not in loaded
    _assert_same(loaded, expected)


def test_directory_with_index_only_reads_listed_shards(sharded):
    directory, expected, weight_map = sharded
    # An unlisted, invalid file next to the index must not even be opened.
    (directory / "broken.safetensors").write_bytes(b"garbage")
    _write_index(directory / "model.safetensors.index.json", weight_map)
    _assert_same(ws.load_file(directory), expected)


def test_index_in_open_and_streamer(sharded):
    directory, expected, weight_map = sharded
    index = _write_index(directory / "model.safetensors.index.json", weight_map)
    with ws.open(index) as f:
        assert f.keys() == sorted(expected)
        for name, array in expected.items():
            assert np_bytes(f.get_tensor(name)) == np_bytes(array)
    with ws.SafetensorsStreamer() as streamer:
        streamer.stream_files([index])
        got = dict(streamer.get_tensors())
    _assert_same(dict(sorted(got.items())), expected)


def test_index_tensor_not_in_its_shard(sharded):
    directory, _, weight_map = sharded
    weight_map = dict(weight_map)
    weight_map["embed.weight"] = "model-00002-of-00003.safetensors"  # it is in shard 1
    index = _write_index(directory / "model.safetensors.index.json", weight_map)
    with pytest.raises(ws.FormatError) as info:
        ws.load_file(index)
    message = str(info.value)
    assert "embed.weight" in message
    assert "model.safetensors.index.json" in message
    with pytest.raises(ws.FormatError):
        ws.open(index)


def test_index_names_tensor_that_no_shard_has(sharded):
    directory, _, weight_map = sharded
    weight_map = dict(weight_map, **{"ghost.weight": "model-00001-of-00003.safetensors"})
    index = _write_index(directory / "model.safetensors.index.json", weight_map)
    with pytest.raises(ws.FormatError, match="ghost.weight"):
        ws.load_file(index)


def test_index_with_missing_shard(sharded):
    directory, _, weight_map = sharded
    weight_map = dict(weight_map, **{"extra": "model-00004-of-00003.safetensors"})
    index = _write_index(directory / "model.safetensors.index.json", weight_map)
    with pytest.raises(FileNotFoundError, match="model-00004-of-00003"):
        ws.load_file(index)
    with pytest.raises(FileNotFoundError):
        ws.load_file(directory)


@pytest.mark.parametrize(
    "shard", ["../x.safetensors", "../ckpt/../../x.safetensors", "/etc/x.safetensors", ".."]
)
def test_index_shard_outside_directory(sharded, shard):
    directory, _, weight_map = sharded
    # The escaping file exists, so only the path check can stop it.
    save_numpy(directory.parent / "x.safetensors", {"evil": np.zeros(1, np.float32)})
    weight_map = dict(weight_map, evil=shard)
    index = _write_index(directory / "model.safetensors.index.json", weight_map)
    with pytest.raises(ws.FormatError, match="outside"):
        ws.load_file(index)


def test_index_subdirectory_shard_allowed(tmp_path, rng):
    directory = tmp_path / "ckpt"
    (directory / "sub").mkdir(parents=True)
    array = rng.standard_normal(5).astype(np.float32)
    save_numpy(directory / "sub" / "a.safetensors", {"a": array})
    index = _write_index(directory / "model.safetensors.index.json", {"a": "sub/a.safetensors"})
    assert np_bytes(ws.load_file(index)["a"]) == array.tobytes()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"metadata": {}}',
        '{"weight_map": {}}',
        '{"weight_map": []}',
        '{"weight_map": {"a": 3}}',
        '{"weight_map": {"a": ""}}',
    ],
)
def test_malformed_index(tmp_path, content):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(content)
    with pytest.raises(ws.FormatError) as info:
        ws.load_file(index)
    assert str(index) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_same_tensor_in_two_shards(tmp_path):
    directory = tmp_path / "dup"
    directory.mkdir()
    save_numpy(directory / "a.safetensors", {"w": np.zeros(3, np.float32), "x": np.ones(1)})
    save_numpy(directory / "b.safetensors", {"w": np.ones(3, np.float32)})
    with pytest.raises(ws.FormatError) as info:
        ws.load_file(directory)
    message = str(info.value)
    assert "'w'" in message and "a.safetensors" in message and "b.safetensors" in message
    with pytest.raises(ws.FormatError, match="'w'"):
        ws.open(directory)


def test_empty_directory(tmp_path):
    directory = tmp_path / "nothing"
    directory.mkdir()
    (directory / "README.md").write_text("no weights here")
    (directory / "model.bin").write_bytes(b"\x00" * 16)
    for call in (ws.load_file, ws.open):
        with pytest.raises(FileNotFoundError) as info:
            call(directory)
        assert str(directory) in str(info.value)


def test_several_indexes_in_directory(sharded):
    directory, expected, weight_map = sharded
    _write_index(directory / "a.safetensors.index.json", weight_map)
    _write_index(directory / "b.safetensors.index.json", weight_map)
    with pytest.raises(ws.FormatError, match="index"):
        ws.load_file(directory)
    # Naming one of them explicitly works.
    _assert_same(ws.load_file(directory / "a.safetensors.index.json"), expected)


def test_directory_metadata_and_offset_keys(sharded):
    directory, expected, _ = sharded
    with ws.open(directory) as f:
        assert f.metadata() == {"format": "np"}
        assert sorted(f.offset_keys()) == sorted(expected)
        assert len(f) == len(expected)
        assert f.keys() == sorted(expected)
