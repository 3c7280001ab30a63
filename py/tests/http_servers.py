"""Real HTTP(S) servers on 127.0.0.1 for the fetch and CLI tests.

- :class:`Nginx`: nginx (Debian ``nginx-light``) as a child process with
  everything (config, pid, logs, temp dirs, TLS key) under a temp prefix,
  ``daemon off; master_process off;`` so the process we started is the
  server, stopped by its PID. Locations: ``/`` static files with ranges,
  ``/norange/`` the same files with ``max_ranges 0`` (Range ignored),
  ``/slow/`` rate-limited unless the request has a Range header,
  ``/redirect/`` a 302 to ``/``, ``/forbidden/`` 403, ``/unavailable/`` 503.
  The access log records status, method, URI, Range and Authorization.
- :class:`FlakyServer`: a threaded ``http.server`` that misbehaves on
  purpose (drops connections mid-body, wrong Content-Range, no length,
  transient 503s, failing ranges, redirects), recording each request.

Test modules import these with ``from http_servers import ...``.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from server_process import free_port, stop_process

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

_CONF = """\
pid logs/nginx.pid;
error_log logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format wstest '$status $request_method "$request_uri" "$http_range" '
                      '"$http_authorization" $body_bytes_sent';
    access_log logs/access.log wstest;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    map $http_range $slow_rate {{ "" 512k; default 0; }}
    server {{
        listen 127.0.0.1:{port};
        {tls_listen}
        root {www};
        location / {{ }}
        location /norange/ {{ alias {www}/; max_ranges 0; }}
        location /slow/ {{ alias {www}/; limit_rate $slow_rate; }}
        location /redirect/ {{ rewrite ^/redirect/(.*)$ /$1 redirect; }}
        location /forbidden/ {{ return 403; }}
        location /unavailable/ {{ return 503; }}
    }}
}}
"""


@dataclass
class LogEntry:
    status: int
    method: str
    uri: str
    range: str | None
    authorization: str | None
    bytes_sent: int


class Nginx:
    def __init__(self, prefix: Path, *, tls: bool = True) -> None:
        self.prefix = prefix
        self.www = prefix / "www"
        self.tls = tls and shutil.which("openssl") is not None
        self.cert = prefix / "conf" / "cert.pem"
        self.port = 0
        self.tls_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def running(cls, prefix: Path, *, tls: bool = True) -> Iterator[Nginx]:
        if not os.access(NGINX, os.X_OK):
            pytest.skip("nginx is not installed (Debian: apt-get install nginx-light)")
        server = cls(prefix, tls=tls)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def start(self) -> None:
        for sub in ("conf", "logs", "tmp", "www"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        if self.tls and not self.cert.exists():
            subprocess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(self.prefix / "conf" / "key.pem"),
                    "-out", str(self.cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                ],
                check=True,
                capture_output=True,
            )  # fmt: skip
        last_error = ""
        for _ in range(5):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.tls_port = free_port() if self.tls else 0
            tls_listen = (
                f"listen 127.0.0.1:{self.tls_port} ssl; "
                "ssl_certificate cert.pem; ssl_certificate_key key.pem;"
                if self.tls
                else ""
            )
            conf = _CONF.format(port=self.port, tls_listen=tls_listen, www=self.www)
            (self.prefix / "conf" / "nginx.conf").write_text(conf)
            self.process = subprocess.Popen(
                [
                    NGINX, "-p", f"{self.prefix}/", "-c", "conf/nginx.conf", "-e", "stderr",
                    "-g", "daemon off; master_process off;",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )  # fmt: skip
            if self._wait_ready():
                return
            self.process.kill()
            _, err = self.process.communicate()
            last_error = err.decode(errors="replace")
            if "Address already in use" not in last_error:
                break
        raise RuntimeError(f"nginx did not start: {last_error}")

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.01)
        return False

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    # -- content -------------------------------------------------------------

    def put(self, name: str, data: bytes) -> Path:
        path = self.www / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def url(self, name: str, location: str = "") -> str:
        prefix = f"/{location}" if location else ""
        return f"http://127.0.0.1:{self.port}{prefix}/{name}"

    def https_url(self, name: str, host: str = "127.0.0.1") -> str:
        if not self.tls:
            pytest.skip("openssl is not installed: no TLS listener")
        return f"https://{host}:{self.tls_port}/{name}"

    # -- the access log --------------------------------------------------------

    def log(self, name: str | None = None) -> list[LogEntry]:
        """Requests so far (optionally only those whose URI ends with /NAME)."""
        path = self.prefix / "logs" / "access.log"
        entries = []
        text = path.read_text() if path.exists() else ""
        for line in text.splitlines():
            status, method, rest = line.split(" ", 2)
            uri, _, rest = rest[1:].partition('" "')
            rng, _, rest = rest.partition('" "')
            auth, _, sent = rest.partition('" ')
            entries.append(
                LogEntry(
                    int(status),
                    method,
                    uri,
                    None if rng == "-" else rng,
                    None if auth == "-" else auth,
                    int(sent),
                )
            )
        if name is not None:
            entries = [e for e in entries if e.uri.split("?")[0].endswith("/" + name)]
        return entries

    def wait_log(self, name: str, count: int, timeout: float = 3.0) -> list[LogEntry]:
        """The log entries for NAME once there are at least `count` (nginx logs at request end)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.log(name)
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.02)


