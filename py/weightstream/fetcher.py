"""Downloading weights over HTTP(S): resumable, verified, optionally parallel.

    from weightstream.fetcher import fetch
    path = fetch("https://host/dir/model.safetensors", "models/", sha256="9f86d0...")
    path = fetch("tiny-random-gpt2", "models/")          # a catalog name (see _catalog)

Only the standard library does the transfer (urllib + ssl + hashlib); tqdm
draws the progress bar. The rules, which the tests check:

- The bytes go to ``DEST/NAME.part``. Only once they are complete and
  verified is the file fsynced and renamed to ``DEST/NAME`` (atomically, on
  the same filesystem), so a file at the final name is always whole. One
  process at a time works on a given ``.part`` (an ``flock`` on it); another
  fetch of the same file waits, then finds the finished file.
- Verification: ``sha256`` (the argument, else the catalog entry's) is
  computed as the bytes arrive; a resumed download hashes the existing
  ``.part`` first. A parallel download hashes the finished file in one pass
  afterwards instead (its ranges arrive out of order). A catalog ``size`` is
  checked as well. On a mismatch the ``.part`` is deleted and
  ``IntegrityError`` is raised -- except that a download which had resumed an
  old ``.part`` starts over from byte 0 once first, since the stale bytes may
  be the culprit.
- Idempotent: when ``DEST/NAME`` exists and its SHA-256 matches, nothing is
  requested. Without a known hash, the existing file is kept if its size
  equals the catalog's ``size`` or, failing that, the size the server reports
  (one ``Range: bytes=0-0`` request; if the server cannot be reached the file
  is kept with a warning, so that offline re-runs work). Otherwise it is
  downloaded again and replaced.
- Resume (``resume=True``): with an existing ``.part`` of N bytes the request
  carries ``Range: bytes=N-`` (and ``If-Range`` with the ETag/Last-Modified
  recorded in the ``.part``'s extended attributes, where the filesystem has
  them). The bytes are appended only if the server answers 206 with a
  ``Content-Range`` starting at N whose total agrees with everything known
  about the file; a 200, or any other range, truncates the ``.part`` and the
  body is taken from byte 0.
- Failures: 404 raises ``FileNotFoundError`` (``RemoteFileNotFoundError``);
  other HTTP errors raise ``HTTPStatusError`` (an ``OSError``) with
  ``.status``. 408/429/5xx, refused or reset connections, timeouts and bodies
  cut short are retried ``retries`` times in a row with exponential backoff
  (``backoff`` seconds, doubling, at most 30), resuming where the bytes
  stopped; an attempt that got at least 1 MiB further resets the count.
  Giving up raises ``DownloadError`` (an ``OSError``), or the last
  ``HTTPStatusError``. TLS certificate failures and unknown hosts are not
  retried.
- The ``.part`` is kept (so the next fetch resumes) whenever it holds
  downloaded bytes when a transfer fails, is interrupted, or the disk fills
  up; it is removed when it holds nothing. Before writing, the free space is
  compared with the announced size, so a full disk usually fails before any
  byte is downloaded.
- Parallel (``connections`` > 1, or ``None`` and a file of 64 MiB or more):
  a fresh download (unless ``connections=1``) starts with a
  ``Range: bytes=0-0`` probe, which must answer 206 with a known total; then
  the ``.part`` is preallocated and N threads fetch ranges (1-64 MiB) and
  ``pwrite`` them in place. Finished ranges are recorded in
  ``DEST/NAME.part.state`` so an interrupted parallel download resumes only
  the missing ranges (with any number of connections). When the probe gets a
  200 instead, that response is read as the single-stream download. A
  ``.part`` left by a single stream is continued by a single stream.
- URLs are shown without their user/password and with query values replaced
  by ``***`` (pre-signed URLs carry their credentials there). ``user:pass@``
  in a URL is sent as HTTP Basic auth and, like ``headers``, never follows a
  redirect.
- TLS is verified (``ssl.create_default_context()``). ``ca_bundle`` (a file
  or a directory of hashed certificates), else ``$WEIGHTSTREAM_CA_BUNDLE``,
  replaces the system roots; OpenSSL's own ``SSL_CERT_FILE``/``SSL_CERT_DIR``
  apply otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import http.client
import json
import os
import queue
import socket
import ssl
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from . import _catalog, errors
from ._version import __version__

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

PathLike = str | os.PathLike[str]

CA_BUNDLE_ENV = "WEIGHTSTREAM_CA_BUNDLE"

_READ_BLOCK = 1 << 20
_HASH_BLOCK = 16 << 20
_MIN_CHUNK = 1 << 20
_MAX_CHUNK = 64 << 20
# Below this size a second connection costs more than it brings.
_AUTO_PARALLEL_BYTES = 64 << 20
_AUTO_CONNECTIONS = 8
_MAX_BACKOFF = 30.0
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# An attempt that got this many new bytes resets the count of failures in a
# row: a long download over a flaky link goes on, a server that sends a few
# bytes per connection does not keep us forever.
_PROGRESS_RESET = 1 << 20
_XATTR = "user.weightstream.validator"


DownloadError = errors.DownloadError
HTTPStatusError = errors.HTTPStatusError
RemoteFileNotFoundError = errors.RemoteFileNotFoundError
IntegrityError = errors.IntegrityError


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """`url` without user/password and with every query value replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{urllib.parse.quote(k, safe='')}=***" if v else urllib.parse.quote(k, safe="")
            for k, v in pairs
        )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _split_credentials(url: str) -> tuple[str, str | None]:
    """(url without userinfo, Basic Authorization value or None)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, hostport = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(
        f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
    ).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=hostport)), "Basic " + token


def _is_url(text: str) -> bool:
    return "://" in text


def _filename_from_url(url: str) -> str:
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not _plain_name(name):
        raise ValueError(f"cannot take a file name from {redact_url(url)}: pass filename=")
    return name


def _plain_name(name: str) -> bool:
    return (
        bool(name)
        and name not in (".", "..")
        and not any(c in name for c in "/\\\0")
        # Room for the ".part.state.tmp" suffix within NAME_MAX.
        and len(os.fsencode(name)) <= 240
    )


# --------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file (``weightstream.sha256_file`` where the package has one)."""
    package = sys.modules.get(__package__ or "weightstream")
    native = getattr(package, "sha256_file", None)
    if native is not None and native is not sha256_file:
        return native(path)
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(_HASH_BLOCK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def _hash_fd(h: Any, fd: int, end: int) -> None:
    pos = 0
    while pos < end:
        block = os.pread(fd, min(_HASH_BLOCK, end - pos), pos)
        if not block:
            raise OSError(errno.EIO, f"the .part file ended at {pos} of {end} bytes")
        h.update(block)
        pos += len(block)


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------


class _Transient(Exception):
    """A failure worth retrying; `pos` is how far the bytes got."""

    def __init__(self, cause: BaseException, pos: int = 0) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.pos = pos


class _StartOver(Exception):
    """The server's answer does not continue the bytes the .part holds."""


class _WriteFailed(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Stopped(Exception):
    """Another parallel worker failed; this one stops."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
        if not isinstance(exc, BaseException):
            return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _ssl_context(ca_bundle: PathLike | None) -> ssl.SSLContext:
    path = ca_bundle if ca_bundle is not None else os.environ.get(CA_BUNDLE_ENV) or None
    if path is None:
        return ssl.create_default_context()
    path = os.fspath(path)
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    if not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, "CA bundle not found", path)
    return ssl.create_default_context(cafile=path)


class _Client:
    """GET requests to one URL, with the failures sorted into retryable or not."""

    def __init__(
        self,
        url: str,
        *,
        ca_bundle: PathLike | None,
        timeout: float,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.url, auth = _split_credentials(url)
        self.shown = redact_url(url)
        self.timeout = timeout
        self.private = dict(headers or {})
        if auth and not any(k.lower() == "authorization" for k in self.private):
            self.private["Authorization"] = auth
        # Also for http URLs: a redirect may lead to https.
        context = _ssl_context(ca_bundle)
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))

    def get(self, headers: Mapping[str, str]) -> tuple[int, Any, Any]:
        """(status, headers, response) for 2xx and 416 (response None for 416).

        Raises _Transient, RemoteFileNotFoundError, HTTPStatusError, DownloadError.
        """
        request = urllib.request.Request(self.url, method="GET")
        request.add_header("User-Agent", f"weightstream/{__version__}")
        # Compressed transfer would make byte offsets meaningless.
        request.add_header("Accept-Encoding", "identity")
        for k, v in headers.items():
            request.add_header(k, v)
        for k, v in self.private.items():
            # Unredirected: credentials are not sent on to whichever host a redirect names.
            request.add_unredirected_header(k, v)
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            status, hdrs = e.code, e.headers
            e.close()
            if status == 416:
                return status, hdrs, None
            reason = f"HTTP {status} {e.reason or ''}".rstrip()
            if status == 404:
                raise RemoteFileNotFoundError(
                    f"{self.shown}: not found ({reason})", status, self.shown
                ) from None
            error = HTTPStatusError(f"{self.shown}: {reason}", status, self.shown)
            if status in _RETRY_STATUS:
                raise _Transient(error) from None
            raise error from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise DownloadError(
                    f"{self.shown}: TLS certificate verification failed "
                    f"({reason.verify_message or reason}); pass ca_bundle= "
                    f"(--ca-bundle) or set {CA_BUNDLE_ENV} to trust a private CA"
                ) from None
            if isinstance(reason, socket.gaierror) and reason.errno != socket.EAI_AGAIN:
                raise DownloadError(f"{self.shown}: cannot resolve host ({reason})") from None
            if isinstance(reason, str):  # urllib's words for a URL it cannot use
                raise DownloadError(f"{self.shown}: {reason}") from None
            raise _Transient(e) from None
        except (OSError, http.client.HTTPException) as e:
            raise _Transient(e) from None
        return response.status, response.headers, response


def _content_range(headers: Any) -> tuple[int, int, int | None]:
    """(first, last, total or None) of a ``Content-Range: bytes a-b/t`` header."""
    value = headers.get("Content-Range", "")
    try:
        unit, _, spec = value.strip().partition(" ")
        span, _, total = spec.partition("/")
        first, _, last = span.partition("-")
        if unit.lower() != "bytes":
            raise ValueError
        return int(first), int(last), None if total.strip() == "*" else int(total)
    except ValueError:
        raise _StartOver(f"unusable Content-Range {value!r}") from None


def _unsatisfied_total(headers: Any) -> int | None:
    value = headers.get("Content-Range", "")
    if value.strip().lower().startswith("bytes */"):
        try:
            return int(value.strip()[len("bytes */") :])
        except ValueError:
            return None
    return None


def _content_length(headers: Any) -> int | None:
    value = headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _validator(headers: Any) -> str | None:
    """The header value that identifies this version of the file, for If-Range."""
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):  # If-Range needs a strong validator
        return etag
    return headers.get("Last-Modified") or None


def _same_version(stored: str | None, headers: Any) -> bool:
    """False only if the response names a different version than `stored`.

    For servers that honour Range but ignore If-Range.
    """
    if stored is None:
        return True
    current = headers.get("ETag") if stored.startswith('"') else headers.get("Last-Modified")
    return current is None or current == stored


_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)


class _Retry:
    """Failures in a row, with exponential backoff; real progress resets the count."""

    def __init__(
        self, retries: int, backoff: float, shown: str, stop: threading.Event | None = None
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self.shown = shown
        self.stop = stop
        self.failures = 0

    def failed(self, t: _Transient, gained: int) -> None:
        if gained >= _PROGRESS_RESET:
            self.failures = 0
        self.failures += 1
        if self.failures > self.retries:
            if isinstance(t.cause, HTTPStatusError):
                raise t.cause
            raise DownloadError(
                f"{self.shown}: giving up after {self.failures} failed attempts in a row: "
                f"{_describe(t.cause)}"
            ) from t.cause
        delay = min(self.backoff * 2 ** (self.failures - 1), _MAX_BACKOFF)
        if self.stop is None:
            time.sleep(delay)
        elif self.stop.wait(delay):
            raise _Stopped  # another parallel worker failed: no point retrying


# --------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------


class _NoBar:
    n = 0
    total = None

    def update(self, n: int) -> None:
        pass

    def reset(self, total: int | None = None) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(name: str, total: int | None, initial: int) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=True,
    )


# --------------------------------------------------------------------------
# The .part file
# --------------------------------------------------------------------------


def _lock_part(path: str) -> int:
    """An fd of `path` (created if needed), exclusively locked, still linked at `path`."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            here = os.fstat(fd)
            try:
                there = os.stat(path)
            except FileNotFoundError:
                there = None
            # The holder before us may have renamed or removed the file we waited on.
            if there is not None and (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _get_xattr(fd: int) -> str | None:
    try:
        return os.getxattr(fd, _XATTR).decode("utf-8")
    except (AttributeError, OSError, UnicodeDecodeError):
        return None


def _set_xattr(fd: int, value: str | None) -> None:
    # Best effort: without xattrs the size and hash checks still apply.
    with contextlib.suppress(AttributeError, OSError):
        if value is None:
            os.removexattr(fd, _XATTR)
        else:
            os.setxattr(fd, _XATTR, value.encode("utf-8"))


def _pwrite_all(fd: int, data: memoryview, pos: int) -> None:
    try:
        while data:
            n = os.pwrite(fd, data, pos)
            data = data[n:]
            pos += n
    except OSError as e:
        raise _WriteFailed(e) from None


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------
# The download
# --------------------------------------------------------------------------


class _Download:
    def __init__(
        self,
        client: _Client,
        final: str,
        *,
        sha256: str | None,
        size: int | None,
        resume: bool,
        connections: int | None,
        quiet: bool | None,
        retries: int,
        backoff: float,
    ) -> None:
        self.client = client
        self.final = final
        self.part = final + ".part"
        self.state_path = self.part + ".state"
        self.directory = os.path.dirname(final) or "."
        self.name = os.path.basename(final)
        self.sha256 = sha256
        self.size = size
        self.resume = resume
        self.connections = connections
        self.quiet = quiet
        self.retries = retries
        self.backoff = backoff
        self.fd = -1
        self.bar: Any = _NoBar()
        self.show = sys.stderr.isatty() if quiet is None else not quiet
        self.bar_lock = threading.Lock()
        self.total: int | None = size
        self.restarts = 0
        self.hashed = False
        self._checked: tuple[Any, bool] | None = None

    def retry(self, stop: threading.Event | None = None) -> _Retry:
        return _Retry(self.retries, self.backoff, self.client.shown, stop)

    # -- the existing file -------------------------------------------------

    def complete(self) -> bool:
        """Whether the final file is already there and good (see module doc)."""
        try:
            st = os.stat(self.final)
        except FileNotFoundError:
            return False
        signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if self._checked is not None and self._checked[0] == signature:
            return self._checked[1]
        result = self._check_existing(st)
        self._checked = (signature, result)
        return result

    def _check_existing(self, st: os.stat_result) -> bool:
        if self.size is not None and st.st_size != self.size:
            return False
        if self.sha256 is not None:
            return sha256_file(self.final) == self.sha256
        if self.size is not None:
            return True
        try:
            remote = self._remote_size()
        except (_Transient, DownloadError) as e:
            if isinstance(e, HTTPStatusError):
                raise
            warnings.warn(
                f"{self.client.shown}: could not check the size of the existing "
                f"{self.final} ({_describe(e)}); keeping it",
                RuntimeWarning,
                stacklevel=4,
            )
            return True
        return remote is None or remote == st.st_size

    def _remote_size(self) -> int | None:
        retry = _Retry(min(self.retries, 1), self.backoff, self.client.shown)
        while True:
            try:
                status, headers, response = self.client.get({"Range": "bytes=0-0"})
                break
            except _Transient as t:
                retry.failed(t, 0)
        if response is not None:
            response.close()
        if status == 206:
            return _content_range(headers)[2]
        if status == 416:
            return _unsatisfied_total(headers)
        return _content_length(headers)

    # -- entry point ---------------------------------------------------------

    def run(self) -> None:
        try:
            self.fd = _lock_part(self.part)
        except OSError as e:
            raise OSError(e.errno, f"cannot create {self.part}: {e.strerror or e}") from e
        try:
            if self.complete():
                # Finished by another process while we waited for the lock.
                self._keep_part_if_useful()
                return
            self._download()
            self._finish()
        except IntegrityError:
            self._remove_part()
            raise
        except _WriteFailed as w:
            kept = self._keep_part_if_useful()
            e = w.error
            where = self.part if kept else self.directory
            keep = (
                "the partial download is kept there; fetch again to resume"
                if kept
                else "nothing was kept"
            )
            raise OSError(e.errno, f"{e.strerror or e} while writing {where} ({keep})") from e
        except BaseException:
            self._keep_part_if_useful()
            raise
        finally:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            self.bar.close()

    def _download(self) -> None:
        state = self._load_state()
        if state is not None:
            try:
                self._parallel(state["total"], state.get("validator"), state)
                return
            except _StartOver:
                self._start_over()
        elif not self.resume:
            self._truncate()
        offset = os.fstat(self.fd).st_size
        if offset == 0 and self.connections != 1:
            total, ranged, validator, response = self._probe()
            wanted = self.connections or (
                _AUTO_CONNECTIONS if total is not None and total >= _AUTO_PARALLEL_BYTES else 1
            )
            if ranged and total is not None and wanted > 1 and total >= 2 * _MIN_CHUNK:
                try:
                    self._parallel(total, validator, None, wanted)
                    return
                except _StartOver:
                    self._start_over()
            else:
                self._single(response)
                return
        self._single(None)

    def _probe(self) -> tuple[int | None, bool, str | None, Any]:
        """(total, ranges work, validator, a 200 response to read the body from)."""
        retry = self.retry()
        while True:
            try:
                status, headers, response = self.client.get({"Range": "bytes=0-0"})
                break
            except _Transient as t:
                retry.failed(t, 0)
        if status == 206:
            response.close()
            try:
                first, last, total = _content_range(headers)
            except _StartOver:
                return None, False, None, None
            ok = first == 0 and last == 0 and total is not None
            return total, ok, _validator(headers), None
        if status == 416:  # an empty file
            return _unsatisfied_total(headers), False, None, None
        return _content_length(headers), False, _validator(headers), response

    # -- one stream ----------------------------------------------------------

    def _single(self, response: Any) -> None:
        """Fills the .part from its current size (resume) or from 0, in order, hashing."""
        offset = os.fstat(self.fd).st_size
        validator = _get_xattr(self.fd) if offset else None
        hasher = hashlib.sha256() if self.sha256 else None
        if offset and hasher is not None:
            try:
                _hash_fd(hasher, self.fd, offset)
            except OSError as e:
                raise _WriteFailed(e) from None
        resumed = offset > 0
        retry = self.retry()
        while True:
            if response is None:
                request = {"Range": f"bytes={offset}-"} if offset else {}
                if offset and validator:
                    request["If-Range"] = validator
                try:
                    status, headers, response = self.client.get(request)
                except _Transient as t:
                    retry.failed(t, 0)
                    continue
            else:
                status, headers = response.status, response.headers
            try:
                start_over = False
                if status == 416:
                    total = _unsatisfied_total(headers)
                    if offset and total == offset and self._total_ok(total):
                        break  # the .part was already complete
                    start_over = True
                elif status == 206:
                    try:
                        first, last, total = _content_range(headers)
                    except _StartOver:
                        first, last, total = -1, -1, None
                    start_over = (
                        first != offset
                        or total is None
                        or last != total - 1
                        or not self._total_ok(total)
                        or not _same_version(validator, headers)
                    )
                    if start_over and offset == 0:
                        raise DownloadError(
                            f"{self.client.shown}: the server answered a plain GET with "
                            f"an unusable partial response ({headers.get('Content-Range')!r})"
                        )
                else:  # 200: the whole file, whatever we asked for
                    total = _content_length(headers)
                    if offset:
                        self._truncate()
                        offset, resumed = 0, False
                        hasher = hashlib.sha256() if self.sha256 else None
                    self._set_total(total)
                    validator = _validator(headers)
                    _set_xattr(self.fd, validator)
                if start_over:
                    self._count_restart()
                    self._truncate()
                    offset, resumed, validator = 0, False, None
                    hasher = hashlib.sha256() if self.sha256 else None
                    if response is not None:
                        response.close()
                        response = None
                    continue
                if status == 206:
                    self._set_total(total)
                self._check_space(total - offset if total is not None else None)
                self._bar_start(offset)
                before = offset
                try:
                    offset = self._copy(response, offset, total, hasher)
                except _Transient as t:
                    offset = t.pos
                    response.close()
                    response = None
                    retry.failed(t, offset - before)
                    continue
            finally:
                if response is not None:
                    response.close()
            break
        if self.total is None:
            self.total = offset
        if hasher is not None and hasher.hexdigest() != self.sha256:
            if resumed:
                # The bytes we resumed from may be stale: one fresh download decides.
                self._count_restart()
                self._truncate()
                self._single(None)
                return
            raise self._mismatch(hasher.hexdigest())
        self.hashed = hasher is not None

    def _copy(
        self,
        response: Any,
        pos: int,
        end: int | None,
        hasher: Any,
        stop: threading.Event | None = None,
    ) -> int:
        """Writes the body at `pos` until `end` (or EOF when None); returns the new position."""
        buf = bytearray(_READ_BLOCK)
        view = memoryview(buf)
        while end is None or pos < end:
            if stop is not None and stop.is_set():
                raise _Stopped
            want = _READ_BLOCK if end is None else min(_READ_BLOCK, end - pos)
            try:
                n = response.readinto(view[:want])
            except _NETWORK_ERRORS as e:
                raise _Transient(e, pos) from None
            if not n:
                break
            _pwrite_all(self.fd, view[:n], pos)
            if hasher is not None:
                hasher.update(view[:n])
            pos += n
            with self.bar_lock:
                self.bar.update(n)
        if end is not None and pos < end:
            raise _Transient(ConnectionError(f"connection closed after byte {pos} of {end}"), pos)
        return pos

    # -- parallel ranges -----------------------------------------------------

    def _parallel(
        self,
        total: int,
        validator: str | None,
        state: dict[str, Any] | None,
        connections: int | None = None,
    ) -> None:
        workers = connections or self.connections or _AUTO_CONNECTIONS
        self._set_total(total)
        if state is None:
            chunk = min(_MAX_CHUNK, max(_MIN_CHUNK, -(-total // (workers * 4))))
            self._truncate()
            self._check_space(total)
            self._reserve(total)
            state = {
                "format": 1,
                "total": total,
                "chunk": chunk,
                "validator": validator,
                "done": [],
            }
            self._save_state(state)
        chunk = state["chunk"]
        done = set(_expand(state["done"]))
        count = -(-total // chunk)
        pending: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(count):
            if i not in done:
                pending.put(i)
        self._bar_start(sum(min(chunk, total - i * chunk) for i in done))
        stop = threading.Event()
        failures: list[BaseException] = []
        state_lock = threading.Lock()

        def work() -> None:
            while not stop.is_set():
                try:
                    i = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    self._range(i * chunk, min(total, (i + 1) * chunk), total, validator, stop)
                    with state_lock:
                        done.add(i)
                        state["done"] = _compress(done)
                        self._save_state(state)
                except _Stopped:
                    return
                except BaseException as e:  # handed to the calling thread
                    failures.append(e)
                    stop.set()
                    return

        threads = [
            threading.Thread(target=work, name=f"weightstream-fetch-{k}", daemon=True)
            for k in range(min(workers, max(1, count - len(done))))
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.1)
        except BaseException:
            stop.set()
            for t in threads:
                t.join(5)
            raise
        if failures:
            # A changed file beats the errors it caused in the other workers.
            raise next((f for f in failures if isinstance(f, _StartOver)), failures[0])
        self.hashed = False

    def _range(
        self, begin: int, end: int, total: int, validator: str | None, stop: threading.Event
    ) -> None:
        pos = begin
        retry = self.retry(stop)
        while pos < end:
            if stop.is_set():
                raise _Stopped
            request = {"Range": f"bytes={pos}-{end - 1}"}
            if validator:
                request["If-Range"] = validator
            try:
                status, headers, response = self.client.get(request)
            except _Transient as t:
                retry.failed(t, 0)
                continue
            try:
                if status != 206:
                    raise _StartOver(f"the server answered {status} to a range request")
                if _content_range(headers) != (pos, end - 1, total):
                    raise _StartOver(f"unexpected Content-Range {headers.get('Content-Range')!r}")
                before = pos
                try:
                    pos = self._copy(response, pos, end, None, stop)
                except _Transient as t:
                    pos = t.pos
                    retry.failed(t, pos - before)
            finally:
                if response is not None:
                    response.close()

    def _reserve(self, total: int) -> None:
        try:
            os.posix_fallocate(self.fd, 0, total)
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                # Some filesystems keep what they managed to allocate.
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, 0)
                raise _WriteFailed(e) from None
            os.ftruncate(self.fd, total)
        except AttributeError:  # pragma: no cover - no posix_fallocate (macOS)
            os.ftruncate(self.fd, total)

    def _load_state(self) -> dict[str, Any] | None:
        try:
            with open(self.state_path, encoding="utf-8") as f:
                state = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            state = None
        ok = (
            self.resume
            and isinstance(state, dict)
            and state.get("format") == 1
            and isinstance(state.get("total"), int)
            and isinstance(state.get("chunk"), int)
            and state["chunk"] > 0
            and os.fstat(self.fd).st_size == state["total"]
            and (self.size is None or self.size == state["total"])
        )
        if ok:
            try:
                count = -(-state["total"] // state["chunk"])
                if all(0 <= i < count for i in _expand(state.get("done", []))):
                    return state
            except (TypeError, ValueError):
                pass
        # A preallocated .part without its record of finished ranges is garbage.
        self._remove_state()
        self._truncate()
        return None

    def _save_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(state, f)
            os.replace(tmp, self.state_path)
        except OSError as e:
            raise _WriteFailed(e) from None

    def _remove_state(self) -> None:
        for path in (self.state_path, self.state_path + ".tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    # -- bookkeeping -----------------------------------------------------------

    def _truncate(self) -> None:
        os.ftruncate(self.fd, 0)
        _set_xattr(self.fd, None)

    def _start_over(self) -> None:
        self._count_restart()
        self._remove_state()
        self._truncate()

    def _count_restart(self) -> None:
        self.restarts += 1
        if self.restarts > 3:
            raise DownloadError(
                f"{self.client.shown}: the file keeps changing on the server; giving up"
            )

    def _total_ok(self, total: int) -> bool:
        return (self.size is None or total == self.size) and (
            self.total is None or total == self.total
        )

    def _bar_start(self, initial: int) -> None:
        """Shows the bar (from the first body on, when the size is known) at `initial` bytes."""
        if not self.show:
            return
        if isinstance(self.bar, _NoBar):
            self.bar = _progress(self.name, self.total, initial)
        elif self.bar.n != initial or self.bar.total != self.total:
            self.bar.reset(self.total)
            self.bar.update(initial)

    def _set_total(self, total: int | None) -> None:
        if total is None:
            return
        if self.size is not None and total != self.size:
            raise IntegrityError(
                f"{self.client.shown}: the server has {total} bytes, "
                f"the catalog expects {self.size}"
            )
        self.total = total
        if self.bar.total != total:
            self.bar.total = total
            self.bar.refresh()

    def _check_space(self, needed: int | None) -> None:
        if not needed:
            return
        try:
            st = os.statvfs(self.directory)
        except (OSError, AttributeError):
            return
        free = st.f_bavail * st.f_frsize
        if free < needed:
            raise _WriteFailed(
                OSError(
                    errno.ENOSPC,
                    f"No space left on device: {needed} more bytes needed, {free} available",
                )
            )

    def _mismatch(self, actual: str) -> Exception:
        return IntegrityError(
            f"{self.client.shown}: SHA-256 mismatch: expected {self.sha256}, got {actual} "
            "(the download was deleted)"
        )

    def _finish(self) -> None:
        size = os.fstat(self.fd).st_size
        if self.total is not None and size != self.total:
            raise DownloadError(f"{self.part}: {size} bytes written, expected {self.total}")
        if self.size is not None and size != self.size:
            raise IntegrityError(
                f"{self.client.shown}: got {size} bytes, the catalog expects {self.size}"
            )
        if self.sha256 is not None and not getattr(self, "hashed", False):
            h = hashlib.sha256()
            _hash_fd(h, self.fd, size)
            if h.hexdigest() != self.sha256:
                raise self._mismatch(h.hexdigest())
        try:
            os.fsync(self.fd)
            _set_xattr(self.fd, None)
            # State first: a full-size .part with no state reads as complete, which it is.
            self._remove_state()
            os.replace(self.part, self.final)
        except OSError as e:
            raise _WriteFailed(e) from None
        _fsync_dir(self.directory)

    def _keep_part_if_useful(self) -> bool:
        """Removes the .part if it holds nothing; True if it is kept."""
        try:
            if os.fstat(self.fd).st_size > 0 and os.path.exists(self.part):
                return True
        except OSError:
            pass
        self._remove_part()
        return False

    def _remove_part(self) -> None:
        self._remove_state()
        try:
            here = os.fstat(self.fd)
            there = os.stat(self.part)
        except OSError:
            return
        # Never unlink a .part that is not the one we hold (a renamed-away inode).
        if (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.part)


def _expand(intervals: Any) -> Iterator[int]:
    for a, b in intervals:
        if not (isinstance(a, int) and isinstance(b, int)) or a > b:
            raise ValueError("bad interval")
        yield from range(a, b + 1)


def _compress(indices: set[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in sorted(indices):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


# --------------------------------------------------------------------------
# Archives
# --------------------------------------------------------------------------

ARCHIVE_SUFFIXES = (
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.zst",
    ".tar.zstd",
    ".tzst",
    ".tar.xz",
    ".tar.bz2",
)


def _sniff(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(512)
    for magic, kind in (
        (b"\x28\xb5\x2f\xfd", "zst"),
        (b"\x1f\x8b", "gz"),
        (b"BZh", "bz2"),
        (b"\xfd7zXZ\x00", "xz"),
    ):
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return ""
    raise errors.FormatError(
        f"{path}: not a tar archive (.tar, .tar.gz, .tar.zst, .tar.xz, .tar.bz2)"
    )


def _zstandard(path: str) -> Any:
    try:
        import zstandard
    except ImportError:
        raise ImportError(
            f"{path}: extracting .tar.zst needs the 'zstandard' package "
            "(pip install 'weightstream[zstd]')"
        ) from None
    return zstandard


def _decompressed(raw: Any, kind: str, path: str) -> tuple[Any, tuple[type[BaseException], ...]]:
    """A reader of the decompressed bytes, and the exceptions that mean corrupt input."""
    if kind == "gz":
        import gzip
        import zlib

        return gzip.GzipFile(fileobj=raw, mode="rb"), (zlib.error, gzip.BadGzipFile)
    if kind == "bz2":
        import bz2

        return bz2.BZ2File(raw), (OSError,)  # bz2 reports bad data as a bare OSError
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(raw), (lzma.LZMAError,)
    if kind == "zst":
        if sys.version_info >= (3, 14):
            from compression import zstd

            return zstd.ZstdFile(raw), (zstd.ZstdError,)
        zstandard = _zstandard(path)
        return zstandard.ZstdDecompressor().stream_reader(raw), (zstandard.ZstdError,)
    return raw, ()


def _zstd_check_complete(path: str) -> None:
    """EOFError unless every zstd frame in the file is complete.

    python-zstandard's stream reader ends quietly on a truncated frame, and
    tarfile ends quietly when a header is missing, so a cut archive would
    extract "successfully" without this.
    """
    if sys.version_info >= (3, 14):
        return  # compression.zstd.ZstdFile raises EOFError itself
    zstandard = _zstandard(path)
    with open(path, "rb") as f:
        d = zstandard.ZstdDecompressor().decompressobj()
        # Small input blocks bound the output of a single call.
        while block := f.read(16 << 10):
            while block:
                d.decompress(block)
                block = d.unused_data if d.eof else b""
                if block:
                    d = zstandard.ZstdDecompressor().decompressobj()
        if not d.eof:
            raise EOFError("the zstd stream ends in the middle of a frame")


@contextlib.contextmanager
def _open_tar(path: str, *, check: bool) -> Iterator[tarfile.TarFile]:
    """The archive as a stream of members.

    With `check` (the read-only first pass), the rest of the compressed
    stream is read after the last member, so a truncated or corrupt archive
    raises FormatError before anything is extracted.
    """
    kind = _sniff(path)
    with open(path, "rb") as raw:
        stream, corrupt = _decompressed(raw, kind, path)
        corrupt += (tarfile.ReadError, EOFError)
        if not check:
            # While extracting, an OSError is the destination's (e.g. a full disk).
            corrupt = tuple(c for c in corrupt if c is not OSError)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                yield tar
            if check:
                while stream.read(1 << 20):
                    pass
                if kind == "zst":
                    _zstd_check_complete(path)
        except corrupt as e:
            raise errors.FormatError(f"{path}: corrupt archive: {_describe(e)}") from e


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_member(member: tarfile.TarInfo, root: str, archive: str, *, real: bool) -> None:
    """Rejects members that would write or point outside `root`.

    With `real`, paths are resolved against the filesystem as extracted so
    far, which catches escapes through symlinks extracted earlier.
    """
    name = member.name

    def reject(why: str) -> None:
        raise errors.FormatError(f"{archive}: refusing to extract {name!r}: {why}")

    resolve = os.path.realpath if real else os.path.normpath
    if not name or "\0" in name:
        reject("empty name")
    if name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        reject("absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        reject("'..' in the path")
    # The member replaces whatever is at its own name: resolve only its directory.
    clean = name.rstrip("/")
    parent = resolve(os.path.join(root, os.path.dirname(clean)))
    target = os.path.normpath(os.path.join(parent, os.path.basename(clean)))
    if not _inside(root, target):
        reject("it would be written outside the destination")
    if target == os.path.realpath(archive):
        reject("it would overwrite the archive being extracted")
    if member.ischr() or member.isblk() or member.isfifo():
        reject("device or FIFO")
    if member.issym() or member.islnk():
        link = member.linkname
        if not link or link.startswith(("/", "\\")) or os.path.isabs(link):
            reject(f"link to an absolute path {link!r}")
        base = os.path.dirname(os.path.join(root, name)) if member.issym() else root
        if not _inside(root, resolve(os.path.join(base, link))):
            reject(f"link {link!r} points outside the destination")


def extract_archive(archive: PathLike, dest: PathLike) -> str:
    """Extracts a tar archive (plain, gz, bz2, xz or zst) into `dest`; returns `dest`.

    Every member is checked before anything is written (absolute paths,
    ``..``, links pointing outside, devices: ``FormatError``), then checked
    again against the real filesystem while extracting, with tarfile's
    ``filter="data"`` where the Python version has it.
    """
    archive = os.fspath(archive)
    os.makedirs(dest, exist_ok=True)
    root = os.path.realpath(dest)
    with _open_tar(archive, check=True) as tar:
        for member in tar:
            _check_member(member, root, archive, real=False)
    has_filter = hasattr(tarfile, "data_filter")
    with _open_tar(archive, check=False) as tar:
        for member in tar:
            _check_member(member, root, archive, real=True)
            try:
                if has_filter:
                    tar.extract(member, root, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    member.mode &= 0o755
                    tar.extract(member, root)
            except tarfile.TarError as e:  # FilterError and friends
                raise errors.FormatError(f"{archive}: refusing to extract: {e}") from e
    return root


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


# --------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------


def _prepare_dir(dest_dir: PathLike) -> str:
    path = os.path.abspath(os.fspath(dest_dir))
    try:
        os.makedirs(path, exist_ok=True)
        if not os.path.isdir(path):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
    except OSError as e:
        raise OSError(
            e.errno, f"cannot use {path} as the destination directory: {e.strerror or e}"
        ) from e
    return path


def _positive_int(name: str, value: Any, *, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def fetch(
    url_or_name: str,
    dest_dir: PathLike = ".",
    sha256: str | None = None,
    resume: bool = True,
    connections: int | None = None,
    quiet: bool | None = None,
    extract: bool = False,
    *,
    filename: str | None = None,
    ca_bundle: PathLike | None = None,
    catalog: PathLike | None = None,
    headers: Mapping[str, str] | None = None,
    retries: int = 5,
    backoff: float = 0.5,
    timeout: float = 60.0,
) -> str:
    """Downloads a URL or catalog entry into `dest_dir`; returns the file's path.

    Args:
        url_or_name: an ``http(s)://`` URL or a catalog name (``fetch --list``).
        dest_dir: created if missing.
        sha256: expected hex digest; overrides the catalog's. Checked as the
            bytes arrive; a file already there with this digest is not fetched.
        resume: continue an existing ``NAME.part`` (otherwise start over).
        connections: parallel ranged connections; ``None`` picks 8 for files
            of 64 MiB or more when the server supports ranges, else 1.
        quiet: ``None`` shows a progress bar only when stderr is a terminal.
        extract: the file is a tar archive (gz, zst, xz, bz2): extract it
            into `dest_dir` (the archive is kept) and return `dest_dir`.
        filename: the name to save as (default: the catalog's, else the
            URL's last path segment).
        ca_bundle: CA certificates to trust instead of the system's (file or
            directory); default ``$WEIGHTSTREAM_CA_BUNDLE``.
        catalog: an extra catalog file (JSON, or TOML on 3.11+).
        headers: extra request headers (e.g. ``Authorization``), not sent
            on to a redirect's host.
        retries: consecutive failed attempts allowed before giving up.
        backoff: first retry delay in seconds, doubled each time (max 30).
        timeout: seconds a connect or read may stall.

    Raises:
        IntegrityError: SHA-256 or size mismatch (nothing is kept).
        FileNotFoundError: HTTP 404 (``RemoteFileNotFoundError``).
        HTTPStatusError: another HTTP error status (an ``OSError``).
        DownloadError: network failures after the retries, TLS failures.
        OSError: the destination cannot be written (full, read-only, not a
            directory); a ``.part`` holding bytes is kept for resuming.
        ValueError: bad arguments, unknown catalog name.
        FormatError: ``extract`` met an unsafe or corrupt archive.
    """
    if connections is not None:
        _positive_int("connections", connections)
    _positive_int("retries", retries, allow_zero=True)
    if backoff < 0 or timeout <= 0:
        raise ValueError("backoff must be >= 0 and timeout > 0")
    expected_size = None
    if _is_url(url_or_name):
        url = url_or_name
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {scheme!r}: only http and https")
        name = filename or _filename_from_url(url)
    else:
        entry = _catalog.lookup(url_or_name, catalog)
        url = entry.url
        name = filename or entry.filename or _filename_from_url(url)
        expected_size = entry.size
        if sha256 is None:
            sha256 = entry.sha256
    if not _plain_name(name):
        raise ValueError(f"filename must be a plain file name, got {name!r}")
    if sha256 is not None:
        sha256 = _catalog.normalize_sha256(sha256)
    directory = _prepare_dir(dest_dir)
    final = os.path.join(directory, name)
    client = _Client(url, ca_bundle=ca_bundle, timeout=timeout, headers=headers)
    job = _Download(
        client,
        final,
        sha256=sha256,
        size=expected_size,
        resume=resume,
        connections=connections,
        quiet=quiet,
        retries=retries,
        backoff=backoff,
    )
    if not job.complete():
        job.run()
    if extract:
        return extract_archive(final, directory)
    return final


__all__ = [
    "DownloadError",
    "HTTPStatusError",
    "IntegrityError",
    "RemoteFileNotFoundError",
    "extract_archive",
    "fetch",
    "redact_url",
    "sha256_file",
]
