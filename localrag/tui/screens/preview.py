"""A source in full: the whole chunk, the span the answer cited highlighted, query terms marked."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from localrag.tui.highlight import SPAN_STYLE, TERM_STYLE, cited_spans, term_spans
from localrag.tui.messages import OpenSource
from localrag.types import Hit


def preview_content(hit: Hit, spans: list[tuple[int, int]]) -> Content:
    content = Content(hit.text)
    for a, b in spans:
        content = content.stylize(SPAN_STYLE, a, b)
    for a, b in term_spans(hit.text, hit.matched_terms):
        content = content.stylize(TERM_STYLE, a, b)
    return content


class PreviewScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("o", "open", "Open file"),
    ]

    def __init__(self, hit: Hit, n: int, answer_text: str = "") -> None:
        super().__init__()
        self.hit = hit
        self.n = n
        self.spans = cited_spans(hit.text, answer_text, n) if answer_text else []

    def compose(self) -> ComposeResult:
        with Vertical(id="preview-box") as box:
            box.border_title = f"[{self.n}] {self.hit.path}"
            box.border_subtitle = self.hit.place()
            if self.hit.heading:
                yield Static(self.hit.heading_path, id="preview-heading", markup=False)
            note = (
                "highlighted: the passage the answer cites"
                if self.spans
                else "the answer quotes no exact passage of this source"
            )
            yield Static(note, id="preview-note")
            with VerticalScroll(id="preview-scroll"):
                yield Static(preview_content(self.hit, self.spans), id="preview-text")
        yield Footer()

    def action_open(self) -> None:
        self.post_message(OpenSource(self.hit))
