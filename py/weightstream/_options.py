"""Defaults shared by every reader, and the checks on what callers pass."""

from __future__ import annotations

# Reads in flight. On a page-cache hit the cost is the kernel's copy plus the
# faults of fresh memory, which parallel readers overlap; remote and cold
# reads need more requests in flight. See bench/results for the measurements.
DEFAULT_CONCURRENCY = 8
# Largest single read.
DEFAULT_CHUNK_BYTES = 16 << 20

FRAMEWORKS = {"numpy": "numpy", "np": "numpy", "torch": "torch", "pt": "torch"}


def framework(name: str) -> str:
    try:
        return FRAMEWORKS[name]
    except KeyError:
        raise ValueError(
            f"unknown framework {name!r}: expected one of {', '.join(sorted(FRAMEWORKS))}"
        ) from None


def device(name: object) -> None:
    if name in (None, "cpu"):
        return
    if str(name).split(":")[0] == "cuda":
        raise ValueError(
            f"device {name!r}: this call reads into host memory; weightstream.load_file(..., "
            "device=) and SafetensorsStreamer(device=) load into GPU memory"
        )
    raise ValueError(f"device {name!r} is not supported: expected 'cpu', 'cuda' or 'cuda:N'")


def positive(name: str, value: int | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value
