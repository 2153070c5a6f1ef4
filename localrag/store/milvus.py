"""The Milvus store engine: chunks, vectors and BM25 live in Milvus, so any process holding only
the configuration can search and ask.

Who holds what:
- The writer (`localrag index`, `watch`) keeps the SQLite catalogue in `settings.index` as its
  ledger, exactly as with the local engine: sha256 per file, renames, deletes, staging of a
  killed run, one generation per run. Milvus replaces the FAISS and BM25 files derived from it.
- Readers (search, ask, status, eval, serve) need only Milvus: they never open the catalogue.

Readers never see two generations at once, although Milvus has no transactions: every chunk row
carries the Milvus version that published it (gen_from) and the one that retired it (gen_to),
and readers filter on the live version named by the "state" row (gen_from <= V < gen_to). A sync
inserts new rows at V+1, marks retired ones gen_to = V+1 (both invisible at V), writes the
document list of V+1, then flips "state" to V+1 in one upsert: the commit point. A sync killed
before the flip leaves V whole; the next sync first deletes what a killed one left (gen_from > V)
and the rows retired before V (no reader needs them any more). A reader one version behind the
live one (a server still finishing requests on it) therefore sees its version whole: its rows
and its document list are kept until the next sync.

One writer per collection: the state row also names the writer that published it ("writer_id",
a UUID each index folder keeps in its catalogue). A writer with another id refuses to publish
(IndexLockedError) unless told to take the collection over (`take_over`), so two ledgers'
versions never interleave. A state row without a writer (written before this guard) is adopted
by the first writer that publishes.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from localrag.config import Settings
from localrag.errors import ConfigError, IndexLockedError, IndexNotFoundError, StoreUnavailableError
from localrag.reports import IndexStatus
from localrag.store import Store, path_matches
from localrag.store.catalog import Catalog
from localrag.store.crashpoints import crash_point
from localrag.store.lock import WriteLock
from localrag.store.keyword import KeywordIndex
from localrag.store.milvus_client import (
    HIT_FIELDS,
    LIVE_FOREVER,
    META_DIM,
    TEXT_MAX,
    collection_has_bm25,
    row_key,
    connect,
    disconnect,
    create_chunks_collection,
    create_meta_collection,
    dense_index_type,
    ensure_loaded,
    has_bm25,
    server_version,
)
from localrag.store.passage import passage_text
from localrag.store.tokenize import tokenize
from localrag.types import Hit

log = logging.getLogger("localrag")

_BATCH = 1000  # rows per insert / upsert / "id in [...]" query
_PAGE_BYTES = 60_000  # document-list JSON per meta row (VARCHAR holds 65,535 bytes)
_SEARCH_MAX = 16_384  # Milvus's top-k limit
_warned: set[str] = set()  # "say it once" per process


def _no_bm25_notice(version: str) -> str:
    return f"Milvus {version} has no BM25 function (needs 2.5 or later): keyword search is off, dense only"


class MilvusStore(Store):
    """`Store` over Milvus. `catalog` is the writer's ledger, or None in a query-only process."""

    def __init__(self, index_dir: Path, settings: Settings, catalog: Catalog | None, client=None):
        """`client`: share another store's connection (`reopen`), which then passes to this one."""
        super().__init__(index_dir, settings, catalog)  # type: ignore[arg-type]
        self.cfg = settings.store.milvus
        self._owns_client = client is None
        self.client = connect(self.cfg) if client is None else client
        self.name = self.cfg.collection
        self.meta_name = f"{self.name}_meta"
        self.server = server_version(self.client)
        self.state: dict = {}
        self.bm25 = False
        self.dense = MilvusDense(self)  # type: ignore[assignment]
        self.keyword = MilvusKeyword(self)  # type: ignore[assignment]
        self.health = {"catalog": "ok" if catalog is not None else "not used (query-only: reads Milvus)"}

    # ---- opening ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls, index_dir: Path, settings: Settings, create: bool = False, rebuild: bool = False, take_over: bool = False
    ) -> "MilvusStore":
        """A writer (create/rebuild, or a catalogue in `index_dir`) opens the catalogue too;
        otherwise the store reads Milvus only. `take_over`: see `Store.open`."""
        index_dir = Path(index_dir).expanduser()
        if create or rebuild or (index_dir / Catalog.FILENAME).is_file():
            return super().open(  # type: ignore[return-value]
                index_dir, settings, create=create, rebuild=rebuild, take_over=take_over
            )
        store = cls(index_dir, settings, None)
        store.ensure_fresh()
        if not store.state:
            store.close()
            raise IndexNotFoundError(
                f"no localrag index in Milvus at {store.cfg.uri} (collection {store.name!r}); create one with: "
                "localrag index PATH (with store.engine = 'milvus' in localrag.toml)"
            )
        store._check_settings_embedder()
        return store

    def close(self) -> None:
        if self.catalog is not None:
            self.catalog.close()
        if self.client is not None and self._owns_client:
            disconnect(self.client, self.cfg)
        self.client = None

    def _check_settings_embedder(self) -> None:
        if self.catalog is not None:
            return super()._check_settings_embedder()
        recorded, wanted = self.state.get("embedder"), self.settings.embedder.model
        if recorded is None or recorded == wanted:
            return
        if "embedder.model" not in self.settings.sources:
            self.settings.embedder.model = recorded
            return
        raise ConfigError(
            f"the Milvus collection {self.name!r} at {self.cfg.uri} was built with embedder {recorded!r}, "
            f"but embedder.model is {wanted!r}; use embedder.model = {recorded!r}"
        )

    def clear(self) -> None:
        """--rebuild: refused before anything is forgotten when another index folder writes the collection."""
        self._check_writer()
        super().clear()

    def _remove_derived_files(self) -> None:
        """--rebuild: start the collections over (a fresh catalogue's chunk ids start again at 1)."""
        self._check_writer()
        self._drop()

    def _drop(self) -> None:
        for name in (self.name, self.meta_name):
            if self.client.has_collection(name):
                self.client.drop_collection(name)
        self.state = {}

    # ---- the live version ------------------------------------------------------------------
    def _read_state(self) -> dict:
        if not (self.client.has_collection(self.meta_name) and self.client.has_collection(self.name)):
            return {}
        ensure_loaded(self.client, self.meta_name)
        rows = self.client.query(self.meta_name, filter='key == "state"', output_fields=["value"])
        return json.loads(rows[0]["value"]) if rows else {}

    def ensure_fresh(self) -> None:
        """Read the live version. A writer's store also publishes the catalogue when Milvus is
        behind it (a killed run, a new uri), as the local engine rebuilds stale derived files."""
        try:
            self.state = self._read_state()
            if self.catalog is not None and self.generation != self.catalog.generation:
                self._sync_if_free()
        except (StoreUnavailableError, IndexLockedError):
            raise
        except Exception as e:  # noqa: BLE001
            raise StoreUnavailableError(f"cannot read Milvus at {self.cfg.uri}: {type(e).__name__}: {e}") from None
        self._read_capabilities()

    def _read_capabilities(self) -> None:
        if not self.state:
            return
        ensure_loaded(self.client, self.name)
        self.bm25 = collection_has_bm25(self.client, self.name)
        self.notices = [] if self.bm25 else [_no_bm25_notice(self.server)]
        if not self.bm25 and self.server not in _warned:
            _warned.add(self.server)
            log.warning("%s", self.notices[0])
        self.health.update(dense="ok", keyword="ok" if self.bm25 else "unavailable (no BM25 in this Milvus)")

    @property
    def version(self) -> int:
        return int(self.state.get("version", 0))

    @property
    def generation(self) -> int:
        """The catalogue generation Milvus holds (-1 when it holds another catalogue's chunks)."""
        if not self.state:
            return -1
        if self.catalog is not None and (
            self.state.get("catalog_id") != self.catalog.get_meta("created")
            or self.state.get("documents_stamp") != self.catalog.documents_stamp()
        ):
            return -1
        return int(self.state["catalog_generation"])

    def visible(self, version: int | None = None) -> str:
        v = self.version if version is None else version
        return f"gen_from <= {v} and gen_to > {v}"

    @property
    def served_generation(self) -> int:
        return int(self.state.get("catalog_generation", -1))

    @property
    def served_stamp(self) -> tuple:
        # the catalogue's id too: a collection started over (--rebuild) counts versions from 1 again
        return (self.state.get("catalog_id"), self.version)

    def published_stamp(self) -> tuple:
        state = self._read_state()
        return (state.get("catalog_id"), int(state.get("version", 0)))

    def wait_until_loadable(self, timeout: float) -> None:
        """Nothing to wait for: a version is whole once the state row names it."""

    def reopen(self) -> "MilvusStore":
        """The latest version, on this store's connection (a Milvus Lite file opens once per process)."""
        catalog = Catalog.open(self.index_dir / Catalog.FILENAME) if self.catalog is not None else None
        store = MilvusStore(self.index_dir, self.settings, catalog, client=self.client)
        store.take_over = self.take_over
        store.ensure_fresh()
        # the newest store closes the connection: this one may still serve requests in flight
        store._owns_client, self._owns_client = self._owns_client, False
        return store

    def root(self) -> str | None:
        return self.state.get("root")

    def document_passages(self, path: str) -> list[Hit] | None:
        if not any(d[0] == path and d[1] == "ok" for d in self.documents()):
            return None
        expr = f"path == {json.dumps(path, ensure_ascii=False)} and {self.visible()}"
        rows = _query_all(self.client, self.name, expr, ["id", "ordinal", *HIT_FIELDS])
        return [_hit(r) for r in sorted(rows, key=lambda r: r["ordinal"])]

    def refresh(self) -> bool:
        before = self.version
        self.ensure_fresh()
        return self.version != before

    def _dim(self) -> int | None:
        if self.catalog is not None:
            return super()._dim()
        return self.state.get("dim")

    # ---- reading ---------------------------------------------------------------------------
    def get_hits(self, chunk_ids: Iterable[int]) -> dict[int, Hit]:
        ids = [int(i) for i in chunk_ids]
        out: dict[int, Hit] = {}
        for start in range(0, len(ids), _BATCH):
            part = ids[start : start + _BATCH]
            rows = self.client.query(
                self.name, filter=f"id in {part} and {self.visible()}", output_fields=["id", *HIT_FIELDS]
            )
            for r in rows:
                out[int(r["id"])] = _hit(r)
        return out

    def documents(self) -> list[list]:
        """The live version's documents: [path, status, n_chunks, note, error]."""
        pages = int(self.state.get("doc_pages", 0))
        if not pages:
            return []
        keys = [f"docs:{self.version}:{i}" for i in range(pages)]
        rows = self.client.query(self.meta_name, filter=f"key in {json.dumps(keys)}", output_fields=["key", "value"])
        by_key = {r["key"]: json.loads(r["value"]) for r in rows}
        return [doc for key in keys for doc in by_key.get(key, [])]

    def allowed_ids(self, path_glob: str | None = None, types: Iterable[str] | None = None) -> np.ndarray | None:
        if path_glob is None and not types:
            return None
        paths = [d[0] for d in self.documents() if d[1] == "ok" and path_matches(d[0], path_glob, types)]
        ids: list[int] = []
        for start in range(0, len(paths), _BATCH):
            expr = f"path in {json.dumps(paths[start : start + _BATCH], ensure_ascii=False)} and {self.visible()}"
            ids.extend(int(r["id"]) for r in _query_all(self.client, self.name, expr, ["id"]))
        return np.asarray(sorted(ids), dtype=np.int64)

    def status(self) -> IndexStatus:
        docs = self.documents() if self.state else []
        s = self.state
        local = self.catalog.generation if self.catalog is not None else None
        disk = 0
        if not self.cfg.is_server:
            lite = Path(self.cfg.uri).expanduser()
            disk = sum(p.stat().st_size for p in lite.rglob("*") if p.is_file()) if lite.exists() else 0
        return IndexStatus(
            index=f"{self.cfg.uri} (Milvus collection {self.name})",
            root=s.get("root"),
            documents=sum(1 for d in docs if d[1] == "ok"),
            chunks=int(s.get("chunks", 0)),
            skipped=[{"path": d[0], "reason": d[4] or ""} for d in docs if d[1] == "skipped"],
            notes=[{"path": d[0], "note": d[3]} for d in docs if d[1] == "ok" and d[3]],
            generation=int(s.get("catalog_generation", 0)),
            embedder={"name": s.get("embedder"), "dim": s.get("dim")},
            vector_dtype=s.get("vector_dtype"),
            dense={
                "kind": "milvus",
                "count": int(s.get("chunks", 0)),
                "dim": s.get("dim"),
                "nprobe": None,
                "recall": None,
                "server": self.server,
                "version": self.version,
            },  # fmt: skip
            keyword={"engine": "milvus-bm25" if self.bm25 else "none", "count": len(self.keyword)},
            indexed_at=s.get("indexed_at"),
            disk_bytes=disk,
            health={**self.health, "fresh": local is None or self.generation == local},
        )

    # ---- the single writer ---------------------------------------------------------------
    @property
    def writer_id(self) -> str:
        """This index folder's writer id: a UUID kept in its catalogue, made on first use."""
        assert self.catalog is not None, "only a writer has a writer id"
        wid = self.catalog.get_meta("writer_id")
        if not wid:
            wid = uuid.uuid4().hex
            self.catalog.set_meta(writer_id=wid)
        return wid

    def _writer_fields(self) -> dict[str, str]:
        """What the state row records of the writer that published it."""
        return {"writer_id": self.writer_id, "writer": f"{socket.gethostname()}:{self.index_dir}"}

    def _foreign_writer(self, state: dict) -> str | None:
        """The writer of `state` when it is another index folder this store may not override, else None."""
        owner = state.get("writer_id")
        # get_meta, not writer_id: a reader with a catalogue writes nothing (no id yet: not the owner)
        if self.catalog is None or not owner or self.take_over or owner == self.catalog.get_meta("writer_id"):
            return None
        return str(owner)

    def _check_writer(self, state: dict | None = None) -> None:
        """Refuse to write to a collection another index folder publishes to (see the module docstring)."""
        if self.catalog is None:
            return
        state = self._read_state() if state is None else state
        if self._foreign_writer(state) is None:
            return
        where = state.get("writer") or "an unknown machine"
        raise IndexLockedError(
            f"another index folder ({where}) publishes to the Milvus collection {self.name!r} at {self.cfg.uri}; "
            f"this one ({self.index_dir}) may not: index from that folder, or make this one the collection's "
            f"writer, replacing what it holds with this folder's documents: "
            f"localrag index PATH --index {self.index_dir} --take-over"
        )

    @contextmanager
    def write_lock(self, timeout: float = 10.0) -> Iterator[WriteLock]:
        """The index folder's write lock, then the check that this folder writes the collection."""
        with super().write_lock(timeout) as lock:
            self._check_writer()
            yield lock

    # ---- publishing (the writer, under the write lock) -------------------------------------
    def rebuild_derived(self) -> None:
        self.sync()

    def _rebuild(self, dense: bool, keyword: bool) -> None:  # the local engine's derived files
        self.sync()

    def record_run(self, root: Path, paths: list[str] | None = None) -> None:
        super().record_run(root, paths)
        if self.state:
            self._check_writer()  # another folder may have taken the collection over since
            self.state.update(root=str(root), indexed_at=time.time(), **self._writer_fields())
            self._put_meta({"state": self.state})

    def sync(self) -> None:
        """Publish the catalogue's generation to Milvus as the next version (see the module docstring)."""
        assert self.catalog is not None, "only a writer publishes"
        dim = super()._dim()
        if dim is None:  # no embedder recorded yet: nothing was ever indexed
            return
        catalog_id = self.catalog.get_meta("created")
        state = self._read_state()
        self._check_writer(state)
        if state and self.take_over and state.get("writer_id") not in (None, self.writer_id):
            log.warning("taking over Milvus collection %r at %s from %s", self.name, self.cfg.uri, state.get("writer"))
        if state and state.get("catalog_id") != catalog_id:
            log.warning(
                "Milvus collection %r at %s holds another catalogue's chunks; replacing them", self.name, self.cfg.uri
            )
            self._drop()
            state = {}
        self._create_collections(dim)
        # the collection's terms stay what they were built with; another setting needs --rebuild
        terms = state.get("bm25_terms", self.cfg.bm25_terms)
        if terms != self.cfg.bm25_terms:
            log.warning("store.milvus.bm25_terms is %r but the collection holds %r terms; keeping %r "
                        "(localrag index --rebuild to change it)", self.cfg.bm25_terms, terms, terms)  # fmt: skip
        old, new = int(state.get("version", 0)), int(state.get("version", 0)) + 1
        crash_point("milvus-sync")
        # what a killed sync left, and rows retired before the live version
        self.client.delete(self.name, filter=f"gen_from > {old} or gen_to <= {old}")
        live = _query_all(self.client, self.name, self.visible(old), ["row", "id", "path", "gen_to"])
        want = self.catalog.chunk_paths()
        # a chunk whose document was renamed gets a new row: the old one must stay for readers of `old`
        kept = [r for r in live if want.get(r["id"]) == r["path"]]
        kept_ids = {r["id"] for r in kept}
        self._insert(sorted(i for i in want if i not in kept_ids), new, terms)
        self._set_gen_to([r["row"] for r in live if want.get(r["id"]) != r["path"]], new)
        self._set_gen_to([r["row"] for r in kept if r["gen_to"] != LIVE_FOREVER], LIVE_FOREVER)
        pages = self._put_documents(new)
        # sealed segments: Milvus Lite otherwise rebuilds its BM25 index from the memtable per search
        self.client.flush(self.name)
        meta = self.catalog.meta()
        new_state = {
            "version": new,
            "catalog_id": catalog_id,
            "catalog_generation": self.catalog.generation,
            "embedder": meta.get("embedder"),
            "dim": dim,
            "vector_dtype": meta.get("vector_dtype"),
            "root": meta.get("root"),
            "indexed_at": float(meta["indexed_at"]) if "indexed_at" in meta else None,
            "chunks": len(want),
            "documents_stamp": self.catalog.documents_stamp(),
            "doc_pages": pages,
            "bm25_terms": terms,
            **self._writer_fields(),
        }
        crash_point("milvus-publish")
        self._put_meta({"state": new_state})  # the commit point
        crash_point("milvus-published")
        self.take_over = False  # the collection is ours now: another take-over must be asked for again
        self._delete_pages(keep=(old, new))  # a reader still on `old` keeps its document list
        self.state = new_state
        self._read_capabilities()

    def _sync_if_free(self) -> None:
        """Sync under the write lock: ours when writing, else taken if free (a writer at work syncs itself)."""
        if self._writer is not None:
            self.sync()
            return
        owner = self._foreign_writer(self.state)
        if owner is not None:  # a reader with a catalogue reads what the collection's writer publishes
            if f"writer:{self.name}:{owner}" not in _warned:
                _warned.add(f"writer:{self.name}:{owner}")
                log.info("Milvus collection %r is published from another index folder (%s), not from %s; "
                            "reading what it publishes", self.name, self.state.get("writer"), self.index_dir)  # fmt: skip
            return
        lock = WriteLock(self.index_dir)
        if lock.try_acquire():
            try:
                self.sync()
            finally:
                lock.release()

    def _create_collections(self, dim: int) -> None:
        if not self.client.has_collection(self.meta_name):
            create_meta_collection(self.client, self.meta_name)
        if not self.client.has_collection(self.name):
            bm25 = has_bm25(self.server)
            if not bm25 and self.server not in _warned:
                _warned.add(self.server)
                log.warning("%s", _no_bm25_notice(self.server))
            create_chunks_collection(self.client, self.name, dim, bm25, dense_index_type(self.cfg))
        ensure_loaded(self.client, self.name)
        ensure_loaded(self.client, self.meta_name)

    def _insert(self, ids: list[int], version: int, bm25_terms: str) -> None:
        for start in range(0, len(ids), _BATCH):
            part = ids[start : start + _BATCH]
            rows = self.catalog.chunk_rows(part)
            vectors = self.catalog.vectors(part)
            data = []
            for cid in part:
                row, c = rows[cid], rows[cid].chunk
                passage = passage_text(c.heading, c.text)
                data.append({
                    "row": row_key(version, cid), "id": cid, "path": row.path, "text": c.text, "heading": json.dumps(list(c.heading)),
                    "terms": _clip(" ".join(tokenize(passage)) if bm25_terms == "localrag" else passage),
                    "ordinal": c.ordinal, "page": _int(c.page), "line_start": _int(c.line_start),
                    "line_end": _int(c.line_end), "char_start": c.char_start, "char_end": c.char_end,
                    "gen_from": version, "gen_to": LIVE_FOREVER, "vector": vectors[cid].tolist(),
                })  # fmt: skip
            self.client.insert(self.name, data)
            crash_point("milvus-insert")

    def _set_gen_to(self, rows_keys: Sequence[int], gen_to: int) -> None:
        """Rewrite rows with a new gen_to (whole rows: Milvus 2.3 has no partial update)."""
        fields = ["row", "id", *HIT_FIELDS, "terms", "ordinal", "gen_from", "vector"]
        for start in range(0, len(rows_keys), _BATCH):
            part = [int(k) for k in rows_keys[start : start + _BATCH]]
            rows = self.client.query(self.name, filter=f"row in {part}", output_fields=fields)
            for r in rows:
                r["gen_to"] = gen_to
                r["vector"] = [float(x) for x in r["vector"]]
            if rows:
                self.client.upsert(self.name, [{k: r[k] for k in (*fields, "gen_to")} for r in rows])

    def _put_documents(self, version: int) -> int:
        """Write the document list of `version` as pages of JSON; returns the page count."""
        page: list[list] = []
        size = 0
        pages: dict[str, object] = {}
        for d in self.catalog.documents():
            entry = [d.path, d.status, d.n_chunks, d.note, d.error]
            n = len(json.dumps(entry, ensure_ascii=False).encode())
            if page and size + n > _PAGE_BYTES:
                pages[f"docs:{version}:{len(pages)}"] = page
                page, size = [], 0
            page.append(entry)
            size += n + 1
        if page:
            pages[f"docs:{version}:{len(pages)}"] = page
        self._put_meta(pages)
        return len(pages)

    def _delete_pages(self, keep: tuple[int, ...]) -> None:
        rows = _query_all(self.client, self.meta_name, 'key like "docs:%"', ["key"])
        stale = [r["key"] for r in rows if r["key"].split(":")[1] not in {str(v) for v in keep}]
        for start in range(0, len(stale), _BATCH):
            self.client.delete(self.meta_name, filter=f"key in {json.dumps(stale[start : start + _BATCH])}")

    def _put_meta(self, values: dict[str, object]) -> None:
        rows = [
            {"key": k, "value": json.dumps(v, ensure_ascii=False), "vector": [0.0] * META_DIM}
            for k, v in values.items()
        ]
        for start in range(0, len(rows), 100):
            self.client.upsert(self.meta_name, rows[start : start + 100])


