"""Exceptions raised by weightstream.

Each subclasses the builtin that callers already catch: a malformed file is a
``ValueError``, a failed read an ``OSError``, a missing tensor a ``KeyError``.
Messages name the file and, where it matters, the byte offset.
"""

from __future__ import annotations


class WeightstreamError(Exception):
    """Base class of weightstream's own exceptions."""


class FormatError(WeightstreamError, ValueError):
    """The bytes are not a valid file of the expected format."""


class ReadError(WeightstreamError, OSError):
    """Reading failed or returned fewer bytes than the file promised."""


class IntegrityError(WeightstreamError, ValueError):
    """The bytes read do not have the SHA-256 the caller expected."""


class TensorNotFoundError(WeightstreamError, KeyError):
    """A tensor name that the file does not contain."""

    def __str__(self) -> str:  # KeyError would repr() the message.
        return str(self.args[0]) if self.args else ""


class RawBytesWarning(UserWarning):
    """A tensor's dtype has no equivalent in the framework: its bytes are returned as uint8."""


__all__ = [
    "FormatError",
    "IntegrityError",
    "RawBytesWarning",
    "ReadError",
    "TensorNotFoundError",
    "WeightstreamError",
]
