"""Loading safetensors checkpoints: ``load_file`` and the ``open`` handle."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _checkpoint, _device, _dtypes, _native, _options, _remote, integrity
from .errors import FormatError, TensorNotFoundError

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class TensorInfo:
    """Where a tensor lives and what it is, as its file's header says."""

    name: str
    dtype: str  # safetensors name, e.g. "BF16"
    shape: tuple[int, ...]
    file: str
    # Byte range relative to the start of the file's data section.
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


def _open_native(path: str, options: _remote.Options | None = None) -> Any:
    if _remote.is_url(path):
        return _native.SafetensorsFile.from_source(_remote.open_source(path, options))
    # Bytes, so that any file name the OS accepts reaches the core intact.
    return _native.SafetensorsFile(os.fsencode(path))


def _infos(native_file: Any) -> list[TensorInfo]:
    path = native_file.path
    return [
        TensorInfo(name, dtype, tuple(shape), path, begin, end)
        for name, dtype, shape, begin, end in native_file.tensors()
    ]


def _convert(raw: np.ndarray, info: TensorInfo, framework: str) -> Any:
    if framework == "torch":
        return _dtypes.to_torch(raw, info.dtype, info.shape)
    return _dtypes.to_numpy(raw, info.dtype, info.shape)


def load_file(
    path: PathLike,
    framework: str = "numpy",
    *,
    device: str | None = "cpu",
    concurrency: int | None = None,
    chunk_size: int | None = None,
    sha256: str | None = None,
    options: _remote.Options | None = None,
) -> dict[str, Any]:
    """Load every tensor of a safetensors file, directory or index.

    Args:
        path: a ``.safetensors`` file, a directory of them, or a
            ``*.safetensors.index.json`` (every shard it lists is read); or
            a URL (``s3://``, ``gs://``, ``az://``, ``http(s)://``) of any of
            these, a prefix ending in ``/`` playing the directory.
        framework: ``"numpy"``/``"np"`` (default) or ``"torch"``/``"pt"``.
        device: ``"cpu"`` (default), or ``"cuda"``/``"cuda:N"`` to load
            straight into GPU memory (framework ``"torch"`` or ``"cupy"``;
            needs the weightstream-cuda13 package).
        concurrency: reads in flight (default 8).
        chunk_size: largest single read in bytes (default 16 MiB).
        sha256: the expected SHA-256 (hex) of the file, checked while it
            loads (the file is still read once). Only for a single file.
        options: settings for URLs (``endpoint_url``, ``region``,
            ``ca_bundle``, ``anonymous``, ...), passed to the plugin.

    Returns:
        ``{name: array}`` with C-contiguous, writable arrays that own their
        memory, sorted by name.

    Raises:
        FormatError: a file is not valid safetensors, or an index and its
            shards disagree, or a tensor name appears in two shards.
        FileNotFoundError, PermissionError, ReadError: the files could not be
            read in full.
        IntegrityError: the file's SHA-256 is not `sha256`; nothing is
            returned.
    """
    if _device.is_accelerator(device):
        return _device.load_file(
            path,
            framework,
            device,
            concurrency=concurrency,
            chunk_size=chunk_size,
            sha256=sha256,
            options=options,
        )
    fw = _options.framework(framework)
    _options.device(device)
    expected = None if sha256 is None else integrity.normalize_sha256(sha256)
    checkpoint = _checkpoint.resolve(path, options)
    if expected is not None and len(checkpoint.files) != 1:
        raise ValueError(
            f"{_remote.redact(os.fspath(path))}: sha256 verifies one file, but this is "
            f"{len(checkpoint.files)} files; verify each with weightstream.verify()"
        )
    files = [_open_native(f, options) for f in checkpoint.files]
    concurrency, chunk_size = _remote.preferred_sizing(files, concurrency, chunk_size)
    tensors, found = _read_all(
        files,
        [_infos(f) for f in files],
        fw,
        _options.positive("concurrency", concurrency, _options.DEFAULT_CONCURRENCY),
        _options.positive("chunk_size", chunk_size, _options.DEFAULT_CHUNK_BYTES),
        expected,
    )
    _checkpoint.check_index(checkpoint, found)
    return tensors


