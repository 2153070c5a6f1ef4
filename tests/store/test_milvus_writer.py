"""One writer per Milvus collection: two index folders publishing to the same real Milvus Lite
collection. The second is refused and readers see the collection unchanged; `take_over` makes it
the writer, and the first is then refused; a state row written before the guard is adopted."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the Milvus engine needs the [milvus] extra: pip install 'localrag[milvus]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite (milvus-lite) is not installed")

from localrag.cli import main
from localrag.errors import IndexLockedError
from localrag.index import Index
from localrag.store.milvus import MilvusStore


def _settings(make_settings, tmp_path: Path, name: str):
    return make_settings(
        retrieval__rerank=False,
        store__engine="milvus",
        store__milvus__uri=str(tmp_path / "milvus.db"),
        index=str(tmp_path / name),
    )


def _reader_view(make_settings, tmp_path: Path) -> tuple:
    """What a query-only process sees: the live version, its writer and its documents."""
    store = MilvusStore.open(tmp_path / "reader", _settings(make_settings, tmp_path, "reader"))
    try:
        assert store.catalog is None
        return store.version, store.state.get("writer_id"), sorted(d[0] for d in store.documents())
    finally:
        store.close()


@pytest.fixture
def other_notes(tmp_path) -> Path:
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "kites.md").write_text("# Kites\n\nA delta kite flies in light wind on the beach.\n", encoding="utf-8")
    (folder / "bees.md").write_text("# Bees\n\nThe hive was inspected for the queen in May.\n", encoding="utf-8")
    return folder


def test_a_second_index_folder_is_refused_until_it_takes_over(make_settings, tmp_path, notes, other_notes, embedder):
    settings_a = _settings(make_settings, tmp_path, "index-a")
    with Index.create(settings=settings_a, embedder=embedder) as a:
        a.add(notes)
        id_a = a.store.catalog.get_meta("writer_id")
    assert id_a
    before = _reader_view(make_settings, tmp_path)
    assert before[1] == id_a and "home/boiler.md" in before[2]

    # another index folder: opening it is fine (it only reads), publishing is refused before any embedding
    settings_b = _settings(make_settings, tmp_path, "index-b")
    with Index.create(settings=settings_b, embedder=embedder) as b:
        with pytest.raises(IndexLockedError) as refused:
            b.add(other_notes)
        assert b.store.catalog.counts()["documents"] == 0
        id_b = b.store.catalog.get_meta("writer_id")
    message = str(refused.value)
    assert (
        "another index folder" in message
        and repr(settings_a.store.milvus.collection) in message
        and "--take-over" in message
    )
    assert str(settings_a.index) in message  # the folder that writes it
    assert _reader_view(make_settings, tmp_path) == before
    # --rebuild from the other folder is refused too, before it drops anything
    with pytest.raises(IndexLockedError, match="--take-over"):
        Index.open(settings=settings_b, rebuild=True, embedder=embedder)
    assert _reader_view(make_settings, tmp_path) == before

    # take over: the collection now holds the other folder's documents, published by it
    with Index.open(settings=settings_b, create=True, take_over=True, embedder=embedder) as b:
        b.add(other_notes)
        id_b = b.store.catalog.get_meta("writer_id")
        assert not b.store.take_over  # taken once: a later take-over must be asked for again
    after = _reader_view(make_settings, tmp_path)
    assert after[1] == id_b != id_a and after[2] == ["bees.md", "kites.md"]
    with Index.open(settings=settings_b, embedder=embedder) as b:  # its writer carries on without the option
        (other_notes / "wasps.md").write_text("# Wasps\n\nA wasp nest hangs under the shed roof.\n", encoding="utf-8")
        b.add(other_notes)
    after = _reader_view(make_settings, tmp_path)
    assert after[1] == id_b and after[2] == ["bees.md", "kites.md", "wasps.md"]

    # the first folder is now the one refused; a reader with its catalogue still reads the collection
    with Index.open(settings=settings_a, embedder=embedder) as a:
        assert a.store.catalog.get_meta("writer_id") == id_a
        with pytest.raises(IndexLockedError, match="another index folder"):
            a.add(notes)
        assert a.search("wasp nest", k=1)[0].path == "wasps.md"
    assert _reader_view(make_settings, tmp_path) == after


def test_a_state_row_without_a_writer_is_adopted(make_settings, tmp_path, notes, other_notes, embedder):
    settings_a = _settings(make_settings, tmp_path, "index-a")
    with Index.create(settings=settings_a, embedder=embedder) as a:
        a.add(notes)
        id_a = a.store.catalog.get_meta("writer_id")
        state = {k: v for k, v in a.store._read_state().items() if k not in ("writer_id", "writer")}
        a.store._put_meta({"state": state})  # as a collection published before the guard
    assert _reader_view(make_settings, tmp_path)[1] is None
    # an unrelated folder adopts it (no error) ...
    settings_b = _settings(make_settings, tmp_path, "index-b")
    with Index.create(settings=settings_b, embedder=embedder) as b:
        b.add(other_notes)
        id_b = b.store.catalog.get_meta("writer_id")
    view = _reader_view(make_settings, tmp_path)
    assert view[1] == id_b != id_a and view[2] == ["bees.md", "kites.md"]
    # ... and is then its only writer
    with Index.open(settings=settings_a, embedder=embedder) as a, pytest.raises(IndexLockedError):
        a.add(notes)


def test_the_first_writer_adopts_a_collection_without_a_writer_and_nothing_changed(
    make_settings, tmp_path, notes, embedder
):
    """Its own collection from before the guard: the next run, even with nothing to publish, records it."""
    settings = _settings(make_settings, tmp_path, "index-a")
    with Index.create(settings=settings, embedder=embedder) as a:
        a.add(notes)
        version = a.store.version
        a.store._put_meta({"state": {k: v for k, v in a.store.state.items() if k != "writer_id"}})
    with Index.open(settings=settings, embedder=embedder) as a:
        assert a.add(notes).embedded == 0
        wid = a.store.catalog.get_meta("writer_id")
    assert _reader_view(make_settings, tmp_path)[:2] == (version, wid)


def test_index_and_watch_take_the_take_over_option(capsys):
    for command in ("index", "watch"):
        assert main([command, "--help"]) == 0
        assert "--take-over" in capsys.readouterr().out
