"""weightstream.runai.SafetensorsStreamer as a drop-in for runai_model_streamer's."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import save_numpy

torch = pytest.importorskip("torch")

import weightstream as ws  # noqa: E402
import weightstream.streamer  # noqa: E402
from weightstream.runai import SafetensorsStreamer  # noqa: E402

ENV_VARS = (
    "RUNAI_STREAMER_CONCURRENCY",
    "RUNAI_STREAMER_CHUNK_BYTESIZE",
    "RUNAI_STREAMER_MEMORY_LIMIT",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def model_file(tmp_path, rng):
    import ml_dtypes

    tensors = {
        "model.embed_tokens.weight": rng.standard_normal((64, 16)).astype(np.float32),
        "model.layers.0.mlp.up_proj.weight": rng.standard_normal((32, 16)).astype(
            ml_dtypes.bfloat16
        ),
        "model.layers.0.mlp.down_proj.weight": rng.standard_normal((16, 32)).astype(np.float16),
        "model.layers.0.input_layernorm.weight": np.ones(16, dtype=np.float32),
        "model.position_ids": np.arange(64, dtype=np.int64),
        "model.mask": rng.integers(0, 2, size=(8,)).astype(np.bool_),
        "model.norm.weight": rng.standard_normal(16).astype(np.float32),
    }
    return save_numpy(tmp_path / "model.safetensors", tensors), tensors


def _bytes(t) -> bytes:
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _collect(streamer) -> dict[str, tuple]:
    """{name: (dtype, shape, bytes)}, snapshotting each tensor as it is yielded."""
    out = {}
    for name, tensor in streamer.get_tensors():
        assert isinstance(name, str)
        assert isinstance(tensor, torch.Tensor)
        assert name not in out, f"{name} yielded twice"
        out[name] = (tensor.dtype, tuple(tensor.shape), _bytes(tensor))
    return out


def _expected(tensors, names=None) -> dict[str, tuple]:
    out = {}
    for name, array in tensors.items():
        if names is not None and name not in names:
            continue
        t = torch.from_numpy(array.view(np.uint8) if array.dtype.name == "bfloat16" else array)
        if array.dtype.name == "bfloat16":
            t = t.view(torch.bfloat16)
        out[name] = (t.dtype, tuple(t.shape), _bytes(t))
    return out


def test_stream_file_like_runai(model_file):
    path, tensors = model_file
    with SafetensorsStreamer() as streamer:
        streamer.stream_file(path)
        got = _collect(streamer)
    assert got == _expected(tensors)


def test_stream_files_with_tensor_names(model_file):
    path, tensors = model_file
    names = ["model.norm.weight", "model.layers.0.mlp.up_proj.weight"]
    with SafetensorsStreamer() as streamer:
        streamer.stream_files([path], tensor_names=names)
        got = _collect(streamer)
    assert got == _expected(tensors, names)


def test_runai_keyword_arguments_accepted(model_file):
    path, tensors = model_file
    with SafetensorsStreamer() as streamer:
        streamer.stream_files(
            [path], s3_credentials=None, device="cpu", is_distributed=False, owned=False
        )
        got = _collect(streamer)
        streamer.stream_file(path, None, "cpu", False, None, True)
        again = _collect(streamer)
    assert got == again == _expected(tensors)


def test_matches_real_runai_model_streamer(model_file):
    try:
        import runai_model_streamer
    except Exception as e:  # not installed, or its native library fails to load
        pytest.skip(f"runai_model_streamer is not usable here: {e!r}")
    path, _ = model_file
    names = ["model.embed_tokens.weight", "model.mask", "model.position_ids"]
    results = []
    for cls in (runai_model_streamer.SafetensorsStreamer, SafetensorsStreamer):
        with cls() as streamer:
            streamer.stream_file(path)
            everything = _collect(streamer)
            streamer.stream_files([path], tensor_names=names)
            subset = _collect(streamer)
        results.append((everything, subset))
    (theirs_all, theirs_subset), (ours_all, ours_subset) = results
    assert ours_all == theirs_all
    assert ours_subset == theirs_subset
    assert sorted(ours_subset) == sorted(names)


def test_tensors_are_owned(model_file):
    path, tensors = model_file
    kept = []
    with SafetensorsStreamer() as streamer:
        streamer.stream_file(path)
        for name, tensor in streamer.get_tensors():
            kept.append((name, tensor))
    expected = _expected(tensors)
    for name, tensor in kept:
        assert (tensor.dtype, tuple(tensor.shape), _bytes(tensor)) == expected[name]


def test_unknown_tensor_name(model_file):
    path, _ = model_file
    with SafetensorsStreamer() as streamer:
        with pytest.raises(KeyError, match="missing.weight"):
            streamer.stream_files([path], tensor_names=["missing.weight"])


def test_s3_credentials_rejected(model_file):
    path, _ = model_file
    with SafetensorsStreamer() as streamer:
        with pytest.raises(ValueError, match="s3_credentials"):
            streamer.stream_file(path, s3_credentials=object())
        with pytest.raises(ValueError, match="s3_credentials"):
            streamer.stream_files([path], s3_credentials={"key": "x"})


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_device_needs_the_plugin(model_file, device, monkeypatch):
    # device="cuda" goes to the CUDA plugin (test_device.py, test_cuda.py);
    # without it installed, the error names the package.
    monkeypatch.delenv("WEIGHTSTREAM_CUDA_LIBRARY", raising=False)
    monkeypatch.setitem(sys.modules, "weightstream_cuda13", None)
    path, _ = model_file
    with SafetensorsStreamer() as streamer:
        with pytest.raises(ImportError, match="weightstream-cuda13"):
            streamer.stream_file(path, device=device)
        with pytest.raises(ImportError, match="weightstream-cuda13"):
            streamer.stream_files([path], device=device)


def test_other_devices_rejected(model_file):
    path, _ = model_file
    with SafetensorsStreamer() as streamer:
        with pytest.raises(ValueError, match="device 'mps'"):
            streamer.stream_file(path, device="mps")


# --------------------------------------------------------------------------
# environment variables
# --------------------------------------------------------------------------


@pytest.fixture
def captured_options(monkeypatch):
    """Records the options the drop-in passes to weightstream's own streamer."""
    seen: list[dict] = []
    original = weightstream.streamer.SafetensorsStreamer.__init__

    def spy(self, *args, **kwargs):
        seen.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(weightstream.streamer.SafetensorsStreamer, "__init__", spy)
    return seen


