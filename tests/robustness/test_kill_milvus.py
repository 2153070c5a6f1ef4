"""Crash safety of the Milvus engine: SIGKILL `localrag index` (store.engine = "milvus", a real
Milvus Lite file) at named points and check what a query-only reader sees.

The writer publishes a catalogue generation to Milvus as one version, made visible by one upsert
of the "state" row (localrag/store/milvus.py). Whatever the kill point, a reader holding only the
config must see exactly one generation: the old one until that upsert, the new one from it on,
never chunks of two generations or of deleted files; re-running `index` repairs the rest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("milvus_lite", reason="Milvus Lite (milvus-lite) is not installed")

from tests.helpers import MODELS, make_settings
from tests.robustness.robustness_support import (
    GEN1,
    GEN2,
    child_cli,
    forkserver_context,
    run_child,
    search_paths,
    write_folder,
)

from localrag.errors import IndexNotFoundError
from localrag.indexer import index_folder
from localrag.store import Store, open_store
from localrag.store.milvus import MilvusStore, _query_all

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# (crash point, starting state, generation a reader must see after the kill)
CASES = [
    ("milvus-insert", "first", "empty"),  # nothing was ever published: "no index", not a half one
    ("milvus-sync", "update", "gen1"),
    ("sqlite-committed", "update", "gen1"),  # the catalogue moved on; Milvus still serves generation 1
    ("milvus-insert", "update", "gen1"),  # new rows inserted, invisible
    ("milvus-publish", "update", "gen1"),  # rows inserted and retired, document list written, no flip
    ("milvus-published", "update", "gen2"),  # flipped; old pages and rows not yet cleaned
]


def _settings(index_dir: Path, db: Path, **extra):
    return make_settings(
        index_dir, **{"store.engine": "milvus", "store.milvus.uri": str(db), "retrieval.rerank": False, **extra}
    )


def _env(db: Path, crash: str | None) -> dict[str, str]:
    env = {"LOCALRAG_MODELS": str(MODELS), "LOCALRAG_STORE__ENGINE": "milvus", "LOCALRAG_STORE__MILVUS__URI": str(db)}
    if crash:
        env["LOCALRAG_CRASH_AT"] = crash
    return env


def _texts_by_path(rows) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["path"], []).append(r["text"])
    return {p: sorted(v) for p, v in sorted(out.items())}


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    """Local clean builds of both generations (the reference), and a Milvus generation-1 template."""
    base = tmp_path_factory.mktemp("kill-milvus")
    folder_g1, folder_up = base / "folder_g1", base / "folder_up"
    write_folder(folder_g1, GEN1)
    write_folder(folder_up, GEN1)
    dense_only = {"retrieval.bm25_weight": 0.0}
    ref = {"empty": None}
    for name, files in (("gen1", GEN1), ("gen2", GEN2)):
        folder = base / f"ref_{name}"
        write_folder(folder, files)
        settings = make_settings(base / f"local_{name}", **dense_only)
        with Store.open(settings.index, settings, create=True) as store:
            index_folder(store, folder, embedder, settings)
            rows = store.catalog.chunk_rows(list(store.catalog.chunk_paths()))
            ref[name] = {
                "chunks": _texts_by_path({"path": r.path, "text": r.chunk.text} for r in rows.values()),
                "search": search_paths(store, embedder, settings),
            }
    template = base / "template"
    settings = _settings(template / "index", template / "milvus.db")
    with open_store(settings, create=True) as store:
        index_folder(store, folder_up, embedder, settings)
    write_folder(folder_up, GEN2)
    return {
        "folder_g1": folder_g1,
        "folder_up": folder_up,
        "template": template,
        "ref": ref,
        "ctx": forkserver_context(),
    }


def check_reader(db: Path, tmp: Path, expected, embedder) -> None:
    """A query-only reader (no catalogue) sees exactly the `expected` generation."""
    settings = _settings(tmp / "no-local-files", db, **{"retrieval.bm25_weight": 0.0})
    if expected is None:
        with pytest.raises(IndexNotFoundError):
            MilvusStore.open(settings.index, settings)
        return
    store = MilvusStore.open(settings.index, settings)
    try:
        assert store.catalog is None
        rows = _query_all(store.client, store.name, store.visible(), ["id", "path", "text"])
        assert len({r["id"] for r in rows}) == len(rows), "a chunk is visible twice"
        assert _texts_by_path(rows) == expected["chunks"]
        status = store.status()
        assert status.chunks == len(rows) and status.documents == len(expected["chunks"])
        assert search_paths(store, embedder, settings) == expected["search"]
    finally:
        store.close()


@pytest.mark.parametrize(("point", "start", "after"), CASES, ids=[f"{s}-{p}" for p, s, _ in CASES])
def test_sigkill_at_point(point, start, after, world, embedder, tmp_path):
    work = tmp_path / "work"
    if start == "first":
        work.mkdir()
        folder = world["folder_g1"]
    else:
        shutil.copytree(world["template"], work)
        (work / "index" / "write.lock").unlink(missing_ok=True)
        folder = world["folder_up"]
    db = work / "milvus.db"
    argv = ["index", str(folder), "--index", str(work / "index"), "--json"]
    result = run_child(world["ctx"], child_cli, (argv, _env(db, point)), tmp_path)
    assert result.exitcode == -9, f"the crash point {point} was not reached: {result}"

    check_reader(db, tmp_path, world["ref"][after], embedder)

    rerun = run_child(world["ctx"], child_cli, (argv, _env(db, None)), tmp_path)
    assert rerun.exitcode == 0, rerun.stderr
    final = world["ref"]["gen1" if start == "first" else "gen2"]
    assert json.loads(rerun.stdout)["chunks"] == sum(len(v) for v in final["chunks"].values())
    check_reader(db, tmp_path, final, embedder)
    settings = _settings(work / "index", db)
    with open_store(settings) as store:  # the writer: Milvus holds the catalogue's generation, nothing more
        assert store.generation == store.catalog.generation
        unpublished = _query_all(store.client, store.name, f"gen_from > {store.version}", ["id"])
        assert unpublished == []
