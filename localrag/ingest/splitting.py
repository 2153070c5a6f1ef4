"""Boundaries inside a text, as (start, end) spans; the chunker's building blocks.

Every function takes the whole text plus a [start, end) window and returns spans in
the text's own coordinates, trimmed of surrounding whitespace, empty ones dropped, so
callers can slice the original text and never have to re-find offsets.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from localrag.ingest.document import trimmed

Span = tuple[int, int]

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) and whitespace,
# or at CJK full stops, which are not followed by spaces.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|(?<=[。！？])")
_WORD = re.compile(r"\S+")


def _spans_between(text: str, start: int, end: int, cuts: list[int]) -> list[Span]:
    out = []
    prev = start
    for cut in [*cuts, end]:
        s, e = trimmed(text, prev, cut)
        if s < e:
            out.append((s, e))
        prev = cut
    return out


def paragraph_spans(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """Blocks separated by blank lines; a fenced code block (``` or ~~~) is one block
    even when it holds blank lines. The bool marks fenced blocks."""
    out: list[tuple[int, int, bool]] = []
    pos = start
    block_start: int | None = None
    fence: str | None = None
    fence_start = 0
    while pos < end:
        nl = text.find("\n", pos, end)
        line_end = end if nl == -1 else nl
        line = text[pos:line_end]
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                out.append((fence_start, line_end, True))
                fence = None
        else:
            m = _FENCE_OPEN.match(line)
            if m:
                if block_start is not None:
                    out.extend((s, e, False) for s, e in _spans_between(text, block_start, pos, []))
                    block_start = None
                fence, fence_start = m.group(1), pos + len(line) - len(line.lstrip())
            elif not line.strip():
                if block_start is not None:
                    out.extend((s, e, False) for s, e in _spans_between(text, block_start, pos, []))
                    block_start = None
            elif block_start is None:
                block_start = pos
        pos = line_end + 1
    if fence is not None:  # unclosed fence runs to the end
        out.append((fence_start, end, True))
    elif block_start is not None:
        out.extend((s, e, False) for s, e in _spans_between(text, block_start, end, []))
    return [(s, e, f) for s, e, f in out if s < e]


def block_spans(text: str, start: int, end: int) -> list[Span]:
    """Blocks separated by blank lines (no fence handling: used for source code)."""
    cuts = [m.start() for m in _BLANK_LINE.finditer(text, start, end)]
    return _spans_between(text, start, end, cuts)


def sentence_spans(text: str, start: int, end: int) -> list[Span]:
    cuts = [m.end() for m in _SENTENCE_END.finditer(text, start, end) if m.end() < end]
    return _spans_between(text, start, end, cuts)


def line_spans(text: str, start: int, end: int) -> list[Span]:
    cuts = []
    pos = text.find("\n", start, end)
    while pos != -1:
        cuts.append(pos)
        pos = text.find("\n", pos + 1, end)
    return _spans_between(text, start, end, cuts)


def word_spans(text: str, start: int, end: int) -> list[Span]:
    return [m.span() for m in _WORD.finditer(text, start, end)]


def largest_fitting(lo: int, hi: int, fits: Callable[[int], bool]) -> int:
    """Largest x in [lo, hi] with fits(x), given fits(lo) is assumed true.

    Binary search; when `fits` is not monotone (tokenizers can be surprising) the
    result still satisfies fits() or is `lo`.
    """
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
