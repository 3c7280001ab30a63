"""The catalog of named downloads: built in, extended by the user's files.

A catalog file is JSON (or TOML on Python 3.11+, chosen by the ``.toml``
extension) of this shape::

    {"format": 1,
     "models": {"NAME": {"url": "https://...", "sha256": "HEX" | null,
                         "size": BYTES | null, "filename": "...",
                         "description": "..."}}}

In TOML, leave a key out for null. ``sha256`` and ``size`` pin the download:
``fetch`` rejects bytes that do not match them. ``null`` means "not known";
such an entry downloads whatever the server sends, so the built-in entries
only carry a hash that has been checked against the file.

Later sources override earlier ones by name: the built-in catalog, then each
file of ``WEIGHTSTREAM_CATALOG`` (separated by ``os.pathsep``), then an
explicit file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

ENV = "WEIGHTSTREAM_CATALOG"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = {"url", "sha256", "size", "filename", "description"}


@dataclass(frozen=True)
class Entry:
    """One named download."""

    name: str
    url: str
    sha256: str | None
    size: int | None
    filename: str | None
    description: str
    source: str  # the catalog file it came from, for messages


def normalize_sha256(value: str, what: str = "sha256") -> str:
    text = value.strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    if not _SHA256.match(text):
        raise ValueError(f"{what} must be 64 hexadecimal digits, got {value!r}")
    return text


def parse(data: Any, source: str) -> dict[str, Entry]:
    """Entries of a decoded catalog document; ValueError names the bad field."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a catalog is an object with a 'models' table")
    version = data.get("format", 1)
    if version != 1:
        raise ValueError(f"{source}: unsupported catalog format {version!r} (this version reads 1)")
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ValueError(f"{source}: 'models' must be a table of name -> entry")
    entries: dict[str, Entry] = {}
    for name, spec in models.items():
        where = f"{source}: entry {name!r}"
        if not isinstance(name, str) or not _NAME.match(name) or "://" in name:
            raise ValueError(f"{where}: names are letters, digits and . _ + - (no '/')")
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: must be a table")
        unknown = set(spec) - _FIELDS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        url = spec.get("url")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"{where}: 'url' must be an http(s) URL")
        sha = spec.get("sha256")
        if sha is not None:
            if not isinstance(sha, str):
                raise ValueError(f"{where}: 'sha256' must be a string or null")
            sha = normalize_sha256(sha, f"{where}: 'sha256'")
        size = spec.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ValueError(f"{where}: 'size' must be a non-negative integer or null")
        filename = spec.get("filename")
        if filename is not None and (
            not isinstance(filename, str)
            or filename in ("", ".", "..")
            or "/" in filename
            or "\\" in filename
            or "\0" in filename
        ):
            raise ValueError(f"{where}: 'filename' must be a plain file name")
        description = spec.get("description", "")
        if not isinstance(description, str):
            raise ValueError(f"{where}: 'description' must be a string")
        entries[name] = Entry(name, url, sha, size, filename, description, source)
    return entries


def read_file(path: str | os.PathLike[str]) -> dict[str, Entry]:
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if path.lower().endswith(".toml"):
        data = _parse_toml(raw, path)
    else:
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from None
    return parse(data, path)


def _parse_toml(raw: bytes, path: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        try:
            import tomli as tomllib
        except ImportError:
            raise ValueError(
                f"{path}: TOML catalogs need Python 3.11+ or the 'tomli' package; "
                "use a .json catalog instead"
            ) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None


def builtin() -> dict[str, Entry]:
    text = resources.files(__package__).joinpath("catalog.json").read_text(encoding="utf-8")
    return parse(json.loads(text), "<built-in catalog>")


def load(extra: str | os.PathLike[str] | None = None) -> dict[str, Entry]:
    """The merged catalog: built-in, then ``$WEIGHTSTREAM_CATALOG``, then `extra`."""
    entries = builtin()
    for path in os.environ.get(ENV, "").split(os.pathsep):
        if path:
            entries.update(read_file(path))
    if extra is not None:
        entries.update(read_file(extra))
    return entries


def lookup(name: str, extra: str | os.PathLike[str] | None = None) -> Entry:
    entries = load(extra)
    try:
        return entries[name]
    except KeyError:
        raise ValueError(
            f"{name!r} is neither an http(s) URL nor a catalog entry "
            f"(known: {', '.join(sorted(entries)) or 'none'}; see 'weightstream fetch --list')"
        ) from None
