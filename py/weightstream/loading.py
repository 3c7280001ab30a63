"""``load_file`` for every supported format: the file's first bytes decide."""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from typing import Any

from . import _remote, gguf, safetensors

GGUF_MAGIC = b"GGUF"


def load_file(
    path: str | os.PathLike[str],
    framework: str = "numpy",
    *,
    device: str | None = "cpu",
    concurrency: int | None = None,
    chunk_size: int | None = None,
    sha256: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Load every tensor of a safetensors checkpoint or a GGUF file.

    A GGUF file (recognised by its magic, whatever its name; for a URL, by
    its ``.gguf`` suffix) is read by ``weightstream.gguf.load_file``;
    anything else -- a ``.safetensors`` file, a directory, an index, a URL of
    one or a URL prefix -- by ``weightstream.safetensors.load_file``. The
    arguments mean the same for both; see those functions.
    """
    reader = gguf.load_file if _is_gguf(path) else safetensors.load_file
    return reader(
        path,
        framework,
        device=device,
        concurrency=concurrency,
        chunk_size=chunk_size,
        sha256=sha256,
        options=options,
    )


def _is_gguf(path: str | os.PathLike[str]) -> bool:
    p = os.fspath(path)
    if _remote.is_url(p):
        # Sniffing would cost a request; remote names are deliberate.
        return _remote.split_query(p)[0].endswith(".gguf")
    if os.path.isdir(p):
        return False
    try:
        with builtins.open(p, "rb") as f:
            return f.read(len(GGUF_MAGIC)) == GGUF_MAGIC
    except OSError:
        # Let the reader report the problem, with the reader the name implies.
        return p.endswith(".gguf")
