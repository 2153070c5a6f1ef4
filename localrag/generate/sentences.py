"""Sentences of a passage, scored by the question's terms: the extractive answer quotes the best
ones, and the answer prompt keeps the best ones of a source that is too long to give whole.

Terms are the BM25 tokenizer's (stemmed, stopwords dropped, code identifiers split, CJK bigrams),
question words removed. A sentence scores by how many distinct query terms it contains, lightly
normalised by length so that a long run-on sentence does not win by size alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from localrag.store.tokenize import tokenize

# Sentence ends: terminal punctuation before whitespace, or line breaks (lists, code, tables).
# Not before a lowercase word: "H. pylori", "E. coli", "e.g. the", "et al. found" go on.
# Nor after "e.g." / "i.e.", nor before a `code span` or a bracket that continues the sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\be\.g\.)(?<!\bi\.e\.)\s++(?![a-z`(])|\n+")
# Words that shape a question but say nothing about its subject (stemmed, as tokenize emits them).
_QUESTION_WORDS = frozenset(
    tokenize("what which who whom whose how when where why do does did can could would should get got tell me about")
)
GAP = " … "  # stands for the sentences an excerpt leaves out


def terms(text: str, query: bool = False) -> set[str]:
    return set(tokenize(text, query=query))


def query_terms(question: str) -> set[str]:
    return terms(question, query=True) - _QUESTION_WORDS


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, surrounding whitespace excluded. A list item's
    number ("1." in "two steps: 1. Install it.") starts the item's sentence, not one of its own."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.start() if m else len(text)
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        if m:
            start = m.end()
    return _attach_enumerators(text, spans)


_ENUMERATOR = re.compile(r"\(?\d{1,2}[.)]")
_TRAILING_ENUMERATOR = re.compile(r"[:;]\s+(\(?\d{1,2}[.)])$")


def _attach_enumerators(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    carry: int | None = None  # where the next sentence starts instead (its enumerator)
    for i, (a, b) in enumerate(spans):
        if carry is not None:
            a, carry = carry, None
        last = i == len(spans) - 1
        if not last and _ENUMERATOR.fullmatch(text[a:b]):
            carry = a
            continue
        trailing = None if last else _TRAILING_ENUMERATOR.search(text, a, b)
        if trailing is not None:
            carry = trailing.start(1)
            b = trailing.start() + 1
        out.append((a, b))
    return out


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def score(terms_of_query: set[str], sentence: str) -> float:
    found = terms(sentence)
    overlap = len(terms_of_query & found)
    return overlap / math.sqrt(max(len(found), 1)) + overlap if overlap else 0.0


def excerpt(text: str, question: str, max_tokens: int, count_tokens: Callable[[str], int]) -> str:
    """The sentences of `text` that match `question` best, in their original order, within
    `max_tokens`; left-out stretches become GAP. Sentences without a query term fill the room
    that is left, nearest the best sentence first, so the excerpt keeps its context."""
    if count_tokens(text) <= max_tokens:
        return text
    spans = sentence_spans(text)
    if not spans:
        return ""
    wanted = query_terms(question)
    scores = [score(wanted, text[a:b]) for a, b in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    order = sorted(range(len(spans)), key=lambda i: (-scores[i], abs(i - best), i))
    gap_cost = count_tokens(GAP)
    picked: set[int] = set()
    used = 0
    for i in order:
        cost = count_tokens(text[spans[i][0] : spans[i][1]]) + gap_cost
        if used + cost <= max_tokens:
            picked.add(i)
            used += cost
    if best not in picked:  # the best sentence alone is too long: its opening words
        a, b = spans[best]
        return _cut(text[a:b], max_tokens - gap_cost, count_tokens) + GAP.rstrip()
    return _join(text, spans, sorted(picked))


def _join(text: str, spans: list[tuple[int, int]], picked: list[int]) -> str:
    runs: list[list[int]] = []
    for i in picked:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = [text[spans[run[0]][0] : spans[run[-1]][1]] for run in runs]
    out = GAP.join(parts)
    if picked[0] > 0:
        out = GAP.lstrip() + out
    if picked[-1] < len(spans) - 1:
        out += GAP.rstrip()
    return out


def _cut(sentence: str, max_tokens: int, count_tokens: Callable[[str], int]) -> str:
    """The longest run of opening words of `sentence` within `max_tokens` (may be empty)."""
    words = sentence.split(" ")
    lo, hi = 0, len(words)  # the answer lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(words[:mid])) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])
