"""Incremental indexing: what gets embedded, renamed, removed, skipped.

A small deterministic bag-of-words embedder counts what it is asked to embed; everything
else (ingest, SQLite, FAISS, bm25s) is real. tests/test_indexer_minilm.py runs the real model.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from localrag import index_events as ev
from localrag.config import Settings
from localrag.errors import ConfigError, IndexLockedError
from localrag.indexer import embedding_text, index_folder
from localrag.store import Store
from localrag.types import Chunk
from tests.helpers import CountingEmbedder

NOTES = Path(__file__).parent / "data" / "notes"


@pytest.fixture
def folder(tmp_path) -> Path:
    dest = tmp_path / "notes"
    shutil.copytree(NOTES, dest)
    return dest


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(index=tmp_path / "index")


@pytest.fixture
def emb() -> CountingEmbedder:
    return CountingEmbedder()


def _open(settings: Settings) -> Store:
    return Store.open(settings.index, settings, create=True)


def _paths(store: Store) -> set[str]:
    return {d.path for d in store.catalog.documents() if d.status == "ok"}


def _assert_consistent(store: Store) -> None:
    """Every chunk in SQLite is in FAISS and BM25, and nothing else is."""
    ids = {r[0] for r in store.catalog._query("SELECT id FROM chunks")}
    assert set(store.keyword.ids.tolist()) == ids
    assert set(store.dense.ids().tolist()) == ids
    assert store.generation == store.catalog.generation


def test_first_run_indexes_every_file_and_is_searchable(folder, settings, emb):
    events = []
    store = _open(settings)
    summary = index_folder(store, folder, emb, settings, progress=events.append)
    n_files = sum(1 for p in folder.rglob("*") if p.is_file())
    assert summary.added == n_files and summary.updated == summary.removed == 0
    assert summary.chunks == len(emb.texts) == summary.embedded > 0
    assert _paths(store) == {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    _assert_consistent(store)
    hits = store.keyword.search("tomato", 3)
    assert hits and "garden/tomatoes.md" in {h.path for h in store.get_hits([c for c, _ in hits]).values()}
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.Scan and kinds[-1] is ev.Done and ev.Embed in kinds and ev.Commit in kinds
    assert events[-1].report is summary
    total = events[0].files
    dones = [e.done for e in events if isinstance(e, ev.File)]
    assert dones == list(range(1, total + 1))  # a bar fed with scan's total ends exactly full
    assert store.catalog.get_meta("root") == str(folder.resolve())
    # the derived indexes on disk are what a fresh reader loads, without rebuilding
    store.close()
    again = Store.open(settings.index, settings)
    assert again.health == {"catalog": "ok", "dense": "ok", "keyword": "ok"}
    _assert_consistent(again)


def test_unchanged_folder_embeds_nothing(folder, settings, emb):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    gen = store.catalog.generation
    emb.reset()
    os.utime(folder / "travel.md")  # new mtime, same bytes: hashed, not re-embedded
    summary = index_folder(store, folder, emb, settings)
    assert emb.texts == []
    assert summary.unchanged == len(_paths(store)) and summary.added == summary.updated == 0
    assert store.catalog.generation == gen  # derived indexes untouched


def test_modified_file_is_the_only_one_reembedded(folder, settings, emb):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    emb.reset()
    target = folder / "garden" / "compost.md"
    target.write_text(target.read_text() + "\n\nAdd crushed eggshells for calcium.\n")
    summary = index_folder(store, folder, emb, settings)
    assert summary.updated == 1 and summary.added == 0
    assert emb.texts and all("compost" in t.lower() or "eggshell" in t.lower() for t in emb.texts)
    assert any("eggshells" in t for t in emb.texts)
    hits = store.keyword.search("eggshells calcium", 1)
    assert store.get_hits([hits[0][0]])[hits[0][0]].path == "garden/compost.md"
    _assert_consistent(store)


def test_rename_moves_the_path_without_reembedding(folder, settings, emb):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    chunk_ids_before = set(store.keyword.ids.tolist())
    emb.reset()
    (folder / "garden" / "tomatoes.md").rename(folder / "tomato-notes.md")
    summary = index_folder(store, folder, emb, settings)
    assert emb.texts == []
    assert summary.renamed == 1 and summary.removed == 0 and summary.added == 0
    assert "tomato-notes.md" in _paths(store) and "garden/tomatoes.md" not in _paths(store)
    assert set(store.keyword.ids.tolist()) == chunk_ids_before  # same chunks, same vectors
    hit_id = store.keyword.search("tomato", 1)[0][0]
    assert store.get_hits([hit_id])[hit_id].path == "tomato-notes.md"


def test_copy_reuses_vectors(folder, settings, emb):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    emb.reset()
    shutil.copy(folder / "travel.md", folder / "travel-copy.md")
    summary = index_folder(store, folder, emb, settings)
    assert emb.texts == [] and summary.added == 1
    copy = store.catalog.document("travel-copy.md")
    orig = store.catalog.document("travel.md")
    assert copy.n_chunks == orig.n_chunks > 0
    _assert_consistent(store)


def test_deleted_file_is_gone_from_every_index(folder, settings, emb):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    doc = store.catalog.document("home/wifi.txt")
    gone_ids = store.catalog.chunk_ids_for_docs([doc.id]).tolist()
    assert gone_ids
    (folder / "home" / "wifi.txt").unlink()
    summary = index_folder(store, folder, emb, settings)
    assert summary.removed == 1
    assert store.catalog.document("home/wifi.txt") is None
    assert store.get_hits(gone_ids) == {}
    assert not set(gone_ids) & set(store.keyword.ids.tolist())
    for cid in gone_ids:
        with pytest.raises(RuntimeError):
            store.dense.index.reconstruct(cid)  # IndexIDMap2 no longer knows the id
    assert not store.catalog._query(f"SELECT 1 FROM embeddings WHERE chunk_id IN ({','.join(map(str, gone_ids))})")
    _assert_consistent(store)
    # and a fresh reader agrees
    store.close()
    _assert_consistent(Store.open(settings.index, settings))


def test_skipped_files_are_recorded_with_reasons(folder, settings, emb):
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (folder / "empty.md").write_text("")
    (folder / "blob.txt").write_bytes(bytes(range(256)) * 20)
    store = _open(settings)
    summary = index_folder(store, folder, emb, settings)
    reasons = {s["path"]: s["reason"] for s in summary.skipped}
    assert set(reasons) >= {"photo.png", "empty.md", "blob.txt"}
    assert reasons["photo.png"] == "corrupt image: not a readable picture"
    assert all(reasons[p] for p in reasons)
    assert {s["path"] for s in store.status().skipped} == set(reasons)
    assert not ({"photo.png", "empty.md", "blob.txt"} & _paths(store))
    # a skipped file that later becomes indexable is picked up
    (folder / "blob.txt").write_text("now it is plain text about bicycles")
    summary = index_folder(store, folder, emb, settings)
    assert "blob.txt" in _paths(store) and summary.added == 1


def test_data_file_over_the_cap_is_indexed_in_part_with_its_note_kept(folder, settings, emb, capsys):
    import json

    from localrag.cli import main

    settings.chunking.max_data_chars = 1000
    rows = "".join(f"{i},plant {i},watered weekly\n" for i in range(200))  # ~5,000 characters
    (folder / "plants.csv").write_text("id,name,care\n" + rows + "999,lastrowmarker,never\n")
    store = _open(settings)
    summary = index_folder(store, folder, emb, settings)
    assert "plants.csv" in _paths(store) and all(s["path"] != "plants.csv" for s in summary.skipped)
    [entry] = summary.notes
    assert entry["path"] == "plants.csv" and entry["note"].startswith("truncated: indexed up to row ")
    assert not any("lastrowmarker" in t for t in emb.texts) and any("plant 3 |" in t for t in emb.texts)
    store.close()

    assert main(["status", "--json", "--index", str(settings.index)]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [entry]
    assert main(["status", "--index", str(settings.index)]) == 0
    human = capsys.readouterr().out
    assert "partly indexed files (1):" in human and f"plants.csv: {entry['note']}" in human

    store = _open(settings)
    emb.reset()
    summary = index_folder(store, folder, emb, settings)  # unchanged: nothing re-read, the note stays
    assert emb.texts == [] and summary.unchanged == len(_paths(store)) and summary.notes == [entry]
    (folder / "plants.csv").rename(folder / "crops.csv")
    summary = index_folder(store, folder, emb, settings)
    assert summary.renamed == 1 and summary.notes == [{"path": "crops.csv", "note": entry["note"]}]
    (folder / "crops.csv").write_text("id,name\n1,basil\n")  # now under the cap: no note
    summary = index_folder(store, folder, emb, settings)
    assert summary.updated == 1 and summary.notes == [] and store.status().notes == []


def test_note_of_a_file_staged_by_a_killed_run_is_published_by_the_next(folder, settings, emb):
    class Boom(Exception):
        pass

    def kill_once_the_csv_is_staged(event):
        if isinstance(event, ev.Stage) and any("plant 3 |" in t for t in emb.texts):
            raise Boom

    settings.chunking.max_data_chars = 1000
    (folder / "plants.csv").write_text("".join(f"{i},plant {i},watered weekly\n" for i in range(200)))
    store = _open(settings)
    with pytest.raises(Boom):
        index_folder(store, folder, emb, settings, progress=kill_once_the_csv_is_staged, batch_chunks=1)
    assert store.catalog.notes() == []  # staged, not published
    emb2 = CountingEmbedder()
    summary = index_folder(store, folder, emb2, settings)
    assert not any("plant 3 |" in t for t in emb2.texts)  # reused from the staging, not re-embedded
    assert [n["path"] for n in summary.notes] == ["plants.csv"]
    assert summary.notes[0]["note"].startswith("truncated: indexed up to row ")


def test_file_turning_unreadable_leaves_the_index(folder, settings, emb):
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    target = folder / "recipes.md"
    target.write_text("changed so the stat differs\n")
    target.chmod(0)
    try:
        summary = index_folder(store, folder, emb, settings)
    finally:
        target.chmod(0o644)
    assert {"path": "recipes.md", "reason": "unreadable: permission denied"} in summary.skipped
    assert "recipes.md" not in _paths(store)
    _assert_consistent(store)
    # readable again, same stat: transient reasons are retried
    summary = index_folder(store, folder, emb, settings)
    assert "recipes.md" in _paths(store)


def test_rebuild_reembeds_everything(folder, settings, emb):
    store = _open(settings)
    first = index_folder(store, folder, emb, settings)
    emb.reset()
    summary = index_folder(store, folder, emb, settings, rebuild=True)
    assert summary.added == first.added and len(emb.texts) == first.chunks
    _assert_consistent(store)


def test_second_writer_gets_index_locked_error(folder, settings, emb):
    store = _open(settings)
    other = Store.open(settings.index, settings)
    with other.write_lock():
        t = time.monotonic()
        with pytest.raises(IndexLockedError, match=f"pid {os.getpid()}"):
            index_folder(store, folder, emb, settings, lock_timeout=0.3)
        assert time.monotonic() - t >= 0.3
    index_folder(store, folder, emb, settings, lock_timeout=0.3)  # free again


def test_another_folder_is_refused_unless_the_first_is_gone(folder, settings, emb, tmp_path):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.md").write_text("# A\n\nsomething")
    with pytest.raises(ConfigError, match="--rebuild"):
        index_folder(store, other, emb, settings)
    moved = tmp_path / "moved-notes"
    folder.rename(moved)
    emb.reset()
    summary = index_folder(store, moved, emb, settings)
    assert emb.texts == [] and summary.removed == 0 and summary.unchanged > 0


def test_embedder_with_other_dimension_is_refused(folder, settings, emb):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    emb.dim = 8
    with pytest.raises(ConfigError, match="built with embedder"):
        index_folder(store, folder, emb, settings)


def test_crash_mid_run_publishes_nothing_and_the_rerun_reuses_staged_work(folder, settings, emb):
    class Boom(Exception):
        pass

    class Crashing(CountingEmbedder):
        calls = 0

        def encode(self, texts, progress=None):
            Crashing.calls += 1
            if Crashing.calls == 3:
                raise Boom
            return super().encode(texts, progress)

    store = _open(settings)
    crashing = Crashing()
    with pytest.raises(Boom):
        index_folder(store, folder, crashing, settings, batch_chunks=1)
    staged = store.catalog.staging_counts()
    assert staged["documents"] == 2 and staged["chunks"] == len(crashing.texts) > 0  # two batches staged
    assert _paths(store) == set() and store.catalog.generation == 0  # but nothing published
    store.close()
    reader = Store.open(settings.index, settings)
    assert reader.catalog.counts()["chunks"] == 0
    _assert_consistent(reader)
    emb2 = CountingEmbedder()
    summary = index_folder(reader, folder, emb2, settings)
    assert summary.added == len(_paths(reader)) > 2 and summary.generation == 1
    assert summary.embedded == len(emb2.texts) == summary.chunks - staged["chunks"]
    assert not set(emb2.texts) & set(crashing.texts)  # the staged files were not embedded again
    assert reader.catalog.staging_counts() == {"documents": 0, "chunks": 0}
    _assert_consistent(reader)


def test_readers_see_the_old_generation_until_the_run_publishes(folder, settings, emb):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    before = {d.path: d.sha256 for d in store.catalog.documents()}
    chunks_before = store.catalog.counts()["chunks"]
    gen = store.catalog.generation
    for name in ("travel.md", "recipes.md", "garden/compost.md"):
        (folder / name).write_text((folder / name).read_text() + "\n\nNew paragraph about kayaks.\n")
    (folder / "home" / "wifi.txt").unlink()
    seen = []

    def progress(event):
        if isinstance(event, ev.Stage) and not seen:  # after the first staged batch, a reader opens the index
            with Store.open(settings.index, settings) as reader:
                hits = reader.keyword.search("kayaks", 3)
                seen.append(
                    {
                        "docs": {d.path: d.sha256 for d in reader.catalog.documents()},
                        "chunks": reader.catalog.counts()["chunks"],
                        "generation": reader.catalog.generation,
                        "staged": reader.catalog.staging_counts()["documents"],
                        "kayak_hits": hits,
                    }
                )

    summary = index_folder(store, folder, emb, settings, progress=progress, batch_chunks=1)
    assert seen, "no batch was staged"
    view = seen[0]
    assert view["staged"] >= 1
    assert view["docs"] == before and view["chunks"] == chunks_before and view["generation"] == gen
    assert view["kayak_hits"] == []
    assert summary.generation == gen + 1 and summary.updated == 3 and summary.removed == 1
    assert store.catalog.staging_counts() == {"documents": 0, "chunks": 0}
    assert store.keyword.search("kayaks", 3)
    _assert_consistent(store)


def test_staged_work_for_files_changed_again_is_not_reused(folder, settings, emb):
    class Boom(Exception):
        pass

    class Crashing(CountingEmbedder):
        def encode(self, texts, progress=None):
            out = super().encode(texts, progress)
            if len(self.texts) > len(texts):  # the second batch
                raise Boom
            return out

    store = _open(settings)
    with pytest.raises(Boom):
        index_folder(store, folder, Crashing(), settings, batch_chunks=1)
    (staged_path,) = [r[0] for r in store.catalog._query("SELECT path FROM staged_documents")]
    (folder / staged_path).write_text("# Changed\n\nEntirely different words about lighthouses.\n")
    summary = index_folder(store, folder, emb, settings)
    assert any("lighthouses" in t for t in emb.texts)
    hit = store.keyword.search("lighthouses", 1)[0][0]
    assert store.get_hits([hit])[hit].path == staged_path
    assert summary.embedded == summary.chunks
    assert store.catalog.staging_counts() == {"documents": 0, "chunks": 0}
    _assert_consistent(store)


def test_rebuild_forgets_staged_work(folder, settings, emb):
    class Boom(Exception):
        pass

    class Crashing(CountingEmbedder):
        def encode(self, texts, progress=None):
            if self.texts:
                raise Boom
            return super().encode(texts, progress)

    store = _open(settings)
    with pytest.raises(Boom):
        index_folder(store, folder, Crashing(), settings, batch_chunks=1)
    assert store.catalog.has_staging()
    store.clear()
    assert not store.catalog.has_staging()


def test_embedding_text_prefixes_headings_that_fit():
    def count(text: str) -> int:
        return len(text.split())

    chunk = Chunk(text="feed weekly", ordinal=0, heading=("Garden", "Tomatoes"), n_tokens=2)
    assert embedding_text(chunk, count, 100) == "Garden > Tomatoes\nfeed weekly"
    assert embedding_text(chunk, count, 4) == "Tomatoes\nfeed weekly"  # the full path would not fit
    assert embedding_text(chunk, count, 2) == "feed weekly"


def test_transient_skip_is_retried_even_with_the_same_stat(folder, settings, emb):
    store = _open(settings)
    index_folder(store, folder, emb, settings)
    st = (folder / "travel.md").stat()
    with store.catalog.transaction() as tx:  # as if it had been unreadable at the last run
        tx.put_document(
            "travel.md",
            sha256=None,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            status="skipped",
            error="unreadable: permission denied",
        )
    emb.reset()
    summary = index_folder(store, folder, emb, settings)
    assert "travel.md" in _paths(store) and summary.added == 1 and emb.texts
    # a content-caused skip with the same stat is not retried
    with store.catalog.transaction() as tx:
        tx.put_document(
            "travel.md", sha256=None, size=st.st_size, mtime_ns=st.st_mtime_ns, status="skipped", error="binary"
        )
    emb.reset()
    summary = index_folder(store, folder, emb, settings)
    assert emb.texts == [] and {"path": "travel.md", "reason": "binary"} in summary.skipped
