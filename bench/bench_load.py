"""Compare safetensors loaders on one file, each run in a fresh process.

Every loader materialises all tensors in process memory. Each run is its own
subprocess so peak RSS (the child's ru_maxrss) belongs to that loader alone
and no loader inherits another's page tables or allocator state. Loaders are
interleaved round-robin because this VM is noisy (see README.md).

    python bench/bench_load.py --file bench/data/llm-2gib.safetensors --runs 5
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import resource
import shlex
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_PY = BENCH_DIR.parent / "py"
MIB = 1 << 20
RESULT_MARK = "BENCH_RESULT "
CHILD_TIMEOUT_S = 600
# Cold runs must start with (almost) nothing of the file in the page cache,
# warm runs with (almost) all of it; outside these bounds the run is flagged.
COLD_MAX_RESIDENT = 0.01
WARM_MIN_RESIDENT = 0.99
DEFAULT_LOADERS = "ws,safetensors,runai,copy,dd"
OPTIONAL_LOADERS = ("safetensors-pread", "runai-buffered")


@dataclass(frozen=True)
class Loader:
    name: str  # label in the results
    kind: str  # which child function runs it
    opts: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    modes: tuple[str, ...] = ("warm", "cold")


# ---------------------------------------------------------------- child side
# Each function returns (tensors or None, seconds, bytes, count). Imports
# happen before the clock starts: interpreter and library start-up are not
# what is being compared.


def child_ws(path: str, opts: dict[str, Any]) -> tuple[Any, float, int, int]:
    import weightstream as ws

    start = time.perf_counter()
    tensors = ws.load_file(path, **opts)
    secs = time.perf_counter() - start
    return tensors, secs, sum(a.nbytes for a in tensors.values()), len(tensors)


def child_safetensors(path: str, opts: dict[str, Any]) -> tuple[Any, float, int, int]:
    import safetensors.numpy

    start = time.perf_counter()
    tensors = safetensors.numpy.load_file(path, **opts)
    secs = time.perf_counter() - start
    return tensors, secs, sum(a.nbytes for a in tensors.values()), len(tensors)


def child_runai(path: str, opts: dict[str, Any]) -> tuple[Any, float, int, int]:
    from runai_model_streamer import SafetensorsStreamer

    start = time.perf_counter()
    with SafetensorsStreamer() as streamer:
        streamer.stream_file(path)
        # owned=True (the default): each tensor stays valid after iteration.
        tensors = dict(streamer.get_tensors())
    secs = time.perf_counter() - start
    nbytes = sum(t.numel() * t.element_size() for t in tensors.values())
    return tensors, secs, nbytes, len(tensors)


def child_copy(path: str, opts: dict[str, Any]) -> tuple[Any, float, int, int]:
    """np.copyto into a fresh array: what first-touch of new memory costs."""
    import numpy as np

    n = os.path.getsize(path)
    src = np.empty(n, np.uint8)
    src.fill(1)  # fault the source in first: only the destination's faults count
    start = time.perf_counter()
    dst = np.empty(n, np.uint8)
    np.copyto(dst, src)
    secs = time.perf_counter() - start
    return dst, secs, n, 0


def child_dd(path: str, opts: dict[str, Any]) -> tuple[Any, float, int, int]:
    """dd's own timing (no process start-up); its RSS comes from RUSAGE_CHILDREN."""
    cmd = ["dd", f"if={path}", "of=/dev/null", "bs=16M"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"dd failed: {proc.stderr.strip()}")
    m = re.search(r"(\d+) bytes .*copied, ([\d.e+-]+) s", proc.stderr)
    if not m:
        return None, wall, os.path.getsize(path), 0
    return None, float(m.group(2)), int(m.group(1)), 0


CHILD_KINDS = {
    "ws": child_ws,
    "safetensors": child_safetensors,
    "runai": child_runai,
    "copy": child_copy,
    "dd": child_dd,
}


