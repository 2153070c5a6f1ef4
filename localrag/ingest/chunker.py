"""Sections -> chunks: split by structure first, then pack by token count.

Each section is cut into units (paragraphs; fenced code blocks; for overlong pieces,
sentences, then lines, then words, then characters) that each fit the limit, and the
units are packed greedily up to `size` tokens. Consecutive chunks of one section share
up to `overlap` tokens, taken from the end of the previous chunk at a sentence or line
start (else a word start). Chunks never cross sections, so heading, page and spans stay
true, and no chunk exceeds `max_tokens`.

Every chunk's text is exactly `document.text[chunk.char_start:chunk.char_end]`: no
whitespace is rewritten, only leading and trailing whitespace is left out of the span.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from localrag.ingest.document import LineIndex
from localrag.ingest.splitting import (
    Span,
    block_spans,
    largest_fitting,
    line_spans,
    paragraph_spans,
    sentence_spans,
    word_spans,
)
from localrag.types import Chunk, Section

CountTokens = Callable[[str], int]

# A chunk holds at most this many characters per allowed token. Guards against text a
# tokenizer counts as few tokens however long it is (BERT maps a >100-char word to one [UNK]).
MAX_CHARS_PER_TOKEN = 10

_TEXT_LEVELS = (sentence_spans, line_spans)
_CODE_LEVELS = (block_spans, line_spans)
_TABLE_LEVELS = (line_spans,)


@dataclass(slots=True)
class _Unit:
    start: int
    end: int
    tokens: int


class _Cutter:
    """Splits spans of one section's text into units that fit a token limit."""

    def __init__(self, text: str, count: CountTokens) -> None:
        self.text = text
        self.count = count
        self._word_cache: dict[str, int] = {}

    def tokens(self, start: int, end: int) -> int:
        return self.count(self.text[start:end])

    def word_tokens(self, start: int, end: int) -> int:
        """Tokens of one whitespace-free word, cached: words repeat, tokenizer calls cost."""
        word = self.text[start:end]
        n = self._word_cache.get(word)
        if n is None:
            n = self._word_cache[word] = self.count(word)
        return n

    def fits(self, start: int, end: int, limit: int) -> bool:
        return end - start <= limit * MAX_CHARS_PER_TOKEN and self.tokens(start, end) <= limit

    def units(self, start: int, end: int, limit: int, levels: tuple) -> list[_Unit]:
        if end - start <= limit * MAX_CHARS_PER_TOKEN:
            n = self.tokens(start, end)
            if n <= limit:
                return [_Unit(start, end, n)]
        for i, level in enumerate(levels):
            pieces = level(self.text, start, end)
            if len(pieces) > 1:
                out: list[_Unit] = []
                for s, e in pieces:
                    out.extend(self.units(s, e, limit, levels[i + 1 :]))
                return out
        return self.windows(start, end, limit)

    def windows(self, start: int, end: int, limit: int) -> list[_Unit]:
        """Last resort: greedy runs of whole words, or of characters inside a huge word.

        Word counts are summed (cached per distinct word, which is exact for WordPiece
        and close for BPE); each run is then counted whole and shrunk if the sum lied.
        """
        out: list[_Unit] = []
        words = word_spans(self.text, start, end)
        ends = [e for _, e in words]
        max_chars = limit * MAX_CHARS_PER_TOKEN

        def word_tokens(k: int) -> int:
            return self.word_tokens(*words[k])

        i = 0
        while i < len(words):
            ws, we = words[i]
            if we - ws > max_chars or word_tokens(i) > limit:
                out.extend(self.char_windows(ws, we, limit))
                i += 1
                continue
            total, j = word_tokens(i), i
            while j + 1 < len(words) and words[j + 1][1] - ws <= max_chars and total + word_tokens(j + 1) <= limit:
                j += 1
                total += word_tokens(j)
            n = self.tokens(ws, ends[j])
            if n > limit:
                j = largest_fitting(i, j, lambda k: self.fits(ws, ends[k], limit))  # noqa: B023 - called here
                n = self.tokens(ws, ends[j])
            out.append(_Unit(ws, ends[j], n))
            i = j + 1
        return out

    def char_windows(self, start: int, end: int, limit: int) -> list[_Unit]:
        out: list[_Unit] = []
        pos = start
        while pos < end:
            hi = min(end, pos + limit * MAX_CHARS_PER_TOKEN)
            cut = largest_fitting(pos + 1, hi, lambda e: self.tokens(pos, e) <= limit)  # noqa: B023 - called here
            out.append(_Unit(pos, cut, self.tokens(pos, cut)))
            pos = cut
        return out


def _section_units(cutter: _Cutter, section: Section, size: int, max_tokens: int) -> list[_Unit]:
    text = section.text
    if section.kind == "code":
        return _code_units(cutter, 0, len(text), size, max_tokens)
    if section.kind == "table":
        return cutter.units(0, len(text), size, _TABLE_LEVELS)
    units: list[_Unit] = []
    for s, e, fenced in paragraph_spans(text, 0, len(text)):
        if fenced:
            units.extend(_code_units(cutter, s, e, size, max_tokens))
        else:
            units.extend(cutter.units(s, e, size, _TEXT_LEVELS))
    return units


