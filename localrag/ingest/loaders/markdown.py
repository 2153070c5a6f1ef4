"""Markdown: ATX and setext headings give the heading path; fences are not headings."""

from __future__ import annotations

import re

from localrag.ingest.document import Document, line_offsets
from localrag.ingest.loaders.headings import HeadingMark, clean_title, sections_from_headings

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER_END = re.compile(r"^(---|\.\.\.)[ \t]*$")
_LIST_OR_QUOTE = re.compile(r"^ {0,3}([-*+>]|\d+[.)])(\s|$)")


def _front_matter_end(lines: list[str]) -> int:
    """Number of lines of a leading YAML front matter block (0 when none)."""
    if not lines or lines[0].rstrip() != "---":
        return 0
    for i in range(1, min(len(lines), 200)):
        if _FRONT_MATTER_END.match(lines[i]):
            return i + 1
    return 0


def find_headings(text: str) -> list[HeadingMark]:
    lines = text.split("\n")
    offsets = line_offsets(lines)
    marks: list[HeadingMark] = []
    fence: str | None = None
    prev_paragraph = False  # previous line is plain paragraph text (can carry a setext underline)
    for i in range(_front_matter_end(lines), len(lines)):
        line = lines[i]
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
            continue
        if m := _FENCE.match(line):
            fence = m.group(1)
            prev_paragraph = False
            continue
        if m := _ATX.match(line):
            marks.append(
                HeadingMark(offsets[i], len(m.group(1)), clean_title(m.group(2) or ""), offsets[i] + len(line) + 1)
            )
            prev_paragraph = False
            continue
        if prev_paragraph and (m := _SETEXT.match(line)):
            level = 1 if m.group(1)[0] == "=" else 2
            marks.append(HeadingMark(offsets[i - 1], level, clean_title(lines[i - 1]), offsets[i] + len(line) + 1))
            prev_paragraph = False
            continue
        prev_paragraph = bool(line.strip()) and not line.startswith(("    ", "\t")) and not _LIST_OR_QUOTE.match(line)
        # Only a one-line paragraph becomes a setext heading here; longer ones are rare in notes.
        if prev_paragraph and i > 0 and lines[i - 1].strip():
            prev_paragraph = False
    return marks


def load_markdown(text: str) -> Document:
    return sections_from_headings(text, find_headings(text))
