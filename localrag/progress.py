"""A rich progress display for indexing, fed by the indexer's progress events.

The indexer calls `progress(event)` with the typed events of localrag/index_events.py; this
display uses `Scan`, `File`, `Ocr` (pages read by OCR so far), `Embed` (chunks embedded so far),
`Stage` and `Commit` (what an interrupted run keeps), `Build` and `Done`. Other events are ignored,
so the indexer can say more without breaking the display.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from localrag import index_events as ev


class IndexProgress:
    def __init__(self, enabled: bool = True, console: Console | None = None):
        self.enabled = enabled
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self._files = TaskID(0)  # the tasks are added on __enter__
        self._chunks = TaskID(0)
        self._ocr: TaskID | None = None  # shown from the first page read by OCR
        self.chunks_embedded = 0
        self.staged_files = 0  # durable work a later run reuses (see localrag.indexer)
        self.staged_chunks = 0
        self.committed = False

    def __enter__(self) -> "IndexProgress":
        self._progress.__enter__()
        self._files = self._progress.add_task("files", total=None, rate="")
        self._chunks = self._progress.add_task("chunks embedded", total=None, rate="")
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, event: ev.IndexEvent) -> None:
        if isinstance(event, ev.Scan):
            self._progress.update(self._files, total=event.files)
        elif isinstance(event, ev.File):
            self._progress.update(self._files, completed=event.done, description=_short(event.path))
        elif isinstance(event, ev.Embed):
            self.chunks_embedded = event.done
            task = self._progress.tasks[self._chunks]
            per_second = self.chunks_embedded / task.elapsed if task.elapsed else 0.0
            self._progress.update(self._chunks, completed=self.chunks_embedded, rate=f"{per_second:.0f}/s")
        elif isinstance(event, ev.Stage):
            self.staged_files += event.files
            self.staged_chunks += event.chunks
        elif isinstance(event, ev.Commit):
            self.committed = True
        elif isinstance(event, ev.Ocr):
            if self._ocr is None:
                self._ocr = self._progress.add_task("pages read by OCR", total=None, rate="")
            rate = f"{event.done / event.seconds:.2f} pages/s" if event.seconds else ""
            self._progress.update(self._ocr, completed=event.done, rate=rate)
        elif isinstance(event, ev.Build):
            self._progress.update(self._files, description="building indexes")
        elif isinstance(event, ev.Done):
            self._progress.update(self._files, description="files")


def interrupted_message(progress: IndexProgress | None) -> str:
    """One line for Ctrl+C during `localrag index`: what was kept and what the next run does."""
    if progress is None or (not progress.staged_files and not progress.committed):
        return "interrupted: nothing was changed; run the same command again to index"
    if progress.committed:
        return "interrupted after the changes were saved: the index is complete; its search files are rebuilt when it is next opened"
    return (
        f"interrupted: {progress.staged_files} files ({progress.staged_chunks} chunks) embedded so far are kept; "
        "run the same command again to resume (searches see the index as it was until a run completes)"
    )


def _short(path: str | None, width: int = 32) -> str:
    if not path:
        return "files"
    return path if len(path) <= width else "…" + path[-(width - 1) :]


class FetchProgress:
    """A bar per model for `localrag models fetch`, fed as progress(name, step, total, msg)."""

    def __init__(self, console: Console | None = None):
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[msg]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> "FetchProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, name: str, step: int, total: int, msg: str) -> None:
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(name, total=total, msg=msg)
        self._progress.update(self._tasks[name], completed=step, total=total, msg=msg)
