"""Load a ~1 GiB LLM-shaped checkpoint with weightstream and with safetensors.

Creates bench/data/llm-1gib.safetensors on first use (a few seconds), then
loads it once with each library, each in a fresh process with the file
already in the page cache, and prints what each took.

    python bench/demo.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import Loader, file_info, prepare, run_child, validate  # noqa: E402
from make_checkpoint import ensure_checkpoint  # noqa: E402

LOADERS = [
    ("weightstream", Loader("ws", "ws")),
    ("safetensors.numpy", Loader("safetensors", "safetensors")),
]


def load(loader: Loader, path: str, info: dict) -> dict:
    prepare("warm", path)  # both start from a fully cached file
    res = run_child(loader, path)
    validate(res, loader, info)
    if "error" in res:
        raise SystemExit(f"{loader.name} failed: {res['error']}")
    res["gbps"] = info["file_bytes"] / 1e9 / res["seconds"]
    return res


def show(label: str, res: dict) -> None:
    size = f"{res['tensors']:4d} tensors  {res['bytes'] / 1e9:5.2f} GB"
    speed = f"{res['seconds']:6.3f} s  {res['gbps']:5.2f} GB/s"
    print(f"{label:<18} {size}  {speed}  peak RSS {res['peak_rss_mib']:5.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-gib", type=float, default=1.0, help="checkpoint size to create")
    ap.add_argument("--file", type=Path, help="checkpoint (default bench/data/llm-<size>gib...)")
    args = ap.parse_args()
    path = args.file
    if path is None or not path.exists():  # an existing file is used as is, never rewritten
        path = ensure_checkpoint(path, args.size_gib)
    path = str(path)
    info = file_info(path)
    print(f"{path}: {info['file_bytes']:,} bytes, {info['tensors']} tensors (warm page cache)")
    results = {label: load(loader, path, info) for label, loader in LOADERS}
    for label, res in results.items():
        show(label, res)
    ws, st = results["weightstream"], results["safetensors.numpy"]
    speed = st["seconds"] / ws["seconds"]
    memory = ws["peak_rss_mib"] / st["peak_rss_mib"]
    how = f"{speed:.2f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower"
    print(
        f"verdict: weightstream loaded it {how} than safetensors.numpy.load_file, with"
        f" {memory:.2f}x its peak RSS (one run each: noisy; bench_load.py repeats)"
    )


if __name__ == "__main__":
    main()
