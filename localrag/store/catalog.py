"""The SQLite catalogue: the source of truth for documents, chunks, embeddings, chats.

FAISS and BM25 are derived from it and can always be rebuilt from it. Every change to the
set of chunks bumps `generation` in the same transaction, so a derived index stamped with
an older generation is known to be stale.

Staging: an indexing run first writes the chunks and vectors it embeds to `staged_documents`
and `staged_chunks`, a batch per transaction, without touching documents/chunks/embeddings or
the generation; readers never look at them. The run then publishes everything in one
transaction (`Transaction.put_staged_document`, `clear_staging`). Staged rows left by a killed
run are reused by the next one for files whose bytes did not change, so that work is not lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localrag.errors import IndexCorruptError
from localrag.store.crashpoints import crash_point
from localrag.types import Chunk


def _row_id(cursor: sqlite3.Cursor) -> int:
    """The id an INSERT gave its row (sqlite3 types `lastrowid` as optional; after an INSERT it is set)."""
    return _row_id_of(cursor.lastrowid)


def _row_id_of(lastrowid: int | None) -> int:
    assert lastrowid is not None, "no row was inserted"
    return lastrowid


SCHEMA_VERSION = 1
DEFAULT_VECTOR_DTYPE = "float16"
_VECTOR_DTYPES = {"float16": np.float16, "float32": np.float32}
_IN_BATCH = 500  # ids per "IN (...)" query, well under SQLite's variable limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    path       TEXT NOT NULL UNIQUE,          -- POSIX, relative to the indexed root
    sha256     TEXT,
    size       INTEGER,
    mtime_ns   INTEGER,
    status     TEXT NOT NULL CHECK (status IN ('ok', 'skipped')),
    error      TEXT,                          -- why it was skipped
    n_chunks   INTEGER NOT NULL DEFAULT 0,
    indexed_at REAL NOT NULL,
    note       TEXT                           -- why an 'ok' file is indexed only in part
);
CREATE INDEX IF NOT EXISTS documents_sha256 ON documents (sha256);
-- AUTOINCREMENT: chunk ids are never reused, so a stale FAISS/BM25 index can never
-- point at a different chunk than the one it was built from.
CREATE TABLE IF NOT EXISTS chunks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal    INTEGER NOT NULL,
    text       TEXT NOT NULL,
    page       INTEGER,
    heading    TEXT NOT NULL DEFAULT '[]',    -- JSON list of heading titles, outermost first
    line_start INTEGER,
    line_end   INTEGER,
    char_start INTEGER NOT NULL DEFAULT 0,
    char_end   INTEGER NOT NULL DEFAULT 0,
    n_tokens   INTEGER NOT NULL DEFAULT 0,
    locator    TEXT,                          -- 'slide 3', 'sheet Budget, rows 2-40', 'page 3 (OCR)'...
    UNIQUE (doc_id, ordinal)
);
CREATE TABLE IF NOT EXISTS embeddings (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
    vector   BLOB NOT NULL                    -- meta.vector_dtype, meta.dim values
);
CREATE TABLE IF NOT EXISTS chats (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    title   TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    content TEXT NOT NULL,
    payload TEXT,                             -- JSON: sources, citations, timings...
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_chat ON messages (chat_id, id);
"""

# Added after schema 1 was released; created on open where missing (older catalogues).
_STAGING_SCHEMA = """
CREATE TABLE IF NOT EXISTS staged_documents (
    path      TEXT PRIMARY KEY,
    sha256    TEXT NOT NULL,
    config    TEXT NOT NULL,                  -- fingerprint of the embedder and chunking settings
    n_chunks  INTEGER NOT NULL,
    staged_at REAL NOT NULL,
    note      TEXT
);
CREATE TABLE IF NOT EXISTS staged_chunks (
    path       TEXT NOT NULL,
    ordinal    INTEGER NOT NULL,
    text       TEXT NOT NULL,
    page       INTEGER,
    heading    TEXT NOT NULL DEFAULT '[]',
    line_start INTEGER,
    line_end   INTEGER,
    char_start INTEGER NOT NULL DEFAULT 0,
    char_end   INTEGER NOT NULL DEFAULT 0,
    n_tokens   INTEGER NOT NULL DEFAULT 0,
    locator    TEXT,
    vector     BLOB NOT NULL,
    UNIQUE (path, ordinal)
);
"""
_STAGING_TABLES = {"staged_documents", "staged_chunks"}
# Columns added after schema 1 was released: (table, column, type), added on open where missing.
_ADDED_COLUMNS = (
    ("documents", "note", "TEXT"),
    ("staged_documents", "note", "TEXT"),
    ("chunks", "locator", "TEXT"),
    ("staged_chunks", "locator", "TEXT"),
)
_COMMIT_POINTS = ("sqlite-commit", "sqlite-committed")


