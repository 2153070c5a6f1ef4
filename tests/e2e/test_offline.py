"""Nothing on the index -> search -> ask path touches the network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_socket import SocketBlockedError, disable_socket, enable_socket

from localrag.cli import main


@pytest.fixture
def no_network():
    disable_socket(allow_unix_socket=True)
    try:
        yield
    finally:
        enable_socket()


def test_sockets_really_are_blocked(no_network):
    import socket

    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9))


@pytest.mark.slow
def test_index_search_ask_with_sockets_blocked(
    no_network, notes, tmp_path, models_dir, smollm2_path, capsys, monkeypatch
):
    monkeypatch.setenv("LOCALRAG_MODELS", str(models_dir))
    monkeypatch.setenv("LOCALRAG_LLM__MAX_TOKENS", "48")  # plumbing, not prose: keep the tiny model brief
    index = str(tmp_path / "index")
    assert main(["index", str(notes), "--index", index, "--json"]) == 0
    assert main(["search", "boiler pressure", "--index", index, "--json"]) == 0
    assert (
        main(["ask", "what fertiliser do the tomatoes get?", "--index", index, "--model", str(smollm2_path), "--json"])
        == 0
    )
    outputs = capsys.readouterr().out
    assert "garden/tomatoes.md" in outputs


STRACE = shutil.which("strace")
UNSHARE = shutil.which("unshare")


def traced(command: list[str], syscalls: str, trace: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`command` in an empty network namespace under strace, which records the `syscalls` of it
    and every process it starts in `trace`. Fails the test where strace or unshare -n is missing."""
    if STRACE is None or UNSHARE is None or subprocess.run([UNSHARE, "-n", "true"]).returncode != 0:
        pytest.fail("this check needs strace and unshare -n (apt-get install strace util-linux; run as root)")
    return subprocess.run(
        [UNSHARE, "-n", STRACE, "-f", "-qq", "-e", f"trace={syscalls}", "-o", str(trace), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


# OpenVINO and NNCF phone home at import unless told not to; the openvino case converts a fresh
# copy of the tiny cross-encoder to int8 (NNCF runs) and embeds with OpenVINO, all under strace.
BACKENDS = {
    "torch": {"LOCALRAG_EMBEDDER__BACKEND": "torch", "LOCALRAG_RETRIEVAL__RERANK_BACKEND": "torch"},
    "openvino": {
        "LOCALRAG_EMBEDDER__BACKEND": "openvino",
        "LOCALRAG_EMBEDDER__PRECISION": "bf16",
        "LOCALRAG_RETRIEVAL__RERANK_BACKEND": "openvino",
        "LOCALRAG_RETRIEVAL__RERANK_PRECISION": "int8",
    },
}


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="network namespaces are Linux-only")
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_native_code_makes_no_network_syscalls(backend, notes, tmp_path, models_dir, smollm2_path, tiny_reranker):
    """Native libraries (tokenizers, torch, faiss, llama.cpp, OpenVINO) bypass Python's socket module, so watch
    the syscalls: in an empty network namespace, every inet socket/connect/sendto attempt is recorded by strace."""
    index = tmp_path / "index"
    reranker = tmp_path / "tiny-cross-encoder"
    shutil.copytree(tiny_reranker, reranker, ignore=shutil.ignore_patterns("openvino"))
    (tmp_path / "home").mkdir()  # a fresh home: no telemetry consent file from earlier runs
    env = {
        **os.environ,
        "LOCALRAG_MODELS": str(models_dir),
        "LOCALRAG_LLM__MAX_TOKENS": "48",
        "LOCALRAG_RETRIEVAL__RERANKER": str(reranker),
        "HOME": str(tmp_path / "home"),
        **BACKENDS[backend],
    }
    env.pop("HF_HUB_OFFLINE", None)  # localrag must set these itself
    env.pop("TRANSFORMERS_OFFLINE", None)
    env.pop("CI", None)  # CI=true silences OpenVINO's telemetry by itself: prove localrag does
    script = (
        f"{sys.executable} -m localrag.cli index {notes} --index {index} --json && "
        f"{sys.executable} -m localrag.cli search 'boiler pressure' --index {index} --json && "
        f"{sys.executable} -m localrag.cli ask 'what fertiliser do the tomatoes get?' --index {index} "
        f"--model {smollm2_path} --json"
    )
    trace = tmp_path / "trace.txt"
    proc = traced(["sh", "-c", script], "socket,connect,sendto,sendmsg", trace, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout[proc.stdout.rfind('{\n  "question"') :]
    assert json.loads(last)["sources"]
    inet = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
    assert inet == [], "network attempts:\n" + "\n".join(inet[:20])
    assert not (tmp_path / "home" / "intel").exists(), "telemetry state written under ~/intel"
    if backend == "openvino":
        assert (reranker / "openvino" / "cross-encoder-int8.xml").is_file()  # NNCF really ran in there


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="network namespaces are Linux-only")
def test_ocr_makes_no_network_syscalls_and_writes_no_telemetry_state(tmp_path, models_dir):
    """OCR (rapidocr + onnxruntime, native) on a scanned PDF and a photo of a note, under strace in
    an empty network namespace: nothing connects or sends over inet, and onnxruntime leaves no
    device id. One inet socket is expected: importing rapidocr imports requests, whose urllib3
    probes for IPv6 by binding a socket to ::1 (loopback, never connected); it is checked as such."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "format_files", Path(__file__).parents[1] / "fixtures" / "format_files.py"
    )
    ff = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ff)
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(ff.image_only_pdf([["Bonfires are banned between May and September."]]))
    (folder / "note.png").write_bytes(ff.png_bytes(["The shed key hangs behind the water butt."]))
    (tmp_path / "home").mkdir()
    env = {**os.environ, "LOCALRAG_MODELS": str(models_dir), "HOME": str(tmp_path / "home")}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # localrag must set it itself
    trace = tmp_path / "trace.txt"
    command = [sys.executable, "-m", "localrag.cli", "index", str(folder), "--index", str(tmp_path / "index"), "--json"]
    proc = traced(command, "socket,bind,connect,sendto,sendmsg", trace, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["ocr_pages"] == 2 and summary["skipped"] == []
    lines = trace.read_text().splitlines()
    inet = [line for line in lines if "AF_INET" in line and not line.split(None, 1)[1].startswith(("socket(", "bind("))]
    assert inet == [], "network attempts:\n" + "\n".join(inet[:20])
    binds = [line for line in lines if " bind(" in line and "AF_INET" in line]
    assert all('"::1"' in line or '"127.0.0.1"' in line for line in binds), binds
    assert not (tmp_path / "home" / ".cache" / "Microsoft").exists(), "onnxruntime telemetry state written"