def _code_units(cutter: _Cutter, start: int, end: int, size: int, max_tokens: int) -> list[_Unit]:
    """Code that fits max_tokens stays whole (a function, a fenced block); else blocks, lines."""
    if end - start <= max_tokens * MAX_CHARS_PER_TOKEN and (n := cutter.tokens(start, end)) <= max_tokens:
        return [_Unit(start, end, n)]
    return cutter.units(start, end, size, _CODE_LEVELS)


def _overlap_start(cutter: _Cutter, start: int, end: int, overlap: int, code: bool) -> tuple[int, int] | None:
    """(offset, tokens): the earliest offset in (start, end) whose tail text[offset:end] has
    at most `overlap` tokens, preferring sentence/line starts; None when not one word fits.

    Tails are first estimated by summing cached word counts (exact for WordPiece), then
    the chosen one is counted for real; only if the estimate was wrong is a binary search run.
    """
    text = cutter.text
    window_start = max(start + 1, end - overlap * MAX_CHARS_PER_TOKEN)
    words = word_spans(text, window_start, end)
    tail = [0] * (len(words) + 1)  # tail[k] = estimated tokens of words[k:]
    for k in range(len(words) - 1, -1, -1):
        tail[k] = tail[k + 1] + cutter.word_tokens(*words[k])
    word_index = {s: k for k, (s, _) in enumerate(words)}
    lines = [s for s, _ in line_spans(text, window_start, end)]
    if code:
        candidate_sets = [lines]
    else:
        sentences = [s for s, _ in sentence_spans(text, window_start, end)]
        candidate_sets = [sorted(set(lines) | set(sentences)), [s for s, _ in words]]
    for candidates in candidate_sets:
        candidates = [c for c in candidates if c > start and c in word_index]
        estimated = next((c for c in candidates if tail[word_index[c]] <= overlap), None)
        if estimated is not None and (n := cutter.tokens(estimated, end)) <= overlap:
            return estimated, n
        if not candidates or cutter.tokens(candidates[-1], end) > overlap:
            continue
        # candidates ascend, tails shrink: find the first that fits.
        k = largest_fitting(0, len(candidates) - 1, lambda k: cutter.tokens(candidates[-1 - k], end) <= overlap)  # noqa: B023
        return candidates[-1 - k], cutter.tokens(candidates[-1 - k], end)
    return None


def _pack(
    cutter: _Cutter, units: list[_Unit], size: int, overlap: int, max_tokens: int, code: bool
) -> list[tuple[Span, int]]:
    """Greedy packing into (span, n_tokens) with overlap between neighbours."""
    out: list[tuple[Span, int]] = []
    i = 0
    carry: tuple[int, int] | None = None  # (start, tokens) of the overlap from the previous chunk
    while i < len(units):
        start, carried = (units[i].start, 0) if carry is None else carry
        if carried + units[i].tokens > max_tokens:
            start, carried = units[i].start, 0
        total, j = carried + units[i].tokens, i + 1
        max_chars = max_tokens * MAX_CHARS_PER_TOKEN
        while j < len(units) and total + units[j].tokens <= size and units[j].end - start <= max_chars:
            total += units[j].tokens
            j += 1
        # Token counts of pieces need not add up exactly; trust only the count of the chunk.
        while True:
            end = units[j - 1].end
            single = j - 1 == i and start == units[i].start
            n = units[i].tokens if single else cutter.tokens(start, end)  # a unit's count is exact
            if n <= max_tokens or single:
                break
            if j - 1 > i:
                j -= 1
            else:
                start = units[i].start
        out.append(((start, end), n))
        i = j
        carry = None
        if overlap and i < len(units):
            carry = _overlap_start(cutter, start, end, overlap, code)
    return out


def chunk_sections(
    sections: list[Section],
    count_tokens: CountTokens,
    size: int,
    overlap: int,
    max_tokens: int,
) -> list[Chunk]:
    """Chunks numbered 0..n-1 in document order, each with n_tokens <= max_tokens.

    `size` is the packing target, `overlap` the tokens shared by neighbouring chunks
    of one section, `max_tokens` the hard cap (the embedder's sequence length).
    """
    if not 0 < size <= max_tokens:
        raise ValueError(f"chunk size {size} must be between 1 and max_tokens {max_tokens}")
    if not 0 <= overlap < size:
        raise ValueError(f"overlap {overlap} must be smaller than size {size}")
    chunks: list[Chunk] = []
    for section in sections:
        if not section.text.strip():
            continue
        cutter = _Cutter(section.text, count_tokens)
        units = _section_units(cutter, section, size, max_tokens)
        lines = LineIndex(section.text) if section.line_start is not None else None
        for (s, e), n in _pack(cutter, units, size, overlap, max_tokens, section.kind == "code"):
            line_start = line_end = None
            if lines is not None and section.line_start is not None:
                line_start = section.line_start + lines.line_of(s) - 1
                line_end = section.line_start + lines.line_of(e - 1) - 1
            chunks.append(
                Chunk(
                    text=section.text[s:e],
                    ordinal=len(chunks),
                    heading=section.heading,
                    page=section.page,
                    line_start=line_start,
                    line_end=line_end,
                    char_start=section.char_start + s,
                    char_end=section.char_start + e,
                    n_tokens=n,
                    locator=section.locator,
                )
            )
    return chunks
