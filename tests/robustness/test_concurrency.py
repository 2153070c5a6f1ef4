"""Two writers and readers on one index.

The first `localrag index` is frozen mid-run (LOCALRAG_CRASH_SIGNAL=STOP: it stops itself at a
named point, holding the write lock). Meanwhile a second `localrag index` must give up with one
clear line (IndexLockedError, exit 1), and searches must keep answering from the last complete
generation. Then the first writer is resumed and finishes.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
from tests.helpers import MODELS, make_settings
from tests.robustness.robustness_support import (
    GEN1,
    GEN2,
    assert_derived_match_catalog,
    child_cli,
    copy_index,
    documents,
    forkserver_context,
    run_child,
    search_paths,
    state_of,
    wait_for_state,
    write_folder,
)

from localrag.cli import main
from localrag.indexer import index_folder
from localrag.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    base = tmp_path_factory.mktemp("concurrency")
    folder = base / "folder"
    write_folder(folder, GEN1)
    settings = make_settings(base / "template")
    with Store.open(base / "template", settings, create=True) as store:
        index_folder(store, folder, embedder, settings)
        gen1_search = search_paths(store, embedder, settings)
    write_folder(folder, GEN2)
    return {"base": base, "folder": folder, "template": base / "template", "gen1_search": gen1_search,
            "ctx": forkserver_context()}  # fmt: skip


@pytest.mark.parametrize(
    ("point", "visible"),
    [
        ("embedded", "gen1"),  # new generation not committed yet: readers load the saved gen-1 indexes
        ("sqlite-committed", "gen2"),  # committed, derived files not yet rewritten: readers rebuild in memory
    ],
)
def test_second_writer_refused_and_readers_keep_working(point, visible, world, embedder, tmp_path, capsys):
    index_dir = copy_index(world["template"], tmp_path / "index")
    argv = ["index", str(world["folder"]), "--index", str(index_dir), "--json"]
    env = {"LOCALRAG_MODELS": str(MODELS), "LOCALRAG_CRASH_AT": point, "LOCALRAG_CRASH_SIGNAL": "STOP"}
    (tmp_path / "w1").mkdir()
    first = world["ctx"].Process(target=child_cli, args=(argv, env, str(tmp_path / "w1/out"), str(tmp_path / "w1/err")))
    first.start()
    try:
        wait_for_state(first.pid, "T")

        # a second writer: refused after the lock wait, one line naming the holder
        (tmp_path / "w2").mkdir()
        second = run_child(world["ctx"], child_cli, (argv, {"LOCALRAG_MODELS": str(MODELS)}), tmp_path / "w2")
        assert second.exitcode == 1
        assert "Traceback" not in second.stderr
        # (before it, "WARNING: ... index is stale" lines when the first writer has already committed)
        errors = [line for line in second.stderr.splitlines() if not line.startswith("WARNING: ")]
        assert len(errors) == 1, second.stderr
        assert errors[0].startswith("error: another localrag index is writing") and f"pid {first.pid}" in errors[0]

        # readers: a fresh open, `status` and a search all see one complete generation
        settings = make_settings(index_dir)
        with Store.open(index_dir, settings) as reader:
            want = state_of(GEN1 if visible == "gen1" else GEN2)
            assert documents(reader) == want
            assert_derived_match_catalog(reader)
            hits = search_paths(reader, embedder, settings)
            assert all(set(paths) <= set(want) for paths in hits.values())
            if visible == "gen1":
                assert hits == world["gen1_search"]
                assert reader.health == {"catalog": "ok", "dense": "ok", "keyword": "ok"}
            else:
                assert "in memory" in reader.health["dense"]
            capsys.readouterr()
            assert main(["status", "--index", str(index_dir), "--json"]) == 0
            status = json.loads(capsys.readouterr().out)
            assert status["documents"] == len(want)
            assert status["chunks"] == status["dense"]["count"] == status["keyword"]["count"]

            # the frozen writer resumes and finishes; a long-lived reader picks up its work
            os.kill(first.pid, signal.SIGCONT)
            first.join(120)
            assert first.exitcode == 0, (tmp_path / "w1/err").read_text()
            assert json.loads((tmp_path / "w1/out").read_text())["generation"] == reader.catalog.generation
            reader.refresh()
            assert documents(reader) == state_of(GEN2)
            assert_derived_match_catalog(reader)
    finally:
        if first.is_alive():
            os.kill(first.pid, signal.SIGKILL)
            first.join()
