"""What every loopback server the tests start needs: a free port, and a
stop that cannot hang (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen | None, timeout: float = 5) -> None:
    """Terminates `process` (if still running), kills it after `timeout`
    seconds, and closes its captured stderr."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr is not None:
        process.stderr.close()
