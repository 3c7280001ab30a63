"""ws.open / ws.safe_open: the tensor-by-tensor handle and lazy slices."""

from __future__ import annotations

import os
import warnings

import ml_dtypes
import numpy as np
import pytest
import safetensors
import weightstream as ws
from conftest import (
    np_bytes,
    raw_safetensors,
    reference_tensors,
    save_numpy,
    torch_bytes,
    write_bytes,
)


@pytest.fixture
def slice_file(tmp_path, rng):
    tensors = {
        "m2": rng.standard_normal((300, 7)).astype(np.float32),
        "m3": rng.integers(-1000, 1000, size=(20, 6, 5)).astype(np.int16),
        "v": rng.standard_normal(33).astype(np.float64),
        "bf": rng.standard_normal((40, 9)).astype(ml_dtypes.bfloat16),
        "b": rng.integers(0, 2, size=(11, 3)).astype(np.bool_),
        "s": np.array(2.5, dtype=np.float32),
        "e": np.zeros((0, 4), dtype=np.float32),
    }
    return save_numpy(tmp_path / "slices.safetensors", tensors, metadata={"a": "1"}), tensors


# --------------------------------------------------------------------------
# the handle
# --------------------------------------------------------------------------


@pytest.mark.parametrize("opener", [ws.open, ws.safe_open])
def test_keys_metadata_get_tensor(slice_file, opener):
    path, tensors = slice_file
    with opener(path) as f:
        assert f.keys() == sorted(tensors)
        assert list(f) == sorted(tensors)
        assert len(f) == len(tensors)
        assert f.metadata() == {"a": "1"}
        for name, expected in tensors.items():
            assert name in f
            got = f.get_tensor(name)
            assert got.dtype == expected.dtype
            assert got.shape == expected.shape
            assert np_bytes(got) == np_bytes(expected)
        assert "nope" not in f
        assert 3 not in f


def test_safe_open_positional_framework_like_reference(slice_file):
    path, tensors = slice_file
    with ws.safe_open(path, "np", "cpu") as f, safetensors.safe_open(path, "np") as ref:
        assert f.keys() == sorted(ref.keys())
        assert f.metadata() == ref.metadata()
        for name in ref.keys():
            assert np_bytes(f.get_tensor(name)) == np_bytes(ref.get_tensor(name))


def test_offset_keys_in_file_order(tmp_path):
    entries = [(name, "U8", [1], bytes([i])) for i, name in enumerate(["z", "b", "y", "a"])]
    path = write_bytes(tmp_path / "o.safetensors", raw_safetensors(entries))
    with ws.open(path) as f:
        assert f.offset_keys() == ["z", "b", "y", "a"]
        assert f.keys() == ["a", "b", "y", "z"]
        with safetensors.safe_open(path, framework="np") as ref:
            assert f.offset_keys() == ref.offset_keys()


def test_metadata_none_when_absent(tmp_path):
    path = save_numpy(tmp_path / "nometa.safetensors", {"x": np.zeros(2, np.float32)})
    with ws.open(path) as f:
        assert f.metadata() is None


def test_metadata_is_a_copy(slice_file):
    path, _ = slice_file
    with ws.open(path) as f:
        f.metadata()["a"] = "changed"
        assert f.metadata() == {"a": "1"}


def test_missing_key(slice_file):
    path, _ = slice_file
    with ws.open(path) as f:
        with pytest.raises(ws.TensorNotFoundError) as info:
            f.get_tensor("does.not.exist")
        assert isinstance(info.value, KeyError)
        assert "does.not.exist" in str(info.value)
        assert path in str(info.value)
        with pytest.raises(KeyError):
            f.get_slice("does.not.exist")
        with pytest.raises(KeyError):
            f.info("does.not.exist")


def test_use_after_close(slice_file):
    path, _ = slice_file
    f = ws.open(path)
    sl = f.get_slice("m2")
    f.close()
    f.close()  # idempotent
    for call in (
        lambda: f.get_tensor("m2"),
        lambda: f.get_slice("m2"),
        f.keys,
        f.offset_keys,
        f.metadata,
        f.get_tensors,
        lambda: sl[0:2],
    ):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_context_manager_closes(slice_file):
    path, _ = slice_file
    with ws.open(path) as f:
        pass
    with pytest.raises(ValueError):
        f.get_tensor("v")


