"""The files indexing left out, and why."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static


class SkippedScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, skipped: list[dict[str, str]]) -> None:
        super().__init__()
        self.skipped = skipped

    def compose(self) -> ComposeResult:
        with Vertical(id="skipped-box") as box:
            box.border_title = f"Skipped files ({len(self.skipped)})"
            if not self.skipped:
                yield Static("No files were skipped.", id="skipped-empty")
            table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="skipped-table")
            table.add_columns("file", "reason")
            for item in self.skipped:
                table.add_row(item.get("path", ""), item.get("reason", ""))
            yield table
        yield Footer()
