"""Loading straight into GPU memory through the CUDA plugin (weightstream-cuda13).

``load_file(..., device="cuda:0", framework="torch")`` and
``SafetensorsStreamer(device="cuda")`` end up here. The data path is native:
sources are read into a small ring of pinned host buffers and copied to the
device on a few CUDA streams (cpp/weightstream/device_stager.h), so host
memory stays bounded by the ring whatever the model size. This module finds
and loads the plugin, checks the device, allocates the destination tensors
(with torch's or cupy's allocator, so they are ordinary tensors of that
framework) and hands the native stager their addresses.

The plugin library comes from ``$WEIGHTSTREAM_CUDA_LIBRARY`` if set, else the
``weightstream_cuda13`` package.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _checkpoint, _dtypes, _native, _options, _remote
from .errors import (
    DeviceError,
    DeviceNotAvailableError,
    DeviceOutOfMemoryError,
    FormatError,
    PluginNotInstalledError,
    TensorNotFoundError,
)

PLUGIN_PACKAGE = "weightstream-cuda13"
PLUGIN_MODULE = "weightstream_cuda13"
LIBRARY_ENV = "WEIGHTSTREAM_CUDA_LIBRARY"
# Copy queues. Two copy engines per GPU do the work; more streams keep them
# fed while the completer waits on earlier copies.
DEFAULT_STREAMS = 4
# Frameworks whose tensors can live on a GPU; "buffers" (plugin allocations,
# DeviceBuffer) is for tests and tools.
DEVICE_FRAMEWORKS = {"torch": "torch", "pt": "torch", "cupy": "cupy", "buffers": "buffers"}

_DEVICE_RE = re.compile(r"^cuda(?::(\d+))?$")
_lock = threading.Lock()
_plugins: dict[str, Any] = {}


def is_accelerator(device: object) -> bool:
    """Whether `device` names a GPU ("cuda", "cuda:N", a torch.device)."""
    if device is None:
        return False
    name = str(device)
    return name != "cpu" and name.split(":")[0] == "cuda"


def ordinal(device: object) -> int:
    m = _DEVICE_RE.match(str(device))
    if m is None:
        raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    return int(m.group(1) or 0)


def library_path() -> str:
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return override
    try:
        import weightstream_cuda13  # type: ignore[import-not-found]
    except ImportError as e:
        raise PluginNotInstalledError(
            f"device='cuda' needs the {PLUGIN_PACKAGE} package, which is not installed: "
            f"pip install 'weightstream[cuda13]' (or pip install {PLUGIN_PACKAGE})"
        ) from e
    return weightstream_cuda13.library_path()


def plugin() -> Any:
    """The loaded plugin (native DevicePlugin); raises DeviceNotAvailableError
    if there is no driver or it is too old, PluginNotInstalledError if the
    package is missing."""
    path = library_path()
    with _lock:
        p = _plugins.get(path)
        if p is None:
            if not os.path.exists(path):
                raise PluginNotInstalledError(
                    f"the CUDA plugin library {path} does not exist "
                    f"(reinstall {PLUGIN_PACKAGE}, or fix ${LIBRARY_ENV})"
                )
            p = _plugins[path] = _native.DevicePlugin(path)
        return p


def check_device(p: Any, index: int) -> None:
    count = p.device_count()
    if index >= count:
        raise DeviceNotAvailableError(
            f"cuda:{index} does not exist: this machine has {count} CUDA device"
            + ("" if count == 1 else "s"),
            "invalid_device",
        )


def _framework(name: str) -> str:
    try:
        return DEVICE_FRAMEWORKS[name]
    except KeyError:
        if name in _options.FRAMEWORKS:
            raise ValueError(
                f"framework {name!r} holds arrays in host memory; with a CUDA device use "
                "framework='torch' or 'cupy'"
            ) from None
        raise ValueError(
            f"unknown framework {name!r}: with a CUDA device, expected 'torch' or 'cupy'"
        ) from None


@dataclass(frozen=True)
class _Tensor:
    name: str
    dtype: str  # safetensors dtype name; "U8" for raw bytes (quantized GGUF)
    shape: tuple[int, ...]
    nbytes: int
    source: int  # index into the plan's sources
    offset: int  # absolute, in the source
    file: str


class DeviceBuffer:
    """A tensor in device memory allocated by the plugin itself (tests and
    tools; torch and cupy tensors use their own allocators). Freed when
    collected. ``numpy()`` copies it back to host memory."""

    def __init__(self, p: Any, device: int, t: _Tensor) -> None:
        self._plugin = p
        self.device = device
        self.name = t.name
        self.dtype = t.dtype
        self.shape = t.shape
        self.nbytes = t.nbytes
        self.address = 0
        self.address = p.alloc(device, t.nbytes)

    def numpy(self) -> np.ndarray:
        raw = self._plugin.copy_to_host(self.device, self.address, self.nbytes)
        return _dtypes.to_numpy(raw, self.dtype, self.shape)

    def __del__(self) -> None:
        if self.address:
            try:
                self._plugin.free(self.device, self.address)
            except Exception:  # noqa: BLE001 - never raise from a finalizer
                pass
            self.address = 0

    def __repr__(self) -> str:
        return f"DeviceBuffer({self.name!r}, {self.dtype}, {self.shape}, cuda:{self.device})"


class _Allocator:
    """Destination tensors on one device, in one framework."""

    def __init__(self, framework: str, p: Any, device: int) -> None:
        self.framework = framework
        self.plugin = p
        self.device = device
        if framework == "torch":
            import torch

            if not torch.cuda.is_available():
                raise DeviceNotAvailableError(
                    f"torch {torch.__version__} cannot use CUDA here (torch.version.cuda = "
                    f"{torch.version.cuda}): install a CUDA build of torch",
                    "no_device",
                )
            self._torch = torch
        elif framework == "cupy":
            import cupy  # type: ignore[import-not-found]

            self._cupy = cupy

    def reusable_bytes(self) -> int:
        """Device memory the framework holds but would hand out again."""
        if self.framework == "torch":
            t = self._torch.cuda
            return max(0, t.memory_reserved(self.device) - t.memory_allocated(self.device))
        return 0

    def empty(self, t: _Tensor) -> tuple[Any, int]:
        """(raw uint8 destination, its device address)."""
        if self.framework == "torch":
            raw = self._torch.empty(
                (t.nbytes,), dtype=self._torch.uint8, device=f"cuda:{self.device}"
            )
            return raw, raw.data_ptr()
        if self.framework == "cupy":
            with self._cupy.cuda.Device(self.device):
                raw = self._cupy.empty((t.nbytes,), dtype=self._cupy.uint8)
            return raw, raw.data.ptr
        buf = DeviceBuffer(self.plugin, self.device, t)
        return buf, buf.address

    def ready(self) -> None:
        # torch and cupy allocate in stream order on their current stream;
        # memory they reuse may still be in use by work queued there, and the
        # copies run on the plugin's own streams.
        if self.framework == "torch":
            self._torch.cuda.current_stream(self.device).synchronize()
        elif self.framework == "cupy":
            with self._cupy.cuda.Device(self.device):
                self._cupy.cuda.get_current_stream().synchronize()

    def is_oom(self, e: BaseException) -> bool:
        if self.framework == "torch":
            return isinstance(e, self._torch.cuda.OutOfMemoryError)
        if self.framework == "cupy":
            return isinstance(e, self._cupy.cuda.memory.OutOfMemoryError)
        return isinstance(e, DeviceOutOfMemoryError)

    def convert(self, raw: Any, t: _Tensor) -> Any:
        if self.framework == "torch":
            return _torch_view(raw, t.dtype, t.shape)
        if self.framework == "cupy":
            np_dtype = _dtypes.NUMPY_DTYPES.get(t.dtype)
            if np_dtype is None or np_dtype.kind == "V" or np_dtype.name not in _CUPY_NAMES:
                shape = (
                    _dtypes.packed_shape(t.dtype, t.shape)
                    if t.dtype in _dtypes.PACKED_BITS
                    else (-1,)
                )
                return raw.reshape(shape)
            return raw.view(np_dtype).reshape(t.shape)
        return raw


# Dtypes cupy has (no bfloat16 or float8): others come back as raw bytes.
_CUPY_NAMES = frozenset(
    "bool uint8 int8 uint16 int16 float16 uint32 int32 float32 uint64 int64 float64 "
    "complex64".split()
)


def _torch_view(raw: Any, dtype: str, shape: tuple[int, ...]) -> Any:
    """View a flat uint8 CUDA tensor as `dtype` and `shape` (no copy); as
    _dtypes.to_torch does for CPU tensors."""
    t_dtype = _dtypes.torch_dtype(dtype)
    if dtype == "F4" and t_dtype is not None:
        if shape and shape[-1] % 2 == 0:
            return raw.view(t_dtype).reshape(_dtypes.packed_shape(dtype, shape))
        t_dtype = None
    if t_dtype is None:
        return raw.reshape(
            _dtypes.packed_shape(dtype, shape) if dtype in _dtypes.PACKED_BITS else (-1,)
        )
    return raw.view(t_dtype).reshape(shape)


def is_raw(dtype: str, framework: str) -> bool:
    if framework == "torch":
        return _dtypes.is_raw(dtype, "torch")
    if framework == "cupy":
        np_dtype = _dtypes.NUMPY_DTYPES.get(dtype)
        return np_dtype is None or np_dtype.name not in _CUPY_NAMES
    return False


class _Plan:
    """Which bytes of which sources go to which new tensors."""

    def __init__(self) -> None:
        self.sources: list[Any] = []  # paths (bytes) or native Source objects
        self.tensors: list[_Tensor] = []

    def add_source(self, path: str, options: _remote.Options | None) -> int:
        if _remote.is_url(path):
            self.sources.append(_remote.open_source(path, options))
        else:
            self.sources.append(os.fsencode(path))
        return len(self.sources) - 1

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


def _safetensors_plan(
    plan: _Plan,
    path: Any,
    options: _remote.Options | None,
    wanted: frozenset[str] | None = None,
) -> tuple[_checkpoint.Checkpoint, dict[str, str]]:
    from .safetensors import _infos, _open_native

    checkpoint = _checkpoint.resolve(path, options)
    found: dict[str, str] = {}
    for file_path in checkpoint.files:
        native = _open_native(file_path, options)
        index = plan.add_source(file_path, options)
        for info in _infos(native):
            if info.name in found:
                raise FormatError(
                    f"tensor {info.name!r} is in both {found[info.name]} and {info.file}"
                )
            found[info.name] = info.file
            if wanted is not None and info.name not in wanted:
                continue
            plan.tensors.append(
                _Tensor(
                    info.name,
                    info.dtype,
                    info.shape,
                    info.nbytes,
                    index,
                    native.data_start + info.begin,
                    info.file,
                )
            )
    return checkpoint, found


def _gguf_plan(plan: _Plan, path: Any, options: _remote.Options | None) -> None:
    from .gguf import GGUFFile

    with GGUFFile(path, options=options) as f:
        index = plan.add_source(os.fspath(path), options)
        for info in f.tensors:
            plan.tensors.append(
                _Tensor(
                    info.name,
                    "U8" if info.quantized else info.ggml_type,
                    info.array_shape,
                    info.nbytes,
                    index,
                    f.data_start + info.offset,
                    info.file,
                )
            )


def _copy(
    plan: _Plan,
    alloc: _Allocator,
    concurrency: int,
    chunk: int,
    where: str,
) -> Iterator[tuple[_Tensor, Any]]:
    """Allocates every tensor, copies, yields (tensor, converted) as each
    lands on the device. On an error nothing more is yielded and everything
    allocated for the plan is released."""
    free, total = alloc.plugin.mem_info(alloc.device)
    available = free + alloc.reusable_bytes()
    needed = plan.nbytes

    def oom(detail: str = "") -> DeviceOutOfMemoryError:
        return DeviceOutOfMemoryError(
            f"cuda:{alloc.device}: loading {where} needs {needed} bytes of device memory, "
            f"but {available} of {total} are free{detail}",
            needed=needed,
            free=available,
        )

    if needed > available:
        raise oom()
    raws: list[Any] = []
    items = []
    try:
        for i, t in enumerate(plan.tensors):
            raw, address = alloc.empty(t)
            raws.append(raw)
            items.append((t.source, t.offset, t.nbytes, address, i, t.name))
    except Exception as e:
        failed = plan.tensors[len(raws)].name
        raws.clear()
        if alloc.is_oom(e):
            raise oom(f" (allocating tensor {failed!r} failed)") from e
        raise
    alloc.ready()
    stream = _native.DeviceStream(
        alloc.plugin, alloc.device, concurrency, chunk, 0, DEFAULT_STREAMS
    )
    try:
        stream.start(plan.sources, items)
        while True:
            i = stream.next()
            if i is None:
                break
            t = plan.tensors[i]
            yield t, alloc.convert(raws[i], t)
            raws[i] = None  # the caller's now
    finally:
        stream.close()  # waits for queued copies before the memory goes
        raws.clear()


def load_file(
    path: Any,
    framework: str,
    device: object,
    *,
    gguf_file: bool = False,
    concurrency: int | None = None,
    chunk_size: int | None = None,
    sha256: str | None = None,
    options: _remote.Options | None = None,
) -> dict[str, Any]:
    """``weightstream.load_file`` for a CUDA device: {name: tensor on the device}."""
    fw = _framework(framework)
    index = ordinal(device)
    if sha256 is not None:
        raise ValueError(
            "sha256= is not supported with a CUDA device yet: verify the file first "
            "with weightstream.verify(path, sha256), then load it"
        )
    concurrency = _options.positive("concurrency", concurrency, _options.DEFAULT_CONCURRENCY)
    chunk = _options.positive("chunk_size", chunk_size, _options.DEFAULT_CHUNK_BYTES)
    p = plugin()
    check_device(p, index)
    alloc = _Allocator(fw, p, index)
    plan = _Plan()
    where = _remote.shown(os.fspath(path)) if _remote.is_url(os.fspath(path)) else os.fspath(path)
    if gguf_file:
        _gguf_plan(plan, path, options)
        found = None
    else:
        checkpoint, found = _safetensors_plan(plan, path, options)
    result: dict[str, Any] = {}
    for t, tensor in _copy(plan, alloc, concurrency, chunk, where):
        result[t.name] = tensor
    if found is not None:
        _checkpoint.check_index(checkpoint, found)
    _dtypes.warn_raw([(t.name, t.dtype) for t in plan.tensors if is_raw(t.dtype, fw)], fw)
    if gguf_file:
        return {t.name: result[t.name] for t in plan.tensors}
    return {name: result[name] for name in sorted(result)}


class DeviceStreamer:
    """SafetensorsStreamer's device mode: queued files are copied to the GPU
    when get_tensors() starts; tensors are yielded as they land."""

    def __init__(
        self, device: object, framework: str, concurrency: int | None, chunk_size: int | None
    ) -> None:
        # Like load_file, but a streamer defaults to torch (the runai API's).
        self._framework = _framework("torch" if framework in ("numpy", "np") else framework)
        self._device = ordinal(device)
        self._concurrency = _options.positive(
            "concurrency", concurrency, _options.DEFAULT_CONCURRENCY
        )
        self._chunk = _options.positive("chunk_size", chunk_size, _options.DEFAULT_CHUNK_BYTES)
        self._plugin = plugin()
        check_device(self._plugin, self._device)
        self._alloc = _Allocator(self._framework, self._plugin, self._device)
        self._plans: list[tuple[_Plan, str]] = []

    def stream_files(
        self,
        paths: Iterable[Any],
        tensor_names: Collection[str] | None,
        options: _remote.Options | None = None,
    ) -> None:
        wanted = None if tensor_names is None else frozenset(tensor_names)
        paths = list(paths)
        plan = _Plan()
        for p in paths:
            _safetensors_plan(plan, p, options, wanted)
        seen = {t.name for t in plan.tensors}
        if wanted is not None and wanted - seen:
            missing = sorted(wanted - seen)
            raise TensorNotFoundError(
                f"tensors not found: {', '.join(map(repr, missing[:10]))}"
                + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            )
        self._plans.append((plan, ", ".join(os.fspath(p) for p in paths)))

    def get_tensors(self) -> Iterator[tuple[str, Any]]:
        plans, self._plans = self._plans, []
        for plan, where in plans:
            for t, tensor in _copy(plan, self._alloc, self._concurrency, self._chunk, where):
                if is_raw(t.dtype, self._framework):
                    _dtypes.warn_raw([(t.name, t.dtype)], self._framework)
                yield t.name, tensor

    def close(self) -> None:
        self._plans = []


def device_info(device: object = "cuda:0") -> dict[str, Any]:
    """The plugin's view of a device: name, compute capability, memory, plus
    the plugin's and the driver's versions."""
    index = ordinal(device)
    p = plugin()
    check_device(p, index)
    info = dict(p.device_info(index))
    info.update(
        plugin=p.name,
        plugin_version=p.version,
        plugin_path=p.path,
        driver_version=p.driver_version,
        runtime_version=p.runtime_version,
    )
    return info


__all__ = ["DeviceBuffer", "DeviceError", "device_info", "is_accelerator", "load_file"]
