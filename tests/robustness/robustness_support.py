"""Helpers for the robustness tests: a two-generation fixture folder, indexer children forked from a
preloaded server, and a consistency check of an index on disk.

Children: most of an indexer subprocess's time is importing torch and sentence-transformers
(~13 s on the shared 2-core machine). A multiprocessing "forkserver" imports them once; each
child is forked from it and runs the real `localrag.cli.main([...])` (or `index_folder`) with its
own environment, so LOCALRAG_CRASH_AT kills it at the named point. The forkserver is a fresh
interpreter, not a fork of pytest, so nothing of the test process's torch/OpenMP state leaks in.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.helpers import make_settings

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- the fixture folder
# Generation 1 -> 2: a.md rewritten, b.md unchanged, c.md removed, d.md renamed to d2.md,
# e.md added. Every chunk of a generation-specific file names its generation, so a chunk
# from the wrong generation is recognizable by its text alone.
_B = """# Beekeeping

The hive inspection happens every Sunday morning when the weather is calm.
Check the brood frames for the queen and look for swarm cells along the bottom bars.

## Honey harvest

Honey supers come off in late August; leave thirty pounds of stores for the winter cluster.
"""
_D = """# Dentist

Dentist appointment reminders: book the check-up every six months and floss every evening.

## Orthodontist

The orthodontist wants the retainer worn every night for another year.
"""
GEN1: dict[str, str] = {
    "a.md": """# Alpha pump

Generation one: the alpha pump runs on diesel fuel and is serviced every spring.
Its filter is a paper cartridge that is replaced at each service.

## Alpha pump wiring

Generation one: the alpha pump is wired to the old red switch in the shed.
""",
    "b.md": _B,
    "c.md": """# Canoe

Generation one: the canoe paddles are stored in the garage loft above the bicycles.

## Canoe repairs

Generation one: patch the canoe hull with fibreglass tape and epoxy resin.
""",
    "d.md": _D,
}
GEN2: dict[str, str] = {
    "a.md": """# Alpha pump

Generation two: the alpha pump now runs on solar power from the roof panels.
Its filter is a stainless mesh that is rinsed each month.

## Alpha pump wiring

Generation two: the alpha pump is wired to the new blue controller in the utility room.
""",
    "b.md": _B,
    "d2.md": _D,
    "e.md": """# Espresso

Generation two: descale the espresso machine with citric acid every month.

## Espresso grind