def rss_now_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(kind: str) -> float:
    # ru_maxrss is in KiB on Linux. dd is a grandchild, so its own figure.
    who = resource.RUSAGE_CHILDREN if kind == "dd" else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def check_against_reference(path: str, tensors: dict[str, Any]) -> str:
    """Compare 3 tensors byte for byte with safetensors, so a broken fast loader cannot win."""
    import numpy as np
    from make_checkpoint import read_header
    from safetensors import safe_open

    header, _ = read_header(Path(path))
    header.pop("__metadata__", None)
    # First, middle and last in file order: the edges of the data section
    # are where offset bugs show.
    names = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    picked = [names[0], names[len(names) // 2], names[-1]]
    with safe_open(path, framework="np") as ref:
        for name in picked:
            want, got = ref.get_tensor(name), tensors[name]
            if want.dtype != got.dtype or want.shape != got.shape:
                return f"FAIL {name}: {got.dtype}{got.shape} != {want.dtype}{want.shape}"
            if not np.array_equal(want.reshape(-1).view(np.uint8), got.reshape(-1).view(np.uint8)):
                return f"FAIL {name}: bytes differ"
    return "ok: " + ", ".join(picked)


# Imported before RSS and clock are read, so neither includes library start-up.
# ml_dtypes registers numpy's "bfloat16", which safetensors.numpy needs for BF16.
CHILD_IMPORTS = {
    "ws": ["numpy", "ml_dtypes", "weightstream"],
    "safetensors": ["numpy", "ml_dtypes", "safetensors.numpy"],
    "runai": ["torch", "runai_model_streamer"],
    "copy": ["numpy"],
    "dd": [],
}


def child_main(kind: str, path: str, opts: dict[str, Any]) -> None:
    import importlib
    import warnings

    warnings.simplefilter("ignore")  # e.g. RawBytesWarning; the figures are what matters
    for module in CHILD_IMPORTS[kind]:
        importlib.import_module(module)
    rss_before = rss_now_mib()
    tensors, secs, nbytes, count = CHILD_KINDS[kind](path, opts)
    # Peak RSS is read before the check, whose reference reads would add to it.
    out = {"seconds": secs, "bytes": nbytes, "tensors": count, "rss_before_mib": rss_before}
    out["peak_rss_mib"] = peak_rss_mib(kind)
    if kind == "ws":
        out["check"] = check_against_reference(path, tensors)
        import weightstream

        out["ws_version"], out["ws_file"] = weightstream.__version__, weightstream.__file__
    print(RESULT_MARK + json.dumps(out), flush=True)


# --------------------------------------------------------------- page cache


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    return libc


def resident_fraction(path: str) -> float | None:
    """Share of the file's pages in the page cache (mincore), None if unknown."""
    try:
        return _mincore_fraction(path)
    except OSError:
        return _fincore_fraction(path)


def _mincore_fraction(path: str) -> float:
    import mmap

    size = os.path.getsize(path)
    if size == 0:
        return 1.0
    libc, page = _libc(), mmap.PAGESIZE
    pages = (size + page - 1) // page
    fd = os.open(path, os.O_RDONLY)
    try:
        # A bare mapping faults nothing in; mincore then reports the page cache.
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        try:
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(addr, size, vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore failed")
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)
    return sum(b & 1 for b in bytes(vec)) / pages


def _fincore_fraction(path: str) -> float | None:
    try:
        out = subprocess.run(
            ["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE", path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return int(out[0]) / max(1, int(out[1]))
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return None


def evict(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_through(path: str) -> None:
    buf = bytearray(16 * MIB)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


def prepare(mode: str, path: str) -> float | None:
    """Put the file in the state `mode` needs; returns the resident share."""
    if mode == "cold":
        evict(path)
    else:
        frac = resident_fraction(path)
        if frac is None or frac < WARM_MIN_RESIDENT:
            read_through(path)
    return resident_fraction(path)


# ------------------------------------------------------------- parent side


def build_loaders(names: list[str], sweep: bool) -> tuple[list[Loader], dict[str, str]]:
    """Loaders to run, and {name: why not} for those that cannot run."""
    loaders: list[Loader] = []
    skipped: dict[str, str] = {}
    has_runai = importlib.util.find_spec("runai_model_streamer") is not None
    for name in names:
        if name.startswith("runai") and not has_runai:
            skipped[name] = "not installed"
        elif name == "ws":
            loaders.append(Loader("ws", "ws"))
            loaders += ws_sweep() if sweep else []
        elif name == "safetensors":
            loaders.append(Loader("safetensors", "safetensors"))
        elif name == "safetensors-pread":
            loaders.append(Loader(name, "safetensors", {"backend": "pread"}))
        elif name == "runai":
            loaders.append(Loader("runai", "runai"))
        elif name == "runai-buffered":
            # runai's default strategy is O_DIRECT, which never sees the page cache.
            loaders.append(
                Loader(name, "runai", env={"RUNAI_STREAMER_FS_STRATEGY": "sync_buffered"})
            )
        elif name == "copy":
            # Needs no file, so one mode is enough; compared with ws warm.
            loaders.append(Loader("copy", "copy", modes=("warm",)))
        elif name == "dd":
            loaders.append(Loader("dd", "dd"))
        else:
            raise SystemExit(f"unknown loader {name!r}")
    return loaders, skipped


def ws_sweep() -> list[Loader]:
    variants = [Loader(f"ws c={c}", "ws", {"concurrency": c}) for c in (1, 2, 4, 8, 16)]
    variants += [Loader(f"ws chunk={m}MiB", "ws", {"chunk_size": m * MIB}) for m in (4, 16, 64)]
    return variants


def child_env(loader: Loader) -> dict[str, str]:
    env = {**os.environ, **loader.env}
    # An importable weightstream (an installed wheel, or PYTHONPATH) is the one
    # measured; otherwise the in-tree build. The report records which it was.
    if importlib.util.find_spec("weightstream") is None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_PY), env.get("PYTHONPATH")]))
    return env


def run_child(loader: Loader, path: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", loader.kind, "--file", path]
    cmd += ["--child-opts", json.dumps(loader.opts)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=child_env(loader), timeout=CHILD_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {proc.returncode}: {tail}"}


def validate(res: dict[str, Any], loader: Loader, info: dict[str, Any]) -> None:
    """Turn a wrong tensor count/size or failed byte check into an error."""
    if "error" in res or loader.kind in ("copy", "dd"):
        return
    if res["tensors"] != info["tensors"] or res["bytes"] != info["data_bytes"]:
        got = f"{res['tensors']} tensors / {res['bytes']} B"
        res["error"] = f"loaded {got}, file has {info['tensors']} / {info['data_bytes']} B"
    elif not res.get("check", "ok").startswith("ok"):
        res["error"] = res["check"]


def run_rounds(
    loaders: list[Loader], modes: list[str], runs: int, path: str, info: dict[str, Any]
) -> list[dict[str, Any]]:
    """Round-robin: every loader once per round and mode, start rotated per round."""
    records = []
    for rnd in range(runs):
        for mode in modes:
            todo = [ld for ld in loaders if mode in ld.modes]
            shift = rnd % len(todo) if todo else 0
            for loader in todo[shift:] + todo[:shift]:
                records.append(run_one(loader, mode, rnd, path, info))
    return records


def run_one(loader: Loader, mode: str, rnd: int, path: str, info: dict[str, Any]) -> dict[str, Any]:
    resident = prepare(mode, path) if loader.kind != "copy" else None
    res = run_child(loader, path)
    validate(res, loader, info)
    rec = {"round": rnd + 1, "mode": mode, "loader": loader.name, "resident": resident}
    # Other work on this shared VM is the main noise source; keep it on record.
    rec["loadavg_1m"] = os.getloadavg()[0]
    rec.update(res)
    if "error" not in res:
        # One size for every loader (the whole file), so GB/s compare directly.
        rec["gbps"] = info["file_bytes"] / 1e9 / res["seconds"]
    print(progress_line(rec), file=sys.stderr, flush=True)
    return rec


def progress_line(rec: dict[str, Any]) -> str:
    head = f"[round {rec['round']} {rec['mode']:4}] {rec['loader']:<16}"
    if "error" in rec:
        return f"{head} ERROR {rec['error']}"
    line = f"{head} {rec['seconds']:7.3f} s {rec['gbps']:6.2f} GB/s"
    line += f"  peak RSS {rec['peak_rss_mib']:7.0f} MiB"
    return line if rec["resident"] is None else f"{line}  resident {rec['resident']:.1%}"


# ------------------------------------------------------------------ summary


def summarize(
    records: list[dict[str, Any]], loaders: list[Loader], modes: list[str]
) -> list[dict[str, Any]]:
    rows = []
    for mode in modes:
        for loader in loaders:
            recs = [r for r in records if r["mode"] == mode and r["loader"] == loader.name]
            if recs:
                rows.append(summary_row(mode, loader.name, recs))
    return rows


def summary_row(mode: str, name: str, recs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in recs if "error" not in r]
    row: dict[str, Any] = {
        "mode": mode,
        "loader": name,
        "runs": len(ok),
        "errors": len(recs) - len(ok),
    }
    if len(ok) < len(recs):
        row["first_error"] = next(r["error"] for r in recs if "error" in r)
    if ok:
        speeds = [r["gbps"] for r in ok]
        row.update(
            gbps_best=max(speeds),
            gbps_median=statistics.median(speeds),
            gbps_all=speeds,
            seconds_median=statistics.median(r["seconds"] for r in ok),
            peak_rss_mib=max(r["peak_rss_mib"] for r in ok),
            rss_before_mib=statistics.median(r["rss_before_mib"] for r in ok),
        )
    return row


def find(rows: list[dict[str, Any]], mode: str, name: str) -> dict[str, Any] | None:
    row = next((r for r in rows if r["mode"] == mode and r["loader"] == name), None)
    return row if row and row["runs"] else None


def ratio(
    rows: list[dict[str, Any]],
    a: tuple[str, str],
    b: tuple[str, str],
    label: str,
    target: float | None,
) -> dict[str, Any] | None:
    ra, rb = find(rows, *a), find(rows, *b)
    if not ra or not rb:
        return None
    med = ra["gbps_median"] / rb["gbps_median"]
    out = {
        "label": label,
        "median": med,
        "best": ra["gbps_best"] / rb["gbps_best"],
        "target": target,
    }
    out["verdict"] = None if target is None else ("PASS" if med >= target else "FAIL")
    return out


def ratios(rows: list[dict[str, Any]], info: dict[str, Any]) -> list[dict[str, Any]]:
    """The comparisons the project is judged on (verdicts use the medians)."""
    ws_w, ws_c = ("warm", "ws"), ("cold", "ws")
    wanted = [
        (ws_w, ("warm", "safetensors"), "ws warm / safetensors warm", 1.0),
        (ws_w, ("warm", "runai"), "ws warm / runai warm (defaults, O_DIRECT)", 1.0),
        (ws_w, ("warm", "runai-buffered"), "ws warm / runai-buffered warm", 1.0),
        (ws_c, ("cold", "safetensors"), "ws cold / safetensors cold", None),
        (ws_c, ("cold", "runai"), "ws cold / runai cold", None),
        (ws_w, ("warm", "copy"), "ws warm / fresh-memory copy", 0.8),
        (ws_c, ("cold", "dd"), "ws cold / dd cold", 0.9),
    ]
    out = [r for a, b, label, t in wanted if (r := ratio(rows, a, b, label, t))]
    limit = info["file_bytes"] / MIB + 64
    for mode in ("warm", "cold"):
        if row := find(rows, mode, "ws"):
            peak = row["peak_rss_mib"]
            out.append(
                {
                    "label": f"ws peak RSS ({mode}) vs file + 64 MiB = {limit:.0f} MiB",
                    "peak_rss_mib": peak,
                    "limit_mib": limit,
                    "verdict": "PASS" if peak <= limit else "FAIL",
                }
            )
    return out


# ------------------------------------------------------------ environment


def file_info(path: str) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH_DIR))
    from make_checkpoint import read_header

    header, n = read_header(Path(path))
    header.pop("__metadata__", None)
    data = max((v["data_offsets"][1] for v in header.values()), default=0)
    return {
        "path": str(Path(path).resolve()),
        "file_bytes": os.path.getsize(path),
        "data_bytes": data,
        "header_bytes": n,
        "tensors": len(header),
        "dtypes": sorted({v["dtype"] for v in header.values()}),
    }


def read_first(path: str, prefix: str = "") -> str:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip() if prefix else line.strip()
    except OSError:
        pass
    return "unknown"


def machine_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": read_first("/proc/cpuinfo", "model name"),
        "mem_total": read_first("/proc/meminfo", "MemTotal"),
        "kernel": platform.release(),
        "thp_enabled": read_first("/sys/kernel/mm/transparent_hugepage/enabled"),
        "thp_defrag": read_first("/sys/kernel/mm/transparent_hugepage/defrag"),
    }


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("numpy", "safetensors", "torch", "ml_dtypes", "runai-model-streamer"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    code = "import weightstream as w; print(w.__version__, w.__file__)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=child_env(Loader("", "ws")),
    )
    out["weightstream"] = proc.stdout.strip() or "not importable: " + proc.stderr.strip()[-200:]
    out["git"] = git_describe()
    return out


