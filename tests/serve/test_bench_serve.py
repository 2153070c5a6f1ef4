"""scripts/bench_serve.py end to end on the tiny index: it starts the server, drives it and prints
the JSON it promises (short levels: plumbing, not figures)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests.serve.serve_support import REPO, child_env


@pytest.mark.slow
def test_bench_serve_small(notes_index, models_dir, smollm2_path):
    _, index = notes_index
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_serve.py"), "--index", str(index), "--model", str(smollm2_path),
         "--clients", "1,3", "--seconds", "1", "--askers", "2", "--asks", "1", "--max-queue", "0"],
        env=child_env(models_dir), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["index"]["documents"] == 6 and report["errors_total"] == 0
    assert [level["clients"] for level in report["search"]] == [1, 3]
    for level in report["search"]:
        assert level["requests"] > 0 and level["p99_ms"] >= level["p95_ms"] >= level["p50_ms"] > 0
        assert level["throughput_rps"] > 0 and level["errors"] == {}
    ask = report["ask"]
    # two askers, no room to wait: every answer either ran or was refused with the designed 503
    assert ask["answers"] + ask["busy_503"] == 2 and ask["answers"] >= 1
    assert ask["first_token_p50_ms"] > 0 and ask["answer_total_p50_ms"] > 0
