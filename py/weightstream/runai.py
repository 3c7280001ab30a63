"""Drop-in for ``runai_model_streamer.SafetensorsStreamer``.

Same methods and arguments; yields ``(name, torch.Tensor)``. Honours
``RUNAI_STREAMER_CONCURRENCY``, ``RUNAI_STREAMER_CHUNK_BYTESIZE`` and
``RUNAI_STREAMER_MEMORY_LIMIT`` (bytes; -1 unlimited; 0 one tensor at a time).

Differences, on purpose: the memory limit caps what is held rather than being
allocated up front; every yielded tensor is owned by the caller (``owned=False``
is accepted and gives owned tensors too, which is always safe); errors are
weightstream's specific exceptions.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from typing import Any

from . import _device
from . import streamer as _streamer

# runai's own default cap (40 GB): a cap here, not an allocation.
_DEFAULT_MEMORY_LIMIT = 40_000_000_000


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None


def _memory_limit() -> int:
    limit = _env_int("RUNAI_STREAMER_MEMORY_LIMIT")
    if limit is None:
        return _DEFAULT_MEMORY_LIMIT
    if limit == -1:
        return 0  # unlimited
    if limit == 0:
        return 1  # runai: the largest tensor; here: one tensor held at a time
    if limit < 0:
        raise ValueError(f"RUNAI_STREAMER_MEMORY_LIMIT={limit} must be -1, 0 or positive")
    return limit


class SafetensorsStreamer:
    def __init__(self) -> None:
        concurrency = _env_int("RUNAI_STREAMER_CONCURRENCY")
        chunk = _env_int("RUNAI_STREAMER_CHUNK_BYTESIZE")
        self._inner = _streamer.SafetensorsStreamer(
            concurrency=concurrency,
            chunk_size=chunk,
            memory_limit=_memory_limit(),
            framework="torch",
        )
        self._sizing = (concurrency, chunk)
        # device="cuda[:N]" files: a device-mode streamer per device
        # (weightstream-cuda13), yielded after the CPU ones.
        self._devices: dict[str, _streamer.SafetensorsStreamer] = {}

    def __enter__(self) -> SafetensorsStreamer:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self._inner.close()
        for s in self._devices.values():
            s.close()

    def stream_file(
        self,
        path: str,
        s3_credentials: Any = None,
        device: str | None = "cpu",
        is_distributed: bool = False,
        tensor_names: Collection[str] | None = None,
        owned: bool = True,
    ) -> None:
        self.stream_files(
            [path],
            s3_credentials=s3_credentials,
            device=device,
            is_distributed=is_distributed,
            tensor_names=tensor_names,
            owned=owned,
        )

    def stream_files(
        self,
        paths: list[str],
        s3_credentials: Any = None,
        device: str | None = "cpu",
        is_distributed: bool = False,
        tensor_names: Collection[str] | None = None,
        owned: bool = True,
    ) -> None:
        if s3_credentials is not None:
            raise ValueError("s3_credentials: object storage is not supported by this build")
        # is_distributed only changes how runai splits work between ranks; every
        # rank here reads what it asked for. owned=False is served as owned.
        if _device.is_accelerator(device):
            key = str(device)
            if key not in self._devices:
                concurrency, chunk = self._sizing
                self._devices[key] = _streamer.SafetensorsStreamer(
                    concurrency=concurrency, chunk_size=chunk, framework="torch", device=key
                )
            self._devices[key].stream_files(paths, tensor_names=tensor_names)
            return
        if device not in (None, "cpu"):
            raise ValueError(f"device {device!r} is not supported: expected 'cpu' or 'cuda[:N]'")
        self._inner.stream_files(paths, tensor_names=tensor_names)

    def get_tensors(self) -> Iterator[tuple[str, Any]]:
        yield from self._inner.get_tensors()
        for s in self._devices.values():
            yield from s.get_tensors()


__all__ = ["SafetensorsStreamer"]
