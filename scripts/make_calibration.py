#!/usr/bin/env python
"""Write localrag/data/calibration.jsonl: the texts int8 models are calibrated on.

NNCF measures activation ranges on these before quantizing an encoder to int8 (see
localrag/openvino.py). They are deliberately generic, mixed prose, reference text and code, and
none comes from an evaluation set: paragraphs of this repository's manual (docs/*.md) and the
docstrings of Python standard-library modules. Re-run only to change the set; the file is
committed so that every machine quantizes the same way.

    .venv/bin/python scripts/make_calibration.py
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "localrag" / "data" / "calibration.jsonl"
STDLIB = (
    "argparse asyncio collections contextlib csv dataclasses datetime decimal difflib email enum "
    "fractions functools glob gzip hashlib heapq hmac html http.client imaplib inspect io ipaddress "
    "itertools json logging mailbox math mimetypes operator os pathlib pickle platform pprint queue "
    "random re sched secrets shlex shutil signal smtplib socket sqlite3 statistics string struct "
    "subprocess tarfile tempfile textwrap threading timeit tkinter tokenize traceback typing "
    "unicodedata unittest urllib.parse uuid wave weakref xml.dom zipfile zlib"
).split()
MIN_CHARS, MAX_CHARS = 80, 1500
PER_SOURCE = 160


def manual_paragraphs() -> list[str]:
    out = []
    for path in sorted((ROOT / "docs").glob("*.md")):
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            block = block.strip()
            if MIN_CHARS <= len(block):
                out.append(block[:MAX_CHARS])
    return out


def stdlib_docstrings() -> list[str]:
    out = []
    for name in STDLIB:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for _, obj in sorted(vars(module).items()):
            doc = inspect.getdoc(obj) if callable(obj) or inspect.ismodule(obj) else None
            if doc and MIN_CHARS <= len(doc) and getattr(obj, "__module__", name) == name:
                out.append(doc[:MAX_CHARS])
                break
        if module.__doc__ and len(module.__doc__.strip()) >= MIN_CHARS:
            out.append(module.__doc__.strip()[:MAX_CHARS])
    return out


def spread(items: list[str], n: int) -> list[str]:
    """n items evenly spaced over the list (keeps every source file represented)."""
    if len(items) <= n:
        return items
    return [items[i * len(items) // n] for i in range(n)]


def main() -> None:
    texts = spread(manual_paragraphs(), PER_SOURCE) + spread(stdlib_docstrings(), PER_SOURCE)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for text in texts:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    print(json.dumps({"texts": len(texts), "path": str(OUT.relative_to(ROOT))}))


if __name__ == "__main__":
    main()