def _git(*args: str) -> str:
    cmd = ["git", "-C", str(BENCH_DIR), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()


def git_describe() -> str:
    """The commit measured: the core may change between two result files."""
    try:
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return _git("rev-parse", "--short", "HEAD") + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ------------------------------------------------------------------ report


def residency_note(records: list[dict[str, Any]]) -> list[str]:
    lines = []
    for mode in ("warm", "cold"):
        vals = [r["resident"] for r in records if r["mode"] == mode and r["resident"] is not None]
        if not vals:
            continue
        lo, hi = min(vals), max(vals)
        lines.append(
            f"- {mode}: share of the file in the page cache before each run: {lo:.1%}–{hi:.1%}"
        )
        if mode == "cold" and max(vals) > COLD_MAX_RESIDENT:
            lines.append(
                f"- **WARNING: eviction did not work** (up to {hi:.1%} resident before a cold run):"
                " the cold figures are not cold."
            )
        if mode == "warm" and min(vals) < WARM_MIN_RESIDENT:
            lines.append(f"- **WARNING: file not fully cached** before some warm runs ({lo:.1%}).")
    if any(r["mode"] == "cold" and r["resident"] is None for r in records):
        lines.append("- cold: residency could not be checked (no mincore, no fincore)")
    return lines


def table(rows: list[dict[str, Any]], skipped: dict[str, str]) -> list[str]:
    cols = ["mode", "loader", "GB/s median", "GB/s best", "s median", "peak RSS MiB"]
    cols += ["RSS before load MiB", "runs (GB/s each)"]
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for r in rows:
        if not r["runs"]:
            lines.append(
                f"| {r['mode']} | {r['loader']} | error: {r.get('first_error', '?')} | | | | | |"
            )
            continue
        each = " ".join(f"{g:.2f}" for g in r["gbps_all"])
        errs = f" ({r['errors']} failed: {r['first_error']})" if r["errors"] else ""
        cells = [r["mode"], r["loader"], f"{r['gbps_median']:.2f}", f"{r['gbps_best']:.2f}"]
        cells += [f"{r['seconds_median']:.3f}", f"{r['peak_rss_mib']:.0f}"]
        cells += [f"{r['rss_before_mib']:.0f}", each + errs]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"| – | {name} | {why} | | | | | |" for name, why in skipped.items()]
    return lines


