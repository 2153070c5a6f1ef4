"""Store: opening, derived-index freshness and rebuilds, hits, filters, status."""

from __future__ import annotations

import logging
import stat

import numpy as np
import pytest

import localrag.store.dense as dense_module
from localrag.config import Settings, load_settings
from localrag.errors import ConfigError, IndexCorruptError, IndexNotFoundError
from localrag.store import Store, path_matches
from localrag.store.catalog import Catalog
from localrag.store.dense import FAISS_FILE
from localrag.store.lock import WriteLock
from localrag.types import Chunk

DIM = 16
DOCS = {
    "garden/tomatoes.md": ["Feed tomatoes weekly with potassium.", "Water tomato seedlings from below."],
    "garden/compost.md": ["Turn the compost heap monthly."],
    "home/wifi.txt": ["Reset the wifi router by holding the button."],
    "papers/boiler.pdf": ["Boiler pressure should be 1.5 bar."],
}


def _fill(store: Store, docs: dict[str, list[str]] = DOCS, seed: int = 0) -> None:
    """Write documents straight into the catalogue (what the indexer does), then rebuild."""
    rng = np.random.default_rng(seed)
    store.check_embedder(store.settings.embedder.model, DIM)
    with store.write_lock(), store.catalog.transaction() as tx:
        for path, texts in docs.items():
            chunks = [
                Chunk(
                    text=t,
                    ordinal=i,
                    heading=(path.split("/")[-1],),
                    line_start=i + 1,
                    line_end=i + 1,
                    page=1 if path.endswith(".pdf") else None,
                )
                for i, t in enumerate(texts)
            ]
            vecs = rng.standard_normal((len(chunks), DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            tx.put_document(path, sha256=path, size=1, mtime_ns=1, chunks=chunks, vectors=vecs)
    with store.write_lock():
        store.rebuild_derived()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(index=tmp_path / "idx")


@pytest.fixture
def filled(settings) -> Store:
    store = Store.open(settings.index, settings, create=True)
    _fill(store)
    yield store
    store.close()


def test_missing_index_says_how_to_create_one(settings):
    with pytest.raises(IndexNotFoundError, match=r"no index at .*localrag index PATH --index"):
        Store.open(settings.index, settings)
    assert not settings.index.exists()


def test_created_directory_is_private(settings):
    Store.open(settings.index, settings, create=True).close()
    assert stat.S_IMODE(settings.index.stat().st_mode) == 0o700


def test_reopen_loads_saved_indexes_without_rebuilding(filled, settings, caplog):
    caplog.set_level(logging.WARNING, logger="localrag")
    again = Store.open(settings.index, settings)
    assert again.health == {"catalog": "ok", "dense": "ok", "keyword": "ok"} and caplog.text == ""
    assert again.generation == filled.catalog.generation
    assert again.keyword.search("tomato", 5) == filled.keyword.search("tomato", 5)


def test_missing_dense_index_is_rebuilt_from_sqlite_with_a_warning(filled, settings, caplog):
    q = np.ones(DIM, np.float32) / np.sqrt(DIM)
    before = filled.dense.search(q, 5)
    (settings.index / FAISS_FILE).unlink()
    again = Store.open(settings.index, settings)
    assert again.health["dense"] == "rebuilt" and again.health["keyword"] == "ok"
    assert "rebuilding it from the catalogue" in caplog.text
    # float16 storage round trip: same neighbours, scores within 1e-3
    after = again.dense.search(q, 5)
    assert [c for c, _ in after] == [c for c, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before], abs=1e-3)
    assert (settings.index / FAISS_FILE).exists()  # and saved for the next reader


def test_corrupt_keyword_index_is_rebuilt(filled, settings, caplog):
    folder = next(p for p in settings.index.iterdir() if p.is_dir() and p.name.startswith("bm25-"))
    (folder / "vocab.index.json").write_text("garbage")
    again = Store.open(settings.index, settings)
    assert again.health["keyword"] == "rebuilt" and "corrupt" in caplog.text
    assert again.keyword.search("tomato", 5) == filled.keyword.search("tomato", 5)


def test_stale_indexes_after_a_catalogue_change_are_rebuilt(filled, settings):
    with filled.catalog.transaction() as tx:
        tx.remove_document(filled.catalog.document("home/wifi.txt").id)
    again = Store.open(settings.index, settings)
    assert again.health["dense"] == again.health["keyword"] == "rebuilt"
    assert again.keyword.search("wifi router", 5) == []
    assert len(again.dense) == len(filled.dense) - 1


def test_reader_does_not_write_files_while_another_process_writes(filled, settings):
    (settings.index / FAISS_FILE).unlink()
    with WriteLock(settings.index):  # someone else is indexing
        again = Store.open(settings.index, settings)
    assert again.health["dense"].startswith("rebuilt in memory")
    assert len(again.dense) == len(filled.dense)
    assert not (settings.index / FAISS_FILE).exists()


def test_failed_save_leaves_the_previous_index_intact(filled, settings, monkeypatch):
    def half_write(index, path):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise RuntimeError("disk full")

    before = (settings.index / FAISS_FILE).read_bytes()
    monkeypatch.setattr(dense_module.faiss, "write_index", half_write)
    with pytest.raises(RuntimeError, match="disk full"):
        filled.dense.save(settings.index)
    assert (settings.index / FAISS_FILE).read_bytes() == before
    assert not list(settings.index.glob(".*.tmp"))
    monkeypatch.undo()
    assert Store.open(settings.index, settings).health["dense"] == "ok"


def test_refresh_picks_up_another_writers_changes(filled, settings):
    reader = Store.open(settings.index, settings)
    assert reader.refresh() is False
    _fill(filled, {"notes/new.md": ["A brand new note about bicycles."]}, seed=1)
    assert reader.refresh() is True
    assert reader.keyword.search("bicycles", 1)


def test_get_hits_fills_location_fields(filled):
    cid, _ = filled.keyword.search("boiler pressure", 1)[0]
    hit = filled.get_hits([cid, 999_999])
    assert list(hit) == [cid]
    h = hit[cid]
    assert (h.path, h.page, h.heading, h.line_start) == ("papers/boiler.pdf", 1, ("boiler.pdf",), 1)
    assert h.text == "Boiler pressure should be 1.5 bar."


def test_allowed_ids_by_glob_and_type(filled):
    def paths(ids):
        return {h.path for h in filled.get_hits(ids.tolist()).values()}

    assert filled.allowed_ids() is None
    assert paths(filled.allowed_ids(path_glob="garden/*")) == {"garden/tomatoes.md", "garden/compost.md"}
    assert paths(filled.allowed_ids(types=["pdf"])) == {"papers/boiler.pdf"}
    assert paths(filled.allowed_ids(path_glob="*.md", types=[".txt"])) == set()
    ids = filled.allowed_ids(path_glob="*wifi*")
    assert [c for c, _ in filled.keyword.search("router button", 5, allowed_ids=ids)] == ids.tolist()


def test_path_matches():
    assert path_matches("notes/a/b.md", "notes/*", None)
    assert path_matches("notes/a/b.md", "*.md", ["MD"])
    assert not path_matches("notes/a/b.md", "*.txt", None)
    assert not path_matches("x.pdf", None, ["md", "txt"])


def test_status_reports_counts_and_health(filled):
    with filled.catalog.transaction() as tx:
        tx.put_document("scan.pdf", sha256=None, size=1, mtime_ns=1, status="skipped", error="encrypted PDF")
    s = filled.status()
    assert (s.documents, s.chunks) == (4, 5)
    assert s.skipped == [{"path": "scan.pdf", "reason": "encrypted PDF"}]
    assert s.embedder == {"name": "all-MiniLM-L6-v2", "dim": DIM}
    assert s.dense["kind"] == "flat" and s.keyword == {"engine": "bm25s", "count": 5}
    assert s.health["fresh"] is True and s.disk_bytes > 0


def test_corrupt_catalogue_raises_and_rebuild_moves_it_aside(filled, settings):
    filled.close()
    path = settings.index / Catalog.FILENAME
    for suffix in ("-wal", "-shm"):
        (settings.index / f"{Catalog.FILENAME}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"\x00" * 8192)
    with pytest.raises(IndexCorruptError, match="not a readable localrag catalogue"):
        Store.open(settings.index, settings)
    fresh = Store.open(settings.index, settings, rebuild=True)
    assert fresh.status().documents == 0 and len(fresh.dense) == 0
    assert list(settings.index.glob(f"{Catalog.FILENAME}.corrupt-*"))


def test_explicit_other_embedder_is_refused_default_adopts_the_recorded_one(filled, settings):
    chosen = load_settings(overrides={"index": str(settings.index), "embedder.model": "bge-small"}, environ={})
    with pytest.raises(ConfigError, match="built with embedder 'all-MiniLM-L6-v2'"):
        Store.open(settings.index, chosen)
    # rebuild forgets the old embedder, so a new one is accepted
    Store.open(settings.index, chosen, rebuild=True).check_embedder("bge-small", 384)

    filled2 = Store.open(settings.index, settings)  # default settings: adopts bge-small
    assert settings.embedder.model == "bge-small"
    filled2.close()


def test_rank_bm25_engine_is_built_in_memory(filled, settings):
    settings.retrieval.bm25_engine = "rank-bm25"
    again = Store.open(settings.index, settings)
    assert again.keyword.engine == "rank-bm25" and again.health["keyword"].startswith("built in memory")
    assert [c for c, _ in again.keyword.search("tomato", 3)] == [c for c, _ in filled.keyword.search("tomato", 3)]
