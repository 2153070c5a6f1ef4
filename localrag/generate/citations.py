"""Find the [n] markers in an answer, check them against the numbered sources, map them to places.

Accepted forms: ``[1]``, ``[1, 3]``, ``[1-3]`` (also en dash), ``[1][2]`` and, because small models
write it, ``[source 2]``. Numbers refer to the 1-based position of a source in the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from localrag.types import Citation, Hit

# Wider ranges than this are not citations (e.g. "[1-1000]" in a quoted array).
MAX_RANGE = 50

_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d{1,4}(?:\s*(?:,|-|–|and)\s*\d{1,4})*)\s*\]", re.IGNORECASE)
_ITEM = re.compile(r"(\d+)\s*(?:[-–]\s*(\d+))?")


def _expand(body: str) -> list[int]:
    """'1, 3-5' -> [1, 3, 4, 5]; an over-wide or reversed range yields its endpoints only."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|and)\s*", body):
        m = _ITEM.fullmatch(part.strip())
        if not m:
            continue
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if lo <= hi and hi - lo <= MAX_RANGE:
            out.extend(range(lo, hi + 1))
        else:
            out.extend([lo, hi])
    return out


def without_markers(text: str) -> str:
    """`text` with its citation markers removed."""
    return _MARKER.sub("", text)


def parse_citations(text: str) -> list[int]:
    """Every cited number in order of first appearance, without duplicates."""
    seen: dict[int, None] = {}
    for m in _MARKER.finditer(text):
        for n in _expand(m.group(1)):
            seen.setdefault(n, None)
    return list(seen)


def resolve(text: str, hits: Sequence[Hit]) -> tuple[list[Citation], list[int]]:
    """(citations to real sources, cited numbers that name no source)."""
    citations: list[Citation] = []
    invalid: list[int] = []
    for n in parse_citations(text):
        if 1 <= n <= len(hits):
            h = hits[n - 1]
            citations.append(
                Citation(n=n, path=h.path, page=h.page, line_start=h.line_start, line_end=h.line_end, locator=h.locator)
            )
        else:
            invalid.append(n)
    return citations, invalid


def strip_invalid(text: str, n_sources: int) -> str:
    """Rewrite markers so only numbers 1..n_sources remain; a marker with none left is removed."""

    def fix(m: re.Match[str]) -> str:
        numbers = _expand(m.group(1))
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= n_sources]
        if len(valid) == len(numbers):
            return m.group(0)
        if not valid:
            return ""
        return "[" + ", ".join(str(n) for n in valid) + "]"

    out = _MARKER.sub(fix, text)
    if out == text:
        return text
    # removing a marker can leave "word ." or double spaces behind
    out = re.sub(r"[ \t]+([.,;:!?])", r"\1", out)
    return re.sub(r"[ \t]{2,}", " ", out)
