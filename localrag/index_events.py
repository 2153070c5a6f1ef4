"""Indexing progress as typed events, as chat streams `Sources`/`Token`/`Done`.

Pass `progress(event)` to `Index.add` (or `localrag.indexer.index_folder`) to follow a run; the
CLI's bar (localrag/progress.py) and the TUI's (localrag/tui/widgets/index_progress.py) are fed
with them. Events arrive in this order: one `Scan`, then `File` per path (with `Ocr`, `Embed` and
`Stage` as the work happens), `Commit` and `Remove` when the run publishes, `Build` when the
search indexes are rebuilt, and `Done` last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from localrag.reports import IndexReport


@dataclass(frozen=True, slots=True)
class Scan:
    """The walk found `files` paths (`skipped` of them left out by it)."""

    files: int
    skipped: int


@dataclass(frozen=True, slots=True)
class File:
    """Path `done` of `total` was planned; `action`: added|updated|unchanged|renamed|copied|skipped."""

    path: str
    action: str
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class Ocr:
    """`done` pages read by OCR so far this run (scanned PDF pages, images) in `seconds`; one per page."""

    path: str
    done: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Embed:
    """`done` chunks embedded so far this run; `batch` in the batch being embedded."""

    done: int
    batch: int


@dataclass(frozen=True, slots=True)
class Stage:
    """A batch of `files` files (`chunks` chunks) is staged: durable, not yet visible to readers."""

    files: int
    chunks: int


@dataclass(frozen=True, slots=True)
class Commit:
    """The run's changes to `files` files are published as `generation` (once, only when something changed)."""

    generation: int
    files: int


@dataclass(frozen=True, slots=True)
class Remove:
    """A file gone from the folder was removed."""

    path: str


@dataclass(frozen=True, slots=True)
class Build:
    """The derived search indexes are being rebuilt over `chunks` chunks."""

    chunks: int


@dataclass(frozen=True, slots=True)
class Done:
    """The run is over; `report` is what `Index.add` returns."""

    report: IndexReport


IndexEvent = Scan | File | Ocr | Embed | Stage | Commit | Remove | Build | Done
Progress = Callable[[IndexEvent], None]
