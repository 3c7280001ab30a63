"""A real S3 server on 127.0.0.1 for the S3 tests: ``moto_server`` (PyPI
``moto[server]``) as a child process, with authentication switched on.

By default moto accepts any credentials. :class:`MotoS3` turns SigV4
checking on the way its docs describe: it creates an IAM user with an
``s3:*`` policy and an access key through moto's IAM API, then POSTs
``/moto-api/reset-auth``; from then on only that key (or STS credentials
issued to it) is accepted, a wrong secret gets ``SignatureDoesNotMatch``
and an unknown key ``InvalidAccessKeyId``.

Also :class:`FaultProxy`: a small HTTP proxy (stdlib, a thread on loopback)
in front of the server that injects faults into ranged GETs on request:
``drop`` (close the connection halfway through the body), ``truncate`` (a
complete-looking answer whose Content-Length and body are half of what the
Content-Range claims), ``slowdown`` (S3's 503 SlowDown) and ``reset``
(close before answering). Requests it does not fault are forwarded
unchanged, Host and Authorization included, so signatures stay valid.

Test modules import these with ``from s3_server import ...``.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from server_process import free_port, stop_process

REGION = "us-east-1"


def _moto_server_command() -> list[str]:
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    if exe is None:
        exe = shutil.which("moto_server")
    if exe is not None:
        return [exe]
    return [sys.executable, "-m", "moto.server"]


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def options(self) -> dict[str, str]:
        out = {
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }
        if self.session_token:
            out["session_token"] = self.session_token
        return out


class MotoS3:
    """moto_server on a free loopback port, auth on. Use as a context
    manager; stopped by its PID."""

    def __init__(self, workdir: str) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._workdir = workdir
        self._proc: subprocess.Popen[bytes] | None = None
        self.credentials: Credentials | None = None

    def __enter__(self) -> MotoS3:
        log = open(os.path.join(self._workdir, "moto.log"), "wb")  # noqa: SIM115
        env = dict(os.environ)
        for name in list(env):
            if name.startswith("AWS_"):
                del env[name]
        self._proc = subprocess.Popen(
            [*_moto_server_command(), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._workdir,
            env=env,
        )
        log.close()
        try:
            self._wait_ready()
            self._enable_auth()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        stop_process(self._proc, timeout=10)
        self._proc = None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self._proc.returncode}")
            try:
                # /moto-api/ does not count as a request for auth purposes.
                with urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("moto_server did not start within 30 s")

    def _enable_auth(self) -> None:
        import boto3  # noqa: PLC0415 - test-only dependency

        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="tester")
        iam.put_user_policy(
            UserName="tester",
            PolicyName="all",
            PolicyDocument=(
                '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                '"Action":["s3:*","sts:*","iam:*"],"Resource":"*"}]}'
            ),
        )
        key = iam.create_access_key(UserName="tester")["AccessKey"]
        self.credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        req = urllib.request.Request(
            self.endpoint + "/moto-api/reset-auth",
            data=b"0",
            method="POST",
            # Not form-urlencoded, or moto reads an empty body and fails.
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 200:
                raise RuntimeError(f"reset-auth answered {r.status}")

    def client(self, service: str = "s3", credentials: Credentials | None = None):  # noqa: ANN201
        import boto3  # noqa: PLC0415

        c = credentials or self.credentials
        assert c is not None
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=c.access_key_id,
            aws_secret_access_key=c.secret_access_key,
            aws_session_token=c.session_token,
        )


class FaultProxy:
    """HTTP proxy on a free loopback port in front of `upstream_port`. Queue
    faults with :meth:`inject`; each ranged GET takes the next one."""

    MODES = ("drop", "truncate", "slowdown", "reset")

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._faults: list[str] = []
        self._lock = threading.Lock()
        self.ranged_gets = 0
        self.faulted = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._forward("HEAD")

            def do_GET(self) -> None:  # noqa: N802
                fault = None
                if self.headers.get("Range"):
                    fault = proxy._next_fault()
                if fault == "reset":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "slowdown":
                    body = (
                        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown'
                        b"</Code><Message>Please reduce your request rate.</Message>"
                        b"</Error>"
                    )
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self._forward("GET", fault)

            def _forward(self, method: str, fault: str | None = None) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items()}
                    conn.request(method, self.path, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read() if method != "HEAD" else b""
                finally:
                    conn.close()
                if fault in ("drop", "truncate") and resp.status == 206 and len(body) > 1:
                    half = body[: len(body) // 2]
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() in ("content-length", "transfer-encoding", "connection"):
                            continue
                        self.send_header(k, v)
                    if fault == "drop":
                        # Promise the whole body, send half, hang up.
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(half)
                        self.wfile.flush()
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    # truncate: a self-consistent but short answer.
                    self.send_header("Content-Length", str(len(half)))
                    self.end_headers()
                    self.wfile.write(half)
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() in ("transfer-encoding", "connection"):
                        continue
                    self.send_header(k, v)
                if method == "HEAD" or resp.getheader("Content-Length") is None:
                    if resp.getheader("Content-Length") is None:
                        self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(body)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _next_fault(self) -> str | None:
        with self._lock:
            self.ranged_gets += 1
            if self._faults:
                self.faulted += 1
                return self._faults.pop(0)
            return None

    def inject(self, *faults: str) -> None:
        for f in faults:
            assert f in self.MODES, f
        with self._lock:
            self._faults.extend(faults)

    def pending(self) -> int:
        with self._lock:
            return len(self._faults)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextlib.contextmanager
def moto_s3(workdir: str) -> Iterator[MotoS3]:
    with MotoS3(workdir) as server:
        yield server
