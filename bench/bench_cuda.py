"""Host-to-GPU loading: weightstream's CUDA plugin against the alternatives.

Measures, each run in a fresh process (interleaved round-robin, page cache
warm unless --cold), on one checkpoint:

  ws           weightstream.load_file(f, "torch", device="cuda:0")
  safetensors  safetensors.torch.load_file(f, device="cuda:0")
  torch-load   torch.load of the same tensors saved with torch.save
               (mmap=True, map_location="cuda:0")
  source       weightstream.load_file(f) into host memory: what the source
               delivers (page cache or disk)
  pinned-h2d   torch: 1 GiB pinned buffer -> GPU, cudaMemcpyAsync on 4
               streams: the machine's pinned-memory copy bandwidth

and writes bench/results/<date>-cuda-<gpu>.md and .json: median GB/s per
loader, ws against min(source, pinned-h2d) (target >= 80%) and against
safetensors (target: faster), plus each child's peak RSS.

    python bench/make_checkpoint.py --size-gib 4
    python bench/bench_cuda.py --file bench/data/llm-4gib.safetensors --runs 5

Needs a GPU, a CUDA build of torch, and weightstream-cuda13 installed (or
WEIGHTSTREAM_CUDA_LIBRARY pointing at the plugin).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
MARK = "BENCH_RESULT "
LOADERS = ("ws", "safetensors", "torch-load", "source", "pinned-h2d")

# ------------------------------------------------------------------ children
# Each prints MARK + {"seconds", "bytes"}; imports and CUDA context creation
# happen before the clock starts.

CHILD = r"""
import json, os, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
import torch
torch.zeros(1, device="cuda:0")  # CUDA context up front
torch.cuda.synchronize()

def done(seconds, nbytes):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("BENCH_RESULT " + json.dumps({"seconds": seconds, "bytes": nbytes, "peak_rss": peak}))

if kind == "ws":
    import weightstream as ws
    from weightstream import _device
    _device.plugin()  # plugin loaded before the clock, like torch's context
    t0 = time.perf_counter()
    out = ws.load_file(path, "torch", device="cuda:0")
    torch.cuda.synchronize()
    done(time.perf_counter() - t0, sum(t.numel() * t.element_size() for t in out.values()))
elif kind == "safetensors":
    import safetensors.torch
    t0 = time.perf_counter()
    out = safetensors.torch.load_file(path, device="cuda:0")
    torch.cuda.synchronize()
    done(time.perf_counter() - t0, sum(t.numel() * t.element_size() for t in out.values()))
elif kind == "torch-load":
    pt = path + ".pt"
    t0 = time.perf_counter()
    out = torch.load(pt, map_location="cuda:0", mmap=True, weights_only=True)
    torch.cuda.synchronize()
    done(time.perf_counter() - t0, sum(t.numel() * t.element_size() for t in out.values()))
elif kind == "source":
    import weightstream as ws
    t0 = time.perf_counter()
    out = ws.load_file(path)
    done(time.perf_counter() - t0, sum(a.nbytes for a in out.values()))
elif kind == "pinned-h2d":
    n = 1 << 30
    host = torch.empty(n, dtype=torch.uint8, pin_memory=True)
    host.fill_(1)
    dev = torch.empty(n, dtype=torch.uint8, device="cuda:0")
    streams = [torch.cuda.Stream() for _ in range(4)]
    part = n // len(streams)
    best = None
    for _ in range(5):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i, s in enumerate(streams):
            with torch.cuda.stream(s):
                dev[i * part:(i + 1) * part].copy_(host[i * part:(i + 1) * part], non_blocking=True)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    done(best, n)
"""


def evict(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm(path: str) -> None:
    with open(path, "rb") as f:
        while f.read(64 << 20):
            pass


def run_child(kind: str, path: str, cold: bool) -> dict:
    for p in (path, path + ".pt"):
        if os.path.exists(p):
            (evict if cold else warm)(p)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, path], capture_output=True, text=True, timeout=900
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-3000:]}")
    line = [x for x in out.stdout.splitlines() if x.startswith(MARK)][-1]
    return json.loads(line[len(MARK) :])


def ensure_pt(path: str) -> None:
    pt = path + ".pt"
    if not os.path.exists(pt):
        import safetensors.torch
        import torch

        torch.save(safetensors.torch.load_file(path), pt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loaders", default=",".join(LOADERS))
    ap.add_argument("--cold", action="store_true", help="evict the file before each run")
    ap.add_argument("--out", help="results file stem (default bench/results/<date>-cuda-<gpu>)")
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        sys.exit("bench_cuda: no CUDA device (or a CPU build of torch): nothing to measure")
    loaders = args.loaders.split(",")
    if "torch-load" in loaders:
        ensure_pt(args.file)
    gpu = torch.cuda.get_device_name(0)
    runs: dict[str, list[dict]] = {k: [] for k in loaders}
    for r in range(args.runs):
        for kind in loaders:
            res = run_child(kind, args.file, args.cold)
            runs[kind].append(res)
            gbs = res["bytes"] / res["seconds"] / 1e9
            print(f"run {r + 1}/{args.runs} {kind:12s} {gbs:7.2f} GB/s")

    def median_gbs(kind: str) -> float:
        return statistics.median(x["bytes"] / x["seconds"] / 1e9 for x in runs[kind])

    med = {k: median_gbs(k) for k in loaders}
    stem = args.out or str(
        RESULTS / f"{dt.date.today()}-cuda-{gpu.replace(' ', '_').replace('/', '_')}"
    )
    size = os.path.getsize(args.file)
    info = {
        "file": args.file,
        "bytes": size,
        "gpu": gpu,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "mode": "cold" if args.cold else "warm",
        "runs": runs,
        "median_gbs": med,
        "self_peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    lines = [
        f"# H2D loading on {gpu} ({info['mode']} page cache, {args.runs} runs, median)",
        "",
        f"File: {args.file} ({size / (1 << 30):.2f} GiB); torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}.",
        "",
        "| loader | GB/s (median) | peak RSS MiB (median) |",
        "|---|---|---|",
    ]
    for k in loaders:
        rss = statistics.median(x["peak_rss"] for x in runs[k]) / (1 << 20)
        lines.append(f"| {k} | {med[k]:.2f} | {rss:.0f} |")
    if "ws" in med and "source" in med and "pinned-h2d" in med:
        bound = min(med["source"], med["pinned-h2d"])
        lines += ["", f"ws / min(source, pinned-h2d) = {med['ws'] / bound:.0%} (target >= 80%)"]
    if "ws" in med and "safetensors" in med:
        lines.append(f"ws / safetensors = {med['ws'] / med['safetensors']:.2f}x (target > 1)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    Path(stem + ".json").write_text(json.dumps(info, indent=1))
    Path(stem + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {stem}.md and .json")


if __name__ == "__main__":
    main()
