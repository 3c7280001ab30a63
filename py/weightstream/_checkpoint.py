"""Which files make up a checkpoint: one file, a directory, or an index."""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field

from . import _remote
from .errors import FormatError, RemoteFileNotFoundError

INDEX_SUFFIX = ".safetensors.index.json"
DEFAULT_INDEX = "model" + INDEX_SUFFIX


@dataclass
class Checkpoint:
    files: list[str]
    # From an index: tensor name -> the shard file that must hold it.
    weight_map: dict[str, str] = field(default_factory=dict)
    index_path: str | None = None


def resolve(path: str | os.PathLike[str], options: _remote.Options | None = None) -> Checkpoint:
    """Expand `path` into the safetensors files to read.

    A file is itself; an ``*.index.json`` lists shards in its ``weight_map``; a
    directory uses its index if it has one, else every ``*.safetensors`` in it.
    URLs alike (see resolve_url); `options` are the plugin's, for URLs.
    """
    path = os.fspath(path)
    if _remote.is_url(path):
        return resolve_url(path, options)
    if os.path.isdir(path):
        return _resolve_directory(path)
    if path.endswith(".index.json"):
        return _read_index(path)
    return Checkpoint(files=[path])


def _resolve_directory(directory: str) -> Checkpoint:
    names = sorted(os.listdir(directory))
    indexes = [n for n in names if n.endswith(INDEX_SUFFIX)]
    if DEFAULT_INDEX in indexes:
        return _read_index(os.path.join(directory, DEFAULT_INDEX))
    if len(indexes) == 1:
        return _read_index(os.path.join(directory, indexes[0]))
    if len(indexes) > 1:
        raise FormatError(
            f"{directory}: several index files ({', '.join(indexes)}); pass one of them"
        )
    files = [
        os.path.join(directory, n)
        for n in names
        if n.endswith(".safetensors") and os.path.isfile(os.path.join(directory, n))
    ]
    if not files:
        raise FileNotFoundError(f"{directory}: no *.safetensors files in this directory")
    return Checkpoint(files=files)


def _read_index(index_path: str) -> Checkpoint:
    try:
        with open(index_path, encoding="utf-8") as f:
            index = json.load(f)
    except json.JSONDecodeError as e:
        raise FormatError(f"{index_path}: invalid JSON at line {e.lineno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise FormatError(f"{index_path}: not UTF-8 text (byte offset {e.start})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise FormatError(f"{index_path}: no 'weight_map' object mapping tensors to shards")
    directory = os.path.dirname(index_path)
    shards: dict[str, str] = {}
    resolved: dict[str, str] = {}
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard:
            raise FormatError(f"{index_path}: shard for tensor {name!r} is not a file name")
        if shard not in shards:
            normal = os.path.normpath(shard)
            if os.path.isabs(shard) or normal == ".." or normal.startswith(".." + os.sep):
                raise FormatError(
                    f"{index_path}: shard {shard!r} lies outside the index's directory"
                )
            shards[shard] = os.path.join(directory, normal)
        resolved[name] = shards[shard]
    files = sorted(set(shards.values()))
    for f in files:
        if not os.path.exists(f):
            raise FileNotFoundError(f"{index_path}: shard {f} listed in the index does not exist")
    return Checkpoint(files=files, weight_map=resolved, index_path=index_path)


def check_index(checkpoint: Checkpoint, found: dict[str, str]) -> None:
    """Every tensor the index names must be in the shard it names.

    `found` maps tensor name -> the file it was read from.
    """
    for name, shard in checkpoint.weight_map.items():
        where = found.get(name)
        # Remote files are named by their redacted URL (no query string).
        if where is not None and _remote.is_url(where):
            where, shard = _remote.redact(where), _remote.redact(shard)
        if where != shard:
            detail = "is in no shard" if where is None else f"is in {where}"
            raise FormatError(
                f"{checkpoint.index_path}: tensor {name!r} is mapped to {shard} but {detail}"
            )


def resolve_url(url: str, options: _remote.Options | None = None) -> Checkpoint:
    """Expand a URL: one ``.safetensors``/``.gguf`` object, an index (fetched,
    its shards resolved next to it), or else a prefix ("directory"), listed
    through the plugin: its index if it has one, else every ``*.safetensors``
    directly under it."""
    base, _ = _remote.split_query(url)
    if base.endswith(".index.json"):
        return _read_url_index(url, options)
    if base.endswith((".safetensors", ".gguf")):
        return Checkpoint(files=[url])
    return _resolve_prefix(url, options)


def _with_query(base: str, query: str) -> str:
    return f"{base}?{query}" if query else base


def _resolve_prefix(url: str, options: _remote.Options | None) -> Checkpoint:
    base, query = _remote.split_query(url)
    if not base.endswith("/"):
        base += "/"
    prefix = _with_query(base, query)
    listing = _remote.list_prefix(prefix, options)
    # Direct children only, as for a local directory.
    names: dict[str, str] = {}
    for object_url, _ in listing:
        plain, _ = _remote.split_query(object_url)
        if plain.startswith(base):
            name = plain[len(base) :]
            if name and "/" not in name:
                names[name] = object_url
    indexes = sorted(n for n in names if n.endswith(INDEX_SUFFIX))
    if DEFAULT_INDEX in indexes:
        return _read_url_index(names[DEFAULT_INDEX], options)
    if len(indexes) == 1:
        return _read_url_index(names[indexes[0]], options)
    if len(indexes) > 1:
        raise FormatError(
            f"{_remote.redact(prefix)}: several index files ({', '.join(indexes)}); "
            "pass one of them"
        )
    files = [names[n] for n in sorted(names) if n.endswith(".safetensors")]
    if not files:
        shown = _remote.redact(prefix)
        raise RemoteFileNotFoundError(
            f"{shown}: no *.safetensors objects under this prefix", 404, shown
        )
    return Checkpoint(files=files)


def _read_url_index(index_url: str, options: _remote.Options | None) -> Checkpoint:
    shown = _remote.redact(index_url)
    raw = _remote.read_small(index_url, options)
    try:
        index = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as e:
        raise FormatError(f"{shown}: invalid JSON at line {e.lineno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise FormatError(f"{shown}: not UTF-8 text (byte offset {e.start})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise FormatError(f"{shown}: no 'weight_map' object mapping tensors to shards")
    base, query = _remote.split_query(index_url)
    directory = base.rsplit("/", 1)[0] + "/"
    shards: dict[str, str] = {}
    resolved: dict[str, str] = {}
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard:
            raise FormatError(f"{shown}: shard for tensor {name!r} is not a file name")
        if shard not in shards:
            normal = posixpath.normpath(shard)
            if (
                shard.startswith("/")
                or "\\" in shard
                or any(c in shard for c in "?#")
                or ":" in shard.split("/", 1)[0]
                or normal == ".."
                or normal.startswith("../")
            ):
                raise FormatError(f"{shown}: shard {shard!r} lies outside the index's prefix")
            # The index's query (e.g. a container SAS token) applies to its shards.
            shards[shard] = _with_query(directory + normal, query)
        resolved[name] = shards[shard]
    files = sorted(set(shards.values()))
    return Checkpoint(files=files, weight_map=resolved, index_path=shown)
