"""The index on disk: the SQLite catalogue (source of truth) and the FAISS + BM25 indexes derived from it.

Layout of an index directory (mode 0700):
    catalog.sqlite3 (+ -wal, -shm)   documents, chunks, embeddings, meta, chats, staged work
    dense.faiss, dense.json          FAISS index + sidecar (generation, checksum, nprobe, recall)
    bm25-<gen>-<rand>/, bm25.json    bm25s arrays + sidecar naming the live folder
    write.lock                       flock held by the one writer

Readers never see a half-written index: an indexing run stages what it embeds in side tables
of the catalogue and publishes all of its changes in one transaction (which also bumps
`generation`), so the catalogue holds the documents before a run or after it, never a mix.
Derived files are written to temporary names and renamed into place, and each is stamped with
the generation it was built from. `Store.open` rebuilds any derived index that is missing,
stale or corrupt from the catalogue (no re-embedding), with a warning.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import numpy as np

from localrag.config import Settings
from localrag.errors import ConfigError, IndexCorruptError, IndexNotFoundError
from localrag.reports import IndexStatus
from localrag.store.atomic import read_json
from localrag.store.catalog import Catalog, ChunkRow
from localrag.store.dense import FAISS_FILE, DenseIndex
from localrag.store.dense import SIDECAR as DENSE_SIDECAR
from localrag.store.keyword import SIDECAR as KEYWORD_SIDECAR
from localrag.store.keyword import KeywordIndex
from localrag.store.lock import WriteLock
from localrag.types import Hit

log = logging.getLogger("localrag")

__all__ = ["Store", "Catalog", "DenseIndex", "KeywordIndex", "WriteLock", "open_store"]


class Store:
    """An open index: `.catalog`, `.dense`, `.keyword`, `.generation` (of the loaded derived indexes)."""

    def __init__(self, index_dir: Path, settings: Settings, catalog: Catalog):
        self.index_dir = index_dir
        self.settings = settings
        self.catalog = catalog
        self.dense = DenseIndex(None, None, -1)
        self.keyword = KeywordIndex(settings.retrieval.bm25_engine, np.zeros(0, np.int64), None, -1)
        self.health: dict[str, str] = {"catalog": "ok"}
        self.notices: list[str] = []  # said with every search (e.g. an engine without BM25)
        self._writer: WriteLock | None = None
        self.take_over = False  # the Milvus engine: publish to a collection another index folder writes

    # ---- opening ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls, index_dir: Path, settings: Settings, create: bool = False, rebuild: bool = False, take_over: bool = False
    ) -> "Store":
        """Open the index at `index_dir`.

        create:  make it when missing (else IndexNotFoundError).
        rebuild: start over (for `localrag index --rebuild`): an unreadable catalogue is moved
                 aside, documents and the recorded embedder are forgotten (chats are kept when
                 the catalogue is readable). Implies create. Takes the write lock briefly.
        take_over: (the Milvus engine) publish even to a collection another index folder publishes
                   to, and become its writer (`localrag index --take-over`).
        """
        index_dir = Path(index_dir).expanduser()
        path = index_dir / Catalog.FILENAME
        if not path.exists() and not (create or rebuild):
            raise IndexNotFoundError(
                f"no index at {index_dir}; create one with: localrag index PATH --index {index_dir}"
            )
        if index_dir.exists() and not index_dir.is_dir():
            raise IndexNotFoundError(f"{index_dir} is a file, not an index directory")
        if not index_dir.exists():
            index_dir.mkdir(mode=0o700, parents=True)
            os.chmod(index_dir, 0o700)
        if rebuild:
            return cls._open_rebuilt(index_dir, settings, take_over)
        store = cls(index_dir, settings, Catalog.open(path, create=True))
        store.take_over = take_over
        store._check_settings_embedder()
        store.ensure_fresh()
        return store

    @classmethod
    def _open_rebuilt(cls, index_dir: Path, settings: Settings, take_over: bool = False) -> "Store":
        path = index_dir / Catalog.FILENAME
        with WriteLock(index_dir):
            try:
                catalog = Catalog.open(path, create=True)
            except IndexCorruptError as e:
                aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
                log.warning("%s; moving it aside to %s and starting a new catalogue", e, aside.name)
                os.replace(path, aside)
                for suffix in ("-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                catalog = Catalog.open(path, create=True)
            store = cls(index_dir, settings, catalog)
            store.take_over = take_over
            store.clear()
            store._remove_derived_files()
        store.ensure_fresh()
        return store

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- embedder bookkeeping --------------------------------------------------------------
    def _check_settings_embedder(self) -> None:
        recorded = self.catalog.get_meta("embedder")
        wanted = self.settings.embedder.model
        if recorded is None or recorded == wanted:
            return
        if "embedder.model" not in self.settings.sources:
            # The user did not choose an embedder: use the one the index was built with.
            log.info("index %s was built with embedder %s; using it", self.index_dir, recorded)
            self.settings.embedder.model = recorded
            return
        raise ConfigError(self._embedder_mismatch(recorded, wanted))

    def _embedder_mismatch(self, recorded: str, wanted: str) -> str:
        return (
            f"index {self.index_dir} was built with embedder {recorded!r} "
            f"(dim {self.catalog.get_meta('dim')}), but embedder.model is {wanted!r}. "
            f"Use embedder.model = {recorded!r}, or re-embed everything: "
            f"localrag index --rebuild <folder> --index {self.index_dir}"
        )

    def check_embedder(self, name: str, dim: int) -> None:
        """Record the embedder on first use; refuse a different one later (vectors would not compare)."""
        recorded = self.catalog.get_meta("embedder")
        if recorded is None:
            self.catalog.set_meta(embedder=name, dim=str(dim))
            return
        if recorded != name or int(self.catalog.get_meta("dim", "0") or 0) != dim:
            raise ConfigError(self._embedder_mismatch(recorded, name))

    # ---- writing ---------------------------------------------------------------------------
    @contextmanager
    def write_lock(self, timeout: float = 10.0) -> Iterator[WriteLock]:
        """Hold the index's single-writer lock (IndexLockedError after `timeout` seconds)."""
        lock = WriteLock(self.index_dir, timeout=timeout)
        with lock:
            self._writer = lock
            try:
                yield lock
            finally:
                self._writer = None

    def clear(self) -> None:
        """Forget every document, staged work and the recorded embedder and root (chats are kept)."""
        with self.catalog.transaction() as tx:
            tx.clear_documents()
            tx.clear_staging()
            tx.execute("DELETE FROM meta WHERE key IN ('embedder', 'dim', 'root', 'paths')")

    def _remove_derived_files(self) -> None:
        for name in (FAISS_FILE, DENSE_SIDECAR, KEYWORD_SIDECAR):
            (self.index_dir / name).unlink(missing_ok=True)
        for folder in self.index_dir.glob("bm25-*"):
            shutil.rmtree(folder, ignore_errors=True)

    # ---- derived indexes -------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """The catalogue generation the loaded dense and keyword indexes reflect."""
        return min(self.dense.generation, self.keyword.generation)

    def _dim(self) -> int | None:
        return int(self.catalog.get_meta("dim", "0") or 0) or None

    def ensure_fresh(self) -> None:
        """Load the derived indexes for the catalogue's generation, rebuilding what is stale."""
        gen = self.catalog.generation
        dim = self._dim()
        engine = self.settings.retrieval.bm25_engine
        if self.catalog.counts()["chunks"] == 0:
            # Nothing to load: build the (empty) indexes quietly.
            dense_stale = self.dense.generation != gen
            keyword_stale = self.keyword.generation != gen or self.keyword.engine != engine
            if dense_stale or keyword_stale:
                self._rebuild(dense=dense_stale, keyword=keyword_stale)
            return
        rebuild_dense = rebuild_keyword = False
        if self.dense.generation != gen:
            loaded = DenseIndex.load(self.index_dir, gen, dim)
            if loaded is not None:
                self.dense, self.health["dense"] = loaded, "ok"
            else:
                rebuild_dense = True
        if self.keyword.generation != gen or self.keyword.engine != engine:
            loaded_kw = KeywordIndex.load(self.index_dir, gen) if engine == "bm25s" else None
            if loaded_kw is not None:
                self.keyword, self.health["keyword"] = loaded_kw, "ok"
            else:
                rebuild_keyword = True
        if rebuild_dense or rebuild_keyword:
            self._rebuild(dense=rebuild_dense, keyword=rebuild_keyword)

    def rebuild_derived(self) -> None:
        """Rebuild both derived indexes from the catalogue and save them (writers call this)."""
        self._rebuild(dense=True, keyword=True)

    def _rebuild(self, dense: bool, keyword: bool) -> None:
        # Save only under the write lock: ours if we are the writer, else taken if free.
        # While another process writes, build in memory only; that writer saves its own.
        own = self._writer
        lock: WriteLock | None = own
        if own is None:
            lock = WriteLock(self.index_dir)
            if not lock.try_acquire():
                lock = None
        try:
            engine = self.settings.retrieval.bm25_engine
            t0 = time.perf_counter()
            if dense:
                self.dense = DenseIndex.from_catalog(self.catalog, self.settings.retrieval.ivf_threshold)
            if keyword:
                self.keyword = KeywordIndex.from_catalog(self.catalog, engine)
            saved = lock is not None
            if saved:
                if dense:
                    self.dense.save(self.index_dir)
                if keyword:
                    self.keyword.save(self.index_dir)
            state = "rebuilt" if saved else "rebuilt in memory (another process is writing)"
            if dense:
                self.health["dense"] = state
            if keyword:
                self.health["keyword"] = state if engine == "bm25s" else "built in memory (rank-bm25 is not saved)"
            log.debug("derived indexes rebuilt in %.2fs", time.perf_counter() - t0)
        finally:
            if own is None and lock is not None:
                lock.release()

    def record_run(self, root: Path, paths: list[str] | None = None) -> None:
        """Remember the indexed folder, the selection inside it (`paths`, None: all of it) and
        when it was indexed (the end of an indexing run)."""
        self.catalog.set_meta(
            root=str(root), paths=json.dumps(paths) if paths is not None else "", indexed_at=str(time.time())
        )

    # ---- a long-running reader (localrag serve) ---------------------------------------------
    @property
    def served_generation(self) -> int:
        """The catalogue generation this store's readers see (what /healthz reports)."""
        return self.generation

    @property
    def served_stamp(self) -> tuple:
        """What this store serves, comparable with `published_stamp()`."""
        return (self.generation,)

    def published_stamp(self) -> tuple:
        """What a store opened now would serve (cheap: one catalogue read); it differs from
        `served_stamp` once a writer has published another generation."""
        return (self.catalog.generation,)

    def wait_until_loadable(self, timeout: float) -> None:
        """Until the published generation can be opened whole: its derived indexes are saved, or
        no writer holds the lock (opening earlier would rebuild in memory what the writer is
        about to save). Gives up silently after `timeout` seconds."""
        generation = self.catalog.generation
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            saved = [read_json(self.index_dir / name) or {} for name in (DENSE_SIDECAR, KEYWORD_SIDECAR)]
            if all(s.get("generation", -1) >= generation for s in saved):
                return
            lock = WriteLock(self.index_dir)
            if lock.try_acquire():
                lock.release()
                return
            time.sleep(0.2)

    def reopen(self) -> "Store":
        """A new store at the latest published version; this one stays usable by its readers."""
        return type(self).open(self.index_dir, self.settings)

    def root(self) -> str | None:
        """The indexed folder, as the writer recorded it."""
        return self.catalog.get_meta("root")

    def document_passages(self, path: str) -> list[Hit] | None:
        """The passages of the indexed document at `path` (relative POSIX), in document order;
        None when `path` is no indexed document."""
        doc = self.catalog.document(path)
        if doc is None or doc.status != "ok":
            return None
        rows = self.catalog.chunk_rows(self.catalog.chunk_ids_for_docs([doc.id]))
        return [_row_hit(cid, row) for cid, row in sorted(rows.items(), key=lambda item: item[1].chunk.ordinal)]

    def refresh(self) -> bool:
        """Pick up another process's changes (e.g. a long-running chat after `localrag index`).

        Returns True when the catalogue had moved on and the derived indexes were reloaded.
        """
        if self.catalog.generation == self.generation:
            return False
        self.ensure_fresh()
        return True

    # ---- reading ---------------------------------------------------------------------------
    def get_hits(self, chunk_ids: Iterable[int]) -> dict[int, Hit]:
        """Hits (path, text, page, heading, spans) for the ids still in the catalogue."""
        return {cid: _row_hit(cid, row) for cid, row in self.catalog.chunk_rows(chunk_ids).items()}

    def allowed_ids(self, path_glob: str | None = None, types: Iterable[str] | None = None) -> np.ndarray | None:
        """Chunk ids of documents matching the filters, for `search(..., allowed_ids=)`; None = no filter."""
        if path_glob is None and not types:
            return None
        docs = [d for d in self.catalog.documents() if d.status == "ok"]
        wanted = [d.id for d in docs if path_matches(d.path, path_glob, types)]
        return self.catalog.chunk_ids_for_docs(wanted)

    def status(self) -> IndexStatus:
        counts = self.catalog.counts()
        meta = self.catalog.meta()
        disk = sum(p.stat().st_size for p in self.index_dir.rglob("*") if p.is_file())
        return IndexStatus(
            index=str(self.index_dir),
            root=meta.get("root"),
            paths=json.loads(meta["paths"]) if meta.get("paths") else None,  # a selection, not the whole folder
            documents=counts["documents"],
            chunks=counts["chunks"],
            skipped=self.catalog.skipped(),
            notes=self.catalog.notes(),
            generation=self.catalog.generation,
            embedder={"name": meta.get("embedder"), "dim": self._dim()},
            vector_dtype=meta.get("vector_dtype"),
            dense=self.dense.info(),
            keyword={"engine": self.keyword.engine, "count": len(self.keyword)},
            indexed_at=float(meta["indexed_at"]) if "indexed_at" in meta else None,
            disk_bytes=disk,
            health={**self.health, "fresh": self.generation == self.catalog.generation},
        )


