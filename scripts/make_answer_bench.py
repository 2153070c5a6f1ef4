#!/usr/bin/env python
"""Build the answer benchmark's folders from files in this repo and on this machine.

    python scripts/make_answer_bench.py                  # -> indexes/answer-bench/<folder>/
    python scripts/make_answer_bench.py --out DIR --only code,pdfs

Six folders of different kinds; the questions over them are in tests/data/answer_bench/*.jsonl
(`expected_path` relative to the folder). Every file is copied, never generated, from:

| folder   | kind                                  | source                                                        |
|----------|---------------------------------------|---------------------------------------------------------------|
| science  | short scientific abstracts (Markdown) | tests/data/scifact_docs (SciFact corpus, CC BY-NC 2.0)         |
| manual   | this project's user manual            | tests/data/answer_bench_manual: docs/*.md as the questions were written against them (commit 0955030) |
| software | HTML / RST / Markdown software docs   | Debian's /usr/share/doc: pip (RST), valgrind (HTML), setuptools (RST), README.md files |
| code     | Python source code                    | the running Python's standard library (a fixed list of modules) |
| pdfs     | long PDF manuals with pages           | /usr/share/doc: libtasn1.pdf, shared-mime-info-spec.pdf        |
| notes    | plain how-to notes                    | Debian's README.Debian files (plain text) and tests/data/notes  |
| formats  | slides, sheets, e-book, mail, notebook, RTF, scans | written by tests/fixtures/format_files.py (generated) |

Files missing on this machine are listed and skipped (questions about them then fail to find
their file, which the report shows). Only the standard library is needed to run this script,
except for the formats folder: no such files exist on this machine, so they are written by the
formats' own libraries (localrag's dependencies), the scans as pictures of text.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = Path("/usr/share/doc")
STDLIB = Path(sysconfig.get_paths()["stdlib"])

CODE_MODULES = [
    "textwrap.py", "shutil.py", "gzip.py", "tempfile.py", "heapq.py", "bisect.py", "secrets.py",
    "statistics.py", "csv.py", "fnmatch.py", "glob.py", "shlex.py", "uuid.py", "base64.py",
    "difflib.py", "json/__init__.py", "json/decoder.py", "json/encoder.py", "http/server.py",
    "urllib/parse.py", "logging/handlers.py", "configparser.py", "timeit.py", "zipapp.py",
]  # fmt: skip
VALGRIND_SKIP = ("dist.news", "license", "licenses", "index.html", "manual.html", "dist.authors")


def _files(folder: str) -> Iterator[tuple[Path, str]]:
    """(source file, path inside the folder) for each file of one benchmark folder."""
    if folder == "science":
        for f in sorted((REPO / "tests/data/scifact_docs").glob("*.md")):
            yield f, f.name
    elif folder == "manual":
        # a copy, not docs/: later pages (serving, Milvus, hardware) would turn some near-misses
        # into answerable questions, and edits would move the answers
        for f in sorted((REPO / "tests/data/answer_bench_manual").glob("*.md")):
            yield f, f.name
    elif folder == "software":
        pip = DOC / "python3-pip/html"
        for f in sorted(pip.rglob("*.rst")):
            yield f, "pip/" + f.relative_to(pip).as_posix()
        for f in sorted((DOC / "valgrind/html").glob("*.html")):
            if not f.name.startswith(VALGRIND_SKIP):
                yield f, "valgrind/" + f.name
        for f in sorted((DOC / "python3-setuptools").glob("*.rst")):
            yield f, "setuptools/" + f.name.replace(" ", "-")
        for f in sorted(DOC.glob("*/README.md")):
            yield f, f"readmes/{f.parent.name}.md"
    elif folder == "code":
        for name in CODE_MODULES:
            yield STDLIB / name, name
    elif folder == "pdfs":
        yield DOC / "libtasn1-doc/libtasn1.pdf", "libtasn1.pdf"
        yield DOC / "shared-mime-info/shared-mime-info-spec.pdf", "shared-mime-info-spec.pdf"
    elif folder == "notes":
        for f in sorted(DOC.glob("*/README.Debian*")):
            yield f, f"debian/{f.parent.name}.txt"
        notes = REPO / "tests/data/notes"
        for f in sorted(notes.rglob("*")):
            if f.is_file():
                yield f, "personal/" + f.relative_to(notes).as_posix()
    else:
        raise ValueError(folder)


FOLDERS = ["science", "manual", "software", "code", "pdfs", "notes", "formats"]
RULES_SCAN = [
    "Allotment rules 2024",
    "Dogs must be kept on a lead at all times.",
    "Hosepipes may only be used before 8 am and after 7 pm.",
    "The annual rent for a full plot is 62.50 GBP, due on 1 April.",
]
ROTA_PHOTO = ["Watering rota", "Tuesday: Priya", "Friday: Tomasz"]


def _write_formats(dest: Path) -> int:
    """The formats folder: files of each kind written by tests/fixtures/format_files.py."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("format_files", REPO / "tests/fixtures/format_files.py")
    ff = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ff)
    dest.mkdir(parents=True)
    for name, make in ff.FILES.items():
        (dest / name).write_bytes(make())
    (dest / "rhubarb.rtf").write_text(ff.RTF)
    (dest / "rules-scan.pdf").write_bytes(ff.image_only_pdf([RULES_SCAN]))
    (dest / "rota-photo.png").write_bytes(ff.png_bytes(ROTA_PHOTO))
    return len(ff.FILES) + 3


def build(folder: str, out: Path) -> dict:
    """Copy one folder afresh; returns {"files": n, "missing": [...]}."""
    dest = out / folder
    if dest.exists():
        shutil.rmtree(dest)
    if folder == "formats":
        return {"files": _write_formats(dest), "missing": []}
    copied, missing = 0, []
    for src, rel in _files(folder):
        if not src.is_file():
            missing.append(str(src))
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".gz":
            target.write_bytes(gzip.decompress(src.read_bytes()))
        else:
            shutil.copyfile(src, target)
        copied += 1
    return {"files": copied, "missing": missing}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "indexes/answer-bench")
    p.add_argument("--only", default=None, help="comma-separated folders (default: all)")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else FOLDERS
    unknown = sorted(set(names) - set(FOLDERS))
    if unknown:
        p.error(f"unknown folder(s) {', '.join(unknown)}; choose from {', '.join(FOLDERS)}")
    report = {name: build(name, args.out) for name in names}
    print(json.dumps({"out": str(args.out), "folders": report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
