"""SHA-256 of whole files, computed by the native read engine."""

from __future__ import annotations

import os
import string

from . import _native, _options
from .errors import IntegrityError


def normalize_sha256(value: str) -> str:
    """The lower-case hex digest, or ValueError if `value` is not one."""
    if not isinstance(value, str):
        raise ValueError(f"sha256 must be a hex string, got {type(value).__name__}")
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in string.hexdigits for c in digest):
        raise ValueError(f"sha256 must be 64 hex digits, got {value!r}")
    return digest


def sha256_file(
    path: str | os.PathLike[str],
    *,
    concurrency: int | None = None,
    chunk_size: int | None = None,
) -> str:
    """Hex SHA-256 of a file, read in parallel chunks in bounded memory."""
    return _native.sha256_file(
        os.fsencode(path),
        _options.positive("concurrency", concurrency, _options.DEFAULT_CONCURRENCY),
        _options.positive("chunk_size", chunk_size, _options.DEFAULT_CHUNK_BYTES),
    )


def check(path: str | os.PathLike[str], expected: str, actual: str) -> None:
    """Raise IntegrityError unless the digests agree."""
    if actual != expected:
        raise IntegrityError(
            f"{os.fspath(path)}: SHA-256 mismatch: expected {expected}, got {actual}"
        )


def verify(path: str | os.PathLike[str], sha256: str, **kwargs: int | None) -> None:
    """Raise IntegrityError if the file's SHA-256 is not `sha256`."""
    expected = normalize_sha256(sha256)
    check(path, expected, sha256_file(path, **kwargs))
