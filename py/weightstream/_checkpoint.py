"""Which files make up a checkpoint: one file, a directory, or an index."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .errors import FormatError

INDEX_SUFFIX = ".safetensors.index.json"
DEFAULT_INDEX = "model" + INDEX_SUFFIX


@dataclass
class Checkpoint:
    files: list[str]
    # From an index: tensor name -> the shard file that must hold it.
    weight_map: dict[str, str] = field(default_factory=dict)
    index_path: str | None = None


def resolve(path: str | os.PathLike[str]) -> Checkpoint:
    """Expand `path` into the safetensors files to read.

    A file is itself; an ``*.index.json`` lists shards in its ``weight_map``; a
    directory uses its index if it has one, else every ``*.safetensors`` in it.
    """
    path = os.fspath(path)
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
        if where != shard:
            detail = "is in no shard" if where is None else f"is in {where}"
            raise FormatError(
                f"{checkpoint.index_path}: tensor {name!r} is mapped to {shard} but {detail}"
            )
