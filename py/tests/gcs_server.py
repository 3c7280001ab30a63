"""A real GCS emulator on 127.0.0.1 for the gs:// tests.

:class:`GcsEmulator` runs ``gcp-storage-emulator`` (PyPI) as a child process
on a free loopback port, in memory, and stops it by its PID. The process is
this file run as a script: it starts the emulator's own CLI after one
server-side fix, so that the emulator behaves like GCS where the tests need
it to:

- Download headers: ``x-goog-generation`` and an opaque ``ETag`` (not the
  generation), as GCS sends them; the emulator sends neither, which would
  hide a client that mistakes one for the other.
- ``ifGenerationMatch`` on media downloads. GCS answers 412
  ``conditionNotMet`` when the object's generation differs; the emulator
  ignores the parameter and would serve the new object's bytes. The hook
  checks it against the stored generation before the emulator's download
  handler runs.

- Bearer tokens, when started with ``require_token``: every request must
  carry ``Authorization: Bearer <token>`` or gets GCS's 401 JSON error. The
  emulator itself accepts anything, which would let a test pass with no
  credentials at all.

Everything else (routing, storage, ranges, listing) is the emulator's.
Known gaps that remain (see /work/shared/notes/servers.md): no
authentication at all, no ``pageToken`` paging, single-threaded with a
listen backlog of 5 -- keep client concurrency at 4 or below.

Uploads go through the official client (google-cloud-storage) with
anonymous credentials, as a user of the emulator would.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from server_process import free_port, stop_process


class GcsEmulator:
    def __init__(self, require_token: str | None = None) -> None:
        self.port = 0
        self.require_token = require_token
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    @contextlib.contextmanager
    def running(cls, require_token: str | None = None) -> Iterator[GcsEmulator]:
        server = cls(require_token)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def start(self) -> None:
        for _ in range(3):  # A free port can be taken before we bind it.
            self.port = free_port()
            args = [sys.executable, os.path.abspath(__file__), "--port", str(self.port)]
            if self.require_token:
                args += ["--require-token", self.require_token]
            self.process = subprocess.Popen(
                args,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._wait_ready():
                return
            self.stop()
        pytest.fail("gcp-storage-emulator did not start on 127.0.0.1")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=1):
                    return True
            except urllib.error.HTTPError:
                return True  # 401 without a token: it serves.
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def client(self):  # -> google.cloud.storage.Client
        """The official client, pointed at this emulator (with the required
        token, if any)."""
        from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415
        from google.cloud import storage  # noqa: PLC0415
        from google.oauth2.credentials import Credentials  # noqa: PLC0415

        # The client reads the emulator's address from the environment only
        # while it is being constructed.
        old = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = self.endpoint
        try:
            credentials = (
                Credentials(self.require_token) if self.require_token else AnonymousCredentials()
            )
            return storage.Client(project="test", credentials=credentials)
        finally:
            if old is None:
                del os.environ["STORAGE_EMULATOR_HOST"]
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = old


def _serve(port: int, require_token: str | None) -> None:
    from http import HTTPStatus  # noqa: PLC0415

    from gcp_storage_emulator.exceptions import NotFound  # noqa: PLC0415
    from gcp_storage_emulator.handlers import objects  # noqa: PLC0415

    download = objects.download

    def download_with_preconditions(request, response, storage, *args, **kwargs):
        try:
            obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
        except NotFound:
            obj = None
        wanted = request.query.get("ifGenerationMatch")
        if obj is not None and wanted and str(obj.get("generation")) != wanted[0]:
            response.status = HTTPStatus.PRECONDITION_FAILED
            response.json(
                {
                    "error": {
                        "code": 412,
                        "message": "At least one of the pre-conditions you specified did not hold.",
                        "errors": [{"reason": "conditionNotMet"}],
                    }
                }
            )
            return None
        if obj is not None:
            # As GCS answers downloads: the generation in its own header and
            # an ETag that is an opaque string, not the generation.
            generation = str(obj.get("generation"))
            response["x-goog-generation"] = generation
            etag = base64.b64encode(hashlib.sha256(generation.encode()).digest()[:9])
            response["ETag"] = '"' + etag.decode() + '"'
        return download(request, response, storage, *args, **kwargs)

    # Patched before the server module builds its route table from
    # objects.download; objects.get (alt=media) looks it up at call time.
    objects.download = download_with_preconditions
    from gcp_storage_emulator import server  # noqa: PLC0415
    from gcp_storage_emulator.__main__ import main  # noqa: PLC0415

    if require_token:
        handle = server.Router.handle

        def handle_with_token(self, method):
            got = self._request_handler.headers.get("Authorization")
            if got != f"Bearer {require_token}":
                body = json.dumps(
                    {
                        "error": {
                            "code": 401,
                            "message": "Invalid Credentials",
                            "errors": [{"reason": "authError"}],
                        }
                    }
                ).encode()
                handler = self._request_handler
                handler.send_response(401)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)
                return
            handle(self, method)

        server.Router.handle = handle_with_token

    main(["start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"])


if __name__ == "__main__":
    token = (
        sys.argv[sys.argv.index("--require-token") + 1] if "--require-token" in sys.argv else None
    )
    _serve(int(sys.argv[sys.argv.index("--port") + 1]), token)
