"""The sources pane: the passages the selected answer was given, best first.

Number keys 1-9 select a source, Enter previews it, `o` opens its file.
"""

from __future__ import annotations

import re

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from localrag.tui.highlight import snippet_content
from localrag.tui.messages import OpenSource, PreviewSource
from localrag.types import Hit


_HEADING_LINE = re.compile(r"^ {0,3}#{1,6}\s.*$", re.MULTILINE)


def source_content(n: int, hit: Hit, cited: bool) -> Content:
    """'[n] path' / 'lines 7-10 · score 0.033 · Heading > Path' / snippet with matched terms."""
    facts = [f for f in (hit.place(), f"score {hit.score:.3f}") if f]
    second = Content.assemble(
        (" · ".join(facts), "$text-muted"),
        (f" · {hit.heading_path}" if hit.heading else "", "italic $text-secondary"),
    )
    # the heading is shown above, so Markdown heading lines are left out of the snippet
    body = _HEADING_LINE.sub("", hit.text) if hit.heading else hit.text
    return Content("\n").join(
        [
            Content.assemble((f"[{n}] ", "bold $accent" if cited else "bold $text-muted"), (hit.path, "bold")),
            second,
            snippet_content(body, hit.matched_terms),
        ]
    )


class SourceCard(Static):
    """One source; click to select, click again to preview."""

    def __init__(self, n: int, hit: Hit, cited: bool) -> None:
        super().__init__(source_content(n, hit, cited), classes="-cited" if cited else "")
        self.n = n
        self.hit = hit

    def on_click(self) -> None:
        pane = self.query_ancestor(SourcesPane)
        if pane.selected == self.n:
            pane.action_preview()
        pane.selected = self.n
        pane.focus()


class SourcesPane(VerticalScroll, can_focus=True):
    BINDINGS = [
        Binding("1", "select(1)", "Source", key_display="1-9"),
        *(Binding(str(n), f"select({n})", show=False) for n in range(2, 10)),
        Binding("down,j", "move(1)", "Next source", show=False),
        Binding("up,k", "move(-1)", "Previous source", show=False),
        Binding("enter", "preview", "Preview"),
        Binding("o", "open", "Open file"),
    ]

    selected: reactive[int] = reactive(0)

    class Changed(Message):
        """The selected source changed (0: none)."""

        def __init__(self, n: int) -> None:
            super().__init__()
            self.n = n

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hits: list[Hit] = []
        self.border_title = "Sources"

    async def show(
        self,
        hits: list[Hit],
        cited: set[int] | None = None,
        notices: list[str] | None = None,
        query: str | None = None,
        abstained: bool = False,
    ) -> None:
        """Replace the cards with `hits` (numbered from 1, as the answer cites them)."""
        self.hits = hits
        cited = cited or set()
        with self.app.batch_update():
            await self.remove_children()
            widgets: list[Static] = []
            if abstained:
                widgets.append(Static("No answer in your documents; the nearest passages:", classes="sources-note"))
            for notice in notices or []:
                widgets.append(Static(notice, classes="sources-notice", markup=False))
            widgets += [SourceCard(n, hit, n in cited) for n, hit in enumerate(hits, 1)]
            if not hits:
                widgets.append(Static("No sources.", classes="sources-note"))
            await self.mount_all(widgets)
        self.border_subtitle = f"searched: {query}" if query else ""
        self.selected = 0
        self.scroll_home(animate=False)

    def watch_selected(self, old: int, new: int) -> None:
        for card in self.query(SourceCard):
            card.set_class(card.n == new, "-selected")
            if card.n == new:
                self.scroll_to_widget(card, animate=False)
        self.post_message(self.Changed(new))

    @property
    def selected_hit(self) -> Hit | None:
        return self.hits[self.selected - 1] if 1 <= self.selected <= len(self.hits) else None

    def action_select(self, n: int) -> None:
        if 1 <= n <= len(self.hits):
            self.selected = n
        else:
            self.notify(f"there is no source {n}", severity="warning")

    def action_move(self, step: int) -> None:
        if self.hits:
            self.selected = min(max(1, self.selected + step), len(self.hits))

    def action_preview(self) -> None:
        hit = self.selected_hit
        if hit is None and self.hits:
            self.selected = 1
            hit = self.hits[0]
        if hit is not None:
            self.post_message(PreviewSource(hit, self.selected))

    def action_open(self) -> None:
        hit = self.selected_hit
        if hit is not None:
            self.post_message(OpenSource(hit))