def _row_hit(cid: int, row: ChunkRow) -> Hit:
    return Hit(
        chunk_id=cid,
        path=row.path,
        text=row.chunk.text,
        page=row.chunk.page,
        heading=row.chunk.heading,
        line_start=row.chunk.line_start,
        line_end=row.chunk.line_end,
        char_start=row.chunk.char_start,
        char_end=row.chunk.char_end,
        locator=row.chunk.locator,
    )


def path_matches(path: str, path_glob: str | None, types: Iterable[str] | None) -> bool:
    """Does a document path pass the filters? Glob: fnmatch on the relative POSIX path
    (`*` crosses folders: "*.md", "notes/*"); types: extensions with or without the dot."""
    if path_glob is not None and not fnmatch.fnmatchcase(path, path_glob):
        return False
    if types:
        suffix = PurePosixPath(path).suffix.lower().lstrip(".")
        if suffix not in {t.lower().lstrip(".") for t in types}:
            return False
    return True


def open_store(settings: Settings, create: bool = False, rebuild: bool = False, take_over: bool = False) -> Store:
    """The store `settings.store.engine` names: local files in `settings.index`, or Milvus.
    `take_over`: see `Store.open` (the local engine has no one to take over from)."""
    if settings.store.engine == "milvus":
        from localrag.store.milvus import MilvusStore

        return MilvusStore.open(settings.index, settings, create=create, rebuild=rebuild, take_over=take_over)
    return Store.open(settings.index, settings, create=create, rebuild=rebuild, take_over=take_over)