def test_get_tensors_matches_load_file(slice_file):
    path, tensors = slice_file
    with ws.open(path) as f:
        everything = f.get_tensors()
    assert list(everything) == sorted(tensors)
    for name, expected in tensors.items():
        assert np_bytes(everything[name]) == np_bytes(expected)


def test_info(slice_file):
    path, tensors = slice_file
    with ws.open(path) as f:
        info = f.info("m3")
    assert info.name == "m3"
    assert info.dtype == "I16"
    assert info.shape == (20, 6, 5)
    assert info.nbytes == tensors["m3"].nbytes
    assert os.path.samefile(info.file, path)


def test_invalid_arguments(slice_file):
    path, _ = slice_file
    with pytest.raises(ValueError, match="framework"):
        ws.open(path, framework="tf")
    with pytest.raises(ValueError, match="device"):
        ws.open(path, device="cuda")
    with pytest.raises(ValueError, match="device"):
        ws.safe_open(path, "np", "cuda:0")
    with pytest.raises(ValueError):
        ws.open(path, concurrency=0)
    with pytest.raises(ValueError):
        ws.open(path, chunk_size=-5)


def test_raw_dtype_get_tensor_warns(tmp_path, rng):
    payload = rng.integers(0, 256, 9, dtype=np.uint8).tobytes()
    path = write_bytes(
        tmp_path / "f6.safetensors", raw_safetensors([("p", "F6_E3M2", [12], payload)])
    )
    with ws.open(path) as f:
        with pytest.warns(ws.RawBytesWarning, match="F6_E3M2") as record:
            got = f.get_tensor("p")
        assert record[0].filename == __file__
        assert got.dtype == np.uint8 and got.tobytes() == payload
        with pytest.warns(ws.RawBytesWarning, match="F6_E3M2") as record:
            everything = f.get_tensors()
        assert record[0].filename == __file__
        assert everything["p"].tobytes() == payload
        sl = f.get_slice("p")
        assert sl.get_shape() == [12] and sl.get_dtype() == "F6_E3M2"
        with pytest.raises(ValueError, match="packed"):
            sl[0:2]


# --------------------------------------------------------------------------
# slices
# --------------------------------------------------------------------------

KEYS_2D = [
    np.s_[0:128],
    np.s_[:],
    np.s_[...],
    np.s_[5],
    np.s_[-1],
    np.s_[-11],
    np.s_[np.int64(7)],
    np.s_[::2],
    np.s_[::-3],
    np.s_[::-1],
    np.s_[1:3, ::2],
    np.s_[..., 1],
    np.s_[2, ...],
    np.s_[5:2],
    np.s_[250:1000],
    np.s_[-5:],
    np.s_[-1000:3],
    np.s_[10:2:-2],
    np.s_[3:3],
    np.s_[1:200:7, 2:5],
    np.s_[4, 3],
    np.s_[4, -1],
    np.s_[:, 1:0],
    np.s_[2:9, ::-1],
]

KEYS_3D = [
    np.s_[0:2],
    np.s_[1],
    np.s_[..., 0],
    np.s_[1, ..., 2],
    np.s_[::-2, 1:4, ::2],
    np.s_[3, 2, 1],
    np.s_[:, :, -1],
    np.s_[5:2, :, :],
]


def _check_slices(f, name, expected, keys):
    sl = f.get_slice(name)
    assert sl.get_shape() == list(expected.shape)
    for key in keys:
        try:
            want = expected[key]
        except IndexError:
            with pytest.raises(IndexError):
                sl[key]
            continue
        got = sl[key]
        assert isinstance(got, np.ndarray), key
        assert got.dtype == expected.dtype, key
        assert got.shape == np.shape(want), key
        assert np_bytes(got) == np.asarray(want).tobytes(), key
        assert got.flags.c_contiguous and got.flags.writeable, key


def test_slices_2d(slice_file):
    path, tensors = slice_file
    with ws.open(path) as f:
        for name in ("m2", "bf", "b"):
            _check_slices(f, name, tensors[name], KEYS_2D)


