"""The CLI's answer rendering: the attributed text and the footer (rich markup must not eat marks)."""

from __future__ import annotations

from rich.console import Console

from localrag.generate.attribution import UNSUPPORTED_MARK
from localrag.render import answer_text, print_answer_footer
from localrag.types import Answer, SentenceSupport


def _answer() -> Answer:
    text = f"Tomatoes get seaweed [1]. They get 40 g of bone meal {UNSUPPORTED_MARK}."
    sentences = [
        SentenceSupport("Tomatoes get seaweed.", "supported", source=1),
        SentenceSupport("They get 40 g of bone meal.", "unsupported"),
    ]
    return Answer("q", text, [], sentences=sentences)


def test_the_footer_names_the_unsupported_mark_literally():
    console = Console(record=True, width=200)
    print_answer_footer(console, _answer())
    assert f"1 sentence(s) marked {UNSUPPORTED_MARK}: no source states them" in console.export_text()


def test_answer_text_keeps_markers_and_styles_them():
    text = answer_text(_answer())
    assert text.plain == _answer().text
    styled = {text.plain[span.start : span.end]: str(span.style) for span in text.spans}
    assert styled == {"[1]": "cyan", UNSUPPORTED_MARK: "bold yellow"}
