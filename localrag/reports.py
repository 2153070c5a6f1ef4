"""What indexing and `status` return across the library boundary: typed records, not dicts.

`Index.add` returns an `IndexReport`, `Index.status` (and `Store.status`) an `IndexStatus`. Each
has `to_json()`, the document `--json` prints and the HTTP API sends (localrag/responses.py spells
its keys out); `IndexReport.describe()` is the one line the CLI, the TUI and `localrag watch` show.
Read them by attribute (`report.added`); `to_json()` is only for what is printed or sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class IndexReport:
    """What one indexing run did (see localrag.indexer, which counts into it as the run goes).

    `skipped`: [{"path", "reason"}] of this run; `notes`: [{"path", "note"}], every file in the
    index now that is indexed only in part, and why; `chunks`: in the index now; `embedded`: this
    run (chunks reused from the staging of a killed run are not counted).
    """

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    renamed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    ocr_pages: int = 0
    generation: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        """Files whose indexed content changed (added, updated, renamed or removed)."""
        return self.added + self.updated + self.renamed + self.removed

    def describe(self) -> str:
        """'3 added, 1 updated, 0 renamed, 0 removed, 12 unchanged, 2 skipped; 410 chunks in 4.2 s'."""
        return (
            f"{self.added} added, {self.updated} updated, {self.renamed} renamed, {self.removed} removed, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped; {self.chunks} chunks in {self.seconds:.1f} s"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "renamed": self.renamed,
            "skipped": self.skipped,
            "notes": self.notes,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "ocr_pages": self.ocr_pages,
            "generation": self.generation,
            "seconds": self.seconds,
        }


@dataclass(slots=True)
class IndexStatus:
    """An index's contents and health (`localrag status`, `/v1/status`).

    `index`: where it lives (a folder, or a Milvus collection); `root`: the folder it was built
    from; `paths`: the files and folders selected in it (None: the whole folder); `dense` and
    `health` are the engine's own reports (their keys differ between the local and Milvus stores).
    """

    index: str
    root: str | None
    documents: int
    chunks: int
    skipped: list[dict[str, str]]
    notes: list[dict[str, str]]
    generation: int
    embedder: dict[str, Any]  # {"name", "dim"}
    vector_dtype: str | None
    dense: dict[str, Any]
    keyword: dict[str, Any]  # {"engine", "count"}
    indexed_at: float | None
    disk_bytes: int
    health: dict[str, Any]  # the engine's checks, plus "fresh"
    paths: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "root": self.root,
            **({"paths": self.paths} if self.paths is not None else {}),  # a selection, not the whole folder
            "documents": self.documents,
            "chunks": self.chunks,
            "skipped": self.skipped,
            "notes": self.notes,
            "generation": self.generation,
            "embedder": self.embedder,
            "vector_dtype": self.vector_dtype,
            "dense": self.dense,
            "keyword": self.keyword,
            "indexed_at": self.indexed_at,
            "disk_bytes": self.disk_bytes,
            "health": self.health,
        }
