"""SafetensorsStreamer: tensors handed out as soon as each one is read."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from . import _checkpoint, _device, _dtypes, _native, _options, _remote
from .errors import TensorNotFoundError
from .safetensors import TensorInfo, _convert, _infos, _open_native

PathLike = str | os.PathLike[str]


class SafetensorsStreamer:
    """Streams tensors of safetensors files under a memory budget.

    ``memory_limit`` caps the bytes the streamer holds (being read, or read and
    not yet yielded); it is not allocated up front. A yielded tensor belongs to
    the caller: its memory is never reused by a later read. A single tensor
    larger than the limit is still streamed, on its own. ``None`` or 0 means
    unlimited.

    Tensors are yielded in the order their reads complete, which follows file
    order closely.

    Files may be local paths or URLs (``s3://``, ``gs://``, ``az://``,
    ``http(s)://``), mixed freely. Unless ``concurrency``/``chunk_size`` are
    given, they follow the preferred request size and concurrency of the
    remote sources in the first ``stream_files`` call.
    """

    def __init__(
        self,
        concurrency: int | None = None,
        memory_limit: int | None = None,
        chunk_size: int | None = None,
        framework: str = "numpy",
        device: str | None = None,
    ) -> None:
        # A GPU (device="cuda[:N]"): tensors are copied there through the
        # CUDA plugin, as torch (default) or cupy tensors; see _device.
        self._device: Any = None
        if _device.is_accelerator(device):
            self._device = _device.DeviceStreamer(device, framework, concurrency, chunk_size)
        else:
            _options.device(device)
        self._framework = framework if self._device else _options.framework(framework)
        if memory_limit is not None and (
            isinstance(memory_limit, bool) or not isinstance(memory_limit, int) or memory_limit < 0
        ):
            raise ValueError(f"memory_limit must be a non-negative integer, got {memory_limit!r}")
        _options.positive("concurrency", concurrency, _options.DEFAULT_CONCURRENCY)
        _options.positive("chunk_size", chunk_size, _options.DEFAULT_CHUNK_BYTES)
        self._sizing = (concurrency, chunk_size, memory_limit or 0)
        # Created by the first stream_files, which knows the sources' sizing.
        self._native: Any = None
        self._closed = False
        self._infos: dict[int, list[TensorInfo]] = {}
        self._raw_warned: set[str] = set()

    def __enter__(self) -> SafetensorsStreamer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops reading and frees what was not yielded. Idempotent."""
        if self._native is not None:
            self._native.close()
            self._native = None
        if self._device is not None:
            self._device.close()
        self._closed = True

    def _check_open(self) -> Any:
        if self._closed:
            raise ValueError("the streamer is closed")
        return self._native

    def _native_for(self, files: list[Any]) -> Any:
        if self._native is None:
            concurrency, chunk, limit = self._sizing
            concurrency, chunk = _remote.preferred_sizing(files, concurrency, chunk)
            self._native = _native.Streamer(
                concurrency or _options.DEFAULT_CONCURRENCY,
                chunk or _options.DEFAULT_CHUNK_BYTES,
                limit,
            )
        return self._native

    def stream_file(
        self,
        path: PathLike,
        tensor_names: Collection[str] | None = None,
        *,
        options: _remote.Options | None = None,
    ) -> None:
        self.stream_files([path], tensor_names=tensor_names, options=options)

    def stream_files(
        self,
        paths: Iterable[PathLike],
        tensor_names: Collection[str] | None = None,
        *,
        options: _remote.Options | None = None,
    ) -> None:
        """Queue files (or directories / index files, or URLs of any of
        these) for streaming.

        ``tensor_names`` restricts the stream to those names; a name found in
        none of the files raises ``TensorNotFoundError`` before anything is read.
        ``options`` are settings for the URLs among them (see ``load_file``).
        """
        self._check_open()
        wanted = _check_names(tensor_names)
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if self._device is not None:
            self._device.stream_files(paths, wanted, options)
            return
        files = []
        for p in paths:
            files.extend(_checkpoint.resolve(p, options).files)
        opened = [_open_native(f, options) for f in files]
        native = self._native_for(opened)
        selections = []
        seen: set[str] = set()
        for f in opened:
            infos = _infos(f)
            if wanted is None:
                selections.append((f, infos, None))
            else:
                picked = [i for i, info in enumerate(infos) if info.name in wanted]
                seen.update(infos[i].name for i in picked)
                selections.append((f, infos, picked))
        if wanted is not None and wanted - seen:
            missing = sorted(wanted - seen)
            raise TensorNotFoundError(
                f"tensors not found in {', '.join(_remote.shown(f) for f in files)}: "
                f"{', '.join(map(repr, missing[:10]))}"
                + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            )
        for f, infos, picked in selections:
            if picked == []:
                continue  # an empty selection would mean "every tensor" natively
            self._infos[native.add(f, picked)] = infos

    def get_tensors(self) -> Iterator[tuple[str, Any]]:
        """Yields ``(name, array)`` for every queued tensor as it completes."""
        native = self._check_open()
        if self._device is not None:
            yield from self._device.get_tensors()
            return
        while native is not None:
            item = native.next()
            if item is None:
                return
            file_index, tensor_index, raw = item
            info = self._infos[file_index][tensor_index]
            if _dtypes.is_raw(info.dtype, self._framework) and info.name not in self._raw_warned:
                self._raw_warned.add(info.name)
                _dtypes.warn_raw([(info.name, info.dtype)], self._framework)
            yield info.name, _convert(raw, info, self._framework)

    @property
    def peak_held_bytes(self) -> int:
        """The most bytes the streamer held at once so far (for checking the limit)."""
        native = self._check_open()
        return 0 if native is None else native.peak_held_bytes


def _check_names(tensor_names: Collection[str] | None) -> frozenset[str] | None:
    if tensor_names is None:
        return None
    if isinstance(tensor_names, str):
        raise ValueError("tensor_names must be a collection of names, not a single str")
    names = frozenset(tensor_names)
    if not names:
        raise ValueError("tensor_names is empty: pass None to stream every tensor")
    return names
