"""The ``weightstream`` command line: exit codes, output, errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import weightstream
from conftest import save_numpy, write_bytes
from http_servers import Nginx
from weightstream.cli import main


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    with Nginx.running(tmp_path_factory.mktemp("nginx"), tls=False) as server:
        yield server


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weightstream", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("weightstream: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def checkpoint(tmp_path) -> str:
    """12 tensors of 3 dtypes, sizes all different, with metadata."""
    tensors = {f"layer{i:02d}.weight": np.zeros((i + 1, 8), np.float32) for i in range(10)}
    tensors["ids"] = np.arange(100, dtype=np.int64)
    tensors["mask"] = np.ones((3, 3), np.bool_)
    return save_numpy(tmp_path / "model.safetensors", tensors, metadata={"format": "pt"})


# --------------------------------------------------------------------------
# Help, version, usage errors
# --------------------------------------------------------------------------


def test_module_entry_point_help_and_version():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("inspect", "load", "fetch", "verify"):
        assert command in result.stdout
    result = run_cli("--version")
    assert (result.returncode, result.stdout.strip()) == (
        0,
        f"weightstream {weightstream.__version__}",
    )


@pytest.mark.parametrize("command", ["inspect", "load", "fetch", "verify"])
def test_every_subcommand_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"usage: weightstream {command}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["inspect"],
        ["verify", "x"],
        ["verify", "x", "--sha256", "not-hex"],
        ["load", "x", "--concurrency", "0"],
        ["load", "x", "--chunk-size", "lots"],
        ["load", "x", "--framework", "jax"],
        ["fetch"],
        ["fetch", "x", "--connections", "-1"],
        ["inspect", "x", "--bogus"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "error:" in err


def test_usage_error_exit_code_from_a_real_process():
    result = run_cli("verify", "x")
    assert result.returncode == 2
    assert "--sha256" in result.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("weightstream")
    if not script.exists():
        pytest.skip("the weightstream console script is not installed next to this Python")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and weightstream.__version__ in result.stdout


# --------------------------------------------------------------------------
# inspect
# --------------------------------------------------------------------------


def test_inspect_safetensors_json(checkpoint, capsys):
    assert main(["inspect", checkpoint, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "safetensors"
    assert info["tensor_count"] == 12
    assert info["file_size"] == os.path.getsize(checkpoint)
    assert info["dtypes"] == {
        "F32": {"count": 10, "bytes": 4 * 8 * sum(range(1, 11))},
        "I64": {"count": 1, "bytes": 800},
        "BOOL": {"count": 1, "bytes": 9},
    }
    assert info["total_bytes"] == sum(d["bytes"] for d in info["dtypes"].values())
    largest = info["largest"]
    assert len(largest) == 10
    assert [t["nbytes"] for t in largest] == sorted((t["nbytes"] for t in largest), reverse=True)
    assert largest[0] == {"name": "ids", "dtype": "I64", "shape": [100], "nbytes": 800}
    assert largest[1]["name"] == "layer09.weight" and largest[1]["shape"] == [10, 8]
    assert info["metadata"] == {"format": "pt"}


def test_inspect_safetensors_text(checkpoint, capsys):
    assert main(["inspect", checkpoint]) == 0
    out = capsys.readouterr().out
    assert "format:   safetensors" in out
    assert "tensors:  12" in out
    assert "largest tensors:" in out and "layer09.weight" in out
    assert "format: pt" in out


def test_inspect_missing_file_is_one_clean_error(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.safetensors")]) == 1
    assert "no such file" in one_error_line(capsys.readouterr().err)


def test_inspect_corrupt_file_and_debug_traceback(tmp_path):
    bad = write_bytes(tmp_path / "bad.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    result = run_cli("inspect", bad)
    assert result.returncode == 1
    assert "bad.safetensors" in one_error_line(result.stderr)
    result = run_cli("--debug", "inspect", bad)
    assert result.returncode == 1 and "Traceback" in result.stderr
    result = run_cli("inspect", bad, "--debug")
    assert result.returncode == 1 and "Traceback" in result.stderr


def write_gguf(path: Path) -> str:
    gguf = pytest.importorskip("gguf", reason="writing a GGUF file needs the gguf package")
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_uint32("tiny.answer", 42)
    writer.add_array("tiny.vocab", [f"tok{i}" for i in range(40)])
    writer.add_tensor("big", np.zeros((16, 32), np.float32))
    writer.add_tensor("small", np.zeros(8, np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return str(path)


def needs_gguf() -> None:
    try:
        import weightstream.gguf  # noqa: F401
    except ImportError as e:
        pytest.skip(f"weightstream.gguf is not available in this build yet ({e})")


def test_inspect_gguf(tmp_path, capsys):
    needs_gguf()
    path = write_gguf(tmp_path / "tiny.gguf")
    assert main(["inspect", path, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "gguf"
    assert info["tensor_count"] == 2
    assert info["largest"][0]["name"] == "big" and info["largest"][0]["nbytes"] == 16 * 32 * 4
    assert info["largest"][0]["shape"] == [16, 32]
    assert {k: v["count"] for k, v in info["dtypes"].items()} == {"F32": 1, "F16": 1}
    assert info["metadata"]["tiny.answer"] == 42
    assert info["metadata"]["tiny.vocab"]["array_length"] == 40
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "format:   gguf" in out and "(40 items)" in out


def test_load_gguf(tmp_path, capsys):
    needs_gguf()
    path = write_gguf(tmp_path / "tiny.gguf")
    assert main(["load", path, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["format"], result["tensors"], result["bytes"]) == ("gguf", 2, 16 * 32 * 4 + 16)


def test_inspect_gguf_against_the_agreed_interface(tmp_path, monkeypatch, capsys):
    """The CLI's side of the contract with weightstream.gguf, with a stand-in module."""
    import types

    tensor = types.SimpleNamespace
    fake = types.ModuleType("weightstream.gguf")
    opened = []

    class Handle:
        metadata = {"general.name": "tiny", "tokens": [b"a"] * 20, "n": np.uint32(7)}
        tensors = [
            tensor(name="w", ggml_type="Q4_K", shape=(256, 4), nbytes=576),
            tensor(name="b", ggml_type="F32", shape=(4,), nbytes=16),
        ]

        def close(self) -> None:
            opened.remove(self)

    def open_(path: str) -> Handle:
        h = Handle()
        opened.append(h)
        return h

    fake.open = open_
    monkeypatch.setitem(sys.modules, "weightstream.gguf", fake)
    path = write_bytes(tmp_path / "m.gguf", b"GGUF" + b"\0" * 60)
    assert main(["inspect", path, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "gguf" and info["tensor_count"] == 2
    assert info["dtypes"] == {"Q4_K": {"count": 1, "bytes": 576}, "F32": {"count": 1, "bytes": 16}}
    assert info["largest"][0] == {"name": "w", "dtype": "Q4_K", "shape": [256, 4], "nbytes": 576}
    assert info["metadata"]["n"] == 7
    assert info["metadata"]["tokens"] == {"array_length": 20, "head": ["a"] * 8}
    assert opened == []  # closed after reading


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------


def test_load_reports_tensors_bytes_and_speed(checkpoint, capsys):
    assert main(["load", checkpoint, "--concurrency", "2", "--chunk-size", "64K"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("loaded 12 tensors, ") and "GB/s" in out and "chunk 64.0 KiB" in out


def test_load_json(checkpoint, tmp_path, capsys):
    assert main(["load", str(Path(checkpoint).parent), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tensors"] == 12
    assert result["bytes"] == 4 * 8 * sum(range(1, 11)) + 800 + 9
    assert result["seconds"] > 0 and result["gb_per_s"] > 0


def test_load_torch(checkpoint, capsys):
    pytest.importorskip("torch")
    assert main(["load", checkpoint, "--framework", "torch", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["framework"] == "torch"


def test_load_failure_exits_1(tmp_path, capsys):
    bad = write_bytes(tmp_path / "bad.safetensors", b"\x00" * 4)
    assert main(["load", bad]) == 1
    one_error_line(capsys.readouterr().err)
    assert main(["load", str(tmp_path / "missing")]) == 1
    one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------


def test_verify(tmp_path, capsys):
    path = write_bytes(tmp_path / "w.bin", b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    assert main(["verify", path, "--sha256", digest.upper()]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["verify", path, "--sha256", "0" * 64]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "mismatch" in line and digest in line
    assert main(["verify", str(tmp_path / "none"), "--sha256", digest]) == 1
    one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------------------
# fetch
# --------------------------------------------------------------------------


def test_fetch_downloads_and_prints_the_path(nginx, tmp_path):
    data = os.urandom(300_000)
    nginx.put("cli-a.bin", data)
    sha = hashlib.sha256(data).hexdigest()
    result = run_cli("fetch", nginx.url("cli-a.bin"), "--to", str(tmp_path), "--sha256", sha)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "cli-a.bin")
    assert result.stderr == ""  # no progress bar: stderr is not a terminal
    assert (tmp_path / "cli-a.bin").read_bytes() == data


def test_fetch_wrong_hash_exits_1(nginx, tmp_path, capsys):
    nginx.put("cli-b.bin", b"b" * 1000)
    assert main(["fetch", nginx.url("cli-b.bin"), "--to", str(tmp_path), "--sha256", "f" * 64]) == 1
    assert "SHA-256 mismatch" in one_error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_fetch_404_exits_1(nginx, tmp_path, capsys):
    assert main(["fetch", nginx.url("cli-none.bin"), "--to", str(tmp_path), "--retries", "0"]) == 1
    assert "404" in one_error_line(capsys.readouterr().err)


def test_fetch_extract_with_a_user_catalog(nginx, tmp_path, capsys):
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("weights/a.bin")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    nginx.put("cli-bundle.tar.gz", raw.getvalue())
    catalog = tmp_path / "catalog.json"
    entry = {"url": nginx.url("cli-bundle.tar.gz"), "description": "a test bundle"}
    catalog.write_text(json.dumps({"models": {"bundle": entry}}))
    dest = tmp_path / "out"
    argv = ["fetch", "bundle", "--catalog", str(catalog), "--to", str(dest), "--extract"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(dest)
    assert (dest / "weights" / "a.bin").read_bytes() == b"abc"
    assert main(["fetch", "--list", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    assert "bundle" in out and "a test bundle" in out and "tiny-random-gpt2" in out


def test_fetch_list(capsys):
    assert main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    assert "huggingface.co" in out and "sha256 unknown" in out


def test_fetch_unknown_name_exits_1(tmp_path, capsys):
    assert main(["fetch", "no-such-model", "--to", str(tmp_path)]) == 1
    assert "fetch --list" in one_error_line(capsys.readouterr().err)
