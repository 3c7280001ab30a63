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


class DeviceError(WeightstreamError, RuntimeError):
    """Loading into accelerator memory failed. ``code`` names the cause:
    "no_driver", "driver_too_old", "no_device", "invalid_device",
    "out_of_memory", "host_out_of_memory", "invalid_argument" or "error"."""

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.code = code


class DeviceNotAvailableError(DeviceError):
    """No usable device: no NVIDIA driver, a driver too old for the plugin,
    no GPU, or a device ordinal that does not exist."""


class DeviceOutOfMemoryError(DeviceError, MemoryError):
    """Not enough device memory. ``needed`` and ``free`` are in bytes (None
    where unknown); whatever was allocated for the load has been freed."""

    def __init__(
        self,
        message: str,
        code: str = "out_of_memory",
        needed: int | None = None,
        free: int | None = None,
    ) -> None:
        super().__init__(message, code)
        self.needed = needed
        self.free = free


# ws_device_status (cpp/weightstream/plugin/device_plugin_abi.h) -> code.
_DEVICE_CODES = {
    1: "no_driver",
    2: "driver_too_old",
    3: "no_device",
    4: "invalid_device",
    5: "out_of_memory",
    6: "host_out_of_memory",
    7: "invalid_argument",
    8: "error",
}


def device_error(status: int, message: str) -> DeviceError:
    """The exception for a device plugin's status (used by the native module)."""
    code = _DEVICE_CODES.get(status, "error")
    if code in ("no_driver", "driver_too_old", "no_device", "invalid_device"):
        return DeviceNotAvailableError(message, code)
    if code in ("out_of_memory", "host_out_of_memory"):
        return DeviceOutOfMemoryError(message, code)
    return DeviceError(message, code)


class IntegrityError(WeightstreamError, ValueError):
    """The bytes read do not have the SHA-256 the caller expected."""


class TensorNotFoundError(WeightstreamError, KeyError):
    """A tensor name that the file does not contain."""

    def __str__(self) -> str:  # KeyError would repr() the message.
        return str(self.args[0]) if self.args else ""


class RawBytesWarning(UserWarning):
    """A tensor's dtype has no equivalent in the framework: its bytes are returned as uint8."""


__all__ = [
    "DeviceError",
    "DeviceNotAvailableError",
    "DeviceOutOfMemoryError",
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
