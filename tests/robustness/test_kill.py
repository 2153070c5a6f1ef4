"""Crash safety: SIGKILL the indexer at named points (LOCALRAG_CRASH_AT) and check what survives.

Each case runs the real `localrag index FOLDER --index DIR` in a child process that kills itself
at one point of walking, embedding, writing SQLite, writing FAISS or writing BM25. After the kill:
- `localrag status --json` works and its counts agree (documents, chunks, FAISS, BM25, fresh);
- the catalogue is exactly one complete generation, the one expected at that point (empty, the
  old folder, or the new one: same documents, same chunk texts as a clean build of it), and
  SQLite's integrity check passes;
- FAISS and BM25 (rebuilt from SQLite where stale or half-written) hold exactly its chunk ids,
  and search returns what a clean build of that generation returns;
- re-running `index` finishes and leaves the index equal to a clean build of the folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from robustness_support import (
    settings_for,
    GEN1,
    GEN2,
    MODELS,
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
CASES = [
    ("walk:2", "first", "empty"),
    ("plan:3", "first", "empty"),
    ("embedded", "first", "empty"),
    ("sqlite-write:2", "first", "empty"),
    ("sqlite-commit:3", "first", "empty"),  # 1: schema, 2: embedder recorded, 3: the documents
    ("replace-dense.faiss", "first", "gen1"),
    ("walk:3", "update", "gen1"),
    ("plan:2", "update", "gen1"),
    ("embedded", "update", "gen1"),
    ("sqlite-write:3", "update", "gen1"),
    ("sqlite-commit", "update", "gen1"),
    ("sqlite-committed", "update", "gen2"),
    ("dense-save", "update", "gen2"),
    ("replace-dense.faiss", "update", "gen2"),
    ("replace-dense.json", "update", "gen2"),  # new FAISS file in place, sidecar still the old one
    ("bm25-arrays", "update", "gen2"),
    ("replace-bm25.json", "update", "gen2"),
    ("bm25-cleanup", "update", "gen2"),  # two bm25 folders on disk
    ("sqlite-commit:2", "update", "gen2"),  # the closing meta write (root, indexed_at)
]



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
        settings = settings_for(index_dir)
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
    return {"base": base, "folder_g1": folder_g1, "folder_up": folder_up, "template": base / "template_g1",
            "ref": ref, "ctx": forkserver_context()}  # fmt: skip


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
    settings = settings_for(index_dir)
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
    check_generation(index_dir, final, embedder, capsys)


def test_sigkill_between_batches_keeps_each_document_whole(world, embedder, tmp_path, capsys):
    """Past one batch (256 chunks in the CLI, 2 here), batches commit one by one: a kill between
    them leaves some files updated and others not, but every document entirely old or entirely
    new, the derived indexes matching the catalogue, and the next run completing the update."""
    index_dir = copy_index(world["template"], tmp_path / "index")
    args = (str(index_dir), str(world["folder_up"]), _child_env("sqlite-committed:2"), 2)
    result = run_child(world["ctx"], child_index_folder, args, tmp_path)
    assert result.exitcode == -9, result

    g1, g2 = world["ref"]["gen1"], world["ref"]["gen2"]
    status = _status(index_dir, capsys)
    assert status["chunks"] == status["dense"]["count"] == status["keyword"]["count"]
    with Store.open(index_dir, settings_for(index_dir)) as store:
        docs, chunks = documents(store), chunk_texts(store)
        assert_derived_match_catalog(store)
    assert docs != g1.documents and docs != g2.documents, "expected a partly applied update"
    for path, sha in docs.items():
        version = g1 if g1.documents.get(path) == sha else g2
        assert version.documents.get(path) == sha, f"{path} is neither generation"
        assert chunks[path] == version.chunks[path], f"{path} mixes chunks of two generations"

    settings = settings_for(index_dir)
    with Store.open(index_dir, settings) as store:
        index_folder(store, world["folder_up"], embedder, settings)
    check_generation(index_dir, g2, embedder, capsys)


def test_kill_cases_cover_every_stage():
    names = {p.split(":")[0] for p, _, _ in CASES}
    stages = {
        "walking": {"walk", "plan"},
        "embedding": {"embedded"},
        "SQLite": {"sqlite-write", "sqlite-commit", "sqlite-committed"},
        "FAISS": {"dense-save", "replace-dense.faiss", "replace-dense.json"},
        "BM25": {"bm25-arrays", "replace-bm25.json", "bm25-cleanup"},
    }
    for stage, points in stages.items():
        assert names & points, f"no kill while {stage}"
    assert len(CASES) >= 10
