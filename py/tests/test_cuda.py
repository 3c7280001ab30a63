"""The real CUDA plugin (weightstream-cuda13, libweightstream_cuda.so).

Always, where the plugin is installed (or $WEIGHTSTREAM_CUDA_LIBRARY names
it): it loads, and without an NVIDIA driver says so cleanly. With a GPU (a
driver, a device, and a CUDA build of torch): tensors on the device are byte
for byte what CPU loading gives on a multi-GiB checkpoint
($WS_CUDA_TEST_GIB, default 3), host memory stays bounded by the staging
ring, the streamer works, and running out of device memory frees what was
allocated. Every test that cannot run here is skipped with the reason.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import safetensors.numpy
import weightstream as ws
from weightstream import _device
from weightstream.errors import DeviceNotAvailableError, DeviceOutOfMemoryError

GIB = 1 << 30


def _real_library() -> str:
    given = os.environ.get("WEIGHTSTREAM_CUDA_LIBRARY")
    if given and os.path.basename(given) == "libweightstream_cuda.so":
        return given
    try:
        import weightstream_cuda13
    except ImportError:
        pytest.skip("weightstream-cuda13 is not installed (tools/cuda_check.sh installs it)")
    return weightstream_cuda13.library_path()


def _driver_present() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


@pytest.fixture
def real_plugin(monkeypatch):
    library = _real_library()
    if not os.path.exists(library):
        pytest.fail(f"the installed plugin has no library at {library}")
    monkeypatch.setenv("WEIGHTSTREAM_CUDA_LIBRARY", library)
    return library


@pytest.fixture
def small(tmp_path):
    path = str(tmp_path / "small.safetensors")
    safetensors.numpy.save_file({"w": np.arange(1000, dtype=np.float32)}, path)
    return path


def test_no_driver_is_a_clean_error(real_plugin, small):
    if _driver_present():
        pytest.skip("an NVIDIA driver is present: the GPU tests cover this machine")
    for call in (
        lambda: ws.load_file(small, "torch", device="cuda"),
        lambda: ws.SafetensorsStreamer(device="cuda:0"),
        lambda: _device.device_info("cuda:0"),
    ):
        with pytest.raises(DeviceNotAvailableError) as e:
            call()
        message = str(e.value)
        assert e.value.code == "no_driver"
        assert "no CUDA driver" in message
        assert "libcuda.so.1" in message
        assert "weightstream-cuda13" in message


# ------------------------------------------------------------------ GPU tests


@pytest.fixture
def gpu(real_plugin):
    if not _driver_present():
        pytest.skip("no NVIDIA driver (libcuda.so.1): GPU tests not run")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip(f"torch {torch.__version__} has no CUDA device here")
    return torch


def _write_checkpoint(path: str, total_bytes: int) -> dict[str, str]:
    """A checkpoint of about `total_bytes`: mixed dtypes and sizes, random bytes."""
    rng = np.random.default_rng(42)
    tensors = {}
    dtypes = [np.float32, np.float16, np.int8, np.int64, np.uint8]
    left, i = total_bytes, 0
    while left > 0:
        n = int(min(left, rng.integers(1, 256) << 20 if i % 7 else 3 + i))
        dtype = dtypes[i % len(dtypes)]
        count = max(1, n // np.dtype(dtype).itemsize)
        tensors[f"layer.{i:04d}"] = np.frombuffer(
            rng.bytes(count * np.dtype(dtype).itemsize), dtype=dtype
        )
        left -= count * np.dtype(dtype).itemsize
        i += 1
    safetensors.numpy.save_file(tensors, path)
    return {name: str(t.dtype) for name, t in tensors.items()}


@pytest.fixture(scope="module")
def big_checkpoint(tmp_path_factory):
    # Module-scoped fixtures run before `gpu` could skip: check first, so no
    # machine without a GPU writes gigabytes for nothing.
    if not _driver_present():
        pytest.skip("no NVIDIA driver (libcuda.so.1): GPU tests not run")
    gib = float(os.environ.get("WS_CUDA_TEST_GIB", "3"))
    path = str(tmp_path_factory.mktemp("cuda") / "big.safetensors")
    _write_checkpoint(path, int(gib * GIB))
    return path


def test_multi_gib_byte_equal_with_cpu_loading(gpu, big_checkpoint):
    torch = gpu
    on_gpu = ws.load_file(big_checkpoint, "torch", device="cuda:0")
    with ws.open(big_checkpoint, "torch") as f:
        assert sorted(on_gpu) == f.keys()
        for name in f.keys():
            cpu = f.get_tensor(name)
            dev = on_gpu[name]
            assert dev.device == torch.device("cuda", 0)
            assert dev.dtype == cpu.dtype and dev.shape == cpu.shape, name
            # Bytes, not values: NaN payloads must survive too.
            got = dev.reshape(-1).view(torch.uint8).cpu()
            assert torch.equal(got, cpu.reshape(-1).view(torch.uint8)), name


def test_host_memory_bounded_by_the_ring(gpu, big_checkpoint):
    size = os.path.getsize(big_checkpoint)
    code = textwrap.dedent(
        f"""
        import json, torch, weightstream as ws
        from weightstream import _device

        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) * 1024

        torch.zeros(1, device="cuda")  # the CUDA context, before the baseline
        _device.plugin()
        base = status("VmRSS")
        t = ws.load_file({big_checkpoint!r}, "torch", device="cuda")
        torch.cuda.synchronize()
        print(json.dumps({{"base": base, "peak": status("VmHWM"), "n": len(t)}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    grown = r["peak"] - r["base"]
    # The ring (16 slots x 16 MiB by default) plus allocator slack, not the model.
    assert grown < 768 << 20, f"host memory grew by {grown >> 20} MiB for a {size >> 20} MiB file"
    assert grown < size // 3


def test_streamer_on_gpu(gpu, tmp_path):
    torch = gpu
    path = str(tmp_path / "s.safetensors")
    tensors = {
        f"t{i}": np.random.default_rng(i).standard_normal(1000 * (i + 1)).astype(np.float32)
        for i in range(20)
    }
    safetensors.numpy.save_file(tensors, path)
    with ws.SafetensorsStreamer(device="cuda", chunk_size=1 << 16) as s:
        s.stream_files([path])
        got = dict(s.get_tensors())
    assert sorted(got) == sorted(tensors)
    for name, want in tensors.items():
        assert got[name].is_cuda
        assert torch.equal(got[name].cpu(), torch.from_numpy(want))


def test_bf16_and_fp8_on_gpu(gpu, tmp_path):
    torch = gpu
    import safetensors.torch

    path = str(tmp_path / "d.safetensors")
    tensors = {
        "bf16": torch.randn(333, dtype=torch.float32).to(torch.bfloat16),
        "f8": torch.randn(64).to(torch.float8_e4m3fn),
    }
    safetensors.torch.save_file(tensors, path)
    got = ws.load_file(path, "torch", device="cuda")
    for name, want in tensors.items():
        assert got[name].dtype == want.dtype
        assert torch.equal(got[name].cpu().view(torch.uint8), want.view(torch.uint8))


def test_out_of_memory_frees_what_was_allocated(gpu, tmp_path):
    torch = gpu
    free, _ = torch.cuda.mem_get_info(0)
    path = str(tmp_path / "o.safetensors")
    safetensors.numpy.save_file({"w": np.zeros(64 << 20, dtype=np.uint8)}, path)
    # Leave less than the file's 64 MiB free.
    hog = torch.empty(free - (32 << 20), dtype=torch.uint8, device="cuda")
    allocated = torch.cuda.memory_allocated(0)
    try:
        with pytest.raises(DeviceOutOfMemoryError) as e:
            ws.load_file(path, "torch", device="cuda")
        assert e.value.needed == 64 << 20
        assert torch.cuda.memory_allocated(0) == allocated
    finally:
        del hog


def test_bad_ordinal_on_gpu(gpu, small):
    torch = gpu
    count = torch.cuda.device_count()
    with pytest.raises(DeviceNotAvailableError, match=f"cuda:{count} does not exist"):
        ws.load_file(small, "torch", device=f"cuda:{count}")