@dataclass(slots=True, frozen=True)
class DocumentRow:
    id: int
    path: str
    sha256: str | None
    size: int | None
    mtime_ns: int | None
    status: str
    error: str | None
    n_chunks: int
    note: str | None = None  # what was left out of an 'ok' document indexed only in part


@dataclass(slots=True, frozen=True)
class ChunkRow:
    """A stored chunk with its document's path (what a Hit is built from)."""

    id: int
    doc_id: int
    path: str
    chunk: Chunk


def _corrupt(path: Path, why: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"{path} is not a readable localrag catalogue: {why}. "
        f"Fix: localrag index --rebuild <folder> --index {path.parent}"
    )


class Catalog:
    """One SQLite connection, safe to share between threads (calls are serialized)."""

    FILENAME = "catalog.sqlite3"

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()

    # ---- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, create: bool = False) -> "Catalog":
        """Open (or create) the catalogue; unreadable files raise IndexCorruptError, never a traceback."""
        path = Path(path)
        existed = path.exists()
        if not existed and not create:
            raise FileNotFoundError(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        except sqlite3.Error as e:
            raise _corrupt(path, str(e)) from None
        cat = cls(path, conn)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            cat._init_schema(fresh=not existed)
        except sqlite3.DatabaseError as e:
            conn.close()
            raise _corrupt(path, str(e)) from None
        except IndexCorruptError:
            conn.close()
            raise
        return cat

    def _init_schema(self, fresh: bool) -> None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not fresh and tables and "meta" not in tables:
            raise _corrupt(self.path, "it is an SQLite file without localrag's tables")
        if "meta" in tables:
            version = self.get_meta("schema_version")
            if version is None:
                raise _corrupt(self.path, "schema_version is missing")
            if int(version) > SCHEMA_VERSION:
                raise IndexCorruptError(
                    f"{self.path} was written by a newer localrag (schema {version}, this one reads "
                    f"{SCHEMA_VERSION}). Upgrade localrag, or rebuild: localrag index --rebuild <folder>"
                )
            # quick_check reads every page; header-level checks are enough to catch a file that
            # is not SQLite, and page-level damage surfaces as DatabaseError on the query that hits it.
            missing = [
                (table, column, kind)
                for table, column, kind in _ADDED_COLUMNS
                if table in tables and column not in self._columns(table)
            ]
            if not _STAGING_TABLES <= tables or missing:
                with self.transaction(points=None) as c:
                    c.executescript_in_tx(_STAGING_SCHEMA)
                    for table, column, kind in missing:
                        c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            return
        with self.transaction() as c:
            c.executescript_in_tx(_SCHEMA)
            c.executescript_in_tx(_STAGING_SCHEMA)
            for key, value in (
                ("schema_version", str(SCHEMA_VERSION)),
                ("generation", "0"),
                ("vector_dtype", DEFAULT_VECTOR_DTYPE),
                ("created", str(time.time())),
            ):
                c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _columns(self, table: str) -> set[str]:
        return {r[1] for r in self._conn.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ---- transactions --------------------------------------------------------------------
    @contextmanager
    def transaction(self, points: tuple[str, str] | None = _COMMIT_POINTS) -> Iterator["Transaction"]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error). Writes go through the yielded Transaction.

        When the transaction changed the set of chunks, `generation` is bumped inside it.
        `points`: the crash points (see crashpoints.py) just before and just after COMMIT.
        """
        before, after = points or (None, None)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            tx = Transaction(self._conn)
            try:
                yield tx
                if tx.chunks_changed:
                    tx.bump_generation()
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            if before:
                crash_point(before)
            self._conn.execute("COMMIT")
            if after:
                crash_point(after)

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                    raise
                raise _corrupt(self.path, str(e)) from None

    # ---- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def meta(self) -> dict[str, str]:
        return dict(self._query("SELECT key, value FROM meta"))

    def set_meta(self, **values: str) -> None:
        with self.transaction() as tx:
            for key, value in values.items():
                tx.set_meta(key, value)

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", "0") or 0)

    @property
    def vector_dtype(self) -> np.dtype:
        return np.dtype(_VECTOR_DTYPES[self.get_meta("vector_dtype", DEFAULT_VECTOR_DTYPE) or DEFAULT_VECTOR_DTYPE])

    # ---- documents -----------------------------------------------------------------------
    def documents(self) -> list[DocumentRow]:
        rows = self._query(
            "SELECT id, path, sha256, size, mtime_ns, status, error, n_chunks, note FROM documents ORDER BY path"
        )
        return [DocumentRow(*r) for r in rows]

    def document(self, path: str) -> DocumentRow | None:
        rows = self._query(
            "SELECT id, path, sha256, size, mtime_ns, status, error, n_chunks, note FROM documents WHERE path = ?",
            (path,),
        )
        return DocumentRow(*rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        ((docs, skipped),) = self._query(
            "SELECT COALESCE(SUM(status = 'ok'), 0), COALESCE(SUM(status = 'skipped'), 0) FROM documents"
        )
        ((chunks,),) = self._query("SELECT COUNT(*) FROM chunks")
        ((vectors,),) = self._query("SELECT COUNT(*) FROM embeddings")
        return {"documents": docs, "skipped": skipped, "chunks": chunks, "embeddings": vectors}

    def skipped(self) -> list[dict[str, str]]:
        rows = self._query("SELECT path, error FROM documents WHERE status = 'skipped' ORDER BY path")
        return [{"path": p, "reason": e or ""} for p, e in rows]

    def notes(self) -> list[dict[str, str]]:
        """Documents indexed only in part, with why (e.g. a data file cut at the size cap)."""
        rows = self._query("SELECT path, note FROM documents WHERE status = 'ok' AND note IS NOT NULL ORDER BY path")
        return [{"path": p, "note": n} for p, n in rows]

    # ---- chunks --------------------------------------------------------------------------
    def chunk_rows(self, chunk_ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = [int(i) for i in chunk_ids]
        out: dict[int, ChunkRow] = {}
        for start in range(0, len(ids), _IN_BATCH):
            part = ids[start : start + _IN_BATCH]
            marks = ",".join("?" * len(part))
            for r in self._query(
                "SELECT c.id, c.doc_id, d.path, c.ordinal, c.text, c.page, c.heading, c.line_start, "
                "c.line_end, c.char_start, c.char_end, c.n_tokens, c.locator FROM chunks c "
                f"JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})",
                part,
            ):
                cid, doc_id, path, ordinal, text, page, heading, ls, le, cs, ce, nt, loc = r
                chunk = Chunk(
                    text=text,
                    ordinal=ordinal,
                    heading=tuple(json.loads(heading)),
                    page=page,
                    line_start=ls,
                    line_end=le,
                    char_start=cs,
                    char_end=ce,
                    n_tokens=nt,
                    locator=loc,
                )
                out[cid] = ChunkRow(cid, doc_id, path, chunk)
        return out

    def iter_chunk_texts(self, batch: int = 2000) -> Iterator[list[tuple[int, tuple[str, ...], str]]]:
        """All chunks as batches of (chunk_id, heading, text), ordered by id."""
        last = 0
        while True:
            rows = self._query("SELECT id, heading, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch))
            if not rows:
                return
            yield [(cid, tuple(json.loads(h)), t) for cid, h, t in rows]
            last = rows[-1][0]

    def chunk_ids_for_docs(self, doc_ids: Iterable[int]) -> np.ndarray:
        ids = [int(i) for i in doc_ids]
        out: list[int] = []
        for start in range(0, len(ids), _IN_BATCH):
            part = ids[start : start + _IN_BATCH]
            marks = ",".join("?" * len(part))
            out.extend(r[0] for r in self._query(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", part))
        return np.asarray(sorted(out), dtype=np.int64)

    # ---- embeddings ----------------------------------------------------------------------
    def iter_embeddings(self, batch: int = 8192) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored vectors as (chunk_ids int64 (n,), vectors float32 (n, dim)) batches."""
        dtype = self.vector_dtype
        dim = int(self.get_meta("dim", "0") or 0)
        last = 0
        while True:
            rows = self._query(
                "SELECT chunk_id, vector FROM embeddings WHERE chunk_id > ? ORDER BY chunk_id LIMIT ?",
                (last, batch),
            )
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=dtype).reshape(len(rows), dim)
            yield ids, vecs.astype(np.float32)
            last = int(ids[-1])

    def vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored vectors (float32) of these chunks, by chunk id."""
        dtype = self.vector_dtype
        out: dict[int, np.ndarray] = {}
        for start in range(0, len(chunk_ids), _IN_BATCH):
            part = [int(i) for i in chunk_ids[start : start + _IN_BATCH]]
            marks = ",".join("?" * len(part))
            for cid, blob in self._query(f"SELECT chunk_id, vector FROM embeddings WHERE chunk_id IN ({marks})", part):
                out[cid] = np.frombuffer(blob, dtype=dtype).astype(np.float32)
        return out

    def chunk_paths(self) -> dict[int, str]:
        """Every chunk id with its document's path."""
        return dict(self._query("SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.doc_id"))

    def documents_stamp(self) -> str:
        """Changes whenever a document row does (renames too, which leave the generation alone)."""
        ((count, latest),) = self._query("SELECT COUNT(*), MAX(indexed_at) FROM documents")
        return f"{count}:{latest}"

    # ---- staging -------------------------------------------------------------------------
    def staged_sha256(self, path: str, config: str) -> str | None:
        """The sha256 of the bytes staged for `path` with these settings, if any."""
        rows = self._query("SELECT sha256 FROM staged_documents WHERE path = ? AND config = ?", (path, config))
        return rows[0][0] if rows else None

    def has_staging(self) -> bool:
        return bool(self._query("SELECT 1 FROM staged_documents LIMIT 1"))

    def staging_counts(self) -> dict[str, int]:
        ((docs,),) = self._query("SELECT COUNT(*) FROM staged_documents")
        ((chunks,),) = self._query("SELECT COUNT(*) FROM staged_chunks")
        return {"documents": docs, "chunks": chunks}

    # ---- chats ---------------------------------------------------------------------------
    def create_chat(self, title: str) -> int:
        with self.transaction() as tx:
            return _row_id(tx.execute("INSERT INTO chats (title, created) VALUES (?, ?)", (title, time.time())))

    def rename_chat(self, chat_id: int, title: str) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    def delete_chat(self, chat_id: int) -> None:
        with self.transaction() as tx:
            tx.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    def chats(self) -> list[dict]:
        rows = self._query(
            "SELECT c.id, c.title, c.created, COUNT(m.id) FROM chats c LEFT JOIN messages m "
            "ON m.chat_id = c.id GROUP BY c.id ORDER BY c.created DESC, c.id DESC"
        )
        return [{"id": i, "title": t, "created": c, "messages": n} for i, t, c, n in rows]

    def add_message(self, chat_id: int, role: str, content: str, payload: dict | None = None) -> int:
        with self.transaction() as tx:
            return _row_id(
                tx.execute(
                    "INSERT INTO messages (chat_id, role, content, payload, created) VALUES (?, ?, ?, ?, ?)",
                    (chat_id, role, content, None if payload is None else json.dumps(payload), time.time()),
                )
            )

    def messages(self, chat_id: int) -> list[dict]:
        rows = self._query(
            "SELECT id, role, content, payload, created FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,)
        )
        return [
            {"id": i, "role": r, "content": c, "payload": None if p is None else json.loads(p), "created": t}
            for i, r, c, p, t in rows
        ]


