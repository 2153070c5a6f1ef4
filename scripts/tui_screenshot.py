"""Save an SVG screenshot of a real chat session over docs/ (for the README).

    .venv/bin/python scripts/tui_screenshot.py [--out docs/screenshot.svg] [--llm none]

Indexes docs/ into a temporary index with the installed models, asks one question in the real
app and saves what the terminal shows once the answer is done.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from localrag.config import load_settings  # noqa: E402
from localrag.index import Index  # noqa: E402
from localrag.tui.app import LocalragApp  # noqa: E402

QUESTION = "How do I keep the index up to date when my notes change?"


async def shoot(settings, out: Path, size: tuple[int, int]) -> None:
    app = LocalragApp(settings)
    async with app.run_test(size=size) as pilot:
        app.query_one("#question").value = QUESTION
        await pilot.press("enter")
        deadline = time.monotonic() + 600
        while not (app.transcript.answers and app.transcript.answers[-1].answer is not None):
            if time.monotonic() > deadline:
                raise SystemExit("no answer within 10 minutes")
            await pilot.pause(0.2)
        app.query_one("#question").cursor_blink = False
        await pilot.pause(0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.svg")
    ap.add_argument("--llm", default="llama-cpp", choices=["llama-cpp", "none"])
    ap.add_argument("--size", default="140x40", help="COLSxROWS")
    args = ap.parse_args()
    cols, rows = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(overrides={"index": str(Path(tmp) / "index"), "llm.backend": args.llm})
        with Index.open(None, settings, create=True) as idx:
            idx.add(REPO / "docs")
        asyncio.run(shoot(settings, args.out, (cols, rows)))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
