"""The SQLite catalogue: round trips, generation, corruption, chats."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from localrag.errors import IndexCorruptError
from localrag.store.catalog import SCHEMA_VERSION, Catalog
from localrag.types import Chunk


def _chunks(n: int) -> list[Chunk]:
    return [
        Chunk(
            text=f"chunk {i} text",
            ordinal=i,
            heading=("Top", f"Sub {i}"),
            page=i + 1 if i % 2 else None,
            line_start=10 * i + 1,
            line_end=10 * i + 9,
            char_start=100 * i,
            char_end=100 * i + 50,
            n_tokens=3,
        )
        for i in range(n)
    ]


@pytest.fixture
def cat(tmp_path) -> Catalog:
    c = Catalog.open(tmp_path / Catalog.FILENAME, create=True)
    yield c
    c.close()


def test_fresh_catalogue_has_meta_and_wal(cat):
    meta = cat.meta()
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["generation"] == "0"
    assert meta["vector_dtype"] == "float16"
    assert cat._query("PRAGMA journal_mode")[0][0] == "wal"
    assert cat._query("PRAGMA foreign_keys")[0][0] == 1


def test_document_chunks_and_vectors_round_trip(cat):
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((3, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    cat.set_meta(dim="8")
    with cat.transaction() as tx:
        doc_id = tx.put_document("a/b.md", sha256="ab", size=10, mtime_ns=5, chunks=_chunks(3), vectors=vecs)
    assert cat.generation == 1
    (doc,) = cat.documents()
    assert (doc.id, doc.path, doc.sha256, doc.size, doc.mtime_ns, doc.status, doc.n_chunks) == (
        doc_id,
        "a/b.md",
        "ab",
        10,
        5,
        "ok",
        3,
    )
    ids = cat.chunk_ids_for_docs([doc_id])
    rows = cat.chunk_rows(ids)
    assert [rows[i].chunk for i in ids] == _chunks(3)
    assert {r.path for r in rows.values()} == {"a/b.md"}
    ((got_ids, got_vecs),) = list(cat.iter_embeddings())
    assert got_ids.tolist() == ids.tolist() and got_vecs.dtype == np.float32
    # float16 storage: within 1e-3 of the original and the ranking it gives is the same
    assert np.abs(got_vecs - vecs).max() < 1e-3
    q = vecs[0] + 0.1 * vecs[1]
    assert np.argsort(got_vecs @ q).tolist() == np.argsort(vecs @ q).tolist()


def test_removing_a_document_cascades_and_bumps_generation(cat):
    cat.set_meta(dim="4")
    with cat.transaction() as tx:
        doc_id = tx.put_document(
            "x.md", sha256="s", size=1, mtime_ns=1, chunks=_chunks(2), vectors=np.ones((2, 4), np.float32)
        )
    with cat.transaction() as tx:
        tx.remove_document(doc_id)
    assert cat.generation == 2
    assert cat.counts() == {"documents": 0, "skipped": 0, "chunks": 0, "embeddings": 0}


def test_rename_and_touch_do_not_bump_generation(cat):
    cat.set_meta(dim="4")
    with cat.transaction() as tx:
        doc_id = tx.put_document(
            "x.md", sha256="s", size=1, mtime_ns=1, chunks=_chunks(1), vectors=np.ones((1, 4), np.float32)
        )
    with cat.transaction() as tx:
        tx.move_document(doc_id, "y.md", size=1, mtime_ns=2)
        tx.touch_document(doc_id, size=1, mtime_ns=3)
    assert cat.generation == 1
    assert cat.document("y.md").mtime_ns == 3 and cat.document("x.md") is None


def test_failed_transaction_rolls_back_everything(cat):
    with pytest.raises(ValueError):
        with cat.transaction() as tx:
            tx.put_document("ok.md", sha256="s", size=1, mtime_ns=1, status="skipped", error="empty file")
            tx.put_document("bad.md", sha256="s", size=1, mtime_ns=1, chunks=_chunks(1), vectors=None)
    assert cat.documents() == [] and cat.generation == 0


def test_skipped_documents_are_listed_with_reasons(cat):
    with cat.transaction() as tx:
        tx.put_document(
            "scan.pdf", sha256=None, size=9, mtime_ns=1, status="skipped", error="no text layer; OCR not supported"
        )
    assert cat.skipped() == [{"path": "scan.pdf", "reason": "no text layer; OCR not supported"}]
    assert cat.counts()["skipped"] == 1 and cat.counts()["documents"] == 0


def test_chats_and_messages(cat):
    chat = cat.create_chat("tomatoes")
    cat.add_message(chat, "user", "what feed?")
    cat.add_message(chat, "assistant", "weekly [1]", {"citations": [1]})
    assert [m["role"] for m in cat.messages(chat)] == ["user", "assistant"]
    assert cat.messages(chat)[1]["payload"] == {"citations": [1]}
    assert cat.chats()[0]["messages"] == 2
    cat.rename_chat(chat, "feeding")
    assert cat.chats()[0]["title"] == "feeding"
    cat.delete_chat(chat)
    assert cat.chats() == [] and cat._query("SELECT COUNT(*) FROM messages")[0][0] == 0


def test_garbage_file_is_index_corrupt_error_naming_file_and_fix(tmp_path):
    path = tmp_path / Catalog.FILENAME
    path.write_bytes(b"this is not sqlite" * 500)
    with pytest.raises(IndexCorruptError) as e:
        Catalog.open(path)
    msg = str(e.value)
    assert str(path) in msg and "not a readable localrag catalogue" in msg and "--rebuild" in msg


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / Catalog.FILENAME
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(IndexCorruptError, match="without localrag's tables"):
        Catalog.open(path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / Catalog.FILENAME
    Catalog.open(path, create=True).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(IndexCorruptError, match="newer localrag"):
        Catalog.open(path)


def test_truncated_catalogue_is_index_corrupt_error(tmp_path):
    path = tmp_path / Catalog.FILENAME
    cat = Catalog.open(path, create=True)
    cat.set_meta(dim="4")
    with cat.transaction() as tx:
        tx.put_document(
            "x.md", sha256="s", size=1, mtime_ns=1, chunks=_chunks(50), vectors=np.ones((50, 4), np.float32)
        )
    cat._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cat.close()
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * 200 + data[300:])  # clobber the header's tail + first page
    with pytest.raises(IndexCorruptError):
        c = Catalog.open(path)
        c.documents()


def test_staged_document_is_invisible_until_published(cat):
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((3, 8)).astype(np.float32)
    cat.set_meta(dim="8")
    with cat.transaction() as tx:
        tx.put_document("ref.md", sha256="r", size=1, mtime_ns=1, chunks=_chunks(3), vectors=vecs)
        tx.put_document(
            "a.md", sha256="old", size=1, mtime_ns=1, chunks=_chunks(1), vectors=np.ones((1, 8), np.float32)
        )
    with cat.transaction() as tx:
        tx.stage_document("a.md", sha256="new", config="cfg", chunks=_chunks(3), vectors=vecs)
    assert cat.generation == 1 and cat.document("a.md").sha256 == "old" and cat.counts()["chunks"] == 4
    assert cat.staged_sha256("a.md", "cfg") == "new" and cat.staged_sha256("a.md", "other") is None
    assert cat.staging_counts() == {"documents": 1, "chunks": 3}
    with cat.transaction() as tx:
        tx.put_staged_document("a.md", size=2, mtime_ns=2)
        tx.clear_staging()
    assert cat.generation == 2 and not cat.has_staging()
    doc, ref = cat.document("a.md"), cat.document("ref.md")
    assert (doc.sha256, doc.size, doc.mtime_ns, doc.status, doc.n_chunks) == ("new", 2, 2, "ok", 3)
    ids = cat.chunk_ids_for_docs([doc.id])
    rows = cat.chunk_rows(ids)
    assert [rows[i].chunk for i in ids] == _chunks(3)  # ids in ordinal order
    vectors = dict(zip(*next(cat.iter_embeddings())))
    ref_ids = cat.chunk_ids_for_docs([ref.id])
    # the staged vectors arrive exactly as put_document stores them
    assert all(np.array_equal(vectors[a], vectors[b]) for a, b in zip(ids, ref_ids))


def test_restaging_a_path_replaces_its_rows(cat):
    cat.set_meta(dim="4")
    with cat.transaction() as tx:
        tx.stage_document("a.md", sha256="one", config="c", chunks=_chunks(3), vectors=np.ones((3, 4), np.float32))
    with cat.transaction() as tx:
        tx.stage_document("a.md", sha256="two", config="c", chunks=_chunks(1), vectors=np.ones((1, 4), np.float32))
    assert cat.staging_counts() == {"documents": 1, "chunks": 1} and cat.staged_sha256("a.md", "c") == "two"


def test_catalogue_without_staging_tables_gets_them_on_open(tmp_path):
    path = tmp_path / Catalog.FILENAME
    Catalog.open(path, create=True).close()
    with sqlite3.connect(path) as conn:  # as written before staging existed (schema 1)
        conn.execute("DROP TABLE staged_chunks")
        conn.execute("DROP TABLE staged_documents")
    cat = Catalog.open(path)
    try:
        assert cat.staging_counts() == {"documents": 0, "chunks": 0}
        assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
    finally:
        cat.close()


def test_catalogue_without_note_columns_gets_them_on_open_and_keeps_its_rows(tmp_path):
    path = tmp_path / Catalog.FILENAME
    old = Catalog.open(path, create=True)
    with old.transaction() as tx:
        tx.put_document("old.md", sha256="o", size=1, mtime_ns=1, status="skipped", error="binary")
    old.close()
    with sqlite3.connect(path) as conn:  # as written before notes were stored (schema 1)
        conn.execute("ALTER TABLE documents DROP COLUMN note")
        conn.execute("ALTER TABLE staged_documents DROP COLUMN note")
    cat = Catalog.open(path)
    try:
        assert cat.document("old.md").error == "binary" and cat.document("old.md").note is None
        cat.set_meta(dim="4")
        with cat.transaction() as tx:
            tx.stage_document(
                "big.csv",
                sha256="b",
                config="c",
                chunks=_chunks(2),
                vectors=np.ones((2, 4), np.float32),
                note="truncated: indexed the first 1,000",
            )
        with cat.transaction() as tx:
            tx.put_staged_document("big.csv", size=5, mtime_ns=5)
            tx.clear_staging()
        assert cat.notes() == [{"path": "big.csv", "note": "truncated: indexed the first 1,000"}]
        assert cat.document("big.csv").note == "truncated: indexed the first 1,000"
        assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
    finally:
        cat.close()


def test_a_copy_keeps_the_note_and_skipped_files_have_none(cat):
    cat.set_meta(dim="4")
    with cat.transaction() as tx:
        tx.stage_document(
            "a.csv", sha256="s", config="c", chunks=_chunks(1), vectors=np.ones((1, 4), np.float32), note="truncated"
        )
        tx.put_document("b.bin", sha256="x", size=1, mtime_ns=1, status="skipped", error="binary")
    with cat.transaction() as tx:
        doc_id = tx.put_staged_document("a.csv", size=1, mtime_ns=1)
        tx.copy_document(doc_id, "copy.csv", size=1, mtime_ns=2)
    assert cat.notes() == [{"path": "a.csv", "note": "truncated"}, {"path": "copy.csv", "note": "truncated"}]