def test_env_concurrency_and_chunk(model_file, monkeypatch, captured_options):
    path, tensors = model_file
    monkeypatch.setenv("RUNAI_STREAMER_CONCURRENCY", "3")
    monkeypatch.setenv("RUNAI_STREAMER_CHUNK_BYTESIZE", "4096")
    with SafetensorsStreamer() as streamer:
        streamer.stream_file(path)
        got = _collect(streamer)
    assert got == _expected(tensors)
    assert captured_options[-1]["concurrency"] == 3
    assert captured_options[-1]["chunk_size"] == 4096


def test_env_memory_limit_caps_held_bytes(tmp_path, rng, monkeypatch, captured_options):
    tensors = {f"t{i:02d}": rng.standard_normal(256).astype(np.float32) for i in range(24)}
    path = save_numpy(tmp_path / "m.safetensors", tensors)  # 1 KiB each
    monkeypatch.setenv("RUNAI_STREAMER_MEMORY_LIMIT", "3000")
    with SafetensorsStreamer() as streamer:
        streamer.stream_file(path)
        got = _collect(streamer)
        assert streamer._inner.peak_held_bytes <= 3000
    assert captured_options[-1]["memory_limit"] == 3000
    assert got == _expected(tensors)


@pytest.mark.parametrize("value", ["0", "-1", "1", "  "])
def test_env_memory_limit_special_values_stream_everything(model_file, monkeypatch, value):
    path, tensors = model_file
    monkeypatch.setenv("RUNAI_STREAMER_MEMORY_LIMIT", value)
    with SafetensorsStreamer() as streamer:
        streamer.stream_file(path)
        got = _collect(streamer)
    assert got == _expected(tensors)


@pytest.mark.parametrize(
    "name,value",
    [
        ("RUNAI_STREAMER_MEMORY_LIMIT", "lots"),
        ("RUNAI_STREAMER_MEMORY_LIMIT", "-2"),
        ("RUNAI_STREAMER_MEMORY_LIMIT", "1.5"),
        ("RUNAI_STREAMER_CONCURRENCY", "many"),
        ("RUNAI_STREAMER_CONCURRENCY", "0"),
        ("RUNAI_STREAMER_CONCURRENCY", "-4"),
        ("RUNAI_STREAMER_CHUNK_BYTESIZE", "16MB"),
        ("RUNAI_STREAMER_CHUNK_BYTESIZE", "0"),
    ],
)
def test_env_invalid_values(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as info:
        SafetensorsStreamer()
    message = str(info.value)
    assert name in message or value in message or name.split("_")[-1].lower() in message


def test_errors_are_weightstream_errors(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00[]")
    with SafetensorsStreamer() as streamer:
        with pytest.raises(ws.FormatError):
            streamer.stream_file(str(bad))
