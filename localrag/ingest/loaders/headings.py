"""Turning line-based headings into sections with a heading path (Markdown, reST)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from localrag.ingest.document import Document, LineIndex, line_section
from localrag.types import Section

_INLINE_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# Backticks always go; * and _ only as emphasis around text, so identifiers such as Q4_K_M and
# models_dir keep their underscores.
_INLINE_MARKUP = re.compile(r"`+|(?<![\w*])[*_]{1,3}(?=\S)|(?<=\S)[*_]{1,3}(?![\w*])")


def clean_title(title: str) -> str:
    """Heading text without inline markup: links keep their text, `code`/**bold** lose marks."""
    title = _INLINE_LINK.sub(r"\1", title)
    title = _INLINE_MARKUP.sub("", title)
    return " ".join(title.split())


@dataclass(slots=True)
class HeadingMark:
    """A heading found in the text: where its first line starts, its level and title."""

    offset: int
    level: int
    title: str
    body_offset: int  # first character after the heading's own line(s)


def sections_from_headings(text: str, marks: list[HeadingMark]) -> Document:
    """Sections from one heading to the next, each with the path of headings above it.

    A heading with nothing under it before the next heading is folded into the next
    section, so no chunk holds only a heading line.
    """
    lines = LineIndex(text)
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    pending: int | None = None  # start of heading-only sections waiting to be folded

    def emit(start: int, end: int, heading: tuple[str, ...]) -> None:
        section = line_section(text, lines, start, end, heading)
        if section is not None:
            sections.append(section)

    first = marks[0].offset if marks else len(text)
    emit(0, first, ())
    for i, mark in enumerate(marks):
        while stack and stack[-1][0] >= mark.level:
            stack.pop()
        stack.append((mark.level, mark.title))
        end = marks[i + 1].offset if i + 1 < len(marks) else len(text)
        start = mark.offset if pending is None else pending
        if not text[mark.body_offset : end].strip() and i + 1 < len(marks):
            pending = start
            continue
        pending = None
        emit(start, end, tuple(t for _, t in stack if t))
    return Document(text=text, sections=sections)
