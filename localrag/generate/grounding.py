"""A support check after generation: does the answer lean on question terms no source contains?

Small models answer unanswerable questions by restating the question as a fact ("The Slack
commands provided by localrag are ...") and citing whatever source was nearest. The tell is
lexical: the answer repeats a term of the question that none of the numbered sources contains,
so the claim about it cannot come from them. `unsupported_share` is the share of the
question's content terms that the answer asserts this way; ChatSession abstains when it exceeds
`[llm] max_unsupported`.

Only a share, not a single such term, counts: answerable questions often use a word the manual
does not ("misspell" for "typo") and the model echoes it. Terms are compared after the BM25
tokenizer (lowercased, stemmed, stopwords dropped), so "generating" matches "generated".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from localrag.store.tokenize import tokenize

# English function words (beyond the tokenizer's short stopword list) and the words that frame
# a question ("is it true that ...?", "how do I ...?"): neither says what the question is about.
FUNCTION_WORDS = frozenset(
    """
    a about above across after again against all almost along already also although always am among an
    and another any anyone anything are around as at be because been before being below between beyond
    both but by can cannot could did do does doing done down during each either else even ever every
    for from further get gets got had has have having he her here hers him his how however i if in into
    is it its itself just least less may me might mine more most much must my myself neither no nor not
    now of off often on once one only onto or other others otherwise our ours out over own per perhaps
    please possible possibly quite rather really same shall she should since so some something such
    than that the their theirs them then there therefore these they thing things this those though
    through thus to too toward towards true false under until up upon us very via was way we well were
    what whatever when whenever where whereas whether which while who whom whose why will with within
    without would yet you your yours yourself tell need want
    """.split()
)
_WORD = re.compile(r"[^\W_][\w\-.']*", re.UNICODE)
_CITATION = re.compile(r"\[[^\]\n]{0,40}\]")


def question_terms(question: str) -> dict[str, str]:
    """The question's content terms (tokenizer terms, framing words left out), in order, each
    with the first word of the question it came from."""
    terms: dict[str, str] = {}
    for word in _WORD.findall(question):
        word = word.strip(".-'")
        if not word or word.lower() in FUNCTION_WORDS:
            continue
        for term in tokenize(word, query=True):
            terms.setdefault(term, word)
    return terms


def _vocabulary(texts: Iterable[str]) -> set[str]:
    vocab: set[str] = set()
    for text in texts:
        vocab.update(tokenize(text))
    return vocab


@dataclass(frozen=True, slots=True)
class Support:
    """The outcome of the check: the question's terms and those the answer asserts unsupported."""

    terms: list[str]
    unsupported: list[str]  # question terms in the answer but in none of the sources
    words: list[str]  # the question's own words for `unsupported` (for people)

    @property
    def unsupported_share(self) -> float:
        return len(self.unsupported) / len(self.terms) if self.terms else 0.0


def check_support(question: str, answer: str, sources: Iterable[str]) -> Support:
    """Which of the question's terms the answer repeats although no source contains them."""
    terms = question_terms(question)
    in_sources = _vocabulary(sources)
    in_answer = set(tokenize(_CITATION.sub(" ", answer)))
    unsupported = [t for t in terms if t in in_answer and t not in in_sources]
    return Support(list(terms), unsupported, list(dict.fromkeys(terms[t] for t in unsupported)))