Generation two: grind the espresso beans fine, eighteen grams per double shot.
""",
}
BINARY = {"skip.bin": b"\x00\x01\x02\xff" * 64}  # skipped in both generations
QUERIES = ["alpha pump fuel", "hive inspection day", "canoe paddles", "dentist floss", "espresso descaling"]


def write_folder(folder: Path, files: dict[str, str]) -> None:
    """Make `folder` hold exactly `files` (+ BINARY); files whose bytes already match are left untouched
    (same mtime, so the indexer's stat fast path sees them unchanged). d.md -> d2.md is a real rename."""
    folder.mkdir(parents=True, exist_ok=True)
    present = {p.name for p in folder.iterdir()}
    if "d.md" in present and "d2.md" in files and "d.md" not in files:
        os.replace(folder / "d.md", folder / "d2.md")
    for name, text in files.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for name, data in BINARY.items():
        if not (folder / name).exists():
            (folder / name).write_bytes(data)
    for path in folder.iterdir():
        if path.name not in files and path.name not in BINARY:
            path.unlink()


def state_of(files: dict[str, str]) -> dict[str, str]:
    """{path: sha256} of a generation, as the catalogue records its indexed documents."""
    return {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in files.items()}


# ---------------------------------------------------------------- children
def _redirect(out: str | None, err: str | None) -> None:
    for fd, path in ((1, out), (2, err)):
        if path:
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(f, fd)
            os.close(f)


def child_cli(argv: list[str], env: dict[str, str], out: str | None = None, err: str | None = None) -> None:
    """Run `localrag ARGV` exactly as the console script does, with `env` added."""
    import sys

    os.environ.update(env)
    _redirect(out, err)
    from localrag.cli import main

    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def child_index_folder(
    index_dir: str, folder: str, env: dict[str, str], batch_chunks: int, out: str | None = None, err: str | None = None
) -> None:
    """`index_folder` with a small batch (the CLI uses the default, 512 chunks), for the multi-batch kill."""
    os.environ.update(env)
    _redirect(out, err)
    from localrag.embed import load_embedder
    from localrag.indexer import index_folder
    from localrag.store import Store

    settings = make_settings(index_dir)
    store = Store.open(Path(index_dir), settings, create=True)
    index_folder(store, Path(folder), load_embedder(settings), settings, batch_chunks=batch_chunks)
    os._exit(0)


PRELOAD = ["localrag.cli", "localrag.indexer", "localrag.embed", "localrag.index", "torch",
           "sentence_transformers", "faiss", "bm25s"]  # fmt: skip


def forkserver_context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


@dataclass
class ChildResult:
    exitcode: int | None  # -9: killed by SIGKILL
    seconds: float
    stdout: str
    stderr: str


def run_child(ctx, target, args: tuple, tmp: Path, timeout: float = 120.0) -> ChildResult:
    """Run target(*args, out, err) in a forked child and wait for it."""
    out, err = tmp / "child.out", tmp / "child.err"
    t0 = time.monotonic()
    proc = ctx.Process(target=target, args=(*args, str(out), str(err)))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        raise AssertionError(f"child {args} did not finish in {timeout} s")
    read = lambda p: p.read_text(errors="replace") if p.exists() else ""  # noqa: E731
    return ChildResult(proc.exitcode, time.monotonic() - t0, read(out), read(err))


def process_state(pid: int) -> str:
    """'R', 'S', 'T' (stopped), ... from /proc/PID/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2]


def wait_for_state(pid: int, state: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while process_state(pid) != state:
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} never reached state {state}")
        time.sleep(0.05)


# ---------------------------------------------------------------- checking an index
def integrity_ok(index_dir: Path) -> str:
    conn = sqlite3.connect(index_dir / "catalog.sqlite3")
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def documents(store) -> dict[str, str]:
    return {d.path: d.sha256 for d in store.catalog.documents() if d.status == "ok"}


def chunk_texts(store) -> dict[str, list[str]]:
    """path -> its chunk texts in order (what a clean build must reproduce)."""
    rows = store.catalog.chunk_rows(all_chunk_ids(store))
    out: dict[str, list[tuple[int, str]]] = {}
    for row in rows.values():
        out.setdefault(row.path, []).append((row.chunk.ordinal, row.chunk.text))
    return {p: [t for _, t in sorted(v)] for p, v in sorted(out.items())}


def all_chunk_ids(store) -> np.ndarray:
    ids = [cid for batch in store.catalog.iter_chunk_texts() for cid, _, _ in batch]
    return np.asarray(ids, dtype=np.int64)


def assert_derived_match_catalog(store) -> None:
    """FAISS and BM25 hold exactly the catalogue's chunk ids, at the catalogue's generation."""
    ids = all_chunk_ids(store)
    assert store.generation == store.catalog.generation
    assert np.array_equal(store.dense.ids(), ids), "FAISS ids differ from the catalogue's chunks"
    assert np.array_equal(np.sort(store.keyword.ids), ids), "BM25 ids differ from the catalogue's chunks"
    counts = store.catalog.counts()
    assert counts["chunks"] == counts["embeddings"] == len(ids)


def search_paths(store, embedder, settings, queries=QUERIES, k: int = 3) -> dict[str, list[str]]:
    from localrag.retrieve.searcher import Searcher

    searcher = Searcher(store, embedder, settings, None)
    return {q: [h.path for h in searcher.search(q, k=k, rerank=False).hits] for q in queries}


def copy_index(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    (dst / "write.lock").unlink(missing_ok=True)
    return dst