def _read_all(
    files: list[Any],
    infos: list[list[TensorInfo]],
    fw: str,
    concurrency: int,
    chunk: int,
    sha256: str | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Stream every tensor of `files`; returns ({name: array}, {name: file}).

    With `sha256`, the first file's digest is computed as it streams and
    checked before any array is handed back.
    """
    streamer = _native.Streamer(concurrency, chunk, 0)
    try:
        for f in files:
            streamer.add(f)
        if sha256 is None:
            done = streamer.drain()
        else:
            done, digest = streamer.drain_hashed(0)
            integrity.check(files[0].path, sha256, digest)
    finally:
        streamer.close()
    found: dict[str, str] = {}
    raw_named: list[tuple[str, str]] = []
    result: dict[str, Any] = {}
    for file_index, tensor_index, raw in done:
        info = infos[file_index][tensor_index]
        if info.name in found:
            raise FormatError(f"tensor {info.name!r} is in both {found[info.name]} and {info.file}")
        found[info.name] = info.file
        if _dtypes.is_raw(info.dtype, fw):
            raw_named.append((info.name, info.dtype))
        result[info.name] = _convert(raw, info, fw)
    _dtypes.warn_raw(raw_named, fw)
    return {name: result[name] for name in sorted(result)}, found


class TensorSlice:
    """A lazily read tensor: indexing it reads only the rows it selects.

    Supports integers, slices (any step) and ``...``; the first axis decides
    which bytes are read, the other axes are applied in memory.
    """

    def __init__(self, handle: SafeOpen, info: TensorInfo) -> None:
        self._handle = handle
        self._info = info

    def get_shape(self) -> list[int]:
        return list(self._info.shape)

    def get_dtype(self) -> str:
        return self._info.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self._info.shape

    @property
    def dtype(self) -> str:
        return self._info.dtype

    def __len__(self) -> int:
        if not self._info.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._info.shape[0]

    def __getitem__(self, key: Any) -> Any:
        info = self._info
        if info.dtype in _dtypes.PACKED_BITS:
            raise ValueError(
                f"{info.file}: tensor {info.name!r} has packed dtype {info.dtype}, "
                "which cannot be sliced; use get_tensor()"
            )
        shape = info.shape
        key = _normalize_key(key, len(shape))
        if not shape:
            return self._handle.get_tensor(info.name)
        first, rest = key[0], key[1:]
        rows_total = shape[0]
        if isinstance(first, slice):
            rows = range(*first.indices(rows_total))
        else:
            index = first + rows_total if first < 0 else first
            if not 0 <= index < rows_total:
                raise IndexError(
                    f"index {first} is out of bounds for axis 0 with size {rows_total}"
                )
            rows = range(index, index + 1)
        row_bytes = _dtypes.itemsize(info.dtype)
        for d in shape[1:]:
            row_bytes *= d
        ranges = _row_ranges(rows, row_bytes, info.begin)
        raw = self._handle._read_ranges(info, ranges)
        block = raw.view(_dtypes.NUMPY_DTYPES[info.dtype]).reshape((len(rows),) + shape[1:])
        selected = block[(slice(None),) + rest]
        if not isinstance(first, slice):
            selected = selected[0, ...]  # a 0-d array when every axis is indexed
        # Not np.ascontiguousarray: it turns 0-d results into shape (1,).
        array = selected if selected.flags.c_contiguous else selected.copy(order="C")
        if self._handle._framework == "torch":
            flat = array.reshape(-1).view(np.uint8)
            return _dtypes.to_torch(flat, info.dtype, array.shape)
        return array


def _normalize_key(key: Any, ndim: int) -> tuple[Any, ...]:
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if k is not Ellipsis and not isinstance(k, (slice, int, np.integer)) or isinstance(k, bool):
            raise TypeError(
                f"unsupported index {k!r}: use integers, slices and ... (no arrays or None)"
            )
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (ndim - len(key) + 1) + key[i + 1 :]
    if len(key) > ndim:
        raise IndexError(f"too many indices: tensor is {ndim}-dimensional, got {len(key)}")
    key = key + (slice(None),) * (ndim - len(key))
    return tuple(int(k) if isinstance(k, np.integer) else k for k in key)


def _row_ranges(rows: range, row_bytes: int, base: int) -> list[tuple[int, int]]:
    """Byte ranges for `rows`, in their order, merging neighbours."""
    if rows.step == 1:
        return [(base + rows.start * row_bytes, len(rows) * row_bytes)] if rows else []
    ranges: list[tuple[int, int]] = []
    for r in rows:
        ranges.append((base + r * row_bytes, row_bytes))
    return ranges


class SafeOpen:
    """An open safetensors checkpoint, read tensor by tensor.

    Like ``safetensors.safe_open``: ``keys()``, ``metadata()``,
    ``get_tensor(name)``, ``get_slice(name)``. Also accepts a directory or an
    index, presenting all shards as one.
    """

    def __init__(
        self,
        path: PathLike,
        framework: str = "numpy",
        device: str | None = "cpu",
        *,
        concurrency: int | None = None,
        chunk_size: int | None = None,
        options: _remote.Options | None = None,
    ) -> None:
        self._framework = _options.framework(framework)
        _options.device(device)
        _options.positive("concurrency", concurrency, _options.DEFAULT_CONCURRENCY)
        _options.positive("chunk_size", chunk_size, _options.DEFAULT_CHUNK_BYTES)
        self._path = os.fspath(path)
        if _remote.is_url(self._path):
            self._path = _remote.redact(self._path)
        checkpoint = _checkpoint.resolve(path, options)
        self._files: dict[str, Any] | None = {}
        self._infos: dict[str, TensorInfo] = {}
        self._file_infos: dict[str, list[TensorInfo]] = {}
        metadata: dict[str, str] | None = None
        for file_path in checkpoint.files:
            native = _open_native(file_path, options)
            self._files[native.path] = native
            if native.metadata is not None and metadata is None:
                metadata = dict(native.metadata)
            self._file_infos[native.path] = _infos(native)
            for info in self._file_infos[native.path]:
                if info.name in self._infos:
                    raise FormatError(
                        f"tensor {info.name!r} is in both {self._infos[info.name].file} "
                        f"and {info.file}"
                    )
                self._infos[info.name] = info
        _checkpoint.check_index(checkpoint, {n: i.file for n, i in self._infos.items()})
        self._metadata = metadata
        concurrency, chunk_size = _remote.preferred_sizing(
            list(self._files.values()), concurrency, chunk_size
        )
        self._concurrency = _options.positive(
            "concurrency", concurrency, _options.DEFAULT_CONCURRENCY
        )
        self._chunk = _options.positive("chunk_size", chunk_size, _options.DEFAULT_CHUNK_BYTES)

    def __enter__(self) -> SafeOpen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._files = None

    def _check_open(self) -> dict[str, Any]:
        if self._files is None:
            raise ValueError(f"{self._path}: the file is closed")
        return self._files

    def keys(self) -> list[str]:
        """Tensor names, sorted."""
        self._check_open()
        return sorted(self._infos)

    def offset_keys(self) -> list[str]:
        """Tensor names in the order their data appears in the file(s)."""
        self._check_open()
        return [i.name for i in sorted(self._infos.values(), key=lambda i: (i.file, i.begin))]

    def metadata(self) -> dict[str, str] | None:
        """The ``__metadata__`` map, or None if the file has none."""
        self._check_open()
        return None if self._metadata is None else dict(self._metadata)

    def info(self, name: str) -> TensorInfo:
        """Dtype, shape and location of a tensor, without reading it."""
        self._check_open()
        try:
            return self._infos[name]
        except KeyError:
            raise TensorNotFoundError(f"{self._path}: no tensor named {name!r}") from None

    def _read_ranges(self, info: TensorInfo, ranges: list[tuple[int, int]]) -> np.ndarray:
        files = self._check_open()
        return files[info.file].read_ranges(ranges, self._concurrency, self._chunk)

    def get_tensor(self, name: str) -> Any:
        info = self.info(name)
        raw = self._read_ranges(info, [(info.begin, info.nbytes)])
        if _dtypes.is_raw(info.dtype, self._framework):
            _dtypes.warn_raw([(info.name, info.dtype)], self._framework)
        return _convert(raw, info, self._framework)

    def get_slice(self, name: str) -> TensorSlice:
        return TensorSlice(self, self.info(name))

    def get_tensors(self) -> dict[str, Any]:
        """Every tensor, read in parallel (as ``load_file``)."""
        files = self._check_open()
        order = list(files.values())
        tensors, _ = _read_all(
            order,
            [self._file_infos[f.path] for f in order],
            self._framework,
            self._concurrency,
            self._chunk,
        )
        return tensors

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def __len__(self) -> int:
        return len(self._infos)


def open(  # noqa: A001 - mirrors safetensors.safe_open / builtins.open usage
    path: PathLike,
    framework: str = "numpy",
    device: str | None = "cpu",
    *,
    concurrency: int | None = None,
    chunk_size: int | None = None,
    options: _remote.Options | None = None,
) -> SafeOpen:
    """Open a safetensors file (or directory/index, or a URL of one) for
    reading tensor by tensor; `options` as for ``load_file``."""
    return SafeOpen(
        path, framework, device, concurrency=concurrency, chunk_size=chunk_size, options=options
    )


safe_open = SafeOpen