def ratio_lines(rats: list[dict[str, Any]]) -> list[str]:
    lines = ["| comparison | median | best | target | verdict (median) |", "|---|---|---|---|---|"]
    for r in rats:
        if "peak_rss_mib" in r:
            peak, limit = f"{r['peak_rss_mib']:.0f} MiB", f"≤ {r['limit_mib']:.0f} MiB"
            lines.append(f"| {r['label']} | {peak} | | {limit} | {r['verdict']} |")
        else:
            target = "" if r["target"] is None else f"≥ {r['target']:.2f}"
            med, best = f"{r['median']:.2f}×", f"{r['best']:.2f}×"
            lines.append(f"| {r['label']} | {med} | {best} | {target} | {r['verdict'] or ''} |")
    return lines


def setup_lines(report: dict[str, Any]) -> list[str]:
    m, f = report["machine"], report["file"]
    machine = f"{m['hostname']}, {m['nproc']} CPUs ({m['cpu']}), MemTotal {m['mem_total']}"
    machine += f", kernel {m['kernel']}, THP enabled `{m['thp_enabled']}`"
    machine += f", defrag `{m['thp_defrag']}`"
    tensors = f"{f['tensors']} tensors ({', '.join(f['dtypes'])})"
    return [
        f"- machine: {machine}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"- file: {f['path']}: {f['file_bytes']:,} bytes, {tensors}",
        f"- rounds: {report['runs']}; loaders interleaved round-robin, each run a fresh process;"
        f" GB/s = file bytes / 1e9 / load seconds; wall time {report['wall_s']:.0f} s",
        *residency_note(report["records"]),
        load_line(report["records"]),
    ]