def test_slices_3d_and_1d(slice_file):
    path, tensors = slice_file
    with ws.open(path) as f:
        _check_slices(f, "m3", tensors["m3"], KEYS_3D)
        _check_slices(
            f, "v", tensors["v"], [np.s_[0:128], np.s_[5], np.s_[-1], np.s_[::-3], np.s_[4:2]]
        )
        _check_slices(f, "e", tensors["e"], [np.s_[:], np.s_[0:0], np.s_[..., 1:3]])


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_slices_with_zero_size_rows(tmp_path, framework):
    if framework == "torch":
        pytest.importorskip("torch")
    tensors = {
        "z": np.zeros((5, 0), np.float32),
        "y": np.zeros((3, 0, 2), np.int8),
        "a": np.arange(3, dtype=np.float32),
    }
    path = save_numpy(tmp_path / "z.safetensors", tensors)
    keys = {
        "z": [np.s_[1:3], np.s_[::-2], np.s_[4], np.s_[..., :], np.s_[2:1]],
        "y": [np.s_[1], np.s_[::2, :, 1], np.s_[-1, ...]],
        "a": [np.s_[1], np.s_[::-1], np.s_[...]],
    }
    with ws.open(path, framework=framework) as f:
        for name, name_keys in keys.items():
            sl = f.get_slice(name)
            for key in name_keys:
                want = np.asarray(tensors[name][key])
                got = sl[key]
                assert tuple(got.shape) == want.shape, (name, key)
                if framework == "numpy":
                    assert got.dtype == want.dtype and np_bytes(got) == want.tobytes()
                else:
                    assert torch_bytes(got) == want.tobytes(), (name, key)


def test_slice_of_scalar(slice_file):
    path, tensors = slice_file
    with ws.open(path) as f:
        sl = f.get_slice("s")
        assert sl.get_shape() == []
        assert np_bytes(sl[...]) == tensors["s"].tobytes()
        assert np_bytes(sl[()]) == tensors["s"].tobytes()
        with pytest.raises(IndexError):
            sl[0]
        with pytest.raises(TypeError):
            len(sl)


def test_slice_matches_reference_get_slice(slice_file):
    path, _ = slice_file
    # In bounds: the reference rejects slice ends past the axis (numpy clamps).
    keys = [np.s_[0:20], np.s_[5:9], np.s_[1:3, 2:5], np.s_[:, 1:2], np.s_[7]]
    with ws.open(path) as f, safetensors.safe_open(path, framework="np") as ref:
        for name in ("m2", "m3", "v"):
            ours, theirs = f.get_slice(name), ref.get_slice(name)
            assert ours.get_shape() == theirs.get_shape()
            assert ours.get_dtype() == theirs.get_dtype()
            for key in keys:
                if name == "v" and isinstance(key, tuple):
                    continue
                want = theirs[key]
                got = ours[key]
                assert got.shape == want.shape, (name, key)
                assert np_bytes(got) == np_bytes(np.ascontiguousarray(want)), (name, key)


@pytest.mark.parametrize(
    "key",
    [
        None,
        True,
        False,
        np.array([0, 1]),
        [0, 1],
        (None, 0),
        (0, None),
        "a",
        1.0,
        np.s_[0:2, [1]],
    ],
    ids=repr,
)
def test_unsupported_indices_raise_type_error(slice_file, key):
    path, _ = slice_file
    with ws.open(path) as f:
        with pytest.raises(TypeError):
            f.get_slice("m2")[key]


@pytest.mark.parametrize(
    "key",
    [300, -301, 10**20, (0, 7), (0, -8), (1, 2, 3), (0, 0, 0, 0), (..., ...)],
    ids=repr,
)
def test_bad_integer_indices_raise_index_error(slice_file, key):
    path, _ = slice_file
    with ws.open(path) as f:
        with pytest.raises(IndexError):
            f.get_slice("m2")[key]


