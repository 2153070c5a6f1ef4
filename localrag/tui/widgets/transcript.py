"""The chat transcript: questions, and answers streamed in as Markdown with clickable [n] markers."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Label, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from localrag.tui.citation_links import StreamingLinkifier, cited_number, linkify
from localrag.types import Answer, Hit

ABSTAINED_LABEL = "Not found in your documents · nearest sources shown"


class QuestionView(Static):
    """One question as the user typed it."""

    def __init__(self, question: str) -> None:
        super().__init__(question, markup=False)
        self.border_title = "You"


class AnswerView(Vertical):
    """One answer: a label, the streamed Markdown, and a line of facts once it is done.

    Holds the sources it was answered from, so selecting it shows them again.
    """

    class Selected(Message):
        def __init__(self, view: "AnswerView") -> None:
            super().__init__()
            self.view = view

    class CitationClicked(Message):
        def __init__(self, view: "AnswerView", n: int) -> None:
            super().__init__()
            self.view = view
            self.n = n

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question
        self.hits: list[Hit] = []
        self.search_query: str = question
        self.notices: list[str] = []
        self.answer: Answer | None = None
        self.stopped = False
        self._stream: MarkdownStream | None = None
        self._stream_closed = False
        self._linkifier = StreamingLinkifier()
        self.border_title = "Answer"

    def compose(self) -> ComposeResult:
        yield Label("searching…", classes="answer-state")
        yield Markdown(open_links=False)
        yield Static("", classes="answer-facts", markup=False)

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    @property
    def text(self) -> str:
        """The answer so far, as plain text with its [n] markers."""
        return self.answer.text if self.answer else self.markdown.source

    def set_sources(self, hits: list[Hit], query: str, notices: list[str]) -> None:
        self.hits, self.search_query, self.notices = hits, query, notices
        self.query_one(".answer-state", Label).update(
            f"{len(hits)} sources found · answering…" if hits else "no sources found"
        )

    async def write(self, piece: str) -> None:
        if self._stream_closed:
            return
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        await self._stream.write(self._linkifier.feed(piece))

    def close_stream(self) -> None:
        """Take no more pieces (the app is quitting). The stream is not flushed: that would mount
        widgets while the app tears them down."""
        self._stream_closed = True

    async def finish(self, answer: Answer, stopped: bool = False) -> None:
        """Show the final text (citations checked by the session) and how it went."""
        if self._stream is not None:
            await self._stream.write(self._linkifier.flush())
            await self._stream.stop()
            self._stream = None
        self.answer, self.stopped, self.hits = answer, stopped, answer.sources
        final = linkify(answer.text)
        if self.markdown.source.strip() != final.strip():
            await self.markdown.update(final)
        self.set_class(answer.abstained, "-abstained")
        self.set_class(stopped, "-stopped")
        state = ABSTAINED_LABEL if answer.abstained else ("stopped" if stopped else "")
        self.border_title = "No answer" if answer.abstained else "Answer"
        label = self.query_one(".answer-state", Label)
        label.update(state)
        label.display = bool(state)
        self.query_one(".answer-facts", Static).update(answer_facts(answer))

    def fail(self, message: str) -> None:
        self.add_class("-failed")
        self.border_title = "Error"
        self.query_one(".answer-state", Label).update(message)

    def on_click(self) -> None:
        self.post_message(self.Selected(self))

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        n = cited_number(event.href)
        if n is not None:
            self.post_message(self.CitationClicked(self, n))
        else:
            self.notify(f"links in documents are not opened from here: {event.href}", severity="warning")


def answer_facts(answer: Answer) -> str:
    cited = sorted({c.n for c in answer.citations})
    parts = [f"{len(answer.sources)} sources"]
    if cited:
        parts.append("cited " + " ".join(f"[{n}]" for n in cited))
    if answer.invalid_citations:
        parts.append("dropped " + " ".join(f"[{n}]" for n in answer.invalid_citations))
    unsupported = answer.unsupported_sentences
    if unsupported:
        parts.append(f"{unsupported} sentence{'s' if unsupported > 1 else ''} not in sources")
    if answer.abstained and answer.abstain_reason:
        parts.append("decided by: " + answer.abstain_reason.replace("_", " "))
    if answer.dropped_sources:
        parts.append(f"{answer.dropped_sources} sources left out (context full)")
    if answer.shortened_sources:
        n = answer.shortened_sources
        parts.append(f"{n} source{'s' if n > 1 else ''} shortened to fit the context")
    if answer.query:
        parts.append(f"searched: {answer.query}")
    return " · ".join(parts)


class Transcript(VerticalScroll):
    """The conversation, newest at the bottom; follows the stream unless the user scrolls up."""

    def on_mount(self) -> None:
        self.anchor()

    async def add_question(self, question: str) -> None:
        await self.mount(QuestionView(question))

    async def add_answer(self, question: str) -> AnswerView:
        view = AnswerView(question)
        await self.mount(view)
        self.anchor()
        return view

    async def clear(self) -> None:
        await self.remove_children()

    @property
    def answers(self) -> list[AnswerView]:
        return list(self.query(AnswerView))
