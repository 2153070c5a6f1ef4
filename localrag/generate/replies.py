"""What a model's reply says about itself: whether it declines ("I don't know", "the sources do
not mention it", a bare "No" for lack of evidence). ChatSession decides abstention with these
(`model_declined`); attribution treats a not-found sentence as asserting nothing."""

from __future__ import annotations

import re

from localrag.generate.citations import without_markers
from localrag.generate.sentences import split_sentences

# Replies that mean "not in the sources", in the words small models use for it.
_NOT_FOUND_PATTERNS = re.compile(
    r"couldn'?t find|could not find|can'?not find|can'?t find|unable to find|did not find|didn'?t find|"
    r"no information|not (?:mentioned|contained|provided|found|stated|specified|covered)|"
    r"(?:sources?|documents?|context) do(?:es)? not (?:contain|mention|say|provide|include|report|state|discuss|address)|"
    r"don'?t (?:contain|mention|have|know)|do not (?:contain|mention|have|know)|no relevant",
    re.IGNORECASE,
)
_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”')


# A reply that opens by declining ("I don't know", or the session's own not-found sentence).
_STARTS_NOT_FOUND = re.compile(
    r"^\W*(?:I (?:couldn'?t|could not|can'?t|cannot) find (?:this|that|it|the answer)\b[^.!?\n\[]*"
    r"\bin (?:your|the) (?:documents|sources)|I (?:don'?t|do not) know\b)",
    re.IGNORECASE,
)


def starts_not_found(text: str) -> bool:
    """The reply opens with "I don't know" or the not-found sentence: the model decided the
    sources lack the answer, whatever it appends."""
    return bool(_STARTS_NOT_FOUND.match(text))


def says_not_found(text: str) -> bool:
    """The reply says the sources lack the answer (a quoted not-found sentence does not count:
    the manual itself quotes one)."""
    return bool(_NOT_FOUND_PATTERNS.search(_QUOTED.sub("", text)))


_LEADING_NO = re.compile(r"^\W*no\b\W*", re.IGNORECASE)


def denies_for_lack_of_evidence(text: str) -> bool:
    """'No [2].' or 'No [1]. The sources do not mention Android.': asked whether something is
    true, the model says no only because it found nothing, which is a not-found reply, not an
    answer (Qwen2.5-Coder-1.5B replied so to 4 of 13 unanswerable docs questions)."""
    body = without_markers(text).strip()
    opening = _LEADING_NO.match(body)
    if opening is None:
        return False
    rest = [s for s in split_sentences(body[opening.end() :]) if s.strip(" .!?")]
    return all(says_not_found(s) for s in rest)


def declines(reply: str) -> bool:
    """The model's reply says it has no answer: it opens so, says only that, or says "No" only
    for lack of evidence."""
    if starts_not_found(reply) or denies_for_lack_of_evidence(reply):
        return True
    sentences = [x for x in split_sentences(without_markers(reply)) if x.strip(" .!?")]
    return bool(sentences) and all(says_not_found(x) for x in sentences)


# A unit of 1-8 characters (not all blank) repeated to the end of the reply: a small model that
# has fallen into a loop, e.g. copying a PDF's dot leaders ("threads . . . . . .") until
# max_tokens.
_LOOP = re.compile(r"(?P<unit>(?=.{0,7}\S).{1,8}?)(?P=unit){9,}$", re.DOTALL)
_LOOP_WINDOW = 160  # a loop is caught while it is short (the check runs after every piece)
_LOOP_MIN_CHARS = 24  # shorter runs are real text: a mask 0xFFFFFFFFFF, a rule of dashes


def loop_start(text: str) -> int | None:
    """Where a reply's trailing loop begins (its first repeat kept, so the text still ends
    readably), or None when the reply does not end in one."""
    m = _LOOP.search(text, max(0, len(text) - _LOOP_WINDOW))
    if m is None or m.end() - m.start() < _LOOP_MIN_CHARS:
        return None
    return m.start() + len(m.group("unit"))
