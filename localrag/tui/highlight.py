"""Highlighting for source text: query terms in snippets, the cited span in a preview.

Pure functions returning Textual `Content`, so widgets only lay them out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from textual.content import Content

from localrag.store.tokenize import tokenize

TERM_STYLE = "bold $accent underline"
SPAN_STYLE = "on $warning 20%"
_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 280


def term_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of the words in `text` that the search matched.

    `terms` are index terms (lowercased, stemmed) as in `Hit.matched_terms`; a word matches
    when any of its own index terms is one of them (the tokenizer is the one BM25 used).
    """
    wanted = set(terms)
    if not wanted:
        return []
    return [(m.start(), m.end()) for m in _WORD.finditer(text) if wanted.intersection(tokenize(m.group(0)))]


def snippet(text: str, terms: Iterable[str], width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """One-line excerpt of `text` around its first matched word, and the match spans inside it."""
    flat = " ".join(text.split())
    spans = term_spans(flat, terms)
    start = 0
    if spans and spans[0][0] > width // 3:
        start = flat.rfind(" ", 0, spans[0][0] - width // 4) + 1
    excerpt = flat[start : start + width]
    prefix = "…" if start else ""
    suffix = "…" if start + width < len(flat) else ""
    shift = len(prefix) - start
    inside = [(a + shift, b + shift) for a, b in spans if a >= start and b <= start + width]
    return prefix + excerpt + suffix, inside


def styled(text: str, spans: Iterable[tuple[int, int]], style: str) -> Content:
    content = Content(text)
    for a, b in spans:
        content = content.stylize(style, a, b)
    return content


def snippet_content(text: str, terms: Iterable[str], width: int = SNIPPET_CHARS) -> Content:
    excerpt, spans = snippet(text, terms, width)
    return styled(excerpt, spans, TERM_STYLE)


# A sentence: from a non-space to a full stop before whitespace (not the one in "1.5 bar"), a line end, or the end.
_SENTENCE = re.compile(r"\S.*?(?:[.!?](?=\s|$)|(?=\n)|$)", re.S)


_LEADING_MARKERS = re.compile(r"(?:\s*\[[^\]\n]*\])*\s*")


def _leading_markers(text: str, pos: int = 0) -> re.Match[str]:
    """The citation markers and spaces at `pos` (the pattern matches the empty string too)."""
    found = _LEADING_MARKERS.match(text, pos)
    assert found is not None
    return found


def _words(text: str) -> set[str]:
    return set(tokenize(text))


def cited_spans(chunk: str, answer: str, n: int) -> list[tuple[int, int]]:
    """Spans of `chunk` that the answer's sentences citing [n] draw on.

    A quoted sentence is found verbatim; a paraphrase is matched to the chunk sentence that
    shares most of its index terms (at least two, and at least half of the shorter one's).
    """
    from localrag.generate.citations import parse_citations

    spans: list[tuple[int, int]] = []
    chunk_sentences = [(m.start(), m.end()) for m in _SENTENCE.finditer(chunk) if m.group(0).strip()]
    for m in _SENTENCE.finditer(answer):
        # markers after the full stop belong to this sentence ("… fence. [2]"), not the next
        claim = m.group(0)[_leading_markers(m.group(0)).end() :]
        if n not in parse_citations(claim + _leading_markers(answer, m.end()).group(0)):
            continue
        bare = re.sub(r"\[[^\]]*\]", "", claim).strip().rstrip(".!?").strip()
        if len(bare) < 8:
            continue
        at = chunk.find(bare)
        if at >= 0:
            spans.append((at, at + len(bare)))
            continue
        claim_terms = _words(bare)
        best, best_overlap = None, 0
        for a, b in chunk_sentences:
            sentence_terms = _words(chunk[a:b])
            overlap = len(claim_terms & sentence_terms)
            if overlap > best_overlap:
                best, best_overlap = (a, b), overlap
        if (
            best
            and best_overlap >= 2
            and best_overlap * 2 >= min(len(claim_terms), len(_words(chunk[best[0] : best[1]])))
        ):
            spans.append(best)
    return merge(spans)


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
