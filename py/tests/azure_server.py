"""A real Azure Blob emulator on 127.0.0.1 for the az:// tests.

:class:`Azurite` runs ``azurite-blob`` (npm ``azurite``, installed under
.cache/node by tools/setup_cloud.sh, run with the machine's Node.js) as a
child process on a free loopback port, storing under a temporary directory,
and stops it by its PID.
The bin is started directly (not through npx, whose PID is not the
server's). Azurite enforces Shared Key and SAS authorization like Azure
(wrong key -> 403), serves the account path-style at
``http://127.0.0.1:PORT/devstoreaccount1``, and is started with
``--skipApiVersionCheck`` because the Python SDK sends a newer x-ms-version
than Azurite 3.35 knows.

Uploads go through the official client (azure-storage-blob).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import free_port, stop_process

ACCOUNT = "devstoreaccount1"
# Azurite's documented development key (not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_bin() -> str | None:
    """azurite-blob from WEIGHTSTREAM_AZURITE, the checkout's .cache/node, or
    PATH."""
    override = os.environ.get("WEIGHTSTREAM_AZURITE")
    if override:
        return override
    # This file's real path is in the checkout even when Bazel runs it from
    # a runfiles tree of symlinks.
    root = Path(os.path.realpath(__file__)).parents[2]
    local = root / ".cache" / "node" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


class Azurite:
    def __init__(self, location: Path) -> None:
        self.location = location
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={self.endpoint};"
        )

    @classmethod
    @contextlib.contextmanager
    def running(cls, location: Path) -> Iterator[Azurite]:
        server = cls(location)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def start(self) -> None:
        binary = azurite_bin()
        if binary is None:
            pytest.skip("azurite-blob is not installed (run tools/setup_cloud.sh)")
        self.location.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # A free port can be taken before Azurite binds it.
            self.port = free_port()
            self.process = subprocess.Popen(
                [
                    binary,
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    str(self.port),
                    # Its database and extents go to `location` (with
                    # --inMemoryPersistence Azurite refuses --location, and
                    # without either it writes into the working directory).
                    "--location",
                    str(self.location),
                    "--skipApiVersionCheck",
                    "--loose",
                    "--disableTelemetry",
                    "--silent",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=self.location,
            )
            if self._wait_ready():
                return
            self.stop()
        pytest.fail("Azurite did not start on 127.0.0.1")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1)
                return True
            except urllib.error.HTTPError:
                return True  # Any HTTP answer (400 for "/") means it serves.
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
        self.process = None

    def client(self):  # -> azure.storage.blob.BlobServiceClient
        from azure.storage.blob import BlobServiceClient  # noqa: PLC0415

        return BlobServiceClient.from_connection_string(self.connection_string)
