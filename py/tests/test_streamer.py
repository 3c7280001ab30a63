"""SafetensorsStreamer: every tensor once, under a memory budget, owned by the caller."""

from __future__ import annotations

import gc
import os
import time
import warnings

import numpy as np
import pytest
import weightstream as ws
from conftest import np_bytes, raw_safetensors, reference_tensors, save_numpy, write_bytes


@pytest.fixture
def two_files(tmp_path, rng):
    a = {f"a.{i}": rng.standard_normal((i + 1, 17)).astype(np.float32) for i in range(12)}
    b = {f"b.{i}": rng.integers(0, 255, size=(3 * i + 1,)).astype(np.uint8) for i in range(9)}
    b["b.big"] = rng.standard_normal((64, 64)).astype(np.float64)  # 32 KiB
    pa = save_numpy(tmp_path / "a.safetensors", a)
    pb = save_numpy(tmp_path / "b.safetensors", b)
    return [pa, pb], {**a, **b}


def _collect(streamer) -> dict[str, np.ndarray]:
    got: dict[str, np.ndarray] = {}
    for name, array in streamer.get_tensors():
        assert name not in got, f"{name} yielded twice"
        got[name] = array
    return got


def _assert_equal(got, expected):
    assert sorted(got) == sorted(expected)
    for name, array in expected.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        assert np_bytes(got[name]) == np_bytes(array), name


def test_stream_two_files_every_tensor_once(two_files):
    paths, expected = two_files
    with ws.SafetensorsStreamer(concurrency=4) as streamer:
        streamer.stream_files(paths)
        got = _collect(streamer)
    _assert_equal(got, expected)


def test_stream_file_and_defaults(two_files):
    paths, expected = two_files
    with ws.SafetensorsStreamer() as streamer:
        streamer.stream_file(paths[0])
        got = _collect(streamer)
    _assert_equal(got, {k: v for k, v in expected.items() if k.startswith("a.")})


def test_stream_files_accepts_single_path(two_files):
    paths, expected = two_files
    with ws.SafetensorsStreamer() as streamer:
        streamer.stream_files(paths[1])  # a str, not a list
        got = _collect(streamer)
    _assert_equal(got, {k: v for k, v in expected.items() if k.startswith("b.")})


def test_stream_matches_reference(two_files):
    paths, _ = two_files
    reference = {}
    for p in paths:
        reference.update(reference_tensors(p))
    with ws.SafetensorsStreamer(chunk_size=4096) as streamer:
        streamer.stream_files(paths)
        got = _collect(streamer)
    assert sorted(got) == sorted(reference)
    for name, (_, shape, data) in reference.items():
        assert got[name].shape == shape and np_bytes(got[name]) == data, name


def test_stream_sequential_batches(two_files):
    """Queue, drain, queue again: the streamer is reusable until closed."""
    paths, expected = two_files
    with ws.SafetensorsStreamer() as streamer:
        got = {}
        for p in paths:
            streamer.stream_file(p)
            got.update(_collect(streamer))
        # Nothing left over.
        assert list(streamer.get_tensors()) == []
    _assert_equal(got, expected)


def test_tensor_names_subset(two_files):
    paths, expected = two_files
    wanted = ["a.3", "b.big", "b.0", "a.11"]
    for names in (wanted, set(wanted), tuple(wanted), frozenset(wanted)):
        with ws.SafetensorsStreamer() as streamer:
            streamer.stream_files(paths, tensor_names=names)
            got = _collect(streamer)
        _assert_equal(got, {k: expected[k] for k in wanted})


def test_tensor_names_only_in_one_file(two_files):
    paths, expected = two_files
    with ws.SafetensorsStreamer() as streamer:
        streamer.stream_files(paths, tensor_names=["b.2"])
        got = _collect(streamer)
    _assert_equal(got, {"b.2": expected["b.2"]})


def test_unknown_tensor_names(two_files):
    paths, _ = two_files
    with ws.SafetensorsStreamer() as streamer:
        with pytest.raises(ws.TensorNotFoundError) as info:
            streamer.stream_files(paths, tensor_names=["a.0", "nope", "also.nope"])
        assert isinstance(info.value, KeyError)
        assert "nope" in str(info.value) and "also.nope" in str(info.value)
        # Nothing was queued by the failed call.
        assert list(streamer.get_tensors()) == []


