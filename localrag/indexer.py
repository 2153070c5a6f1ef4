"""Index a folder into a Store, incrementally.

For each file the walk finds:
- same size and mtime as recorded             -> unchanged, not even read
- read; same sha256 as recorded               -> unchanged (its new stat is remembered)
- new path, same sha256 as a file that is gone -> renamed: the path is updated, nothing re-embedded
- new path, same sha256 as an unchanged file  -> copied: chunks and vectors duplicated, nothing embedded
- otherwise                                   -> loaded, chunked and embedded (added / updated)
Files the walk no longer finds are removed; files that cannot be indexed are recorded as
skipped with a reason.

A run is atomic: readers see the catalogue as it was before the run or as it is after it,
never a mix. Work is streamed: chunks are embedded a batch at a time and each batch is staged
(committed to side tables of the catalogue that readers ignore), so memory holds one batch,
not all vectors. At the end one transaction publishes every change (staged chunks copied in,
renames, removals...), bumps the generation once and empties the staging tables. A run killed
before that publishes nothing, and the next run reuses what it staged: a file whose bytes are
already staged (with the same embedder and chunking settings) is not chunked or embedded again.
Afterwards the derived FAISS and BM25 indexes are rebuilt from the catalogue and replaced
atomically.

Progress: pass `progress(event)` to follow a run (the CLI draws a bar with it); the events
(`Scan`, `File`, `Ocr`, `Embed`, `Stage`, `Commit`, `Remove`, `Build`, `Done`) are typed records,
described in localrag/index_events.py. The run returns an `IndexReport` (localrag/reports.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from localrag.config import Settings
from localrag import index_events as ev
from localrag.embed import vector_settings
from localrag.errors import ConfigError
from localrag.index_events import IndexEvent, Progress
from localrag.ingest import FileEntry, SkipFile, SkippedEntry, chunk_sections, load_document, read_file, walk
from localrag.protocols import Embedder
from localrag.reports import IndexReport
from localrag.store import Store
from localrag.store.catalog import DocumentRow, Transaction
from localrag.store.crashpoints import crash_point
from localrag.store.passage import HEADING_SEPARATOR, passage_text
from localrag.types import Chunk

log = logging.getLogger("localrag")

# Skips whose cause may go away without the file changing (chmod, a file that reappears).
_TRANSIENT_REASONS = ("unreadable", "vanished")
# Skips that OCR may undo, retried while [ingest] ocr is "auto" (also those of older versions): OCR
# was off, or its engine could not run here (not installed, a model file failing its checksum),
# which reinstalling rapidocr mends without the file changing.
_OCR_ENGINE_REASONS = ("OCR model", "OCR engine not installed")
_NEEDS_OCR_REASONS = ("no text layer; OCR", "image: OCR is off", *_OCR_ENGINE_REASONS)
# The same for a PDF indexed in part: its note says which pages without text were left out and why.
_OCR_LEFT_OUT = tuple(f"pages without text left out: {r}" for r in ("OCR is off", *_OCR_ENGINE_REASONS))


@dataclass(slots=True)
class _Op:
    """One change to the catalogue, applied when the run publishes (a put's chunks are staged by then)."""

    kind: str  # put | skip | touch | move | copy | remove
    path: str
    entry: FileEntry | None = None
    doc: DocumentRow | None = None  # the existing row it acts on (touch/move/copy/remove)
    sha256: str | None = None
    reason: str | None = None

    @property
    def file(self) -> FileEntry:
        assert self.entry is not None, f"{self.kind} {self.path}: the op has no file"
        return self.entry

    @property
    def row(self) -> DocumentRow:
        assert self.doc is not None, f"{self.kind} {self.path}: the op has no document"
        return self.doc


@dataclass(slots=True)
class _ToStage:
    """A file's chunks waiting to be embedded and staged with the next batch."""

    path: str
    sha256: str
    chunks: list[Chunk]
    note: str | None = None


def _noop(event: IndexEvent) -> None:
    pass


def index_folder(
    store: Store,
    root: Path | Sequence[Path],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
    *,
    rebuild: bool = False,
    lock_timeout: float = 10.0,
    batch_chunks: int = 512,
) -> IndexReport:
    """Bring the index up to date with `root`; returns what the run did (see `IndexReport`).

    `root` may also be files and folders (a list, or one file): they are indexed as a selection of
    the folder that holds them (see `_selection`); later runs add to that selection.

    `rebuild=True` forgets every document and all staged work first and re-indexes everything.
    `batch_chunks`: chunks embedded and staged per batch (bounds memory, and the work a kill loses).
    """
    t0 = time.perf_counter()
    progress = progress or _noop
    paths = [Path(p).expanduser().resolve() for p in ([root] if isinstance(root, (str, Path)) else root)]
    for p in paths:
        if not p.exists() and not _was_selected(store, p):  # a selected file since deleted is removed
            raise ConfigError(f"not found: {p}")
    with store.write_lock(timeout=lock_timeout):
        if rebuild:
            store.clear()
        store.check_embedder(settings.embedder.model, embedder.dim)
        if len(paths) == 1 and paths[0].is_dir() and not _inside_selection(store, paths[0]):
            folder, only = paths[0], None
            _check_root(store, folder)
        else:
            folder, only = _selection(store, paths)
        run = _Run(store, embedder, settings, progress, batch_chunks)
        report = run.index(folder, only)
        if store.generation != store.catalog.generation:
            progress(ev.Build(chunks=store.catalog.counts()["chunks"]))
            store.rebuild_derived()
        store.record_run(folder, only)
    # the run counted files, pages and embeddings into the report; what the index holds now completes it
    report.notes = store.catalog.notes()
    report.chunks = store.catalog.counts()["chunks"]
    report.generation = store.catalog.generation
    report.seconds = round(time.perf_counter() - t0, 3)
    progress(ev.Done(report))
    return report


def selected_paths(store: Store) -> list[str] | None:
    """The files and folders (relative to the root) the index holds, or None for the whole folder."""
    raw = store.catalog.get_meta("paths")
    return json.loads(raw) if raw else None


def _was_selected(store: Store, path: Path) -> bool:
    recorded, only = store.catalog.get_meta("root"), selected_paths(store)
    if not recorded or only is None:
        return False
    return path.is_relative_to(recorded) and path.relative_to(recorded).as_posix() in only


def _inside_selection(store: Store, folder: Path) -> bool:
    """A folder inside the root of an index that holds a selection joins that selection."""
    recorded = store.catalog.get_meta("root")
    if not recorded or selected_paths(store) is None or folder == Path(recorded):
        return False
    return folder.is_relative_to(recorded)


def _selection(store: Store, paths: list[Path]) -> tuple[Path, list[str] | None]:
    """(root folder, selection) for files and folders given one by one.

    The root stays the one the index holds when every path is inside it, and the new paths join
    the recorded selection (an index of the whole folder stays one); an empty index takes the
    deepest folder holding them all. Paths outside a non-empty index's folder are refused.
    """
    recorded = store.catalog.get_meta("root")
    if recorded and store.catalog.counts()["documents"]:
        root = Path(recorded)
        outside = [p for p in paths if not p.is_relative_to(root)]
        if outside:
            raise ConfigError(
                f"index {store.index_dir} holds files of {root}; {outside[0]} is outside it: index it into another "
                f"index (--index DIR), or start this one over: localrag index --rebuild PATH... --index {store.index_dir}"
            )
        before = selected_paths(store)
        if before is None:
            return root, None
    else:
        root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in paths]))
        before = []
    rels = {p.relative_to(root).as_posix() for p in paths}
    if "." in rels:
        return root, None  # the root folder itself was given
    return root, sorted(set(before) | rels)


