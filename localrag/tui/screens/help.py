"""F1: what the keys do, built from the bindings themselves so it cannot drift from them."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

INTRO = """\
# localrag chat

Ask a question about your documents. The answer cites its sources as **[n]**;
press **alt+n** from anywhere, click a marker, or focus the sources pane with **Tab**
and press its number to see the passage it came from (alt+n again previews it).
Terminals without the kitty keyboard protocol (often tmux, GNOME Terminal, macOS
Terminal) send alt+digit as a character such as ¡ or ™: there, use Tab and the number. Answers that are not found in your documents are shown in
a warning box with the nearest passages, never a guess.

The command palette (**ctrl+p**) has the rest: toggle reranking, set how many
sources to use (k), switch the model, reopen a past chat, show skipped files.
"""


def key_table(title: str, bindings: Iterable[BindingType]) -> str:
    rows = [f"## {title}", "", "| key | does |", "|---|---|"]
    for b in bindings:
        if isinstance(b, Binding) and b.description:  # localrag declares its bindings as Binding
            keys = b.key_display or ", ".join(b.key.split(","))
            rows.append(f"| `{keys}` | {b.description} |")
    return "\n".join(rows) + "\n"


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self, sections: list[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        text = INTRO + "\n" + "\n".join(key_table(title, bindings) for title, bindings in self.sections)
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Help"
            yield Markdown(text, open_links=False)
        yield Footer()
