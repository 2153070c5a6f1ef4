"""reStructuredText: section titles (underlined, optionally overlined) give the heading path.

Levels follow docutils: the first adornment style met is level 1, the next new one
level 2, and so on; an overlined style differs from the same character underlined only.
"""

from __future__ import annotations

import re

from localrag.ingest.document import Document, line_offsets
from localrag.ingest.loaders.headings import HeadingMark, clean_title, sections_from_headings

_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}[ \t]*$")  # 3+ of one punctuation character


def _adornment(line: str) -> str | None:
    m = _ADORNMENT.match(line)
    return m.group(1) if m else None


def find_headings(text: str) -> list[HeadingMark]:
    lines = text.split("\n")
    offsets = line_offsets(lines)
    styles: list[tuple[str, bool]] = []
    marks: list[HeadingMark] = []
    i = 0
    while i < len(lines) - 1:
        line, nxt = lines[i], lines[i + 1]
        over = _adornment(line)
        title_i = None
        if over and i + 2 < len(lines) and lines[i + 1].strip() and _adornment(lines[i + 2]) == over:
            title_i, style, last = i + 1, (over, True), i + 2
        elif (
            line.strip()
            and not line[0].isspace()
            and not over
            and (under := _adornment(nxt))
            and len(nxt.rstrip()) >= len(line.rstrip())
            and (i == 0 or not lines[i - 1].strip())
        ):
            title_i, style, last = i, (under, False), i + 1
        if title_i is None:
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        body = offsets[last + 1] if last + 1 < len(lines) else len(text)
        marks.append(HeadingMark(offsets[i], styles.index(style) + 1, clean_title(lines[title_i]), body))
        i = last + 1
    return marks


def load_rst(text: str) -> Document:
    return sections_from_headings(text, find_headings(text))
