"""Ctrl+C during `localrag index`: one line says what was kept, the lock is free, the next run resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "tests" / "data" / "scifact_docs"  # ~300 abstracts: more than one 512-chunk batch


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "localrag", *args]


def _env(models: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALRAG_")}
    return {**env, "PYTHONPATH": str(REPO), "LOCALRAG_MODELS": str(models)}


def _staged(index: Path) -> int:
    try:
        with sqlite3.connect(f"file:{index / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM staged_documents").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_ctrl_c_keeps_staged_work_and_the_next_run_resumes(tmp_path, models_dir):
    folder = tmp_path / "docs"
    shutil.copytree(DOCS, folder)
    index = tmp_path / "index"
    env = _env(models_dir)
    # SIG_DFL in the child: a shell may have left SIGINT ignored for background jobs
    proc = subprocess.Popen(_cli("index", str(folder), "--index", str(index)), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 300
    while _staged(index) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before a batch was staged: the fixture folder is too small"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("interrupted: ") and "embedded so far are kept" in lines[0]
    assert "run the same command again to resume" in lines[0]
    kept = int(lines[0].split("(")[1].split(" chunks")[0])
    assert kept > 0
    assert (index / "write.lock").read_text() == ""  # names no writer: nobody holds it

    again = subprocess.run(_cli("index", str(folder), "--index", str(index), "--json"),
                           env=env, text=True, capture_output=True, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert "another localrag index is writing" not in again.stderr
    summary = json.loads(again.stdout)
    assert summary["added"] == len(list(DOCS.glob("*.md")))
    assert summary["embedded"] == summary["chunks"] - kept  # what the interrupted run staged was reused
