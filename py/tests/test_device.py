"""device="cuda" end to end without a GPU: the fake device plugin.

cpp/weightstream/fake_device_plugin.cc implements the device plugin ABI with
host memory standing in for GPU memory; it is loaded exactly as the CUDA
plugin is (WEIGHTSTREAM_CUDA_LIBRARY, dlopen, ABI checks), so these tests
cover plugin discovery, the Python device path, the native pinned-ring
stager and every error the plugin can report. Tensors come back as
``DeviceBuffer``s (framework="buffers", plugin allocations), copied back to
host memory for the comparisons. The real plugin and a real GPU are covered
by test_cuda.py.

The library is $WEIGHTSTREAM_FAKE_DEVICE_LIBRARY if set (Bazel), else
compiled here from the repository's sources with the host C++ compiler.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import safetensors.numpy
import weightstream as ws
from weightstream import _device
from weightstream.errors import (
    DeviceError,
    DeviceNotAvailableError,
    DeviceOutOfMemoryError,
    PluginNotInstalledError,
)

# realpath: under Bazel this file is a symlink into the source tree.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
SOURCE = os.path.join(ROOT, "cpp", "weightstream", "fake_device_plugin.cc")


def _compile(out: str, *defines: str) -> str:
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None or not os.path.exists(SOURCE):
        pytest.skip("no C++ compiler or repository sources to build the fake device plugin")
    subprocess.run(
        [cxx, "-std=c++17", "-O1", "-shared", "-fPIC", "-pthread", "-I", ROOT, *defines]
        + [SOURCE, "-o", out],
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def fake_library(tmp_path_factory):
    given = os.environ.get("WEIGHTSTREAM_FAKE_DEVICE_LIBRARY")
    if given:
        return given
    return _compile(str(tmp_path_factory.mktemp("fake") / "libws_fake_device.so"))


@pytest.fixture
def fake(fake_library, monkeypatch):
    monkeypatch.setenv("WEIGHTSTREAM_CUDA_LIBRARY", fake_library)
    monkeypatch.delenv("WS_FAKE_DEVICE_MODE", raising=False)
    monkeypatch.delenv("WS_FAKE_DEVICE_MEMORY", raising=False)
    return _device.plugin()


def _device_free(plugin):
    gc.collect()
    free, total = plugin.mem_info(0)
    return free, total


TENSORS = {
    "a.f32": np.arange(100_000, dtype=np.float32).reshape(100, 1000),
    "b.i64": np.arange(-50, 50, dtype=np.int64),
    "c.u8": np.frombuffer(os.urandom(3 << 20), dtype=np.uint8),
    "d.f16": np.linspace(-1, 1, 4097, dtype=np.float16),
    "e.empty": np.zeros((0, 4), dtype=np.float32),
    "f.scalar": np.array(7, dtype=np.int32),
    "g.bool": np.array([True, False, True]),
}


@pytest.fixture
def model(tmp_path):
    path = str(tmp_path / "model.safetensors")
    safetensors.numpy.save_file(TENSORS, path)
    return path


def _check(out, expected):
    assert sorted(out) == sorted(expected)
    for name, want in expected.items():
        buf = out[name]
        assert isinstance(buf, _device.DeviceBuffer)
        got = buf.numpy()
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        assert got.tobytes() == want.tobytes(), name


@pytest.mark.parametrize("chunk_size", [None, 4096, 65536 + 8])
def test_load_file_byte_equal(fake, model, chunk_size):
    out = ws.load_file(model, "buffers", device="cuda:0", chunk_size=chunk_size, concurrency=3)
    _check(out, TENSORS)
    assert list(out) == sorted(out)  # sorted by name, as on the CPU


def test_device_forms(fake, model):
    for device in ("cuda", "cuda:0"):
        _check(ws.load_file(model, "buffers", device=device), TENSORS)
    with pytest.raises(ValueError, match="unknown device 'cuda:x'"):
        ws.load_file(model, "buffers", device="cuda:x")


def test_every_byte_dtype(fake, tmp_path):
    rng = np.random.default_rng(1)
    tensors = {
        f"t{i}": rng.integers(0, 255, size=(3, 5, 8), dtype=np.uint8).view(dtype)
        for i, dtype in enumerate(
            [np.int8, np.uint16, np.int16, np.uint32, np.float32, np.float64, np.complex64]
        )
    }
    path = str(tmp_path / "d.safetensors")
    safetensors.numpy.save_file(tensors, path)
    _check(ws.load_file(path, "buffers", device="cuda"), tensors)


def test_shards_with_index(fake, tmp_path):
    first = {"x": np.arange(10, dtype=np.float32)}
    second = {"y": np.arange(20, dtype=np.int16), "z": np.ones(3, np.float64)}
    safetensors.numpy.save_file(first, str(tmp_path / "m-1.safetensors"))
    safetensors.numpy.save_file(second, str(tmp_path / "m-2.safetensors"))
    index = {
        "metadata": {},
        "weight_map": {"x": "m-1.safetensors", "y": "m-2.safetensors", "z": "m-2.safetensors"},
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    _check(ws.load_file(str(tmp_path), "buffers", device="cuda"), {**first, **second})


def test_gguf(fake, tmp_path):
    gguf = pytest.importorskip("gguf")
    path = str(tmp_path / "m.gguf")
    w = gguf.GGUFWriter(path, "llama")
    a = np.arange(64, dtype=np.float32).reshape(8, 8)
    b = np.arange(32, dtype=np.float16)
    w.add_tensor("a", a)
    w.add_tensor("b", b)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    out = ws.load_file(path, "buffers", device="cuda")
    assert list(out) == ["a", "b"]  # file order, as on the CPU
    cpu = ws.load_file(path)
    for name in cpu:
        assert out[name].numpy().tobytes() == cpu[name].tobytes()


def test_streamer(fake, model):
    with ws.SafetensorsStreamer(device="cuda", framework="buffers", chunk_size=8192) as s:
        s.stream_files([model], tensor_names=["a.f32", "c.u8"])
        got = dict(s.get_tensors())
    _check(got, {k: TENSORS[k] for k in ("a.f32", "c.u8")})


def test_streamer_unknown_name(fake, model):
    with ws.SafetensorsStreamer(device="cuda", framework="buffers") as s:
        with pytest.raises(ws.TensorNotFoundError, match="'nope'"):
            s.stream_files([model], tensor_names=["nope"])


def test_no_driver(fake_library, monkeypatch, model):
    monkeypatch.setenv("WEIGHTSTREAM_CUDA_LIBRARY", fake_library)
    monkeypatch.setenv("WS_FAKE_DEVICE_MODE", "no_driver")
    _device._plugins.clear()
    with pytest.raises(DeviceNotAvailableError, match="no CUDA driver") as e:
        ws.load_file(model, "torch", device="cuda")
    assert e.value.code == "no_driver"
    assert isinstance(e.value, RuntimeError)
    _device._plugins.clear()


def test_driver_too_old(fake_library, monkeypatch, model):
    monkeypatch.setenv("WEIGHTSTREAM_CUDA_LIBRARY", fake_library)
    monkeypatch.setenv("WS_FAKE_DEVICE_MODE", "old_driver")
    _device._plugins.clear()
    with pytest.raises(DeviceNotAvailableError, match=r"CUDA 12\.4.*CUDA 13\.0") as e:
        ws.load_file(model, "torch", device="cuda")
    assert e.value.code == "driver_too_old"
    _device._plugins.clear()


def test_no_device_and_bad_ordinal(fake, monkeypatch, model):
    with pytest.raises(DeviceNotAvailableError, match="cuda:3 does not exist") as e:
        ws.load_file(model, "buffers", device="cuda:3")
    assert e.value.code == "invalid_device"
    monkeypatch.setenv("WS_FAKE_DEVICE_MODE", "no_device")
    with pytest.raises(DeviceNotAvailableError, match="no CUDA device") as e:
        ws.load_file(model, "buffers", device="cuda")
    assert e.value.code == "no_device"


def test_out_of_memory_up_front(fake, monkeypatch, model):
    monkeypatch.setenv("WS_FAKE_DEVICE_MEMORY", str(1 << 20))
    free_before, total = _device_free(fake)
    with pytest.raises(DeviceOutOfMemoryError) as e:
        ws.load_file(model, "buffers", device="cuda")
    needed = sum(t.nbytes for t in TENSORS.values())
    assert e.value.needed == needed
    assert e.value.free == free_before
    assert f"needs {needed} bytes" in str(e.value)
    assert isinstance(e.value, MemoryError)
    assert _device_free(fake) == (free_before, total)


def test_out_of_memory_while_allocating_frees_everything(fake, monkeypatch, model):
    free_before, _ = _device_free(fake)
    # Enough for the first tensors, not for all: the allocations already
    # made must be freed again.
    needed = sum(t.nbytes for t in TENSORS.values())
    monkeypatch.setenv("WS_FAKE_DEVICE_MEMORY", str(1 << 30))
    real_empty = _device._Allocator.empty
    calls = []

    def failing_empty(self, t):
        calls.append(t.name)
        if len(calls) == 4:
            monkeypatch.setenv("WS_FAKE_DEVICE_MODE", "oom")
        return real_empty(self, t)

    monkeypatch.setattr(_device._Allocator, "empty", failing_empty)
    with pytest.raises(DeviceOutOfMemoryError, match=r"allocating tensor '.*' failed") as e:
        ws.load_file(model, "buffers", device="cuda")
    assert e.value.needed == needed
    monkeypatch.delenv("WS_FAKE_DEVICE_MODE")
    assert _device_free(fake)[0] == free_before


def test_copy_error_frees_memory(fake, monkeypatch, model):
    free_before, _ = _device_free(fake)
    monkeypatch.setenv("WS_FAKE_DEVICE_MODE", "copy_error")
    with pytest.raises(DeviceError, match="copying tensor .* illegal memory access"):
        ws.load_file(model, "buffers", device="cuda", chunk_size=4096)
    monkeypatch.delenv("WS_FAKE_DEVICE_MODE")
    assert _device_free(fake)[0] == free_before


def test_read_error_names_the_file(fake, tmp_path):
    path = tmp_path / "t.safetensors"
    safetensors.numpy.save_file({"w": np.ones(1 << 16, np.float32)}, str(path))
    data = path.read_bytes()
    free_before, _ = _device_free(fake)
    # Opened and planned, then truncated before the copy reads it.
    real_copy = _device._copy

    def truncate_then_copy(*args, **kwargs):
        path.write_bytes(data[: len(data) // 2])
        return real_copy(*args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(_device, "_copy", truncate_then_copy)
    try:
        # The file is opened again for the copy: it is now too short.
        with pytest.raises(ValueError, match=r"t.safetensors: tensor 'w' .* lies outside the file"):
            ws.load_file(str(path), "buffers", device="cuda")
    finally:
        mp.undo()
    assert _device_free(fake)[0] == free_before


def test_abi_mismatch(tmp_path, monkeypatch, model):
    library = _compile(str(tmp_path / "libabi99.so"), "-DWS_FAKE_ABI=99")
    monkeypatch.setenv("WEIGHTSTREAM_CUDA_LIBRARY", library)
    with pytest.raises(ValueError, match=r"ABI version 99.*needs version 1.*weightstream-cuda13"):
        ws.load_file(model, "buffers", device="cuda")


def test_plugin_not_installed(monkeypatch, model):
    monkeypatch.delenv("WEIGHTSTREAM_CUDA_LIBRARY", raising=False)
    monkeypatch.setitem(sys.modules, "weightstream_cuda13", None)  # import fails
    with pytest.raises(PluginNotInstalledError, match=r"pip install 'weightstream\[cuda13\]'"):
        ws.load_file(model, "torch", device="cuda")
    with pytest.raises(ImportError, match="weightstream-cuda13"):
        ws.SafetensorsStreamer(device="cuda:0")


def test_library_path_missing(monkeypatch, tmp_path, model):
    monkeypatch.setenv("WEIGHTSTREAM_CUDA_LIBRARY", str(tmp_path / "nope.so"))
    with pytest.raises(PluginNotInstalledError, match="nope.so does not exist"):
        ws.load_file(model, "torch", device="cuda")


def test_bad_combinations(fake, model):
    with pytest.raises(ValueError, match="framework 'numpy' holds arrays in host memory"):
        ws.load_file(model, device="cuda")
    with pytest.raises(ValueError, match="unknown framework 'jax'"):
        ws.load_file(model, "jax", device="cuda")
    with pytest.raises(ValueError, match="sha256= is not supported with a CUDA device"):
        ws.load_file(model, "buffers", device="cuda", sha256="0" * 64)
    with pytest.raises(ValueError, match="reads into host memory"):
        ws.open(model, device="cuda")
    with pytest.raises(ValueError, match="expected 'cpu', 'cuda' or 'cuda:N'"):
        ws.load_file(model, device="mps")


def test_device_info(fake):
    info = _device.device_info("cuda:0")
    assert info["name"] == "weightstream fake device"
    assert info["plugin"] == "weightstream-fake-device"
    assert info["driver_version"] == 13000


def test_torch_cpu_build_is_a_clear_error(fake, model):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("torch has CUDA here")
    with pytest.raises(DeviceNotAvailableError, match="install a CUDA build of torch"):
        ws.load_file(model, "torch", device="cuda")


def test_runai_dropin_routes_cuda_to_the_plugin(fake, model):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("torch has CUDA here: test_cuda.py covers the real path")
    from weightstream.runai import SafetensorsStreamer

    with SafetensorsStreamer() as s:
        # The fake device exists; torch (a CPU build) cannot allocate on it.
        with pytest.raises(DeviceNotAvailableError, match="install a CUDA build of torch"):
            s.stream_file(model, device="cuda:0")
