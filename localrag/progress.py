"""A rich progress display for indexing, fed by the indexer's progress events.

The indexer calls `progress(event, **fields)` (see localrag.indexer for the full list); this
display uses "scan" (files), "file" (path, done), "ocr" (done, seconds: pages read by OCR so
far), "embed" (done: chunks embedded so far) and "build". Unknown events are ignored, so the indexer can say more without breaking the display.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


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
        self._files = None
        self._chunks = None
        self._ocr = None  # shown from the first page read by OCR
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

    def __call__(self, event: str, **fields) -> None:
        if event == "scan":
            self._progress.update(self._files, total=fields.get("files"))
        elif event == "file":
            self._progress.update(self._files, completed=fields.get("done", 0), description=_short(fields.get("path")))
        elif event == "embed":
            self.chunks_embedded = int(fields.get("done", 0))
            task = self._progress.tasks[self._chunks]
            rate = self.chunks_embedded / task.elapsed if task.elapsed else 0.0
            self._progress.update(self._chunks, completed=self.chunks_embedded, rate=f"{rate:.0f}/s")
        elif event == "stage":
            self.staged_files += int(fields.get("files", 0))
            self.staged_chunks += int(fields.get("chunks", 0))
        elif event == "commit":
            self.committed = True
        elif event == "ocr":
            if self._ocr is None:
                self._ocr = self._progress.add_task("pages read by OCR", total=None, rate="")
            done, seconds = int(fields.get("done", 0)), float(fields.get("seconds") or 0.0)
            rate = f"{done / seconds:.2f} pages/s" if seconds else ""
            self._progress.update(self._ocr, completed=done, rate=rate)
        elif event == "build":
            self._progress.update(self._files, description="building indexes")
        elif event == "done":
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
    return path if len(path) <= width else "…" + path[-(width - 1):]


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
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> "FetchProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, name: str, step: int, total: int, msg: str) -> None:
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(name, total=total, msg=msg)
        self._progress.update(self._tasks[name], completed=step, total=total, msg=msg)
