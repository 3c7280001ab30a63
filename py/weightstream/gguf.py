"""Loading GGUF files (llama.cpp / ggml): ``load_file`` and the ``open`` handle.

Tensors are read by the same native streamer as safetensors checkpoints.
Unquantized tensors (F32, F16, BF16, F64, I8, I16, I32, I64) come back typed,
shaped in numpy order (ggml's dimensions reversed). Quantized tensors come
back as the raw bytes of their blocks, shaped as gguf-py's ``GGUFReader``
shapes them: the logical shape with its last dimension counted in bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _device, _dtypes, _native, _options, _remote, integrity
from .errors import TensorNotFoundError

PathLike = str | os.PathLike[str]

# The ggml types returned typed: one element per item, named as the
# safetensors dtypes that _dtypes converts.
_TYPED = frozenset({"F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64"})


@dataclass(frozen=True)
class GGUFTensorInfo:
    """A tensor as its file's header describes it."""

    name: str
    ggml_type: str  # e.g. "F16", "Q4_K"
    shape: tuple[int, ...]  # in elements, numpy order (ggml's dims reversed)
    nbytes: int
    offset: int  # relative to the start of the file's data section
    ggml_type_id: int
    file: str

    @property
    def quantized(self) -> bool:
        """Whether the tensor comes back as raw block bytes."""
        return self.ggml_type not in _TYPED

    @property
    def dims(self) -> tuple[int, ...]:
        """The shape in ggml order (dims[0] varies fastest)."""
        return self.shape[::-1]

    @property
    def array_shape(self) -> tuple[int, ...]:
        """The shape of the array ``get_tensor`` returns.

        ``shape`` for typed tensors; for quantized ones the last dimension is
        in bytes, as ``GGUFReader`` gives it (``quant_shape_to_byte_shape``).
        """
        if not self.quantized:
            return self.shape
        _, block_size, type_size = _native.GGML_TYPES[self.ggml_type_id]
        return self.shape[:-1] + (self.shape[-1] // block_size * type_size,)


def _infos(native_file: Any) -> list[GGUFTensorInfo]:
    path = native_file.path
    return [
        GGUFTensorInfo(name, type_name, tuple(reversed(dims)), nbytes, offset, type_id, path)
        for name, type_id, type_name, dims, offset, nbytes in native_file.tensors()
    ]


def _convert(raw: np.ndarray, info: GGUFTensorInfo, framework: str) -> Any:
    dtype = "U8" if info.quantized else info.ggml_type
    if framework == "torch":
        return _dtypes.to_torch(raw, dtype, info.array_shape)
    return _dtypes.to_numpy(raw, dtype, info.array_shape)


def _read(
    native_file: Any,
    infos: list[GGUFTensorInfo],
    indices: Sequence[int],
    framework: str,
    concurrency: int | None,
    chunk: int | None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """Streams tensors `indices` of a file; returns {name: array} in that order.

    With `sha256`, the whole file's digest is computed as it streams and
    checked before any array is handed back.
    """
    # Remote files: the source's preferred request size, unless chosen.
    concurrency, chunk = _sizing(native_file, concurrency, chunk)
    chunks = sum(-(-infos[i].nbytes // chunk) for i in indices)
    # A thread per chunk at most: get_tensor of a small tensor needs no pool.
    streamer = _native.Streamer(max(1, min(concurrency, chunks)), chunk, 0)
    try:
        streamer.add_gguf(native_file, list(indices))
        if sha256 is None:
            done = streamer.drain()
        else:
            done, digest = streamer.drain_hashed(0)
            integrity.check(native_file.path, sha256, digest)
    finally:
        streamer.close()
    arrays = {index: raw for _, index, raw in done}
    return {infos[i].name: _convert(arrays[i], infos[i], framework) for i in indices}


def _sizing(native_file: Any, concurrency: int | None, chunk: int | None) -> tuple[int, int]:
    concurrency, chunk = _remote.preferred_sizing([native_file], concurrency, chunk)
    return (
        concurrency or _options.DEFAULT_CONCURRENCY,
        chunk or _options.DEFAULT_CHUNK_BYTES,
    )


class GGUFFile:
    """An open GGUF file: its metadata and tensor infos, tensors read on demand.

    The header is parsed and validated when the file is opened; tensors are
    read when asked for. Use as a context manager or call ``close()``.
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
        # None (not chosen): the source's preferred sizes, else the defaults.
        self._concurrency = concurrency
        self._chunk = chunk_size
        self._path = os.fspath(path)
        if _remote.is_url(self._path):
            self._native: Any = _native.GgufFile.from_source(
                _remote.open_source(self._path, options)
            )
            self._path = _remote.redact(self._path)
        else:
            # Bytes, so that any file name the OS accepts reaches the core intact.
            self._native = _native.GgufFile(os.fsencode(self._path))
        self._infos = _infos(self._native)
        self._index = {info.name: i for i, info in enumerate(self._infos)}
        # Converted on first use: tokenizer vocabularies make it costly.
        self._metadata: dict[str, Any] | None = None

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._native = None

    def _check_open(self) -> Any:
        if self._native is None:
            raise ValueError(f"{self._path}: the file is closed")
        return self._native

    @property
    def path(self) -> str:
        return self._path

    @property
    def version(self) -> int:
        return self._check_open().version

    @property
    def alignment(self) -> int:
        return self._check_open().alignment

    @property
    def data_start(self) -> int:
        """Where the data section starts in the file."""
        return self._check_open().data_start

    @property
    def metadata(self) -> dict[str, Any]:
        """Every key/value pair in file order, as Python values.

        Integers are ``int``, floats ``float``, BOOL ``bool``, strings ``str``
        (``bytes`` for a value that is not UTF-8), arrays lists (nested for
        arrays of arrays). The same dict on every access: copy it to modify.
        """
        native = self._check_open()
        if self._metadata is None:
            self._metadata = native.metadata
        return self._metadata

    @property
    def tensors(self) -> list[GGUFTensorInfo]:
        """Every tensor's info, in file order."""
        self._check_open()
        return list(self._infos)

    def keys(self) -> list[str]:
        """Tensor names in file order."""
        self._check_open()
        return [info.name for info in self._infos]

    def info(self, name: str) -> GGUFTensorInfo:
        self._check_open()
        return self._infos[self._position(name)]

    def _position(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise TensorNotFoundError(f"{self._path}: no tensor named {name!r}") from None

    def get_tensor(self, name: str) -> Any:
        """One tensor, read now."""
        native = self._check_open()
        position = self._position(name)
        return self._read(native, [position])[name]

    def get_tensors(self) -> dict[str, Any]:
        """Every tensor, read in parallel, in file order."""
        native = self._check_open()
        return self._read(native, range(len(self._infos)))

    def _read(self, native: Any, indices: Sequence[int]) -> dict[str, Any]:
        return _read(native, self._infos, indices, self._framework, self._concurrency, self._chunk)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __len__(self) -> int:
        return len(self._infos)


def open(  # noqa: A001 - mirrors weightstream.open / builtins.open usage
    path: PathLike,
    framework: str = "numpy",
    device: str | None = "cpu",
    *,
    concurrency: int | None = None,
    chunk_size: int | None = None,
    options: _remote.Options | None = None,
) -> GGUFFile:
    """Open a GGUF file (a path or a URL): metadata and tensor infos now,
    tensors on demand. `options`: settings for URLs, as for ``load_file``.

    Raises:
        FormatError: the file is not valid GGUF (the message names the file,
            the byte offset and the problem).
        FileNotFoundError, PermissionError: the file cannot be opened.
    """
    return GGUFFile(
        path, framework, device, concurrency=concurrency, chunk_size=chunk_size, options=options
    )


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
    """Load every tensor of a GGUF file.

    Args:
        path: a ``.gguf`` file, or its URL.
        framework: ``"numpy"``/``"np"`` (default) or ``"torch"``/``"pt"``.
        device: only ``"cpu"`` for now.
        concurrency: reads in flight (default 8).
        chunk_size: largest single read in bytes (default 16 MiB).
        sha256: the expected SHA-256 (hex) of the file, checked while it
            loads (the file is still read once).
        options: settings for URLs, as for ``weightstream.load_file``.

    Returns:
        ``{name: array}`` in file order, C-contiguous, writable arrays that
        own their memory. Quantized tensors are uint8 arrays of their block
        bytes (see ``GGUFTensorInfo.array_shape``).

    Raises:
        FormatError: the file is not valid GGUF.
        FileNotFoundError, PermissionError, ReadError: it could not be read
            in full.
    """
    if _device.is_accelerator(device):
        return _device.load_file(
            path,
            framework,
            device,
            gguf_file=True,
            concurrency=concurrency,
            chunk_size=chunk_size,
            sha256=sha256,
            options=options,
        )
    expected = None if sha256 is None else integrity.normalize_sha256(sha256)
    with GGUFFile(
        path, framework, device, concurrency=concurrency, chunk_size=chunk_size, options=options
    ) as f:
        if expected is None:
            return f.get_tensors()
        return _read(
            f._check_open(),
            f._infos,
            range(len(f._infos)),
            f._framework,
            f._concurrency,
            f._chunk,
            expected,
        )


__all__ = ["GGUFFile", "GGUFTensorInfo", "load_file", "open"]
