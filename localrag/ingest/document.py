"""A loaded document: its extracted text and the sections that slice it.

Invariant every loader keeps (and the tests check): for each section,
`document.text[section.char_start:section.char_end] == section.text`, and when the
section has lines, `line_start` is the 1-based line of `char_start` in that text.
The chunker relies on it to give every chunk exact spans.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from localrag.types import Section


@dataclass(slots=True)
class Document:
    """Extracted text, its sections, and notes worth telling the user (e.g. truncation)."""

    text: str
    sections: list[Section]
    notes: list[str] = field(default_factory=list)


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF, so offsets and line numbers agree across platforms."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def line_offsets(lines: list[str]) -> list[int]:
    """Offset of each line's first character in "\n".join(lines)."""
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    return offsets


class LineIndex:
    """Maps character offsets of a text to 1-based line numbers in O(log n)."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            self._starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self.text_length = len(text)

    @property
    def n_lines(self) -> int:
        return len(self._starts)

    def line_of(self, offset: int) -> int:
        """Line holding the character at `offset`."""
        return bisect.bisect_right(self._starts, offset)

    def line_start(self, line: int) -> int:
        """Offset of the first character of 1-based `line`."""
        return self._starts[line - 1]

    def line_end(self, line: int) -> int:
        """Offset just past the last character of `line`, excluding its newline."""
        if line < len(self._starts):
            return self._starts[line] - 1
        return self.text_length


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) so it neither starts nor ends with whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def line_section(
    text: str,
    lines: LineIndex,
    start: int,
    end: int,
    heading: tuple[str, ...] = (),
    kind: str = "text",
) -> Section | None:
    """A section over text[start:end] (trimmed) with its line span; None when blank."""
    start, end = trimmed(text, start, end)
    if start == end:
        return None
    return Section(
        text=text[start:end],
        heading=heading,
        line_start=lines.line_of(start),
        line_end=lines.line_of(end - 1),
        char_start=start,
        char_end=end,
        kind=kind,
    )


class TextBuilder:
    """Builds the extracted text of formats without source lines (HTML, PDF, DOCX).

    Blocks are separated by a blank line, so the chunker sees them as paragraphs;
    each section's span is recorded as it is written.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.sections: list[Section] = []
        self._open: Section | None = None
        self._open_has_text = False
        self._only_heading = False

    def start_section(
        self, heading: tuple[str, ...] = (), page: int | None = None, kind: str = "text", locator: str | None = None
    ) -> None:
        """Begin a section. One holding only its heading line is extended instead, so no
        chunk is a bare heading (a title followed by a subheading, say)."""
        if self._open is not None and self._only_heading and (self._open.page, self._open.locator) == (page, locator):
            self._open.heading, self._open.kind = heading, kind
            return
        self._close()
        self._open = Section(text="", heading=heading, page=page, kind=kind, locator=locator)
        self._open_has_text = self._only_heading = False

    def add_heading(self, title: str) -> None:
        """The heading's own text, as the first block of the section just started."""
        first = not self._open_has_text
        self.add_block(title)
        self._only_heading = first and self._open_has_text

    def add_block(self, block: str) -> None:
        block = block.strip()
        if not block:
            return
        if self._open is None:
            self.start_section()
        assert self._open is not None
        if self._length:
            self._write("\n\n")
        if not self._open_has_text:
            self._open.char_start = self._length
            self._open_has_text = True
        self._write(block)
        self._open.char_end = self._length
        self._only_heading = False

    def _write(self, s: str) -> None:
        self._parts.append(s)
        self._length += len(s)

    def _close(self) -> None:
        if self._open is not None and self._open_has_text:
            self.sections.append(self._open)
        self._open = None
        self._open_has_text = False

    def build(self, notes: list[str] | None = None) -> Document:
        self._close()
        text = "".join(self._parts)
        for s in self.sections:
            s.text = text[s.char_start : s.char_end]
        return Document(text=text, sections=self.sections, notes=notes or [])


@dataclass(slots=True)
class Part:
    """A document that becomes one part of a larger one (an e-book chapter, a notebook cell, a
    mail message), with what its sections get there: a locator, a page, a heading path put in
    front of their own, and a kind (None: keep theirs)."""

    doc: Document
    locator: str | None = None
    page: int | None = None
    heading: tuple[str, ...] = ()
    kind: str | None = None


def join_parts(parts: Iterable[Part], notes: list[str] | None = None) -> Document:
    """One document from parts: texts joined by a blank line, section spans shifted. Line
    numbers are dropped: they counted lines of the part, not of the file."""
    texts: list[str] = []
    sections: list[Section] = []
    offset = 0
    for part in parts:
        if not part.doc.sections:
            continue
        if texts:
            texts.append("\n\n")
            offset += 2
        texts.append(part.doc.text)
        for s in part.doc.sections:
            sections.append(
                replace(
                    s,
                    heading=(*part.heading, *s.heading),
                    page=part.page if part.page is not None else s.page,
                    locator=", ".join(filter(None, (part.locator, s.locator))) or None,
                    kind=part.kind or s.kind,
                    line_start=None,
                    line_end=None,
                    char_start=s.char_start + offset,
                    char_end=s.char_end + offset,
                )
            )
        offset += len(part.doc.text)
    return Document(text="".join(texts), sections=sections, notes=notes or [])