class Transaction:
    """Writes inside one transaction. Methods that change the chunk set bump the generation."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.chunks_changed = False

    def execute(self, sql: str, params: Sequence = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executescript_in_tx(self, script: str) -> None:
        # executescript() would COMMIT first; run the statements one by one instead.
        for stmt in script.split(";"):
            if stmt.strip():
                self._conn.execute(stmt)

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def bump_generation(self) -> int:
        self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def _vector_dtype(self) -> np.dtype:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'vector_dtype'").fetchone()
        return np.dtype(_VECTOR_DTYPES[row[0] if row else DEFAULT_VECTOR_DTYPE])

    def put_document(
        self,
        path: str,
        *,
        sha256: str | None,
        size: int | None,
        mtime_ns: int | None,
        status: str = "ok",
        error: str | None = None,
        chunks: Sequence[Chunk] = (),
        vectors: np.ndarray | None = None,
    ) -> int:
        """Insert or replace the document at `path` with its chunks and their vectors."""
        old = self._conn.execute("SELECT id, n_chunks FROM documents WHERE path = ?", (path,)).fetchone()
        if old is not None:
            self._conn.execute("DELETE FROM documents WHERE id = ?", (old[0],))
            if old[1]:
                self.chunks_changed = True
        doc_id = self._conn.execute(
            "INSERT INTO documents (path, sha256, size, mtime_ns, status, error, n_chunks, indexed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (path, sha256, size, mtime_ns, status, error, len(chunks), time.time()),
        ).lastrowid
        if chunks:
            if vectors is None or len(vectors) != len(chunks):
                raise ValueError("every chunk needs a vector")
            blobs = np.ascontiguousarray(vectors, dtype=self._vector_dtype())
            for chunk, vec in zip(chunks, blobs):
                cid = self._conn.execute(
                    "INSERT INTO chunks (doc_id, ordinal, text, page, heading, line_start, line_end, "
                    "char_start, char_end, n_tokens, locator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc_id,
                        chunk.ordinal,
                        chunk.text,
                        chunk.page,
                        json.dumps(list(chunk.heading)),
                        chunk.line_start,
                        chunk.line_end,
                        chunk.char_start,
                        chunk.char_end,
                        chunk.n_tokens,
                        chunk.locator,
                    ),
                ).lastrowid
                self._conn.execute("INSERT INTO embeddings (chunk_id, vector) VALUES (?, ?)", (cid, vec.tobytes()))
            self.chunks_changed = True
        return _row_id_of(doc_id)

    def stage_document(
        self,
        path: str,
        *,
        sha256: str,
        config: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        note: str | None = None,
    ) -> None:
        """Stage `path`'s chunks and vectors for a later `put_staged_document` (replacing any staged before)."""
        if not chunks or len(vectors) != len(chunks):
            raise ValueError("every staged chunk needs a vector")
        self._conn.execute("DELETE FROM staged_chunks WHERE path = ?", (path,))
        self._conn.execute(
            "INSERT OR REPLACE INTO staged_documents (path, sha256, config, n_chunks, staged_at, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (path, sha256, config, len(chunks), time.time(), note),
        )
        blobs = np.ascontiguousarray(vectors, dtype=self._vector_dtype())
        self._conn.executemany(
            "INSERT INTO staged_chunks (path, ordinal, text, page, heading, line_start, line_end, char_start, "
            "char_end, n_tokens, locator, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    path,
                    c.ordinal,
                    c.text,
                    c.page,
                    json.dumps(list(c.heading)),
                    c.line_start,
                    c.line_end,
                    c.char_start,
                    c.char_end,
                    c.n_tokens,
                    c.locator,
                    vec.tobytes(),
                )
                for c, vec in zip(chunks, blobs)
            ),
        )

    def put_staged_document(self, path: str, *, size: int, mtime_ns: int) -> int:
        """Insert or replace the document at `path` with the chunks and vectors staged for it."""
        staged = self._conn.execute(
            "SELECT sha256, n_chunks, note FROM staged_documents WHERE path = ?", (path,)
        ).fetchone()
        if staged is None:
            raise ValueError(f"nothing is staged for {path}")
        self._conn.execute("DELETE FROM documents WHERE path = ?", (path,))
        doc_id = self._conn.execute(
            "INSERT INTO documents (path, sha256, size, mtime_ns, status, error, n_chunks, indexed_at, note) "
            "VALUES (?, ?, ?, ?, 'ok', NULL, ?, ?, ?)",
            (path, staged[0], size, mtime_ns, staged[1], time.time(), staged[2]),
        ).lastrowid
        # ORDER BY: ids follow the ordinals, as when put_document inserts a document's chunks.
        self._conn.execute(
            "INSERT INTO chunks (doc_id, ordinal, text, page, heading, line_start, line_end, char_start, "
            "char_end, n_tokens, locator) SELECT ?, ordinal, text, page, heading, line_start, line_end, "
            "char_start, char_end, n_tokens, locator FROM staged_chunks WHERE path = ? ORDER BY ordinal",
            (doc_id, path),
        )
        self._conn.execute(
            "INSERT INTO embeddings (chunk_id, vector) SELECT c.id, s.vector FROM chunks c "
            "JOIN staged_chunks s ON s.path = ? AND s.ordinal = c.ordinal WHERE c.doc_id = ?",
            (path, doc_id),
        )
        self.chunks_changed = True
        return _row_id_of(doc_id)

    def clear_staging(self) -> None:
        self._conn.execute("DELETE FROM staged_chunks")
        self._conn.execute("DELETE FROM staged_documents")

    def copy_document(self, source_id: int, path: str, *, size: int, mtime_ns: int) -> int:
        """Index `path` as a copy of document `source_id` (same bytes): reuse its chunks and vectors."""
        self._conn.execute("DELETE FROM documents WHERE path = ?", (path,))
        doc_id = self._conn.execute(
            "INSERT INTO documents (path, sha256, size, mtime_ns, status, error, n_chunks, indexed_at, note) "
            "SELECT ?, sha256, ?, ?, status, error, n_chunks, ?, note FROM documents WHERE id = ?",
            (path, size, mtime_ns, time.time(), source_id),
        ).lastrowid
        for (old_cid,) in self._conn.execute(
            "SELECT id FROM chunks WHERE doc_id = ? ORDER BY ordinal", (source_id,)
        ).fetchall():
            cid = self._conn.execute(
                "INSERT INTO chunks (doc_id, ordinal, text, page, heading, line_start, line_end, char_start, "
                "char_end, n_tokens, locator) SELECT ?, ordinal, text, page, heading, line_start, line_end, "
                "char_start, char_end, n_tokens, locator FROM chunks WHERE id = ?",
                (doc_id, old_cid),
            ).lastrowid
            self._conn.execute(
                "INSERT INTO embeddings (chunk_id, vector) SELECT ?, vector FROM embeddings WHERE chunk_id = ?",
                (cid, old_cid),
            )
            self.chunks_changed = True
        return _row_id_of(doc_id)

    def move_document(self, doc_id: int, new_path: str, *, size: int, mtime_ns: int) -> None:
        """A rename: the chunks (and so every derived index) stay as they are."""
        self._conn.execute(
            "UPDATE documents SET path = ?, size = ?, mtime_ns = ?, indexed_at = ? WHERE id = ?",
            (new_path, size, mtime_ns, time.time(), doc_id),
        )

    def touch_document(self, doc_id: int, *, size: int, mtime_ns: int) -> None:
        """Same content, new stat (e.g. `touch`): remember it so the fast path works next time."""
        self._conn.execute("UPDATE documents SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, doc_id))

    def remove_document(self, doc_id: int) -> None:
        n = self._conn.execute("SELECT n_chunks FROM documents WHERE id = ?", (doc_id,)).fetchone()
        self._conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        if n and n[0]:
            self.chunks_changed = True

    def clear_documents(self) -> None:
        """Forget every document (chats are kept)."""
        if self._conn.execute("SELECT 1 FROM chunks LIMIT 1").fetchone():
            self.chunks_changed = True
        self._conn.execute("DELETE FROM documents")
