"""Helpers for the serving tests: a real `localrag serve` process on a free loopback port, and a
server-sent-events reader. Child processes run `sys.executable -m localrag` with this checkout
first on PYTHONPATH, so they test this code wherever the repository is."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers import NOTES, REPO, make_settings

START_TIMEOUT_S = 180


def build_notes_index(root: Path, models_dir: Path, embedder) -> tuple[Path, Path]:
    """(notes folder, index folder) under `root`: the notes fixture copied and indexed."""
    from localrag.index import Index

    notes = root / "notes"
    shutil.copytree(NOTES, notes)
    index = root / "index"
    settings = make_settings(index, models_dir)
    with Index.create(index, settings, embedder=embedder) as idx:
        idx.add(notes)
    return notes, index


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(models_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a localrag child: this checkout, the repo's models, a brief SmolLM2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALRAG_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["LOCALRAG_MODELS"] = str(models_dir)
    env["LOCALRAG_LLM__MAX_TOKENS"] = "48"  # plumbing, not prose: keep the tiny model brief
    env.update(extra)
    return env


def localrag_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "localrag", *args]


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    token: str | None
    log: Path
    headers: dict[str, str] = field(default_factory=dict)

    def client(self, timeout: float = 120, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout, trust_env=False, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(
    index: Path, models_dir: Path, smollm2: Path, log: Path, token: str | None = None, **env: str
) -> Server:
    """`localrag serve` on a free loopback port, once /healthz answers (pytest.fail otherwise)."""
    import pytest

    port = free_port()
    extra = dict(env)
    if token is not None:
        extra["LOCALRAG_SERVE__TOKEN"] = token
    out = open(log, "wb")
    proc = subprocess.Popen(
        localrag_command("serve", "--index", str(index), "--port", str(port), "--model", str(smollm2)),
        env=child_env(models_dir, **extra), stdout=out, stderr=subprocess.STDOUT, cwd=index.parent,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"localrag serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                return Server(proc, url, token, log, headers)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    pytest.fail(f"localrag serve did not answer /healthz in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@dataclass
class SSE:
    event: str
    data: str

    def json(self):
        return json.loads(self.data)


def sse_events(lines: Iterator[str]) -> Iterator[SSE]:
    """Server-sent events from a response's lines (comments such as pings skipped)."""
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield SSE(event, "\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield SSE(event, "\n".join(data))


def start_milvus_lite_server(data_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """Milvus Lite's own gRPC server (`python -m milvus_lite server`) on a free loopback port, so
    that several processes (a writer, `localrag serve`) share one Milvus; (process, uri)."""
    import pytest

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the Milvus Lite server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail(f"the Milvus Lite server did not listen in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
