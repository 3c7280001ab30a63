"""Remote loading: weightstream's cloud plugin vs boto3's transfer manager
vs runai-model-streamer's S3 backend, over servers on loopback.

    python bench/bench_remote.py --runs 3

Cases, all in one run against the same servers:
- S3: moto_server (SigV4 auth on, py/tests/s3_server.py) serving a ~1 GiB
  checkpoint in 16 shards with an index. weightstream
  `load_file("s3://.../model.safetensors.index.json")`; boto3
  `download_fileobj` into a BytesIO per shard, one shard after another (bytes
  only, no parsing); runai `SafetensorsStreamer.stream_files([every shard])`.
- HTTP: nginx (Debian nginx-light) serving the same files. weightstream
  `load_file("http://.../model.safetensors.index.json")`; `curl -o
  /dev/null` per shard (one stream, the wire-speed reference).
- High latency: the same nginx behind bench/delay_proxy.py (each direction
  delayed by --delay-ms; this kernel has no netem). weightstream with its
  default 16 parallel ranges vs concurrency=1 vs curl.

Each loader materialises every tensor (or byte) in memory; loaders are
interleaved round-robin; medians are reported. Results go to
bench/results/<date>-<host>-remote.md (+ .json).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "py" / "tests"))

from http_servers import Nginx  # noqa: E402
from s3_server import MotoS3, free_port  # noqa: E402

MIB = 1 << 20
BUCKET = "bench"


def make_checkpoint(directory: Path, total_mib: int, shards: int) -> tuple[list[Path], Path]:
    import safetensors.numpy  # noqa: PLC0415

    rng = np.random.default_rng(0)
    per_shard = total_mib // shards
    tensor_mib = min(32, per_shard)
    paths = []
    weight_map: dict[str, str] = {}
    for s in range(shards):
        tensors = {
            f"layer.{s}.{i}.weight": np.frombuffer(rng.bytes(tensor_mib * MIB), np.float32).reshape(
                -1, 1024
            )
            for i in range(per_shard // tensor_mib)
        }
        p = directory / f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        safetensors.numpy.save_file(tensors, str(p))
        paths.append(p)
        weight_map.update({name: p.name for name in tensors})
    index = directory / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return paths, index


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    nbytes = fn()
    return time.perf_counter() - start, nbytes


def ws_loader(urls: list[str], options: dict | None = None, **kw) -> Callable[[], int]:
    import weightstream as ws  # noqa: PLC0415

    def run() -> int:
        total = 0
        for url in urls:
            tensors = ws.load_file(url, options=options, **kw)
            total += sum(t.nbytes for t in tensors.values())
        return total

    return run


def boto3_loader(s3: MotoS3, keys: list[str]) -> Callable[[], int]:
    client = s3.client()

    def run() -> int:
        total = 0
        for key in keys:
            buf = io.BytesIO()
            client.download_fileobj(BUCKET, key, buf)
            total += buf.getbuffer().nbytes
        return total

    return run


def runai_loader(urls: list[str]) -> Callable[[], int]:
    from runai_model_streamer import SafetensorsStreamer  # noqa: PLC0415

    def run() -> int:
        with SafetensorsStreamer() as streamer:
            streamer.stream_files(urls)
            tensors = dict(streamer.get_tensors())
        return sum(t.numel() * t.element_size() for t in tensors.values())

    return run


def curl_loader(urls: list[str]) -> Callable[[], int]:
    def run() -> int:
        total = 0
        for url in urls:
            out = subprocess.run(
                ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", url],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            total += int(out)
        return total

    return run


@contextlib.contextmanager
def delay_proxy(upstream_port: int, delay_ms: float, window: int):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BENCH_DIR / "delay_proxy.py"),
            str(port),
            str(upstream_port),
            str(delay_ms),
            str(window),
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def ttfb(url: str) -> float:
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-r", "0-0", "-w", "%{time_starttransfer}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in (
        "weightstream",
        "boto3",
        "moto",
        "runai-model-streamer",
        "runai-model-streamer-s3",
        "numpy",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[dist] = importlib.metadata.version(dist)
    out["nginx"] = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    out["curl"] = subprocess.run(
        ["curl", "--version"], capture_output=True, text=True
    ).stdout.split("\n")[0]
    return out


def machine() -> dict[str, str]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "kernel": platform.release(),
        "memory_gib": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30):.1f}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=1024)
    # moto copies a whole object for every ranged GET: with big shards the
    # S3 figures would measure that, not the clients.
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument(
        "--delay-ms", type=float, default=20.0, help="one-way delay of the latency case"
    )
    ap.add_argument(
        "--window-kib",
        type=int,
        default=1024,
        help="bytes in flight per connection and direction in the latency case",
    )
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="ws-bench-remote-") as tmp:
        tmp_path = Path(tmp)
        www = tmp_path / "nginx"
        data = tmp_path / "data"
        data.mkdir()
        print(f"writing a {args.size_mib} MiB checkpoint ...", flush=True)
        paths, index = make_checkpoint(data, args.size_mib, args.shards)
        total = sum(p.stat().st_size for p in paths)

        with MotoS3(str(tmp_path)) as s3, Nginx.running(www, tls=False) as nginx:
            client = s3.client()
            client.create_bucket(Bucket=BUCKET)
            keys = [f"ckpt/{p.name}" for p in paths]
            for p, key in zip(paths, keys, strict=True):
                client.upload_file(str(p), BUCKET, key)
                os.link(p, nginx.www / p.name)
            client.upload_file(str(index), BUCKET, f"ckpt/{index.name}")
            os.link(index, nginx.www / index.name)
            c = s3.credentials
            s3_urls = [f"s3://{BUCKET}/{k}" for k in keys]
            s3_opts = {"endpoint_url": s3.endpoint, **c.options()}
            os.environ.update(
                {
                    "AWS_ACCESS_KEY_ID": c.access_key_id,
                    "AWS_SECRET_ACCESS_KEY": c.secret_access_key,
                    "AWS_ENDPOINT_URL": s3.endpoint,
                    "AWS_REGION": "us-east-1",
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
                }
            )
            http_urls = [f"http://127.0.0.1:{nginx.port}/{p.name}" for p in paths]
            s3_index = f"s3://{BUCKET}/ckpt/{index.name}"
            http_index = f"http://127.0.0.1:{nginx.port}/{index.name}"

            # Correctness first: weightstream byte-equal to local, both ways.
            import weightstream as ws  # noqa: PLC0415

            want = ws.load_file(str(index))
            for url, o in ((s3_index, s3_opts), (http_index, None)):
                got = ws.load_file(url, options=o)
                assert sorted(got) == sorted(want), url
                assert all(got[k].tobytes() == want[k].tobytes() for k in want), url
                del got
            del want

            cases: dict[str, dict[str, Callable[[], int]]] = {
                "S3 (moto_server)": {
                    "weightstream": ws_loader([s3_index], s3_opts),
                    "boto3 download_fileobj": boto3_loader(s3, keys),
                },
                "HTTP (nginx)": {
                    "weightstream": ws_loader([http_index]),
                    "curl (1 stream)": curl_loader(http_urls),
                },
            }
            try:
                import runai_model_streamer_s3  # noqa: F401, PLC0415

                cases["S3 (moto_server)"]["runai-model-streamer (S3)"] = runai_loader(s3_urls)
            except ImportError:
                print("runai-model-streamer-s3 is not installed: skipped", flush=True)

            results: dict[str, dict[str, list[float]]] = {}
            failures: dict[str, list[str]] = {}
            rtt = None
            with delay_proxy(nginx.port, args.delay_ms, args.window_kib * 1024) as dport:
                slow_urls = [f"http://127.0.0.1:{dport}/{p.name}" for p in paths]
                slow_index = [f"http://127.0.0.1:{dport}/{index.name}"]
                rtt = ttfb(slow_urls[0])
                label = f"HTTP, {args.delay_ms:g} ms each way, {args.window_kib} KiB window"
                cases[label] = {
                    "weightstream (16 ranges)": ws_loader(slow_index),
                    "weightstream (concurrency=1)": ws_loader(slow_index, concurrency=1),
                    "curl (1 stream)": curl_loader(slow_urls),
                }
                for r in range(args.runs):
                    for case, loaders in cases.items():
                        for name, fn in loaders.items():
                            runs = results.setdefault(case, {}).setdefault(name, [])
                            try:
                                secs, nbytes = timed(fn)
                            except Exception as e:  # noqa: BLE001 - reported, not hidden
                                failures.setdefault(f"{case}: {name}", []).append(str(e)[:200])
                                print(f"run {r + 1} {case:40s} {name:30s} FAILED: {e}", flush=True)
                                continue
                            runs.append(secs)
                            print(
                                f"run {r + 1} {case:40s} {name:30s} {secs:7.2f} s "
                                f"{nbytes / secs / MIB:8.1f} MiB/s",
                                flush=True,
                            )

    write_results(args, results, failures, total, rtt)


def write_results(args, results, failures, total: int, rtt: float | None) -> None:
    m = machine()
    v = versions()
    date = dt.date.today().isoformat()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{date}-{m['host']}-remote"
    lines = [
        f"# Remote loading, {date} on {m['host']}",
        "",
        f"Checkpoint: {total / MIB:.0f} MiB in {args.shards} safetensors shards (32 MiB float32 "
        f"tensors); {args.runs} runs per loader, interleaved; median (min-max). All servers on "
        "127.0.0.1 of the same machine as the client.",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, kernel {m['kernel']}.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
    ]
    for case, loaders in results.items():
        lines += [f"## {case}", "", "| loader | seconds | MiB/s |", "|---|---|---|"]
        for name, secs in loaders.items():
            failed = failures.get(f"{case}: {name}", [])
            if not secs:
                lines.append(f"| {name} | failed in every run: {failed[0]} | - |")
                continue
            if failed:
                name = f"{name} (failed {len(failed)} of {len(failed) + len(secs)} runs)"
            med = statistics.median(secs)
            spread = f"{min(secs):.2f}-{max(secs):.2f}"
            lines.append(f"| {name} | {med:.2f} ({spread}) | {total / med / MIB:.0f} |")
        lines.append("")
    lines += [
        "Notes:",
        "- moto_server is a threaded Python (werkzeug) server: it, not the clients, bounds the S3 "
        "figures; they compare clients against the same slow server, not S3's real speed.",
        f"- The latency case uses bench/delay_proxy.py ({args.delay_ms:g} ms each way; measured "
        f"time-to-first-byte of a 1-byte range: {rtt * 1000:.0f} ms) because this kernel has no "
        "netem (`tc qdisc add ... netem` -> 'Specified qdisc kind is unknown'). The proxy keeps "
        f"at most {args.window_kib} KiB in flight per connection and direction, like a TCP "
        "window on a long link, so one connection tops out near window / one-way delay; the "
        "proxy itself is one Python process and caps the total.",
        "- boto3 and curl only move bytes (no safetensors parsing, no arrays); weightstream and "
        "runai return every tensor.",
        "",
    ]
    stem.with_suffix(".md").write_text("\n".join(lines))
    record = {
        "machine": m,
        "versions": v,
        "total_bytes": total,
        "seconds": results,
        "failures": failures,
    }
    stem.with_suffix(".json").write_text(json.dumps(record, indent=1))
    print(f"wrote {stem}.md")


if __name__ == "__main__":
    main()
