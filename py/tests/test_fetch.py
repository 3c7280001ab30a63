"""weightstream.fetch against real servers on loopback: nginx and a misbehaving http.server."""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from http_servers import FlakyServer, Nginx
from weightstream import errors
from weightstream.fetcher import (
    DownloadError,
    HTTPStatusError,
    IntegrityError,
    extract_archive,
    fetch,
    redact_url,
)

MiB = 1 << 20
FAST = {"quiet": True, "backoff": 0.01}


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    with Nginx.running(tmp_path_factory.mktemp("nginx")) as server:
        yield server


@pytest.fixture
def flaky():
    with FlakyServer.running() as server:
        yield server


_counter = iter(range(10**9))


def payload(size: int) -> tuple[str, bytes, str]:
    """A unique file name, random bytes and their SHA-256."""
    data = random.Random(size * 7919 + next(_counter)).randbytes(size)
    return f"f{next(_counter)}-{size}.bin", data, hashlib.sha256(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --------------------------------------------------------------------------
# Plain downloads and verification
# --------------------------------------------------------------------------


def test_download_verifies_and_renames(nginx, tmp_path):
    name, data, sha = payload(3 * MiB + 17)
    nginx.put(name, data)
    path = fetch(nginx.url(name), tmp_path / "dest", sha256=sha, **FAST)
    assert path == str(tmp_path / "dest" / name)
    assert Path(path).read_bytes() == data
    assert leftovers(tmp_path / "dest") == [name]


def test_wrong_sha256_raises_and_leaves_nothing(nginx, tmp_path):
    name, data, _ = payload(MiB)
    nginx.put(name, data)
    with pytest.raises(IntegrityError, match="SHA-256 mismatch") as info:
        fetch(nginx.url(name), tmp_path, sha256="0" * 64, connections=1, **FAST)
    assert isinstance(info.value, ValueError)
    assert leftovers(tmp_path) == []


def test_integrity_error_is_the_package_one():
    assert IntegrityError is getattr(errors, "IntegrityError", IntegrityError)
    assert issubclass(IntegrityError, errors.WeightstreamError)


def test_wrong_sha256_in_parallel_mode_leaves_nothing(nginx, tmp_path):
    name, data, _ = payload(4 * MiB)
    nginx.put(name, data)
    with pytest.raises(IntegrityError):
        fetch(nginx.url(name), tmp_path, sha256="1" * 64, connections=4, **FAST)
    assert leftovers(tmp_path) == []


def test_empty_file(nginx, tmp_path):
    name, _, _ = payload(0)
    nginx.put(name, b"")
    sha = hashlib.sha256(b"").hexdigest()
    assert Path(fetch(nginx.url(name), tmp_path, sha256=sha, **FAST)).read_bytes() == b""


def test_follows_redirects(nginx, tmp_path):
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    path = fetch(nginx.url(name, "redirect"), tmp_path, sha256=sha, **FAST)
    assert Path(path).read_bytes() == data
    assert [e.status for e in nginx.wait_log(name, 2)][:1] == [302]


# --------------------------------------------------------------------------
# Resume
# --------------------------------------------------------------------------


def test_resume_from_a_partial_file_uses_range(nginx, tmp_path):
    name, data, sha = payload(2 * MiB)
    nginx.put(name, data)
    (tmp_path / f"{name}.part").write_bytes(data[:700_001])
    path = fetch(nginx.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    (entry,) = nginx.wait_log(name, 1)
    assert (entry.status, entry.range, entry.bytes_sent) == (
        206,
        "bytes=700001-",
        len(data) - 700001,
    )
    assert leftovers(tmp_path) == [name]


def test_resume_with_stale_bytes_and_a_hash_starts_over_once(nginx, tmp_path):
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    (tmp_path / f"{name}.part").write_bytes(b"x" * 1000)  # not the file's first bytes
    path = fetch(nginx.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    entries = nginx.wait_log(name, 2)
    assert [(e.status, e.range) for e in entries] == [(206, "bytes=1000-"), (200, None)]


def test_resume_false_ignores_the_partial_file(nginx, tmp_path):
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    (tmp_path / f"{name}.part").write_bytes(data[:5000])
    fetch(nginx.url(name), tmp_path, sha256=sha, resume=False, connections=1, **FAST)
    assert [e.range for e in nginx.wait_log(name, 1)] == [None]


def test_complete_part_left_before_rename_is_just_verified(nginx, tmp_path):
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    (tmp_path / f"{name}.part").write_bytes(data)
    path = fetch(nginx.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    assert [(e.status, e.bytes_sent) for e in nginx.wait_log(name, 1)][0][0] == 416


def test_resume_after_the_client_was_killed(nginx, tmp_path):
    """A real interruption: a CLI fetch of a rate-limited URL is SIGKILLed mid-body."""
    name, data, sha = payload(4 * MiB)
    nginx.put(name, data)
    url = nginx.url(name, "slow")  # 512 KiB/s for requests without Range
    part = tmp_path / f"{name}.part"
    cmd = [sys.executable, "-m", "weightstream", "fetch", url, "--to", str(tmp_path)]
    proc = subprocess.Popen([*cmd, "--quiet", "--connections", "1"])
    try:
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size >= 256 * 1024):
            assert proc.poll() is None, "the download ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    have = part.stat().st_size
    assert 0 < have < len(data)
    assert not (tmp_path / name).exists()
    path = fetch(url, tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    entries = nginx.wait_log(name, 2)
    assert (entries[-1].status, entries[-1].range) == (206, f"bytes={have}-")
    assert leftovers(tmp_path) == [name]


def test_server_ignoring_range_restarts_from_zero(nginx, tmp_path):
    name, data, sha = payload(2 * MiB)
    nginx.put(name, data)
    (tmp_path / f"{name}.part").write_bytes(data[:12345])
    path = fetch(nginx.url(name, "norange"), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    (entry,) = nginx.wait_log(name, 1)
    assert (entry.status, entry.range, entry.bytes_sent) == (200, "bytes=12345-", len(data))


def test_mismatched_content_range_restarts_from_zero(flaky, tmp_path):
    name, data, sha = payload(MiB)
    flaky.put(name, data, bad_content_range=True)
    (tmp_path / f"{name}.part").write_bytes(data[:4096])
    path = fetch(flaky.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    assert [(r.range, r.status) for r in flaky.requests_for(name)] == [
        ("bytes=4096-", 206),
        (None, 200),
    ]


def test_resume_sends_if_range_with_the_recorded_validator(flaky, tmp_path):
    name, data, sha = payload(2 * MiB)
    flaky.put(name, data, drops=1)
    fetch(flaky.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    first, second = flaky.requests_for(name)
    assert (first.range, first.if_range) == (None, None)
    assert second.range == f"bytes={MiB}-"
    # The ETag is kept in an extended attribute of the .part, where the filesystem has them.
    assert second.if_range in ('"v1"', None)


def test_stale_validator_then_drops_resume_against_the_new_version(flaky, tmp_path):
    name, data, sha = payload(2 * MiB)
    flaky.put(name, data, drops=2)
    part = tmp_path / f"{name}.part"
    part.write_bytes(data[:1000])
    try:
        os.setxattr(part, "user.weightstream.validator", b'"old"')
    except (AttributeError, OSError) as e:
        pytest.skip(f"no user extended attributes here: {e}")
    path = fetch(flaky.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    requests = [(r.range, r.if_range, r.status) for r in flaky.requests_for(name)]
    assert requests == [
        ("bytes=1000-", '"old"', 200),  # stale: the whole file comes back (cut in half)
        (f"bytes={MiB}-", '"v1"', 206),  # the version just received (cut in half again)
        (f"bytes={MiB + MiB // 2}-", '"v1"', 206),
    ]


# --------------------------------------------------------------------------
# Failures, retries
# --------------------------------------------------------------------------


def test_dropped_connections_are_resumed(flaky, tmp_path):
    name, data, sha = payload(3 * MiB)
    flaky.put(name, data, drops=3)
    path = fetch(flaky.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    ranges = [r.range for r in flaky.requests_for(name)]
    # Each dropped response delivered half of what it was asked for.
    sent = [0]
    for _ in range(3):
        sent.append(sent[-1] + (len(data) - sent[-1]) // 2)
    assert ranges == [None] + [f"bytes={n}-" for n in sent[1:]]


def test_giving_up_keeps_the_part_for_later(flaky, tmp_path):
    name, data, sha = payload(MiB)
    flaky.put(name, data, drops=100)
    with pytest.raises(DownloadError, match="giving up after 3 failed attempts"):
        fetch(flaky.url(name), tmp_path, sha256=sha, connections=1, retries=2, **FAST)
    # Each attempt made progress, so the count only ran out when the server stopped sending.
    assert not (tmp_path / name).exists()
    part = tmp_path / f"{name}.part"
    assert 0 < part.stat().st_size < len(data)
    assert data.startswith(part.read_bytes())
    flaky.behaviour[name].drops = 0
    path = fetch(flaky.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data


def test_transient_503_is_retried(flaky, tmp_path):
    name, data, sha = payload(MiB)
    flaky.put(name, data, fail_status=503, fail_count=2)
    path = fetch(flaky.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    assert [r.status for r in flaky.requests_for(name)] == [503, 503, 200]


def test_persistent_503_raises_with_the_status(nginx, tmp_path):
    with pytest.raises(HTTPStatusError) as info:
        fetch(nginx.url("x.bin", "unavailable"), tmp_path, retries=2, **FAST)
    assert info.value.status == 503 and isinstance(info.value, OSError)
    assert len(nginx.wait_log("x.bin", 3)) == 3
    assert leftovers(tmp_path) == []


def test_404_is_file_not_found(nginx, tmp_path):
    url = nginx.url("no-such-file.bin")
    with pytest.raises(FileNotFoundError, match="no-such-file.bin") as info:
        fetch(url, tmp_path, **FAST)
    assert url in str(info.value) and "404" in str(info.value)
    assert leftovers(tmp_path) == []


def test_403_is_an_oserror_with_the_status(nginx, tmp_path):
    with pytest.raises(HTTPStatusError, match="403") as info:
        fetch(nginx.url("secret.bin", "forbidden"), tmp_path, **FAST)
    assert info.value.status == 403
    assert not isinstance(info.value, FileNotFoundError)
    assert len(nginx.wait_log("secret.bin", 1)) == 1  # not retried
    assert leftovers(tmp_path) == []


def test_connection_refused_gives_up(tmp_path):
    from http_servers import free_port

    url = f"http://127.0.0.1:{free_port()}/x.bin"
    with pytest.raises(DownloadError, match="giving up after 2"):
        fetch(url, tmp_path, retries=1, **FAST)
    assert leftovers(tmp_path) == []


def test_unsupported_scheme_and_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="scheme"):
        fetch("ftp://example.invalid/x.bin", tmp_path)
    with pytest.raises(ValueError, match="connections"):
        fetch("http://127.0.0.1:1/x.bin", tmp_path, connections=0)
    with pytest.raises(ValueError, match="file name"):
        fetch("http://127.0.0.1:1/dir/", tmp_path)
    with pytest.raises(ValueError, match="sha256"):
        fetch("http://127.0.0.1:1/x.bin", tmp_path, sha256="abc")


# --------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------


def test_credentials_are_redacted_in_errors(flaky, tmp_path):
    url = flaky.url("missing.bin?token=TOPSECRET&x=1", userinfo="alice:s3cret")
    with pytest.raises(FileNotFoundError) as info:
        fetch(url, tmp_path, filename="missing.bin", **FAST)
    message = str(info.value)
    assert "s3cret" not in message and "TOPSECRET" not in message and "alice" not in message
    assert "token=***" in message


def test_userinfo_is_sent_as_basic_auth_and_not_forwarded_on_redirect(nginx, flaky, tmp_path):
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    flaky.put(name, b"unused", redirect_to=nginx.url(name))
    path = fetch(flaky.url(name, userinfo="alice:s3cret"), tmp_path, sha256=sha, **FAST)
    assert Path(path).read_bytes() == data
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert {r.authorization for r in flaky.requests_for(name)} == {expected}
    assert {e.authorization for e in nginx.wait_log(name, 1)} == {None}


def test_redact_url():
    assert redact_url("https://u:p@h.example:8443/a/b.bin?sig=abc&flag#frag") == (
        "https://***@h.example:8443/a/b.bin?sig=***&flag"
    )
    assert redact_url("http://h/x") == "http://h/x"


# --------------------------------------------------------------------------
# Destination problems
# --------------------------------------------------------------------------


def test_destination_under_a_regular_file_is_an_oserror(nginx, tmp_path):
    name, data, _ = payload(1000)
    nginx.put(name, data)
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(OSError, match="destination directory") as info:
        fetch(nginx.url(name), blocker / "sub", **FAST)
    assert info.value.errno in (errno.ENOTDIR, errno.EEXIST)
    assert str(blocker) in str(info.value)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_destination_in_proc_is_an_oserror(nginx):
    name, data, _ = payload(1000)
    nginx.put(name, data)
    with pytest.raises(OSError, match="/proc/"):
        fetch(nginx.url(name), "/proc/weightstream-test", **FAST)


@pytest.fixture
def tiny_fs(tmp_path):
    """A 1 MiB tmpfs (needs mount permission: root, CAP_SYS_ADMIN)."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_disk_full_with_a_known_size_fails_before_downloading(nginx, tiny_fs):
    name, data, sha = payload(2 * MiB)
    nginx.put(name, data)
    with pytest.raises(OSError, match="No space left") as info:
        fetch(nginx.url(name), tiny_fs, sha256=sha, connections=1, **FAST)
    assert info.value.errno == errno.ENOSPC
    assert "nothing was kept" in str(info.value)
    assert leftovers(tiny_fs) == []


def test_disk_full_in_parallel_mode(nginx, tiny_fs):
    name, data, sha = payload(2 * MiB)
    nginx.put(name, data)
    with pytest.raises(OSError, match="No space left"):
        fetch(nginx.url(name), tiny_fs, sha256=sha, connections=2, **FAST)
    assert leftovers(tiny_fs) == []


def test_disk_full_mid_body_keeps_the_part(flaky, tiny_fs):
    name, data, sha = payload(2 * MiB)
    flaky.put(name, data, no_length=True)  # so the size is not known in advance
    with pytest.raises(OSError, match="No space left") as info:
        fetch(flaky.url(name), tiny_fs, sha256=sha, connections=1, **FAST)
    assert info.value.errno == errno.ENOSPC
    assert "kept" in str(info.value)
    assert leftovers(tiny_fs) == [f"{name}.part"]
    assert data.startswith((tiny_fs / f"{name}.part").read_bytes())


# --------------------------------------------------------------------------
# Idempotence, concurrency
# --------------------------------------------------------------------------


def test_second_fetch_with_a_matching_hash_makes_no_request(nginx, tmp_path):
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    path = fetch(nginx.url(name), tmp_path, sha256=sha, **FAST)
    before = nginx.wait_log(name, 2)
    mtime = os.stat(path).st_mtime_ns
    assert fetch(nginx.url(name), tmp_path, sha256=sha, **FAST) == path
    time.sleep(0.1)
    assert nginx.log(name) == before
    assert os.stat(path).st_mtime_ns == mtime


def test_existing_file_with_a_wrong_hash_is_replaced(nginx, tmp_path):
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    (tmp_path / name).write_bytes(b"old contents")
    path = fetch(nginx.url(name), tmp_path, sha256=sha, **FAST)
    assert Path(path).read_bytes() == data


def test_without_a_hash_the_size_decides(nginx, tmp_path):
    name, data, _ = payload(MiB)
    nginx.put(name, data)
    same_size = b"z" * len(data)
    (tmp_path / name).write_bytes(same_size)
    fetch(nginx.url(name), tmp_path, **FAST)
    assert (tmp_path / name).read_bytes() == same_size  # kept: sizes agree
    assert [e.range for e in nginx.wait_log(name, 1)] == ["bytes=0-0"]
    (tmp_path / name).write_bytes(b"short")
    fetch(nginx.url(name), tmp_path, **FAST)
    assert (tmp_path / name).read_bytes() == data


def test_concurrent_fetches_of_the_same_file(nginx, tmp_path):
    name, data, sha = payload(3 * MiB)
    nginx.put(name, data)
    results: list[object] = []

    def run() -> None:
        try:
            results.append(fetch(nginx.url(name), tmp_path, sha256=sha, **FAST))
        except Exception as e:  # reported below
            results.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [str(tmp_path / name)] * 3
    assert (tmp_path / name).read_bytes() == data
    assert leftovers(tmp_path) == [name]


# --------------------------------------------------------------------------
# Parallel ranges
# --------------------------------------------------------------------------


def test_parallel_download_is_exact(nginx, tmp_path):
    name, data, sha = payload(8 * MiB + 12345)
    nginx.put(name, data)
    path = fetch(nginx.url(name), tmp_path, sha256=sha, connections=4, **FAST)
    assert Path(path).read_bytes() == data
    entries = nginx.wait_log(name, 10)
    assert entries[0].range == "bytes=0-0"
    chunks = sorted(tuple(int(x) for x in e.range[len("bytes=") :].split("-")) for e in entries[1:])
    assert len(chunks) >= 4 and all(e.status == 206 for e in entries)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(data) - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(chunks, chunks[1:], strict=False))
    assert leftovers(tmp_path) == [name]


def test_parallel_without_range_support_uses_one_stream(nginx, tmp_path):
    name, data, sha = payload(4 * MiB)
    nginx.put(name, data)
    path = fetch(nginx.url(name, "norange"), tmp_path, sha256=sha, connections=4, **FAST)
    assert Path(path).read_bytes() == data
    (entry,) = nginx.wait_log(name, 1)  # the probe's 200 response is the download
    assert (entry.status, entry.bytes_sent) == (200, len(data))


def test_parallel_download_survives_dropped_connections(flaky, tmp_path):
    name, data, sha = payload(6 * MiB)
    flaky.put(name, data, drops=3)
    path = fetch(flaky.url(name), tmp_path, sha256=sha, connections=3, **FAST)
    assert Path(path).read_bytes() == data


def test_interrupted_parallel_download_resumes_only_missing_ranges(flaky, nginx, tmp_path):
    name, data, sha = payload(8 * MiB)
    nginx.put(name, data)
    # The mirror must present the same version (ETag), or the resume starts over.
    with urllib.request.urlopen(urllib.request.Request(nginx.url(name), method="HEAD")) as r:
        etag = r.headers["ETag"]
    flaky.put(name, data, fail_range_starts={3 * MiB}, etag=etag)
    with pytest.raises(HTTPStatusError) as info:
        fetch(flaky.url(name), tmp_path, sha256=sha, connections=4, retries=1, **FAST)
    assert info.value.status == 500
    state = json.loads((tmp_path / f"{name}.part.state").read_text())
    assert state["total"] == len(data) and state["chunk"] == MiB
    done = {i for a, b in state["done"] for i in range(a, b + 1)}
    missing = sorted(set(range(8)) - done)
    assert 3 in missing and not (tmp_path / name).exists()
    # Same file from a mirror; even a single connection continues the parallel layout.
    path = fetch(nginx.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    entries = nginx.wait_log(name, len(missing) + 1)
    ranges = sorted(e.range for e in entries if e.method == "GET")
    assert ranges == sorted(f"bytes={i * MiB}-{(i + 1) * MiB - 1}" for i in missing)
    assert leftovers(tmp_path) == [name]


def test_state_without_a_matching_part_is_discarded(nginx, tmp_path):
    name, data, sha = payload(2 * MiB)
    nginx.put(name, data)
    (tmp_path / f"{name}.part").write_bytes(b"\0" * 100)
    (tmp_path / f"{name}.part.state").write_text('{"format": 1, "total": 5, "chunk": 1}')
    path = fetch(nginx.url(name), tmp_path, sha256=sha, connections=1, **FAST)
    assert Path(path).read_bytes() == data
    assert leftovers(tmp_path) == [name]


# --------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------


def test_tls_with_an_untrusted_certificate_fails(nginx, tmp_path, monkeypatch):
    monkeypatch.delenv("WEIGHTSTREAM_CA_BUNDLE", raising=False)
    name, data, _ = payload(1000)
    nginx.put(name, data)
    with pytest.raises(DownloadError, match="certificate verification failed"):
        fetch(nginx.https_url(name), tmp_path, **FAST)
    assert leftovers(tmp_path) == []


def test_tls_with_a_ca_bundle(nginx, tmp_path, monkeypatch):
    monkeypatch.delenv("WEIGHTSTREAM_CA_BUNDLE", raising=False)
    name, data, sha = payload(2 * MiB)
    nginx.put(name, data)
    path = fetch(nginx.https_url(name), tmp_path / "a", sha256=sha, ca_bundle=nginx.cert, **FAST)
    assert Path(path).read_bytes() == data
    path = fetch(
        nginx.https_url(name, host="localhost"),
        tmp_path / "b",
        sha256=sha,
        ca_bundle=str(nginx.cert),
        connections=4,
        **FAST,
    )
    assert Path(path).read_bytes() == data


@pytest.mark.parametrize("variable", ["WEIGHTSTREAM_CA_BUNDLE", "SSL_CERT_FILE"])
def test_tls_ca_bundle_from_the_environment(nginx, tmp_path, monkeypatch, variable):
    monkeypatch.delenv("WEIGHTSTREAM_CA_BUNDLE", raising=False)
    name, data, sha = payload(1000)
    nginx.put(name, data)
    monkeypatch.setenv(variable, str(nginx.cert))
    assert Path(fetch(nginx.https_url(name), tmp_path, sha256=sha, **FAST)).read_bytes() == data


def test_http_errors_survive_pickling(nginx, tmp_path):
    import pickle

    with pytest.raises(HTTPStatusError) as info:
        fetch(nginx.url("p.bin", "forbidden"), tmp_path, **FAST)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (type(copy), copy.status, str(copy)) == (HTTPStatusError, 403, str(info.value))


# --------------------------------------------------------------------------
# Archives
# --------------------------------------------------------------------------


def make_tar(members: list[tuple[str, bytes | None, str | None, str]]) -> bytes:
    """An uncompressed tar: (name, data, linkname, kind) with kind file/dir/sym/hard."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, link, kind in members:
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = link or ""
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
    return out.getvalue()


GOOD_MEMBERS = [
    ("model", None, None, "dir"),
    ("model/weights.bin", b"w" * 5000, None, "file"),
    ("model/config.json", b'{"a": 1}', None, "file"),
    ("model/latest", None, "weights.bin", "sym"),
]


def compress(raw: bytes, kind: str) -> bytes:
    if kind == "gz":
        import gzip

        return gzip.compress(raw)
    if sys.version_info >= (3, 14):
        from compression import zstd

        return zstd.compress(raw)
    zstandard = pytest.importorskip(
        "zstandard", reason="tar.zst needs zstandard (weightstream[zstd])"
    )
    return zstandard.ZstdCompressor().compress(raw)


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_fetch_and_extract(nginx, tmp_path, kind):
    archive = compress(make_tar(GOOD_MEMBERS), kind)
    name = f"bundle-{next(_counter)}.tar.{kind}"
    nginx.put(name, archive)
    sha = hashlib.sha256(archive).hexdigest()
    out = fetch(nginx.url(name), tmp_path / "d", sha256=sha, extract=True, **FAST)
    assert out == str(tmp_path / "d")
    assert (tmp_path / "d" / "model" / "weights.bin").read_bytes() == b"w" * 5000
    assert (tmp_path / "d" / "model" / "config.json").read_bytes() == b'{"a": 1}'
    assert os.readlink(tmp_path / "d" / "model" / "latest") == "weights.bin"
    assert (tmp_path / "d" / name).exists()  # the archive is kept
    # Again: the verified archive is not downloaded again, the tree is extracted over itself.
    requests = len(nginx.wait_log(name, 2))
    (tmp_path / "d" / "model" / "weights.bin").write_bytes(b"changed")
    assert fetch(nginx.url(name), tmp_path / "d", sha256=sha, extract=True, **FAST) == out
    assert (tmp_path / "d" / "model" / "weights.bin").read_bytes() == b"w" * 5000
    time.sleep(0.05)
    assert len(nginx.log(name)) == requests


BAD_ARCHIVES = {
    "dotdot": [("../evil.txt", b"x", None, "file")],
    "absolute": [("/tmp/evil-weightstream.txt", b"x", None, "file")],
    "symlink-absolute": [("link", None, "/etc", "sym")],
    "symlink-outside": [("sub", None, None, "dir"), ("sub/link", None, "../../evil", "sym")],
    "hardlink-outside": [("hl", None, "../evil.txt", "hard")],
    "device": [("dev", None, None, "chr")],
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_extract_rejects_unsafe_members(tmp_path, case):
    members = [("ok.txt", b"fine", None, "file"), *BAD_ARCHIVES[case]]
    if case == "device":
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo("dev")
            info.type = tarfile.CHRTYPE
            tar.addfile(info)
        data = raw.getvalue()
    else:
        data = make_tar(members)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(compress(data, "gz"))
    dest = tmp_path / "deep" / "dest"
    with pytest.raises(errors.FormatError, match="refusing to extract"):
        extract_archive(archive, dest)
    # Checked before anything is written.
    assert leftovers(dest) == []
    assert not (tmp_path / "deep" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_extract_rejects_escape_through_an_extracted_symlink(tmp_path):
    # Lexically harmless ("a/.." is the root), but "a" is a symlink to ".".
    data = make_tar([("a", None, ".", "sym"), ("b", None, "a/..", "sym")])
    archive = tmp_path / "a.tar"
    archive.write_bytes(data)
    dest = tmp_path / "dest"
    with pytest.raises(errors.FormatError):
        extract_archive(archive, dest)
    assert not (dest / "b").exists()


def test_extract_rejects_a_non_archive(tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"not an archive at all" * 40)
    with pytest.raises(errors.FormatError, match="not a tar archive"):
        extract_archive(tmp_path / "x.tar.gz", tmp_path / "d")


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_extract_rejects_a_truncated_archive(tmp_path, kind):
    # Big enough that the cut falls in a member's data, not just the trailer.
    members = [(f"m{i}.bin", random.Random(i).randbytes(20_000), None, "file") for i in range(4)]
    good = compress(make_tar(members), kind)
    for cut in (len(good) // 2, len(good) - 3):
        (tmp_path / f"x.tar.{kind}").write_bytes(good[:cut])
        with pytest.raises(errors.FormatError, match="corrupt archive"):
            extract_archive(tmp_path / f"x.tar.{kind}", tmp_path / "d")
        assert leftovers(tmp_path / "d") == []


def test_extract_refuses_to_overwrite_the_archive(tmp_path):
    data = make_tar([("self.tar", b"x", None, "file")])
    (tmp_path / "self.tar").write_bytes(data)
    with pytest.raises(errors.FormatError, match="overwrite the archive"):
        extract_archive(tmp_path / "self.tar", tmp_path)
    assert (tmp_path / "self.tar").read_bytes() == data


# --------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------


def test_builtin_catalog_is_shipped_and_valid():
    from weightstream import _catalog

    entries = _catalog.builtin()
    assert entries
    for e in entries.values():
        assert e.url.startswith("https://huggingface.co/"), e
        assert e.sha256 is None or len(e.sha256) == 64
        assert e.description


def write_catalog(path: Path, url: str, **fields: object) -> None:
    if path.suffix == ".toml":
        lines = ["[models.mine]", f'url = "{url}"']
        lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text(json.dumps({"format": 1, "models": {"mine": {"url": url, **fields}}}))


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_user_catalog_entry(nginx, tmp_path, monkeypatch, suffix):
    if suffix == ".toml" and sys.version_info < (3, 11):
        pytest.importorskip("tomli")
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    catalog = tmp_path / f"catalog{suffix}"
    write_catalog(catalog, nginx.url(name), sha256=sha, size=len(data), filename="mine.bin")
    monkeypatch.setenv("WEIGHTSTREAM_CATALOG", str(catalog))
    path = fetch("mine", tmp_path / "d", **FAST)
    assert path == str(tmp_path / "d" / "mine.bin")
    assert Path(path).read_bytes() == data


def test_catalog_hash_and_size_are_enforced(nginx, tmp_path):
    name, data, _ = payload(MiB)
    nginx.put(name, data)
    catalog = tmp_path / "c.json"
    write_catalog(catalog, nginx.url(name), sha256="2" * 64)
    with pytest.raises(IntegrityError):
        fetch("mine", tmp_path / "d", catalog=catalog, **FAST)
    write_catalog(catalog, nginx.url(name), size=len(data) + 1)
    with pytest.raises(IntegrityError, match="catalog expects"):
        fetch("mine", tmp_path / "d", catalog=catalog, **FAST)
    assert leftovers(tmp_path / "d") == []


def test_unknown_catalog_name(tmp_path):
    with pytest.raises(ValueError, match="neither an http"):
        fetch("no-such-model", tmp_path)


@pytest.mark.parametrize(
    "models, match",
    [
        ({"x": {"url": "ftp://h/x"}}, "url"),
        ({"x": {"url": "https://h/x", "sha256": "zz"}}, "sha256"),
        ({"x": {"url": "https://h/x", "size": -1}}, "size"),
        ({"x": {"url": "https://h/x", "colour": "red"}}, "unknown field"),
        ({"x": {"url": "https://h/x", "filename": "../x"}}, "filename"),
        ({"a/b": {"url": "https://h/x"}}, "names"),
    ],
)
def test_bad_catalog_files_are_rejected(tmp_path, models, match):
    catalog = tmp_path / "c.json"
    catalog.write_text(json.dumps({"models": models}))
    with pytest.raises(ValueError, match=match):
        fetch("x", tmp_path, catalog=catalog)


# --------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------


def test_progress_bar_on_request_and_silent_by_default(nginx, tmp_path, capfd):
    name, data, sha = payload(MiB)
    nginx.put(name, data)
    fetch(nginx.url(name), tmp_path / "a", sha256=sha, quiet=False)
    err = capfd.readouterr().err
    assert name in err and "100%" in err
    fetch(nginx.url(name), tmp_path / "b", sha256=sha)  # stderr is not a terminal here
    assert capfd.readouterr().err == ""