def load_line(records: list[dict[str, Any]]) -> str:
    loads = [r["loadavg_1m"] for r in records]
    line = f"- 1-minute load average before the runs: {min(loads):.1f}–{max(loads):.1f}"
    if max(loads) > 0.5:
        line += f" on {os.cpu_count()} CPUs: other work competed with the loaders"
    return line


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Loader benchmark, {report['started_utc']}",
        "",
        f"Command: `{report['command']}`",
        "",
        *setup_lines(report),
        "",
        "## Loaders",
        "",
        *table(report["summary"], report["skipped"]),
        "",
        "## Ratios (verdicts on medians)",
        "",
        *ratio_lines(report["ratios"]),
        "",
    ]
    checks = sorted({r["check"] for r in report["records"] if "check" in r})
    lines += [f"ws byte check against safetensors: {c}" for c in checks]
    return "\n".join(lines) + "\n"


def result_path(out_dir: Path, host: str) -> Path:
    stem = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d}-{host.split('.')[0]}"
    path, n = out_dir / f"{stem}.md", 2
    while path.exists():  # several runs a day: never overwrite an earlier result
        path, n = out_dir / f"{stem}-{n}.md", n + 1
    return path


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = result_path(out_dir, report["machine"]["hostname"])
    md.write_text(markdown(report))
    md.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    return md