def test_tensor_names_must_be_a_collection(two_files):
    paths, _ = two_files
    with ws.SafetensorsStreamer() as streamer:
        with pytest.raises(ValueError, match="str"):
            streamer.stream_files(paths, tensor_names="a.0")
        with pytest.raises(ValueError, match="empty"):
            streamer.stream_files(paths, tensor_names=[])
        with pytest.raises(ValueError):
            streamer.stream_files(paths, tensor_names=set())


def test_stream_directory(tmp_path, two_files):
    paths, expected = two_files
    with ws.SafetensorsStreamer() as streamer:
        streamer.stream_files([tmp_path])
        got = _collect(streamer)
    _assert_equal(got, expected)
    with ws.SafetensorsStreamer() as streamer:
        streamer.stream_file(str(tmp_path))
        assert sorted(name for name, _ in streamer.get_tensors()) == sorted(expected)


def test_memory_limit_respected(tmp_path, rng):
    tensors = {f"t{i:02d}": rng.standard_normal((16, 16)).astype(np.float32) for i in range(40)}
    path = save_numpy(tmp_path / "m.safetensors", tensors)  # 1 KiB each
    limit = 4096
    with ws.SafetensorsStreamer(concurrency=8, memory_limit=limit, chunk_size=512) as streamer:
        streamer.stream_files([path])
        got = {}
        for name, array in streamer.get_tensors():
            got[name] = array
            assert streamer.peak_held_bytes <= limit
        assert 0 < streamer.peak_held_bytes <= limit
    _assert_equal(got, tensors)


def test_memory_limit_slow_consumer(tmp_path, rng):
    """A consumer that keeps everything and is slow must not push the peak past the limit."""
    tensors = {f"t{i:02d}": rng.standard_normal(300).astype(np.float32) for i in range(30)}
    path = save_numpy(tmp_path / "m.safetensors", tensors)  # 1200 B each
    limit = 3000
    with ws.SafetensorsStreamer(concurrency=4, memory_limit=limit) as streamer:
        streamer.stream_files([path])
        got = {}
        for name, array in streamer.get_tensors():
            got[name] = array
            time.sleep(0.002)
        assert streamer.peak_held_bytes <= limit
    _assert_equal(got, tensors)


def test_tensor_bigger_than_limit_still_streams(tmp_path, rng):
    tensors = {
        "small.0": rng.standard_normal(10).astype(np.float32),
        "huge": rng.standard_normal((128, 128)).astype(np.float32),  # 64 KiB
        "small.1": rng.standard_normal(10).astype(np.float32),
    }
    path = save_numpy(tmp_path / "h.safetensors", tensors)
    with ws.SafetensorsStreamer(memory_limit=1024, chunk_size=4096, concurrency=3) as streamer:
        streamer.stream_files([path])
        got = _collect(streamer)
        assert streamer.peak_held_bytes <= tensors["huge"].nbytes
    _assert_equal(got, tensors)


@pytest.mark.parametrize("limit", [None, 0])
def test_unlimited_memory(two_files, limit):
    paths, expected = two_files
    with ws.SafetensorsStreamer(memory_limit=limit) as streamer:
        streamer.stream_files(paths)
        _assert_equal(_collect(streamer), expected)


@pytest.mark.parametrize("limit", [-1, 1.5, "100", True])
def test_invalid_memory_limit(limit):
    with pytest.raises(ValueError, match="memory_limit"):
        ws.SafetensorsStreamer(memory_limit=limit)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="concurrency"):
        ws.SafetensorsStreamer(concurrency=0)
    with pytest.raises(ValueError, match="chunk_size"):
        ws.SafetensorsStreamer(chunk_size=0)
    with pytest.raises(ValueError, match="framework"):
        ws.SafetensorsStreamer(framework="jax")


