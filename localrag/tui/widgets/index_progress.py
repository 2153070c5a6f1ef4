"""Indexing progress, fed by the indexer's progress events (localrag/index_events.py)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from localrag import index_events as ev


class IndexProgress(Horizontal):
    """Hidden until indexing starts; a bar over files and a count of chunks embedded."""

    chunks = 0

    def compose(self) -> ComposeResult:
        yield Label("indexing", id="index-label")
        yield ProgressBar(total=None, show_eta=False, id="index-bar")
        yield Label("", id="index-chunks")

    def start(self, folder: str) -> None:
        self.chunks = 0
        self.query_one("#index-label", Label).update(f"indexing {folder}")
        self.query_one("#index-chunks", Label).update("")
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.display = True

    def apply_event(self, event: ev.IndexEvent) -> None:
        """One indexer progress event (localrag/index_events.py); those it does not show are ignored."""
        bar = self.query_one(ProgressBar)
        if isinstance(event, ev.Scan):
            bar.update(total=event.files or None, progress=0)
        elif isinstance(event, ev.File):
            bar.update(total=event.total or bar.total, progress=event.done)
            self.query_one("#index-label", Label).update(_short(event.path))
        elif isinstance(event, ev.Embed):
            self.chunks = event.done
            self.query_one("#index-chunks", Label).update(f"{self.chunks} chunks embedded")
        elif isinstance(event, ev.Ocr):
            rate = f", {event.done / event.seconds:.2f} pages/s" if event.seconds else ""
            self.query_one("#index-chunks", Label).update(f"{event.done} pages read by OCR{rate}")
        elif isinstance(event, ev.Build):
            self.query_one("#index-label", Label).update("building search indexes")

    def stop(self) -> None:
        self.display = False


def _short(path: str, width: int = 28) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]
