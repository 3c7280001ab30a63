"""Exceptions raised by weightstream.

Each subclasses the builtin that callers already catch: a malformed file is a
``ValueError``, a failed read an ``OSError``, a missing tensor a ``KeyError``.
Messages name the file and, where it matters, the byte offset.
"""

from __future__ import annotations

import errno
from typing import Any


class WeightstreamError(Exception):
    """Base class of weightstream's own exceptions."""


class FormatError(WeightstreamError, ValueError):
    """The bytes are not a valid file of the expected format."""


class ReadError(WeightstreamError, OSError):
    """Reading failed or returned fewer bytes than the file promised."""


class DownloadError(WeightstreamError, OSError):
    """A download failed: the server could not be reached, kept failing, or TLS failed."""

    def __init__(self, message: str) -> None:
        # Overriding __init__ stops OSError from reading the arguments as (errno, strerror).
        super().__init__(message)


class HTTPStatusError(DownloadError):
    """The server answered with an HTTP error status (``.status``)."""

    def __init__(self, message: str, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url  # redacted

    def __reduce__(self) -> tuple[Any, ...]:
        # OSError pickles only its args; keep status and url across processes.
        return (type(self), (self.args[0], self.status, self.url))


class RemoteFileNotFoundError(HTTPStatusError, FileNotFoundError):
    """HTTP 404: the URL names no file."""

    def __init__(self, message: str, status: int, url: str) -> None:
        super().__init__(message, status, url)
        self.errno = errno.ENOENT


class RemotePermissionError(HTTPStatusError, PermissionError):
    """HTTP 401/403: the credentials are missing, wrong, or not allowed to read the URL."""

    def __init__(self, message: str, status: int, url: str) -> None:
        super().__init__(message, status, url)
        self.errno = errno.EACCES


class PluginNotInstalledError(WeightstreamError, ImportError):
    """A URL's scheme needs a plugin package that is not installed (or could not be loaded)."""


class IntegrityError(WeightstreamError, ValueError):
    """The bytes read do not have the SHA-256 the caller expected."""


class TensorNotFoundError(WeightstreamError, KeyError):
    """A tensor name that the file does not contain."""

    def __str__(self) -> str:  # KeyError would repr() the message.
        return str(self.args[0]) if self.args else ""


class RawBytesWarning(UserWarning):
    """A tensor's dtype has no equivalent in the framework: its bytes are returned as uint8."""


__all__ = [
    "DownloadError",
    "FormatError",
    "HTTPStatusError",
    "IntegrityError",
    "PluginNotInstalledError",
    "RawBytesWarning",
    "ReadError",
    "RemoteFileNotFoundError",
    "RemotePermissionError",
    "TensorNotFoundError",
    "WeightstreamError",
]
