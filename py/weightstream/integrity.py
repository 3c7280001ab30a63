"""SHA-256 of whole files, computed by the native read engine."""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from typing import Any

from . import _native, _options, _remote
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
    options: Mapping[str, Any] | None = None,
) -> str:
    """Hex SHA-256 of a file (or the object at a URL; `options` as for
    ``load_file``), read in parallel chunks in bounded memory."""
    _options.positive("concurrency", concurrency, _options.DEFAULT_CONCURRENCY)
    _options.positive("chunk_size", chunk_size, _options.DEFAULT_CHUNK_BYTES)
    if _remote.is_url(path):
        source = _remote.open_source(path, options)
        return _native.sha256_source(
            source,
            concurrency or source.preferred_concurrency or _options.DEFAULT_CONCURRENCY,
            chunk_size or source.preferred_read_bytes or _options.DEFAULT_CHUNK_BYTES,
        )
    return _native.sha256_file(
        os.fsencode(path),
        concurrency or _options.DEFAULT_CONCURRENCY,
        chunk_size or _options.DEFAULT_CHUNK_BYTES,
    )


def check(path: str | os.PathLike[str], expected: str, actual: str) -> None:
    """Raise IntegrityError unless the digests agree."""
    if actual != expected:
        raise IntegrityError(
            f"{_remote.shown(os.fspath(path))}: SHA-256 mismatch: expected {expected}, got {actual}"
        )


def verify(path: str | os.PathLike[str], sha256: str, **kwargs: Any) -> None:
    """Raise IntegrityError if the file's SHA-256 is not `sha256`."""
    expected = normalize_sha256(sha256)
    check(path, expected, sha256_file(path, **kwargs))