def test_yielded_tensors_not_overwritten(tmp_path, rng):
    """Keep every yielded array; later reads must not reuse their memory."""
    tensors = {
        f"t{i:03d}": np.full((64,), i, dtype=np.int32) + rng.integers(0, 3, 64).astype(np.int32)
        for i in range(120)
    }
    path = save_numpy(tmp_path / "o.safetensors", tensors)  # 256 B each
    snapshots = {}
    kept = {}
    with ws.SafetensorsStreamer(concurrency=4, memory_limit=1024, chunk_size=128) as streamer:
        streamer.stream_files([path])
        for name, array in streamer.get_tensors():
            kept[name] = array
            snapshots[name] = array.tobytes()
    gc.collect()
    assert sorted(kept) == sorted(tensors)
    for name, array in kept.items():
        assert array.tobytes() == snapshots[name] == tensors[name].tobytes(), name
    arrays = list(kept.values())
    for i in range(0, len(arrays) - 1, 7):
        assert not np.shares_memory(arrays[i], arrays[i + 1])


def test_close_mid_iteration(tmp_path, rng):
    tensors = {f"t{i:03d}": rng.standard_normal((32, 8)).astype(np.float32) for i in range(100)}
    path = save_numpy(tmp_path / "c.safetensors", tensors)
    streamer = ws.SafetensorsStreamer(concurrency=4, memory_limit=2048)
    streamer.stream_files([path])
    iterator = streamer.get_tensors()
    first = [next(iterator) for _ in range(5)]
    streamer.close()
    streamer.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        next(iterator)
    gc.collect()
    for name, array in first:
        assert np_bytes(array) == tensors[name].tobytes()


def test_close_with_unconsumed_queue(two_files):
    paths, _ = two_files
    streamer = ws.SafetensorsStreamer()
    streamer.stream_files(paths)
    streamer.close()  # nothing consumed: must not hang or leak an error
    del streamer
    gc.collect()


def test_abandoned_iterator_then_exit(two_files):
    paths, _ = two_files
    with ws.SafetensorsStreamer(memory_limit=1024) as streamer:
        streamer.stream_files(paths)
        for _ in streamer.get_tensors():
            break
    # exiting the with-block closed it
    with pytest.raises(ValueError):
        streamer.stream_files(paths)


def test_use_after_close(two_files):
    paths, _ = two_files
    streamer = ws.SafetensorsStreamer()
    streamer.close()
    with pytest.raises(ValueError, match="closed"):
        streamer.stream_files(paths)
    with pytest.raises(ValueError, match="closed"):
        streamer.stream_file(paths[0])
    with pytest.raises(ValueError, match="closed"):
        list(streamer.get_tensors())
    with pytest.raises(ValueError, match="closed"):
        streamer.peak_held_bytes  # noqa: B018


def test_bad_file_in_stream_files_raises_before_reading(tmp_path, two_files):
    paths, _ = two_files
    bad = write_bytes(tmp_path / "bad.safetensors", b"\x05\x00\x00\x00\x00\x00\x00\x00{}")
    with ws.SafetensorsStreamer() as streamer:
        with pytest.raises(ws.FormatError, match="bad.safetensors"):
            streamer.stream_files([paths[0], bad])
        with pytest.raises(FileNotFoundError):
            streamer.stream_files([os.path.join(tmp_path, "missing.safetensors")])


def test_streamer_raw_dtype_warns_once_per_tensor(tmp_path, rng):
    payload = rng.integers(0, 256, 6, dtype=np.uint8).tobytes()
    path = write_bytes(
        tmp_path / "p.safetensors",
        raw_safetensors([("p", "F6_E2M3", [8], payload), ("q", "U8", [2], b"\x01\x02")]),
    )
    with ws.SafetensorsStreamer() as streamer:
        streamer.stream_files([path])
        with pytest.warns(ws.RawBytesWarning, match="F6_E2M3") as record:
            got = dict(streamer.get_tensors())
    assert len([w for w in record if issubclass(w.category, ws.RawBytesWarning)]) == 1
    assert got["p"].dtype == np.uint8 and got["p"].tobytes() == payload
    assert got["q"].tobytes() == b"\x01\x02"


def test_streamer_torch(two_files):
    torch = pytest.importorskip("torch")
    paths, expected = two_files
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ws.SafetensorsStreamer(framework="pt", memory_limit=8192) as streamer:
            streamer.stream_files(paths)
            got = dict(streamer.get_tensors())
    assert sorted(got) == sorted(expected)
    for name, array in expected.items():
        assert isinstance(got[name], torch.Tensor)
        assert got[name].numpy().dtype == array.dtype
        assert tuple(got[name].shape) == array.shape
        assert got[name].numpy().tobytes() == array.tobytes()