def test_slice_shape_dtype_len(slice_file):
    path, _ = slice_file
    with ws.open(path) as f:
        sl = f.get_slice("m3")
        assert sl.get_shape() == [20, 6, 5]
        assert sl.get_dtype() == "I16"
        assert sl.shape == (20, 6, 5)
        assert sl.dtype == "I16"
        assert len(sl) == 20
        with safetensors.safe_open(path, framework="np") as ref:
            assert sl.get_dtype() == ref.get_slice("m3").get_dtype()


def test_slice_reads_only_selected_rows(tmp_path, rng):
    """After the header is parsed, only the selected rows' bytes are read.

    Everything else in the data section is overwritten with garbage: a reader
    that touched those bytes would return it.
    """
    rows, cols = 4096, 64
    big = rng.standard_normal((rows, cols)).astype(np.float32)  # 1 MiB
    path = save_numpy(tmp_path / "big.safetensors", {"big": big, "tail": np.arange(16.0)})
    row_bytes = cols * 4
    with ws.open(path, chunk_size=4096) as f:
        info = f.info("big")
        header_end = os.path.getsize(path) - sum(f.info(n).nbytes for n in f.keys())
        keep = [(0, 2), (100, 101), (4000, 4003)]  # row ranges still intact
        with open(path, "r+b") as raw:
            garbage = b"\xa5" * row_bytes
            for row in range(rows):
                if any(lo <= row < hi for lo, hi in keep):
                    continue
                raw.seek(header_end + info.begin + row * row_bytes)
                raw.write(garbage)
            raw.seek(header_end + f.info("tail").begin)
            raw.write(b"\xa5" * f.info("tail").nbytes)
        sl = f.get_slice("big")
        assert np_bytes(sl[0:2]) == big[0:2].tobytes()
        assert np_bytes(sl[1]) == big[1].tobytes()
        assert np_bytes(sl[100]) == big[100].tobytes()
        assert np_bytes(sl[4000:4003, ::3]) == big[4000:4003, ::3].tobytes()
        assert np_bytes(sl[4002:3999:-2]) == big[4002:3999:-2].tobytes()
        # ...and a full read does see the garbage, so the check above is real.
        assert np_bytes(f.get_tensor("big")) != big.tobytes()


# --------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------


def test_torch_handle_and_slices(slice_file):
    torch = pytest.importorskip("torch")
    path, tensors = slice_file
    with ws.open(path, framework="torch") as f, safetensors.safe_open(path, "pt") as ref:
        for name in tensors:
            got = f.get_tensor(name)
            want = ref.get_tensor(name)
            assert isinstance(got, torch.Tensor)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert torch_bytes(got) == torch_bytes(want)
        bf = tensors["bf"]
        sl = f.get_slice("bf")
        assert sl.get_dtype() == "BF16"
        for key in KEYS_2D:
            got = sl[key]
            want = np.array(bf[key], order="C")
            assert isinstance(got, torch.Tensor), key
            assert got.dtype == torch.bfloat16, key
            assert tuple(got.shape) == want.shape, key
            assert torch_bytes(got) == want.tobytes(), key
        # Positive-step slices agree with the reference's own get_slice.
        ref_sl = ref.get_slice("bf")
        for key in (np.s_[0:5], np.s_[3:7, 2:4], np.s_[1]):
            want = ref_sl[key]
            got = sl[key]
            assert got.shape == want.shape and torch_bytes(got) == torch_bytes(want), key


def test_torch_slice_of_whole_file_types(tmp_path, rng):
    torch = pytest.importorskip("torch")
    ref = reference_tensors(
        save_numpy(
            tmp_path / "t.safetensors",
            {"w": rng.standard_normal((10, 4)).astype(ml_dtypes.float8_e4m3fn)},
        )
    )
    with ws.open(tmp_path / "t.safetensors", framework="pt") as f:
        got = f.get_slice("w")[2:5]
    assert got.dtype == torch.float8_e4m3fn
    assert tuple(got.shape) == (3, 4)
    assert torch_bytes(got) == ref["w"][2][8:20]


def test_no_warnings_for_ordinary_dtypes(slice_file):
    path, tensors = slice_file
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ws.open(path) as f:
            for name in tensors:
                f.get_tensor(name)
                if tensors[name].ndim:
                    f.get_slice(name)[0:1]
