#!/usr/bin/env python
"""Time `localrag ask` as a person at a terminal meets it: from starting the command to the first
answer character on screen, and to the command's exit (process start, imports and model loads
included), one fresh process per question.

    .venv/bin/python scripts/bench_ask_start.py --bench tests/data/answer_bench \\
        --index-root indexes/answer-bench-index --split test

Each question runs `python -m localrag ask QUESTION --index <index-root>/<folder>` with its standard
output on a pseudo-terminal, so the answer streams as it does for a person. Prints JSON: per
question `first_char_s` and `wall_s` (from the spawn) and the in-process `first_token_s` and
`total_s` the command's footer reports; medians per folder and overall. The indexes must exist
(scripts/eval_answers.py --index-root builds them). Nothing is graded here.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localrag.eval.answers import load_questions  # noqa: E402

_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|[\x00-\x20]")
_FOOTER = re.compile(r"first token ([\d.]+) s · total ([\d.]+) s")


def time_ask(question: str, index: Path, extra: list[str], timeout: float) -> dict:
    """One `localrag ask` in a fresh process; times from the spawn."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "localrag", "ask", question, "--index", str(index), *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    first_char = None
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, timeout - (time.perf_counter() - start)))
            if not ready:
                proc.kill()
                raise TimeoutError(f"no output within {timeout} s: {question}")
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closed: the command exited
                break
            if not data:
                break
            if first_char is None and _ESCAPE.sub(b"", data):
                first_char = time.perf_counter() - start
        stderr = proc.communicate(timeout=timeout)[1].decode("utf-8", "replace")
    finally:
        os.close(master)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"localrag ask exited {proc.returncode}: {stderr[-800:]}")
    footer = _FOOTER.search(stderr)
    return {
        "first_char_s": round(first_char, 3) if first_char is not None else None,
        "wall_s": round(wall, 3),
        "first_token_s": float(footer.group(1)) if footer else None,
        "total_s": float(footer.group(2)) if footer else None,
    }


def _medians(rows: list[dict]) -> dict:
    out: dict = {"questions": len(rows)}
    for key in ("first_char_s", "wall_s", "first_token_s", "total_s"):
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = round(statistics.median(values), 2) if values else None
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bench", type=Path, required=True, help="a folder of question sets (<folder>.jsonl)")
    p.add_argument("--index-root", type=Path, required=True, help="indexes, one per folder: <root>/<folder>")
    p.add_argument("--split", choices=["dev", "test", "all"], default="test")
    p.add_argument("--sets", default=None, help="comma-separated folder names (default: all)")
    p.add_argument("--limit", type=int, default=None, help="at most this many questions per folder")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("extra", nargs="*", help="more `localrag ask` arguments, after --")
    args = p.parse_args()

    rows = []
    names = args.sets.split(",") if args.sets else sorted(f.stem for f in args.bench.glob("*.jsonl"))
    for name in names:
        questions = [
            q for q in load_questions(args.bench / f"{name}.jsonl") if args.split == "all" or q.split == args.split
        ]
        for q in questions[: args.limit]:
            row = {"set": name, "id": q.id, **time_ask(q.question, args.index_root / name, args.extra, args.timeout)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    report = {
        "split": args.split,
        "sets": {name: _medians([r for r in rows if r["set"] == name]) for name in names},
        "all": _medians(rows),
        "rows": rows,
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