# -------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--file", help="safetensors file (default bench/data/llm-<size>gib.safetensors)"
    )
    ap.add_argument(
        "--make-size-gib", type=float, default=2.0, help="size to create if --file is missing"
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--modes", default="warm,cold")
    ap.add_argument(
        "--loaders", default=DEFAULT_LOADERS, help=f"also: {', '.join(OPTIONAL_LOADERS)}"
    )
    ap.add_argument(
        "--sweep", action="store_true", help="also ws with concurrency 1..16 and chunk 4/16/64 MiB"
    )
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    ap.add_argument("--child", choices=sorted(CHILD_KINDS), help=argparse.SUPPRESS)
    ap.add_argument("--child-opts", default="{}", help=argparse.SUPPRESS)
    return ap.parse_args()


def ensure_file(args: argparse.Namespace) -> str:
    sys.path.insert(0, str(BENCH_DIR))
    from make_checkpoint import default_path, ensure_checkpoint

    path = Path(args.file) if args.file else default_path(args.make_size_gib)
    # An existing file is used as is: it may be a real model, never overwrite it.
    if not path.exists():
        ensure_checkpoint(path, args.make_size_gib)
    return str(path)


def main() -> None:
    args = parse_args()
    if args.child:
        child_main(args.child, args.file, json.loads(args.child_opts))
        return
    modes = [m for m in args.modes.split(",") if m]
    if set(modes) - {"warm", "cold"}:
        raise SystemExit("--modes takes warm and/or cold")
    path = ensure_file(args)
    loaders, skipped = build_loaders([n for n in args.loaders.split(",") if n], args.sweep)
    info = file_info(path)
    report: dict[str, Any] = {
        "command": shlex.join(sys.orig_argv),
        "started_utc": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
        "machine": machine_info(),
        "versions": versions(),
        "file": info,
        "runs": args.runs,
        "modes": modes,
        "skipped": skipped,
    }
    start = time.perf_counter()
    report["records"] = run_rounds(loaders, modes, args.runs, path, info)
    report["wall_s"] = time.perf_counter() - start
    report["summary"] = summarize(report["records"], loaders, modes)
    report["ratios"] = ratios(report["summary"], info)
    out = write_report(report, args.out)
    print(markdown(report))
    print(f"wrote {out} and {out.with_suffix('.json').name}", file=sys.stderr)


if __name__ == "__main__":
    main()