# --------------------------------------------------------------------------
# A misbehaving server
# --------------------------------------------------------------------------


@dataclass
class Behaviour:
    drops: int = 0  # the next N responses send half the body, then close
    fail_status: int = 0  # the next `fail_count` requests get this status
    fail_count: int = 0
    bad_content_range: bool = False  # answer ranges with 206 + the whole file
    no_length: bool = False  # no Content-Length: the body ends when the connection does
    fail_range_starts: set[int] = field(default_factory=set)  # ranges starting here get 500
    redirect_to: str | None = None  # 302 to this URL
    etag: str = '"v1"'


@dataclass
class Request:
    path: str
    range: str | None
    if_range: str | None
    authorization: str | None
    status: int = 0


class FlakyServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner._serve(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[FlakyServer]:
        server = cls()
        server.thread.start()
        try:
            yield server
        finally:
            server.httpd.shutdown()
            server.httpd.server_close()
            server.thread.join(5)

    def put(self, name: str, data: bytes, **behaviour: object) -> None:
        self.files[name] = data
        self.behaviour[name] = Behaviour(**behaviour)  # type: ignore[arg-type]

    def url(self, name: str, userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}/{name}"

    def requests_for(self, name: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?")[0] == "/" + name]

    def _serve(self, h: http.server.BaseHTTPRequestHandler) -> None:
        name = h.path.split("?")[0].lstrip("/")
        record = Request(
            h.path,
            h.headers.get("Range"),
            h.headers.get("If-Range"),
            h.headers.get("Authorization"),
        )
        with self.lock:
            self.requests.append(record)
            data = self.files.get(name)
            b = self.behaviour.get(name, Behaviour())
            drop = b.drops > 0
            if drop:
                b.drops -= 1
            fail = b.fail_count > 0
            if fail:
                b.fail_count -= 1

        def status(code: int) -> None:
            record.status = code
            h.send_response(code)

        if data is None:
            status(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if b.redirect_to:
            status(302)
            h.send_header("Location", b.redirect_to)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if fail:
            status(b.fail_status)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        total = len(data)
        first, last = 0, total - 1
        rng = h.headers.get("Range")
        partial = False
        if_range = h.headers.get("If-Range")
        if if_range is not None and if_range != b.etag:
            rng = None  # RFC 9110: a stale validator means "send the whole file"
        if rng and rng.startswith("bytes=") and "," not in rng and not b.no_length:
            a, _, z = rng[len("bytes=") :].partition("-")
            first = int(a)
            last = min(int(z), total - 1) if z else total - 1
            partial = True
            if first in b.fail_range_starts:
                status(500)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            if first >= total:
                status(416)
                h.send_header("Content-Range", f"bytes */{total}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
        if partial and b.bad_content_range:
            first, last = 0, total - 1
        body = data[first : last + 1]
        status(206 if partial else 200)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("ETag", b.etag)
        if partial:
            h.send_header("Content-Range", f"bytes {first}-{last}/{total}")
        if not b.no_length:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            if drop:
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
