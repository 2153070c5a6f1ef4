"""Crash safety: SIGKILL the indexer at named points (LOCALRAG_CRASH_AT) and check what survives.

Each case runs the real `localrag index FOLDER --index DIR` in a child process that kills itself
at one point of walking, embedding, staging, writing SQLite, writing FAISS or writing BM25. A run
stages what it embeds and publishes everything in one transaction, so until that commit the
catalogue is the old generation, and from it on the new one. After the kill:
- `localrag status --json` works and its counts agree (documents, chunks, FAISS, BM25, fresh);
- the catalogue is exactly one complete generation, the one expected at that point (empty, the
  old folder, or the new one: same documents, same chunk texts as a clean build of it), and
  SQLite's integrity check passes;
- FAISS and BM25 (rebuilt from SQLite where stale or half-written) hold exactly its chunk ids,
  and search returns what a clean build of that generation returns;
- re-running `index` finishes and leaves the index equal to a clean build of the folder, embedding
  only what the killed run had not staged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers import MODELS, make_settings
from tests.robustness.robustness_support import (
    GEN1,
    GEN2,
    assert_derived_match_catalog,
    child_cli,
    child_index_folder,
    chunk_texts,
    copy_index,
    documents,
    forkserver_context,
    integrity_ok,
    run_child,
    search_paths,
    state_of,
    write_folder,
)

from localrag.cli import main
from localrag.indexer import index_folder
from localrag.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# (crash point, starting index, generation the catalogue must hold after the kill)
# "first": an empty index and the generation-1 folder; "update": a generation-1 index and the
# folder changed to generation 2 (one rewrite, one removal, one rename, one addition).
# Each run here embeds and stages one batch (the folders are far below batch_chunks).
CASES = [
    ("walk:2", "first", "empty"),
    ("plan:3", "first", "empty"),
    ("embedded", "first", "empty"),
    ("stage-commit", "first", "empty"),
    ("staged", "first", "empty"),  # staged, not published: the re-run embeds nothing
    ("sqlite-write:2", "first", "empty"),
    ("sqlite-commit:3", "first", "empty"),  # 1: schema, 2: embedder recorded, 3: the publish
    ("replace-dense.faiss", "first", "gen1"),
    ("walk:3", "update", "gen1"),
    ("plan:2", "update", "gen1"),
    ("embedded", "update", "gen1"),
    ("stage-commit", "update", "gen1"),
    ("staged", "update", "gen1"),
    ("sqlite-write:3", "update", "gen1"),
    ("sqlite-commit", "update", "gen1"),  # the publish (the only other commit is the closing meta write)
    ("sqlite-committed", "update", "gen2"),
    ("dense-save", "update", "gen2"),
    ("replace-dense.faiss", "update", "gen2"),
    ("replace-dense.json", "update", "gen2"),  # new FAISS file in place, sidecar still the old one
    ("bm25-arrays", "update", "gen2"),
    ("replace-bm25.json", "update", "gen2"),
    ("bm25-cleanup", "update", "gen2"),  # two bm25 folders on disk
    ("sqlite-commit:2", "update", "gen2"),  # the closing meta write (root, indexed_at)
]
# Points a run reaches before its (only) staging batch is committed.
BEFORE_STAGING = {"walk", "plan", "embedded", "stage-commit"}


class Reference:
    """What a clean build of one generation looks like."""

    def __init__(self, store, embedder, settings):
        self.documents = documents(store)
        self.chunks = chunk_texts(store)
        self.search = search_paths(store, embedder, settings)


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    base = tmp_path_factory.mktemp("kill")
    folder_g1 = base / "folder_g1"  # stays at generation 1
    folder_up = base / "folder_up"  # generation 1, then changed to generation 2
    write_folder(folder_g1, GEN1)
    write_folder(folder_up, GEN1)

    def build(folder: Path, index_dir: Path):
        settings = make_settings(index_dir)
        store = Store.open(index_dir, settings, create=True)
        index_folder(store, folder, embedder, settings)
        return store, settings

    store, settings = build(folder_g1, base / "ref_g1")
    ref = {"empty": None, "gen1": Reference(store, embedder, settings)}
    store.close()
    store, _ = build(folder_up, base / "template_g1")
    store.close()
    write_folder(folder_up, GEN2)
    store, settings = build(folder_up, base / "ref_g2")
    ref["gen2"] = Reference(store, embedder, settings)
    store.close()
    assert ref["gen1"].documents == state_of(GEN1) and ref["gen2"].documents == state_of(GEN2)
    g1, g2 = ref["gen1"], ref["gen2"]
    # chunks a complete run embeds: all of generation 1; in the update, the rewritten and the added file's
    new_chunks = {
        "first": sum(len(v) for v in g1.chunks.values()),
        "update": len(g2.chunks["a.md"]) + len(g2.chunks["e.md"]),
    }
    return {"base": base, "folder_g1": folder_g1, "folder_up": folder_up, "template": base / "template_g1",
            "ref": ref, "new_chunks": new_chunks, "ctx": forkserver_context()}  # fmt: skip


def _child_env(crash: str | None) -> dict[str, str]:
    env = {"LOCALRAG_MODELS": str(MODELS)}
    if crash:
        env["LOCALRAG_CRASH_AT"] = crash
    return env


def _status(index_dir: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["status", "--index", str(index_dir), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def check_generation(index_dir: Path, expected, embedder, capsys) -> None:
    """The index at `index_dir` opens, is consistent, and holds exactly the `expected` generation."""
    status = _status(index_dir, capsys)
    want_docs = {} if expected is None else expected.documents
    assert status["documents"] == len(want_docs)
    assert status["chunks"] == status["dense"]["count"] == status["keyword"]["count"]
    assert status["health"]["fresh"] is True
    assert integrity_ok(index_dir) == "ok"
    settings = make_settings(index_dir)
    with Store.open(index_dir, settings) as store:
        assert documents(store) == want_docs
        assert chunk_texts(store) == ({} if expected is None else expected.chunks)
        assert_derived_match_catalog(store)
        got = search_paths(store, embedder, settings)
        if expected is None:
            assert all(not paths for paths in got.values())
        else:
            assert got == expected.search


@pytest.mark.parametrize(("point", "start", "after"), CASES, ids=[f"{s}-{p}" for p, s, _ in CASES])
def test_sigkill_at_point(point, start, after, world, embedder, tmp_path, capsys):
    index_dir = tmp_path / "index"
    if start == "first":
        folder, final = world["folder_g1"], world["ref"]["gen1"]
    else:
        copy_index(world["template"], index_dir)
        folder, final = world["folder_up"], world["ref"]["gen2"]

    argv = ["index", str(folder), "--index", str(index_dir), "--json"]
    result = run_child(world["ctx"], child_cli, (argv, _child_env(point)), tmp_path)
    assert result.exitcode == -9, f"the crash point {point} was not reached: {result}"

    check_generation(index_dir, world["ref"][after], embedder, capsys)

    # re-running `localrag index` finishes and gives what a clean build gives
    rerun = run_child(world["ctx"], child_cli, (argv, _child_env(None)), tmp_path)
    assert rerun.exitcode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["chunks"] == sum(len(v) for v in final.chunks.values())
    # what the killed run had staged (or published) is not embedded again
    staged = point.split(":")[0] not in BEFORE_STAGING
    assert summary["embedded"] == (0 if staged else world["new_chunks"][start])
    check_generation(index_dir, final, embedder, capsys)
    assert _staged_rows(index_dir) == 0


def _staged_rows(index_dir: Path) -> int:
    with Store.open(index_dir, make_settings(index_dir)) as store:
        return store.catalog.staging_counts()["documents"]


def test_sigkill_between_staging_batches_keeps_the_old_generation(world, embedder, tmp_path, capsys):
    """Past one batch (512 chunks by default, 2 here) each batch is staged on its own, but nothing is
    published until the end: a kill between batches leaves exactly generation 1, and the next run
    publishes generation 2 without embedding again what was staged."""
    index_dir = copy_index(world["template"], tmp_path / "index")
    # killed with the first file staged and the second embedded, not staged
    args = (str(index_dir), str(world["folder_up"]), _child_env("embedded:2"), 2)
    result = run_child(world["ctx"], child_index_folder, args, tmp_path)
    assert result.exitcode == -9, result

    g1, g2 = world["ref"]["gen1"], world["ref"]["gen2"]
    check_generation(index_dir, g1, embedder, capsys)
    settings = make_settings(index_dir)
    with Store.open(index_dir, settings) as store:
        assert store.catalog.generation == 1
        staged = store.catalog.staging_counts()
        assert staged["documents"] == 1 and 0 < staged["chunks"] < world["new_chunks"]["update"]
        summary = index_folder(store, world["folder_up"], embedder, settings, batch_chunks=2)
    assert summary.generation == 2
    assert summary.embedded == world["new_chunks"]["update"] - staged["chunks"]
    check_generation(index_dir, g2, embedder, capsys)
    assert _staged_rows(index_dir) == 0


def test_kill_cases_cover_every_stage():
    names = {p.split(":")[0] for p, _, _ in CASES}
    stages = {
        "walking": {"walk", "plan"},
        "embedding": {"embedded"},
        "staging": {"stage-commit", "staged"},
        "SQLite": {"sqlite-write", "sqlite-commit", "sqlite-committed"},
        "FAISS": {"dense-save", "replace-dense.faiss", "replace-dense.json"},
        "BM25": {"bm25-arrays", "replace-bm25.json", "bm25-cleanup"},
    }
    for stage, points in stages.items():
        assert names & points, f"no kill while {stage}"
    assert len(CASES) >= 10
