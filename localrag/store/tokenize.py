"""The BM25 tokenizer: the same function turns chunks and queries into index terms.

- Latin-script words are lowercased, stopwords dropped, and stemmed (PyStemmer, English).
- Code identifiers are split into their parts (``parse_http_request`` -> parse, http,
  request; ``HTTPServerError`` -> http, server, error) *and* kept whole
  (``parse_http_request``, ``httpservererror``), so both a part and the exact name match.
- CJK text (Han, Hiragana, Katakana, Hangul) has no spaces between words, so runs are
  indexed as overlapping character bigrams. Documents also get every single character
  (unigrams) so that a one-character query still finds them; a query uses bigrams only
  (unless its run is one character long), which keeps multi-character queries precise.

`TOKENIZER_VERSION` is stamped on saved keyword indexes: change it whenever the output of
`tokenize` changes, so older indexes are seen as stale and rebuilt.
"""

from __future__ import annotations

import re

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

TOKENIZER_VERSION = 1

# Lucene's English stopword list (the one bm25s uses for "en"): short, so that words such
# as "not" in a question about code still count a little through their low IDF.
STOPWORDS: frozenset[str] = frozenset(STOPWORDS_EN)

_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
)
# A CJK run, or a run of word characters that are not CJK.
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_CJK_START = re.compile(rf"[{_CJK}]")

_stemmer = Stemmer.Stemmer("english")
# word -> terms. A plain dict (cleared when full) is ~1.7x faster than lru_cache here, and
# corpora repeat words so much that nearly every lookup hits.
_word_cache: dict[str, tuple[str, ...]] = {}
_WORD_CACHE_SIZE = 500_000


def identifier_parts(word: str) -> list[str]:
    """Split an identifier at underscores, lower->Upper, ACRONYM->Word and letter<->digit.

    "parse_http_request" -> parse, http, request; "HTTPServer2Error" -> HTTP, Server, 2, Error.
    Written with str methods rather than an [A-Z] regex so accented words ("café") stay whole.
    """
    parts: list[str] = []
    for piece in word.split("_"):
        start = 0
        for i in range(1, len(piece)):
            a, b = piece[i - 1], piece[i]
            if (
                (a.islower() and b.isupper())
                or (a.isdigit() != b.isdigit())
                or (a.isupper() and b.isupper() and i + 1 < len(piece) and piece[i + 1].islower())
            ):
                parts.append(piece[start:i])
                start = i
        if piece[start:]:
            parts.append(piece[start:])
    return parts


def _word_terms(word: str) -> tuple[str, ...]:
    """Terms for one run of word characters (cached: corpora repeat words a lot)."""
    parts = identifier_parts(word)
    lowered = word.lower()
    if parts == [word]:  # a plain word
        if lowered in STOPWORDS:
            return ()
        return (_stemmer.stemWord(lowered),)
    # An identifier (snake_case, CamelCase, mixed letters and digits): stemmed parts + the whole.
    terms = [_stemmer.stemWord(p.lower()) for p in parts if p.lower() not in STOPWORDS]
    whole = lowered.strip("_")
    if whole and whole not in terms:
        terms.append(whole)
    return tuple(terms)


def _cjk_terms(run: str, query: bool) -> list[str]:
    if len(run) == 1:
        return [run]
    bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
    return bigrams if query else list(run) + bigrams


def tokenize(text: str, query: bool = False) -> list[str]:
    """Index terms of `text`, in order of appearance (repeats kept: BM25 counts them).

    `query=True` tokenizes a search query (CJK: bigrams only, see the module docstring).
    """
    terms: list[str] = []
    extend = terms.extend
    cache = _word_cache
    for run in _TOKEN_RE.findall(text):
        found = cache.get(run)
        if found is not None:
            extend(found)
        elif _CJK_START.match(run):
            extend(_cjk_terms(run, query))
        else:
            if len(cache) >= _WORD_CACHE_SIZE:
                cache.clear()
            cache[run] = found = _word_terms(run)
            extend(found)
    return terms
