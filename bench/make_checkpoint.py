"""Write a deterministic, LLM-shaped safetensors checkpoint for benchmarks.

The file is written by the reference writer (``safetensors.numpy.save_file``)
so that the benchmark measures loaders against a file nobody can call
"tuned for weightstream". Shapes follow a Llama-style decoder (TinyLlama at
~2 GiB): embeddings, per-layer q/k/v/o with biases, gate/up/down MLP, RMS
norms, lm_head. The hidden size is chosen so the file lands near the
requested size while the tensor count stays the same (267).

    python bench/make_checkpoint.py                 # ~2 GiB, bench/data/
    python bench/make_checkpoint.py --size-gib 1
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
GIB = 1 << 30
LAYERS = 22
VOCAB = 32000
SEED = 20261122

NUMPY_DTYPE = {
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F16": np.dtype(np.float16),
    "F32": np.dtype(np.float32),
}
# Clearing the exponent's top bit keeps every value finite (no NaN/Inf), so
# the content also survives value-level comparisons, not only byte ones.
FINITE_MASK = {
    "BF16": (np.uint16, 0xBFFF),
    "F16": (np.uint16, 0xBFFF),
    "F32": (np.uint32, 0xBFFFFFFF),
}


@dataclass(frozen=True)
class Spec:
    name: str
    dtype: str  # safetensors dtype name
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        n = NUMPY_DTYPE[self.dtype].itemsize
        for d in self.shape:
            n *= d
        return n


def round64(x: float) -> int:
    return max(64, int(round(x / 64)) * 64)


def layer_specs(i: int, hidden: int, kv: int, inter: int) -> list[Spec]:
    p = f"model.layers.{i}"
    return [
        Spec(f"{p}.input_layernorm.weight", "F32", (hidden,)),
        Spec(f"{p}.self_attn.q_proj.weight", "BF16", (hidden, hidden)),
        Spec(f"{p}.self_attn.q_proj.bias", "F32", (hidden,)),
        Spec(f"{p}.self_attn.k_proj.weight", "BF16", (kv, hidden)),
        Spec(f"{p}.self_attn.k_proj.bias", "F32", (kv,)),
        Spec(f"{p}.self_attn.v_proj.weight", "BF16", (kv, hidden)),
        Spec(f"{p}.self_attn.v_proj.bias", "F32", (kv,)),
        Spec(f"{p}.self_attn.o_proj.weight", "BF16", (hidden, hidden)),
        Spec(f"{p}.post_attention_layernorm.weight", "F32", (hidden,)),
        Spec(f"{p}.mlp.gate_proj.weight", "BF16", (inter, hidden)),
        Spec(f"{p}.mlp.up_proj.weight", "BF16", (inter, hidden)),
        Spec(f"{p}.mlp.down_proj.weight", "BF16", (hidden, inter)),
    ]


def model_specs(hidden: int) -> list[Spec]:
    """All tensors of a 22-layer decoder with this hidden size (GQA, 8:1)."""
    kv, inter = round64(hidden / 8), round64(hidden * 2.75)
    specs = [Spec("model.embed_tokens.weight", "BF16", (VOCAB, hidden))]
    for i in range(LAYERS):
        specs += layer_specs(i, hidden, kv, inter)
    specs.append(Spec("model.norm.weight", "F32", (hidden,)))
    # fp16 head: some exported checkpoints mix dtypes like this, and it makes
    # the file exercise all three common float types.
    specs.append(Spec("lm_head.weight", "F16", (VOCAB, hidden)))
    return specs


def specs_for_size(size_bytes: int) -> list[Spec]:
    """The model whose data size is closest to `size_bytes`."""
    best: list[Spec] = []
    best_err = None
    for hidden in range(256, 16384 + 1, 64):
        specs = model_specs(hidden)
        err = abs(sum(s.nbytes for s in specs) - size_bytes)
        if best_err is None or err < best_err:
            best, best_err = specs, err
    return best


def tensor_data(spec: Spec, index: int) -> np.ndarray:
    """Deterministic pseudo-random finite values; ~0.5 s per GiB."""
    rng = np.random.default_rng([SEED, index])
    words = rng.integers(0, 2**64 - 1, -(-spec.nbytes // 8), dtype=np.uint64, endpoint=True)
    raw = words.view(np.uint8)[: spec.nbytes]
    word_type, mask = FINITE_MASK[spec.dtype]
    masked = raw.view(word_type)
    masked &= word_type(mask)
    return raw.view(NUMPY_DTYPE[spec.dtype]).reshape(spec.shape)


def read_header(path: Path) -> tuple[dict, int]:
    """(header JSON, header length) of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)), n


def matches(path: Path, specs: list[Spec]) -> bool:
    """Whether `path` already is this checkpoint (names, dtypes, shapes, size)."""
    try:
        header, n = read_header(path)
    except (OSError, ValueError, struct.error):
        return False
    header.pop("__metadata__", None)
    want = {s.name: (s.dtype, list(s.shape)) for s in specs}
    have = {k: (v["dtype"], v["shape"]) for k, v in header.items()}
    end = max((v["data_offsets"][1] for v in header.values()), default=0)
    return have == want and path.stat().st_size == 8 + n + end


def default_path(size_gib: float) -> Path:
    return DATA_DIR / f"llm-{size_gib:g}gib.safetensors"


def ensure_checkpoint(path: Path | None = None, size_gib: float = 2.0, quiet: bool = False) -> Path:
    """Create the checkpoint unless `path` already holds it; returns the path."""
    import safetensors.numpy

    path = Path(path) if path else default_path(size_gib)
    specs = specs_for_size(int(size_gib * GIB))
    if matches(path, specs):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tensors = {s.name: tensor_data(s, i) for i, s in enumerate(specs)}
    # Temp name + rename: an interrupted run never leaves a short file that a
    # later run would benchmark.
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        safetensors.numpy.save_file(tensors, tmp, metadata={"format": "pt"})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if not quiet:
        size = path.stat().st_size
        secs = time.perf_counter() - start
        print(
            f"wrote {path}: {size:,} bytes, {len(specs)} tensors in {secs:.1f} s", file=sys.stderr
        )
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-gib", type=float, default=2.0, help="approximate file size (GiB)")
    ap.add_argument(
        "--out", type=Path, help="file to write (default bench/data/llm-<size>gib.safetensors)"
    )
    args = ap.parse_args()
    path = ensure_checkpoint(args.out, args.size_gib)
    header, _ = read_header(path)
    count = len(header) - ("__metadata__" in header)
    print(f"{path}\t{path.stat().st_size} bytes\t{count} tensors")


if __name__ == "__main__":
    main()