class MilvusDense:
    """Dense search in Milvus (inner product on the normalised vectors, as the local FAISS index)."""

    def __init__(self, store: MilvusStore):
        self.store = store

    def __len__(self) -> int:
        return int(self.store.state.get("chunks", 0))

    def search(
        self, qvec: np.ndarray, n: int, allowed_ids: np.ndarray | Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        s = self.store
        if not s.state or n <= 0:
            return []
        res = s.client.search(
            s.name, data=[np.asarray(qvec, dtype=np.float32).ravel().tolist()], anns_field="vector",
            limit=min(n, _SEARCH_MAX), filter=_filter(s, allowed_ids), output_fields=["id"],
            search_params={"metric_type": "IP"},
        )  # fmt: skip
        return [(int(h["entity"]["id"]), float(h["distance"])) for h in res[0]]


class MilvusKeyword:
    """BM25 in Milvus. The query is turned into terms the way the chunks were (state "bm25_terms")."""

    matched_terms = staticmethod(KeywordIndex.matched_terms)

    def __init__(self, store: MilvusStore):
        self.store = store

    @property
    def engine(self) -> str:
        return "milvus-bm25" if self.store.bm25 else "none"

    def __len__(self) -> int:
        return int(self.store.state.get("chunks", 0)) if self.store.bm25 else 0

    def search(
        self, query: str, n: int, allowed_ids: np.ndarray | Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        s = self.store
        if not (s.state and s.bm25) or n <= 0:
            return []
        terms = " ".join(tokenize(query, query=True)) if s.state.get("bm25_terms") == "localrag" else query
        if not terms.strip():
            return []
        res = s.client.search(
            s.name, data=[terms], anns_field="sparse", limit=min(n, _SEARCH_MAX), filter=_filter(s, allowed_ids),
            output_fields=["id"], search_params={"metric_type": "BM25"},
        )  # fmt: skip
        # Milvus Lite reports BM25 scores negated (best first either way)
        return [(int(h["entity"]["id"]), abs(float(h["distance"]))) for h in res[0]]


def _filter(store: MilvusStore, allowed_ids: np.ndarray | Sequence[int] | None) -> str:
    expr = store.visible()
    if allowed_ids is not None:
        expr += f" and id in {[int(i) for i in allowed_ids]}"
    return expr


def _query_all(client, collection: str, expr: str, fields: list[str], batch: int = 10_000) -> list[dict]:
    """Every row matching `expr` (query() alone stops at 16,384)."""
    out: list[dict] = []
    with _quiet_iterator_logs():
        it = client.query_iterator(collection, batch_size=batch, filter=expr, output_fields=fields)
        try:
            while rows := it.next():
                out.extend(rows)
        finally:
            it.close()
    return out


@contextmanager
def _quiet_iterator_logs() -> Iterator[None]:
    """Milvus Lite lacks the timestamp call query iterators start with: pymilvus warns and Lite's
    in-process gRPC server logs a traceback, then both carry on correctly. Keep that off stderr."""
    loggers = [logging.getLogger(name) for name in ("pymilvus", "grpc._server")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _hit(r: dict) -> Hit:
    return Hit(
        chunk_id=int(r["id"]), path=r["path"], text=r["text"], page=_none(r["page"]),
        heading=tuple(json.loads(r["heading"])), line_start=_none(r["line_start"]), line_end=_none(r["line_end"]),
        char_start=int(r["char_start"]), char_end=int(r["char_end"]),
    )  # fmt: skip


def _int(v: int | None) -> int:
    """Milvus 2.3 has no nullable fields: -1 stands for "none" (pages and lines are >= 0)."""
    return -1 if v is None else int(v)


def _none(v: int) -> int | None:
    return None if v is None or int(v) < 0 else int(v)


def _clip(text: str) -> str:
    """At most TEXT_MAX bytes, cut at a space."""
    data = text.encode()
    if len(data) <= TEXT_MAX:
        return text
    return data[:TEXT_MAX].decode(errors="ignore").rsplit(" ", 1)[0]