def _check_root(store: Store, root: Path) -> None:
    """One folder per index. A folder that moved is followed (its paths are relative)."""
    recorded = store.catalog.get_meta("root")
    if recorded is None or recorded == str(root):
        return
    if Path(recorded).exists() and store.catalog.counts()["documents"]:
        raise ConfigError(
            f"index {store.index_dir} holds {recorded}; index {root} into another index "
            f"(--index DIR) or replace it: localrag index --rebuild {root} --index {store.index_dir}"
        )
    log.warning("indexed folder moved from %s to %s; following it", recorded, root)


def _staging_config(settings: Settings, dim: int, size: int, overlap: int, max_tokens: int) -> str:
    """Fingerprint of what staged chunks and vectors depend on besides a file's bytes."""
    fields = {
        **vector_settings(settings),
        "dim": dim,
        "chunking": settings.chunking.model_dump(mode="json"),
        "ingest": settings.ingest.model_dump(mode="json"),
        "window": [size, overlap, max_tokens],
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def embedding_text(chunk: Chunk, count_tokens: Callable[[str], int], max_tokens: int) -> str:
    """Heading path + chunk text, dropping outer headings (then all) when they would not fit."""
    for heading in (chunk.heading, chunk.heading[-1:]):
        if heading and chunk.n_tokens + count_tokens(HEADING_SEPARATOR.join(heading)) + 1 <= max_tokens:
            return passage_text(heading, chunk.text)
    return chunk.text


class _Run:
    def __init__(self, store: Store, embedder: Embedder, settings: Settings, progress: Progress, batch_chunks: int):
        self.store = store
        self.catalog = store.catalog
        self.embedder = embedder
        self.settings = settings
        self.progress = progress
        self.batch_chunks = batch_chunks
        self.max_tokens = embedder.max_seq_length - 2  # [CLS] and [SEP]
        self.size = min(settings.chunking.size, self.max_tokens)
        self.overlap = min(settings.chunking.overlap, self.size - 1)
        self.config = _staging_config(settings, embedder.dim, self.size, self.overlap, self.max_tokens)
        self.count_heading_tokens = lru_cache(maxsize=4096)(embedder.count_tokens)
        self.ops: list[_Op] = []  # every change of the run, one small record per file
        self.to_stage: list[_ToStage] = []
        self.to_stage_chunks = 0
        self.moved_ids: set[int] = set()  # documents claimed by a rename
        self.report = IndexReport()  # the run's counts: added ... skipped, embedded, ocr_pages
        self.ocr_seconds = 0.0  # for the progress events only

    # ---- planning --------------------------------------------------------------------------
    def index(self, root: Path, only: list[str] | None = None) -> IndexReport:
        """Plan, stage and publish the changes; returns the report with this run's counts filled in."""
        items = []
        for item in walk(root, self.settings.chunking, only):
            items.append(item)
            crash_point("walk")
        files = [i for i in items if isinstance(i, FileEntry)]
        existing = {d.path: d for d in self.catalog.documents()}
        present = {i.rel for i in items}
        self.gone_by_sha: dict[str, list[DocumentRow]] = {}
        for d in existing.values():
            if d.path not in present and d.status == "ok" and d.sha256:
                self.gone_by_sha.setdefault(d.sha256, []).append(d)
        # Unchanged by stat: safe sources for copies whatever order the walk visits them in.
        self.unchanged_by_sha = {
            row.sha256: row
            for f in files
            if (row := existing.get(f.rel)) is not None
            and row.status == "ok"
            and _same_stat(row, f)
            and not self._ocr_may_add(row)
        }
        self.progress(ev.Scan(files=len(items), skipped=len(items) - len(files)))

        for n, item in enumerate(items, 1):
            old = existing.get(item.rel)
            action = self._plan_skipped(item, old) if isinstance(item, SkippedEntry) else self._plan_file(item, old)
            self.progress(ev.File(path=item.rel, action=action, done=n, total=len(items)))
            crash_point("plan")
            if self.to_stage_chunks >= self.batch_chunks:
                self._stage()

        for d in existing.values():
            if d.path not in present and d.id not in self.moved_ids:
                self.ops.append(_Op("remove", d.path, doc=d))
                if d.status == "ok":
                    self.report.removed += 1
        self._stage()
        self._publish()
        return self.report

    def _plan_skipped(self, item: SkippedEntry, old: DocumentRow | None) -> str:
        self.report.skipped.append({"path": item.rel, "reason": item.reason})
        if old is None or old.status != "skipped" or old.error != item.reason:
            self.ops.append(_Op("skip", item.rel, reason=item.reason))
        return "skipped"

    def _ocr_may_add(self, doc: DocumentRow) -> bool:
        """Whether OCR, now on, may read pages that this indexed-in-part document left out."""
        return (
            self.settings.ingest.ocr == "auto"
            and doc.status == "ok"
            and any(reason in (doc.note or "") for reason in _OCR_LEFT_OUT)
        )

    def _plan_file(self, entry: FileEntry, old: DocumentRow | None) -> str:
        reread = old is not None and self._ocr_may_add(old)
        if old is not None and _same_stat(old, entry) and not reread:
            if old.status == "ok":
                self.report.unchanged += 1
                return "unchanged"
            retry = _TRANSIENT_REASONS + (_NEEDS_OCR_REASONS if self.settings.ingest.ocr == "auto" else ())
            if not (old.error or "").startswith(retry):
                self.report.skipped.append({"path": entry.rel, "reason": old.error or ""})
                return "skipped"
        try:
            data = read_file(entry, self.settings.chunking.max_file_mb)
        except SkipFile as e:
            return self._skip(entry, None, e.reason)
        sha = hashlib.sha256(data).hexdigest()
        if old is not None and old.sha256 == sha and old.status == "ok" and not reread:
            self.ops.append(_Op("touch", entry.rel, entry=entry, doc=old))
            self.report.unchanged += 1
            return "unchanged"
        if old is None:
            if self.gone_by_sha.get(sha):
                source = self.gone_by_sha[sha].pop()
                self.ops.append(_Op("move", entry.rel, entry=entry, doc=source))
                self.moved_ids.add(source.id)
                self.report.renamed += 1
                return "renamed"
            if sha in self.unchanged_by_sha:
                self.ops.append(_Op("copy", entry.rel, entry=entry, doc=self.unchanged_by_sha[sha]))
                self.report.added += 1
                return "copied"
        # Already staged by a run killed before it published: its chunks and vectors are reused.
        if self.catalog.staged_sha256(entry.rel, self.config) != sha:
            skipped = self._chunk(entry, sha, data)
            if skipped:
                return skipped
        self.ops.append(_Op("put", entry.rel, entry=entry, sha256=sha))
        if old is not None and old.status == "ok":
            self.report.updated += 1
            return "updated"
        self.report.added += 1
        return "added"

    def _chunk(self, entry: FileEntry, sha: str, data: bytes) -> str | None:
        """Queue the file's chunks for staging; returns "skipped" when it has none."""
        try:
            doc = load_document(
                entry.rel,
                data,
                self.settings.chunking,
                self.settings.ingest,
                count_tokens=self.embedder.count_tokens,
                on_ocr_page=lambda s: self._ocr_page(entry.rel, s),
            )
        except SkipFile as e:
            return self._skip(entry, sha, e.reason)
        except Exception as e:  # noqa: BLE001 - one bad file must not stop the whole folder
            log.warning("%s: loader failed (%s: %s); skipping it", entry.rel, type(e).__name__, e)
            return self._skip(entry, sha, f"failed to load: {type(e).__name__}: {e}")
        chunks = chunk_sections(doc.sections, self.embedder.count_tokens, self.size, self.overlap, self.max_tokens)
        if not chunks:
            return self._skip(entry, sha, "no text")
        self.to_stage.append(_ToStage(entry.rel, sha, chunks, "; ".join(doc.notes) or None))
        self.to_stage_chunks += len(chunks)
        return None

    def _ocr_page(self, rel: str, seconds: float) -> None:
        self.report.ocr_pages += 1
        self.ocr_seconds += seconds
        self.progress(ev.Ocr(path=rel, done=self.report.ocr_pages, seconds=self.ocr_seconds))

    def _skip(self, entry: FileEntry, sha: str | None, reason: str) -> str:
        self.report.skipped.append({"path": entry.rel, "reason": reason})
        self.ops.append(_Op("skip", entry.rel, entry=entry, sha256=sha, reason=reason))
        return "skipped"

    # ---- applying --------------------------------------------------------------------------
    def _stage(self) -> None:
        """Embed the queued chunks and stage them: durable, but not visible until published."""
        if not self.to_stage:
            return
        texts = [embedding_text(c, self.count_heading_tokens, self.max_tokens) for f in self.to_stage for c in f.chunks]
        done_before = self.report.embedded
        vectors = self.embedder.encode(
            texts, progress=lambda d: self.progress(ev.Embed(done=done_before + d, batch=len(texts)))
        )
        self.report.embedded += len(texts)
        crash_point("embedded")
        start = 0
        with self.catalog.transaction(points=("stage-commit", "staged")) as tx:
            for f in self.to_stage:
                n = len(f.chunks)
                tx.stage_document(f.path, sha256=f.sha256, config=self.config, chunks=f.chunks,
                                  vectors=vectors[start : start + n], note=f.note)  # fmt: skip
                start += n
        self.progress(ev.Stage(files=len(self.to_stage), chunks=len(texts)))
        self.to_stage = []
        self.to_stage_chunks = 0

    def _publish(self) -> None:
        """Apply every change of the run in one transaction (one generation) and drop the staging."""
        if not self.ops and not self.catalog.has_staging():
            return
        with self.catalog.transaction() as tx:
            for op in self.ops:
                _apply(tx, op)
                crash_point("sqlite-write")
            tx.clear_staging()  # also what a killed run staged for files since changed or gone
        self.progress(ev.Commit(generation=self.catalog.generation, files=len(self.ops)))
        for op in self.ops:
            if op.kind == "remove":
                self.progress(ev.Remove(path=op.path))


def _same_stat(doc: DocumentRow, entry: FileEntry) -> bool:
    return doc.size == entry.size and doc.mtime_ns == entry.mtime_ns


def _apply(tx: Transaction, op: _Op) -> None:
    if op.kind == "put":
        tx.put_staged_document(op.path, size=op.file.size, mtime_ns=op.file.mtime_ns)
    elif op.kind == "skip":
        e = op.entry
        tx.put_document(
            op.path,
            sha256=op.sha256,
            size=e.size if e else None,
            mtime_ns=e.mtime_ns if e else None,
            status="skipped",
            error=op.reason,
        )
    elif op.kind == "touch":
        tx.touch_document(op.row.id, size=op.file.size, mtime_ns=op.file.mtime_ns)
    elif op.kind == "move":
        tx.move_document(op.row.id, op.path, size=op.file.size, mtime_ns=op.file.mtime_ns)
    elif op.kind == "copy":
        tx.copy_document(op.row.id, op.path, size=op.file.size, mtime_ns=op.file.mtime_ns)
    elif op.kind == "remove":
        tx.remove_document(op.row.id)
    else:  # pragma: no cover - programming error
        raise ValueError(op.kind)
