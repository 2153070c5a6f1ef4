"""`localrag index FILE` and several paths: a selection of the folder that holds them."""

from __future__ import annotations

import json

import pytest

from localrag.cli import main
from localrag.errors import ConfigError
from localrag.index import Index


@pytest.fixture
def idx(make_settings, embedder):
    settings = make_settings(**{"llm.backend": "none", "retrieval.rerank": False})
    with Index.open(None, settings, create=True, embedder=embedder) as index:
        yield index


def _paths(index: Index) -> list[str]:
    return sorted(d.path for d in index.store.catalog.documents() if d.status == "ok")


def test_a_single_file_is_indexed_and_later_files_join_it(idx, notes):
    first, second = notes / "garden" / "compost.md", notes / "garden" / "tomatoes.md"
    summary = idx.add(first)
    assert summary.added == 1 and summary.removed == 0
    assert _paths(idx) == ["compost.md"]
    status = idx.status()
    assert status.root == str(first.parent) and status.paths == ["compost.md"]
    assert idx.search("compost heap", k=1)[0].path == "compost.md"

    assert idx.add(second).added == 1  # another file of the same folder joins the selection
    assert _paths(idx) == ["compost.md", "tomatoes.md"]
    assert idx.sources() == [first, second]
    again = idx.add(idx.sources())  # what the TUI's re-index does: nothing new, nothing removed
    assert again.added == again.removed == 0 and again.unchanged == 2
    second.unlink()  # a selected file that goes away leaves the index
    assert idx.add(idx.sources()).removed == 1 and _paths(idx) == ["compost.md"]


def test_several_paths_root_is_their_common_folder(idx, notes):
    sub = notes / "deep" / "er"
    sub.mkdir(parents=True)
    a = sub / "pump.md"
    a.write_text("# Pump\n\nThe bilge pump runs on a float switch.\n")
    other = sorted(p for p in notes.glob("*.md"))[0]
    summary = idx.add([a, other])
    assert summary.added == 2
    assert idx.status().root == str(notes.resolve())
    assert _paths(idx) == sorted(["deep/er/pump.md", other.name])


def test_the_whole_folder_after_a_selection_takes_everything(idx, notes):
    one = sorted(notes.glob("*.md"))[0]
    idx.add(one)
    summary = idx.add(notes)
    assert idx.status().paths is None
    assert len(_paths(idx)) == summary.added + summary.unchanged + summary.updated > 1


def test_a_path_outside_the_index_folder_is_refused_with_what_to_do(idx, notes, tmp_path):
    idx.add(sorted(notes.glob("*.md"))[0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.md").write_text("# X\n\nSomething else entirely.\n")
    with pytest.raises(ConfigError, match=r"is outside it: index it into another index \(--index DIR\)"):
        idx.add(elsewhere / "x.md")


def test_a_hidden_file_given_by_name_is_reported_not_dropped(idx, notes):
    hidden = notes / ".secret.md"
    hidden.write_text("# Secret\n\nA hidden note.\n")
    summary = idx.add([hidden, sorted(notes.glob("*.md"))[0]])
    assert [s["path"] for s in summary.skipped] == [".secret.md"]
    assert "ignored" in summary.skipped[0]["reason"]


def test_cli_index_file_and_missing_path(notes, tmp_path, models_dir, capsys, monkeypatch):
    monkeypatch.setenv("LOCALRAG_MODELS", str(models_dir))
    monkeypatch.setenv("LOCALRAG_EMBEDDER__BACKEND", "torch")
    index = tmp_path / "cli-index"
    one = sorted(notes.glob("*.md"))[0]
    assert main(["index", str(one), "--index", str(index), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == 1 and summary["skipped"] == []  # the JSON document
    assert main(["index", str(notes / "nope.md"), "--index", str(index)]) == 2
    assert "not found:" in capsys.readouterr().err
