"""Indexing progress, fed by the indexer's progress events (see localrag.progress)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar


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

    def apply_event(self, event: str, fields: dict) -> None:
        """One indexer progress event (see localrag.indexer); unknown ones are ignored."""
        bar = self.query_one(ProgressBar)
        if event == "scan":
            bar.update(total=fields.get("files") or None, progress=0)
        elif event == "file":
            bar.update(total=fields.get("total") or bar.total, progress=fields.get("done", 0))
            self.query_one("#index-label", Label).update(_short(str(fields.get("path", ""))))
        elif event == "embed":
            self.chunks = int(fields.get("done", self.chunks))
            self.query_one("#index-chunks", Label).update(f"{self.chunks} chunks embedded")
        elif event == "ocr":
            done, seconds = int(fields.get("done", 0)), float(fields.get("seconds") or 0.0)
            rate = f", {done / seconds:.2f} pages/s" if seconds else ""
            self.query_one("#index-chunks", Label).update(f"{done} pages read by OCR{rate}")
        elif event == "build":
            self.query_one("#index-label", Label).update("building search indexes")

    def stop(self) -> None:
        self.display = False


def _short(path: str, width: int = 28) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1):]
