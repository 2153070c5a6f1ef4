"""Ask which folder to index (first run on an empty index, or when the index has no folder yet)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class IndexFolderScreen(ModalScreen[Path | None]):
    """Dismisses with an existing folder, or None ("not now")."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Not now")]

    def __init__(self, folder: Path | None = None, message: str = "This index is empty. Index a folder now?") -> None:
        super().__init__()
        self.folder = folder
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="folder-box") as box:
            box.border_title = "Index a folder"
            yield Static(self.message, id="folder-message")
            yield Input(str(self.folder or ""), placeholder="path to a folder of documents", id="folder-input")
            yield Static("", id="folder-error")
            with Horizontal(id="folder-buttons"):
                yield Button("Index", variant="primary", id="folder-index")
                yield Button("Not now", id="folder-cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        raw = self.query_one(Input).value.strip()
        path = Path(raw).expanduser() if raw else None
        if path is None or not path.is_dir():
            self.query_one("#folder-error", Static).update(f"not a folder: {raw}" if raw else "type a folder path")
            return
        self.dismiss(path.resolve())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "folder-index":
            self._submit()
        else:
            self.dismiss(None)
