"""The ``weightstream`` command: inspect, load, fetch and verify weight files.

    weightstream inspect model.safetensors [--json]
    weightstream load model.safetensors --framework torch
    weightstream fetch tiny-random-gpt2 --to models/
    weightstream verify model.safetensors --sha256 HEX

Exit status: 0 success, 1 failure (mismatch, load or download error), 2 bad
usage. Errors are one line on stderr (``weightstream: error: ...``); ``--debug``
adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import struct
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

from ._version import __version__

PROG = "weightstream"
_LARGEST = 10
# Metadata arrays (GGUF tokenizer vocabularies) are summarized beyond this.
_MAX_LIST = 16
_MAX_TEXT = 200


class _Failure(Exception):
    """An expected failure: its message is all the user needs."""


# --------------------------------------------------------------------------
# Argument types
# --------------------------------------------------------------------------


def _sha256_arg(text: str) -> str:
    from ._catalog import normalize_sha256

    try:
        return normalize_sha256(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _nonnegative_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _bytes_arg(text: str) -> int:
    """An integer with an optional binary suffix: 4096, 512K, 16M, 1G (also KiB, MiB, GiB)."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in ("K", "M", "G") else ""
    try:
        value = int(t[: len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a size in bytes like 16M, got {text!r}")
    return value


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _jsonable(value: Any, *, summarize: bool = True) -> Any:
    """Metadata values as JSON: long arrays summarized, bytes decoded, numpy unwrapped."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy arrays and scalars
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, str):
        return value.name  # enums
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex()
    if isinstance(value, (list, tuple)):
        if summarize and len(value) > _MAX_LIST:
            return {
                "array_length": len(value),
                "head": [_jsonable(v) for v in value[:8]],
            }
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _text(value: Any) -> str:
    value = _jsonable(value)
    if isinstance(value, dict) and "array_length" in value:
        head = ", ".join(json.dumps(v) for v in value["head"])
        return f"[{head}, ... ({value['array_length']} items)]"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + f"... ({len(text)} chars)"


# --------------------------------------------------------------------------
# inspect
# --------------------------------------------------------------------------


def _is_url(path: str) -> bool:
    from . import _remote

    return _remote.is_url(path)


def _detect_format(path: str) -> str:
    if _is_url(path):  # by name: sniffing would cost a request
        return "gguf" if path.split("?", 1)[0].lower().endswith(".gguf") else "safetensors"
    if os.path.isdir(path):
        return "safetensors"
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        head = b""
    if head[:4] == b"GGUF":
        return "gguf"
    if len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] > 0:
        return "safetensors"
    return "gguf" if path.lower().endswith(".gguf") else "safetensors"


def _summary(path: str, fmt: str, tensors: list[dict[str, Any]], metadata: Any) -> dict[str, Any]:
    dtypes: dict[str, dict[str, int]] = {}
    for t in tensors:
        d = dtypes.setdefault(t["dtype"], {"count": 0, "bytes": 0})
        d["count"] += 1
        d["bytes"] += t["nbytes"]
    largest = sorted(tensors, key=lambda t: (-t["nbytes"], t["name"]))[:_LARGEST]
    size = os.path.getsize(path) if os.path.isfile(path) else None
    return {
        "file": path,
        "format": fmt,
        "file_size": size,
        "tensor_count": len(tensors),
        "total_bytes": sum(t["nbytes"] for t in tensors),
        "dtypes": dict(sorted(dtypes.items(), key=lambda kv: (-kv[1]["bytes"], kv[0]))),
        "largest": largest,
        "metadata": _jsonable(metadata) if metadata is not None else None,
    }


def _inspect_safetensors(path: str) -> dict[str, Any]:
    from . import safetensors

    with safetensors.open(path) as f:
        infos = [f.info(name) for name in f.keys()]
        metadata = f.metadata()
    tensors = [
        {"name": i.name, "dtype": i.dtype, "shape": list(i.shape), "nbytes": i.nbytes}
        for i in infos
    ]
    return _summary(path, "safetensors", tensors, metadata)


def _gguf_module(path: str) -> Any:
    try:
        return importlib.import_module(f"{__package__}.gguf")
    except ImportError as e:
        raise _Failure(f"{path}: GGUF support is not available in this build ({e})") from None


def _inspect_gguf(path: str) -> dict[str, Any]:
    handle = _gguf_module(path).open(path)
    try:
        metadata = dict(handle.metadata)
        tensors = [
            {
                "name": t.name,
                "dtype": str(t.ggml_type),
                "shape": [int(d) for d in t.shape],
                "nbytes": int(t.nbytes),
            }
            for t in handle.tensors
        ]
    finally:
        close = getattr(handle, "close", None)
        if close is not None:
            close()
    return _summary(path, "gguf", tensors, metadata)


def _print_summary(s: dict[str, Any]) -> None:
    print(f"file:     {s['file']}")
    print(f"format:   {s['format']}")
    if s["file_size"] is not None:
        print(f"size:     {s['file_size']} bytes ({_human(s['file_size'])})")
    print(f"tensors:  {s['tensor_count']}, {s['total_bytes']} bytes ({_human(s['total_bytes'])})")
    print("dtypes:")
    for dtype, d in s["dtypes"].items():
        print(f"  {dtype:<10} {d['count']:>6} tensors  {_human(d['bytes']):>10}")
    if s["largest"]:
        print("largest tensors:")
        width = max(len(t["name"]) for t in s["largest"])
        for t in s["largest"]:
            shape = "[" + ", ".join(str(d) for d in t["shape"]) + "]"
            print(f"  {t['name']:<{width}}  {t['dtype']:<8} {shape:<20} {_human(t['nbytes']):>10}")
    metadata = s["metadata"]
    if metadata:
        print("metadata:")
        for key, value in metadata.items():
            print(f"  {key}: {_text(value)}")
    else:
        print("metadata: none")


def _cmd_inspect(args: argparse.Namespace) -> int:
    path = args.file
    if not _is_url(path) and not os.path.exists(path):
        raise _Failure(f"{path}: no such file")
    fmt = _detect_format(path)
    summary = _inspect_gguf(path) if fmt == "gguf" else _inspect_safetensors(path)
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_summary(summary)
    return 0


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------


def _nbytes(value: Any) -> int:
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    return int(value.nelement() * value.element_size())  # torch


def _cmd_load(args: argparse.Namespace) -> int:
    from . import _options, safetensors

    if not _is_url(args.path) and not os.path.exists(args.path):
        raise _Failure(f"{args.path}: no such file or directory")
    if args.framework == "torch":
        try:
            import torch  # noqa: F401 - imported before timing so the load is what is measured
        except ImportError:
            raise _Failure("--framework torch needs PyTorch installed") from None
    concurrency = args.concurrency or _options.DEFAULT_CONCURRENCY
    chunk = args.chunk_size or _options.DEFAULT_CHUNK_BYTES
    if _is_url(args.path):
        # Unless chosen: the remote source's preferred sizes (None in --json).
        concurrency, chunk = args.concurrency, args.chunk_size
    fmt = _detect_format(args.path)
    loader = _gguf_module(args.path).load_file if fmt == "gguf" else safetensors.load_file
    start = time.perf_counter()
    tensors = loader(args.path, args.framework, concurrency=concurrency, chunk_size=chunk)
    seconds = time.perf_counter() - start
    total = sum(_nbytes(t) for t in tensors.values())
    result = {
        "path": args.path,
        "format": fmt,
        "framework": args.framework,
        "tensors": len(tensors),
        "bytes": total,
        "seconds": seconds,
        "gb_per_s": total / seconds / 1e9 if seconds > 0 else None,
        "concurrency": concurrency,
        "chunk_size": chunk,
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        rate = f"{result['gb_per_s']:.3g} GB/s" if result["gb_per_s"] is not None else "n/a"
        print(
            f"loaded {len(tensors)} tensors, {total} bytes ({_human(total)}) in {seconds:.3f} s: "
            f"{rate} ({args.framework}, concurrency {concurrency}, chunk {_human(chunk)})"
        )
    return 0


# --------------------------------------------------------------------------
# fetch
# --------------------------------------------------------------------------


def _cmd_fetch(args: argparse.Namespace) -> int:
    from . import _catalog

    if args.list:
        if args.source is not None:
            raise _UsageError("--list takes no NAME or URL")
        _print_catalog(_catalog.load(args.catalog))
        return 0
    if args.source is None:
        raise _UsageError("fetch needs a NAME or URL (or --list)")
    from .fetcher import fetch

    path = fetch(
        args.source,
        args.to,
        sha256=args.sha256,
        resume=not args.no_resume,
        connections=args.connections,
        quiet=True if args.quiet else None,
        extract=args.extract,
        filename=args.output_name,
        ca_bundle=args.ca_bundle,
        catalog=args.catalog,
        retries=args.retries,
    )
    print(path)
    return 0


def _print_catalog(entries: dict[str, Any]) -> None:
    if not entries:
        print("(the catalog is empty)")
        return
    width = max(len(n) for n in entries)
    for name in sorted(entries):
        e = entries[name]
        size = _human(e.size) if e.size is not None else "size ?"
        sha = f"sha256 {e.sha256[:12]}..." if e.sha256 else "sha256 unknown"
        print(f"{name:<{width}}  {size:>10}  {sha:<22}  {e.description}")
        print(f"{'':<{width}}  {e.url}")


# --------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------


def _sha256_of(path: str) -> str:
    from .fetcher import sha256_file

    return sha256_file(path)


def _cmd_verify(args: argparse.Namespace) -> int:
    path = args.file
    if _is_url(path):
        from .integrity import sha256_file

        actual = sha256_file(path)
    elif not os.path.isfile(path):
        raise _Failure(f"{path}: no such file")
    else:
        actual = _sha256_of(path)
    if actual != args.sha256:
        raise _Failure(f"{path}: SHA-256 mismatch: expected {args.sha256}, got {actual}")
    print(f"{path}: OK (sha256 {actual})")
    return 0


# --------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a --debug before the subcommand is not reset by the subparser's default.
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Inspect, load, download and verify model weight files.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "inspect",
        parents=[common],
        help="show a file's tensors, dtypes and metadata",
        description="Show the format, tensor count, dtypes, largest tensors and metadata "
        "of a safetensors or GGUF file (read from the header only).",
    )
    p.add_argument("file", metavar="FILE", help="a .safetensors or .gguf file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_cmd_inspect)

    p = sub.add_parser(
        "load",
        parents=[common],
        help="load every tensor and report the speed",
        description="Load a safetensors file, directory or index, or a GGUF file, with "
        "load_file and report tensors, bytes, seconds and GB/s.",
    )
    p.add_argument("path", metavar="FILE|DIR")
    p.add_argument("--framework", choices=["numpy", "torch"], default="numpy")
    p.add_argument("--concurrency", type=_positive_arg, metavar="N", help="reads in flight")
    p.add_argument(
        "--chunk-size", type=_bytes_arg, metavar="BYTES", help="largest single read (e.g. 16M)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_cmd_load)

    p = sub.add_parser(
        "fetch",
        parents=[common],
        help="download a URL or catalog entry (resumable, verified)",
        description="Download a file over HTTP(S) into a directory: resumes NAME.part, "
        "verifies SHA-256, renames into place only when complete. Prints the path.",
    )
    p.add_argument("source", nargs="?", metavar="NAME|URL", help="catalog name or http(s) URL")
    p.add_argument("--to", default=".", metavar="DIR", help="destination directory (default .)")
    p.add_argument("--sha256", type=_sha256_arg, metavar="HEX", help="expected SHA-256")
    p.add_argument(
        "--connections", type=_positive_arg, metavar="N", help="parallel ranged connections"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--extract", action="store_true", help="extract a .tar.gz/.tar.zst into DIR")
    p.add_argument("--list", action="store_true", help="list the catalog and exit")
    p.add_argument("--catalog", metavar="FILE", help="extra catalog file (JSON or TOML)")
    p.add_argument("--ca-bundle", metavar="FILE", help="CA certificates to trust for HTTPS")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing NAME.part")
    p.add_argument(
        "--retries",
        type=_nonnegative_arg,
        default=5,
        metavar="N",
        help="failed attempts in a row to retry (default 5)",
    )
    p.add_argument("--output-name", metavar="NAME", help="save under this file name")
    p.set_defaults(run=_cmd_fetch)

    p = sub.add_parser(
        "verify",
        parents=[common],
        help="check a file's SHA-256",
        description="Compute a file's SHA-256; exit 0 if it matches, 1 if not.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--sha256", type=_sha256_arg, required=True, metavar="HEX")
    p.set_defaults(run=_cmd_verify)
    return parser


def _message(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, KeyError) and e.args and not isinstance(e, _Failure):
        text = str(e.args[0])
    if not text:
        return type(e).__name__
    if isinstance(e, (_Failure, OSError, ValueError, KeyError)):
        return text
    return f"{type(e).__name__}: {text}"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) and usage errors (2)
        return e.code if isinstance(e.code, int) else 2
    debug = getattr(args, "debug", False)
    try:
        return args.run(args)
    except _UsageError as e:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as e:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {_message(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
