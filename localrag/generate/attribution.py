"""Cite after generation: attribute each sentence of an answer to the passage that states it.

A small model answers best when it is not asked to cite (inline [n] markers cost it facts and
make it loop), so the citations are worked out here, from the text: for every sentence of the
answer, each given passage is checked for

* the sentence's **numbers** (with "64 * 1024" in a passage also standing for 65536, and
  number words for digits): every one must be in the passage;
* its **names** (identifiers, options, paths, acronyms, words with digits, `quoted` terms):
  every one must be in the passage, unless the question itself used it;
* its **key terms** (content words, stemmed, the question's own words and function words left
  out): the share of them, its numbers and its names found in the passage (`coverage`);
* what it **repeats from the question**: the question's names it uses must be in the passage,
  and the question's numbers (in digits) in the same run of sentences as its facts ("the
  Node.js 20 release is Hydrogen" is not backed by "Node.js 18 is Hydrogen");
* its **meaning**: the cosine between the sentence and the passage's closest sentence window,
  with the MiniLM embedder already loaded for retrieval (`similarity`; optional).

Numbers are looked for in runs of WINDOW consecutive sentences of a passage that also share a
word with the sentence, so a number counts only where it stands near what the sentence says
about it; names anywhere in the passage. A sentence is *supported* by the best passage in which all its numbers and names
occur and whose coverage reaches its threshold (or whose similarity does, with at least half
that coverage); it is then cited to that passage. A sentence that only repeats the question's
words ("Yes, statins lower LDL."), or adds one word of its own to them ("There is no evidence
that starch harms kidneys."), is checked with all its words and needs RESTATED_COVERAGE of
them; one with no content word ("Yes.") is *neutral*. Any other sentence is *unsupported*: it
is marked so in the text and never shown as verified. The model's own [n], where it wrote one,
is kept only when that passage supports the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from localrag.config import AnswerSettings
from localrag.generate.citations import parse_citations, without_markers
from localrag.generate.sentences import sentence_spans, split_sentences
from localrag.store.tokenize import tokenize
from localrag.types import SentenceSupport

UNSUPPORTED_MARK = "[not in sources]"

# English function words (beyond the tokenizer's short stopword list) and the words that frame
# a question or an answer: neither says what a sentence claims.
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
    without would yet you your yours yourself tell need want yes use used using also source sources
    document documents text passage according mentioned states stated say says said provided
    """.split()
)

# "one" and "zero" are left out: "one of the options" states no number.
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split(),
        start=2,
    )
}
_NUMBER = re.compile(r"(?<![\w.])v?(\d+(?:,\d{3})*(?:\.\d+)?)(?![\w])")  # "v45.0" is 45
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_PRODUCT = re.compile(r"(\d+)\s*\*\s*(\d+)(?:\s*\*\s*(\d+))?")
# Names: `quoted`, "quoted", --options, paths, dotted or snake_case identifiers, calls, CamelCase,
# ACRONYMS, words mixing letters and digits.
_BACKTICKED = re.compile(r"`([^`\n]{1,80})`")
_NAME = re.compile(
    r"(?<![\w-])(?:--?[A-Za-z][\w-]*(?:=\S+)?"  # -x, --leak-check=full
    r"|[~./]?[\w-]+(?:/[\w.-]+)+"  # paths
    r"|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?"  # dotted names
    r"|[A-Za-z]+_\w+(?:\(\))?|\w+\(\)"  # snake_case, calls
    r"|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*"  # camelCase, CamelCase
    r"|[A-Z]{2,}[\w-]*"  # ACRONYMS
    r"|[A-Za-z]+\d[\w-]*|\d+[A-Za-z][\w-]*)"  # sha1, x86_64, 3DES
)
_WORD = re.compile(r"[^\W_][\w\-.']*", re.UNICODE)
_LIST_ITEM = re.compile(r"^\s*(?:\(?\d{1,2}[.)]|[-*•])\s+")  # "1. ", "(2) ", "- ": not a claim
# Units and number words that are not what a sentence claims on their own.
_UNIT_LIKE = frozenset("kb mb gb tb kib mib gib ms s".split())
# A sentence in the question's own words is backed only by a passage that says nearly all of it.
RESTATED_COVERAGE = 0.8


_DEFAULTS = AnswerSettings()


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_coverage: float = _DEFAULTS.min_coverage
    min_similarity: float = _DEFAULTS.min_similarity


def _canon_number(raw: str) -> str:
    value = raw.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".") or "0"
    return value.lstrip("0") or "0"


def digits(text: str) -> set[str]:
    """The numbers `text` writes in digits, canonical ("65,536" -> "65536", "2.50" -> "2.5")."""
    return {_canon_number(m.group(1)) for m in _NUMBER.finditer(text)}


def numbers(text: str) -> set[str]:
    """The numbers of `text`, canonical, number words included ("two" -> "2")."""
    return digits(text) | {_NUMBER_WORDS[m.group(1).lower()] for m in _NUMBER_WORD.finditer(text)}


def _passage_numbers(text: str) -> set[str]:
    """Numbers of a passage, with the value of each product written in it ("64 * 1024")."""
    found = numbers(text)
    for m in _PRODUCT.finditer(text):
        value = 1
        for factor in m.groups():
            if factor:
                value *= int(factor)
        found.add(str(value))
    return found


def names(text: str) -> set[str]:
    """Names a sentence asserts (lowercased): identifiers, options, paths, acronyms, words with
    digits, `quoted` terms. (Plain capitalised words count as key terms: a model often names
    the platform or product a source takes for granted.)"""
    found = {m.group(1) for m in _BACKTICKED.finditer(text) if " " not in m.group(1)}  # a command: its parts
    found |= {m.group(0) for m in _NAME.finditer(text)}
    out = set()
    for name in found:
        name = name.strip(".,;:'\"()").lower()
        if len(name) > 1 and not _NUMBER.fullmatch(name) and name not in _UNIT_LIKE and name not in FUNCTION_WORDS:
            out.add(name)
    return out


_CAPITALISED = re.compile(r"(?<![\w.'-])[A-Z][a-z]+(?:[A-Z]\w*)?\b")
_NOT_NAMES = frozenset({"i.e", "e.g", "etc"})


_NUMBER_LIKE = re.compile(r"[\d.,/:\-]+")  # "1/2000", "2023-01": numbers, which attribution checks


# An abbreviation the question defines after its long form: "zidovudine (AZT)", "high-sensitivity
# cardiac troponin T (HSCT-T)". The long form says what to look for; the passages may never use
# the question's abbreviation.
_DEFINED_ALIAS = re.compile(r"(?<=\w)\s+\(([A-Za-z][\w\-]*[A-Z][\w\-]*)\)")


def subject_names(question: str) -> set[str]:
    """The names a question asks about (lowercased): its identifiers, options, paths, acronyms
    and capitalised words other than its first ("Slack", "Homebrew", "lzma.open", "RISC-V"),
    without the abbreviations it defines in parentheses."""
    question = _DEFINED_ALIAS.sub("", question)
    found = {n for n in names(question) if not _NUMBER_LIKE.fullmatch(n)}
    opening = len(question) - len(question.lstrip())
    for m in _CAPITALISED.finditer(question):
        word = m.group(0).lower()
        if m.start() != opening and word not in FUNCTION_WORDS:
            found.add(word)
    return found - _NOT_NAMES


# Greek letters as their names, so "IL-1beta" and "IL-1β", "TNF-alpha" and "TNF-α" are one name.
_GREEK = str.maketrans(
    {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "κ": "kappa", "λ": "lambda", "μ": "mu"}
)
# The last part of a hyphenated name that only qualifies it: "Rad53-dependent" names Rad53.
_QUALIFIER = re.compile(
    r"-(?:dependent|independent|mediated|induced|related|associated|positive|negative|deficient|specific|"
    r"derived|based|like|type|free|treated|null)$"
)


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.lower().translate(_GREEK))


def mentions(squashed_passage: str, name: str) -> bool:
    """Whether a passage (`_squash`ed) mentions `name`, however spaced, hyphenated, pluralised
    or qualified ("Rad53-dependent"), with Greek letters spelled out or not; a dotted or slashed
    name when each of its parts is there ("http.server" in the passage of http/server.py)."""
    name = _QUALIFIER.sub("", name)
    parts = [p for p in re.split(r"[./]", name) if len(p) > 1] or [name]
    for part in parts:
        forms = {_squash(part)}
        forms |= {f[:-1] for f in forms if f.endswith("s") and len(f) > 3}
        if not any(f in squashed_passage for f in forms):
            return False
    return True


def unmentioned_names(question: str, passages: Sequence[str]) -> list[str]:
    """The question's names (`subject_names`) that no passage `mentions`. A question about a
    product, platform or identifier none of the closest passages names is not answered by them,
    whatever the model makes of them."""
    everywhere = "\0".join(_squash(p) for p in passages)  # each part in some passage
    return [name for name in sorted(subject_names(question)) if not mentions(everywhere, name)]


def key_terms(text: str, exclude: set[str]) -> set[str]:
    """Stemmed content terms of `text` without function words and the `exclude` terms."""
    terms: set[str] = set()
    for word in _WORD.findall(text):
        word = word.strip(".-'")
        if not word or word.lower() in FUNCTION_WORDS or _NUMBER.fullmatch(word):
            continue
        terms.update(tokenize(word))
    return terms - exclude


# A sentence's numbers are looked for in runs of this many consecutive sentences of a passage
# (lines, in code) near the sentence's other words, not anywhere in a long passage
# ("easy_install was removed in version 45" is not backed by a changelog that lists 45).
WINDOW = 3


@dataclass(slots=True)
class _Window:
    text: str
    terms: set[str]
    numbers: set[str]


def _windows(text: str, size: int = WINDOW) -> list[_Window]:
    """Overlapping runs of `size` sentences (the unit a sentence is compared with)."""
    sentences = split_sentences(text)
    runs = (
        [sentences] if len(sentences) <= size else [sentences[i : i + size] for i in range(len(sentences) - size + 1)]
    )
    out = []
    for run in runs:
        joined = " ".join(run)
        if joined:
            out.append(_Window(joined, set(tokenize(joined)), _passage_numbers(joined)))
    return out


Embed = Callable[[list[str]], np.ndarray]


@dataclass(slots=True)
class Evidence:
    """How one passage stands to one sentence's facts."""

    missing: list[str]  # the sentence's numbers and names its best window of the passage lacks
    coverage: float  # share of the sentence's key terms, numbers and names in that window
    similarity: float | None  # embedder cosine to the passage's closest sentence window


@dataclass(slots=True)
class Measured:
    """An answer's sentences, and for each one that asserts something, its evidence per passage
    (thresholds are applied afterwards, by `support`, so they can be varied without re-measuring)."""

    sentences: list[str]
    evidence: dict[int, list[Evidence]]  # sentence index -> one Evidence per passage
    cited: dict[int, list[int]]  # sentence index -> the [n] the model wrote in it
    restated: set[int] = field(default_factory=set)  # sentences in the question's words only


# A sentence that adds at most this many terms of its own to the question's words restates it.
THIN_TERMS = 1


def _thin(facts: tuple[set[str], set[str], set[str]], sentence: str, question_terms: set[str]) -> bool:
    """A sentence that only wraps the question's words around one word of its own ("There is no
    evidence that starch harms kidneys.") says no more than the question: it is checked as a
    restatement, with all its words."""
    numbers_, names_, terms = facts
    if numbers_ or names_ or len(terms) > THIN_TERMS:
        return False
    return len(key_terms(sentence, set()) & question_terms) >= 3


def measure(
    answer: str,
    question: str,
    passages: Sequence[str],
    embed: Embed | None = None,
    neutral: Callable[[str], bool] | None = None,
    titles: Sequence[str] | None = None,
) -> Measured:
    """The facts of each sentence of `answer` checked against every passage. Sentences for which
    `neutral` is true (e.g. "The sources do not say.") are taken to assert nothing. `titles`
    (one per passage: its file's path and headings) name what a passage is about without saying
    it: a question's name the sentence repeats may stand there ("shutil" for a passage of
    shutil.py)."""
    prepared = [(p.lower(), _windows(p)) for p in passages]
    known_as = [_squash(p + "\n" + (titles[j] if titles else "")) for j, p in enumerate(passages)]
    question_lower = question.lower()
    question_terms = set(tokenize(question))
    question_names = names(question)
    question_numbers = numbers(question)
    question_digits = digits(question)
    sentences = split_sentences(answer)
    restated: set[int] = set()
    claims: list[tuple[int, str, tuple[set[str], set[str], set[str]], tuple[set[str], set[str]]]] = []
    for i, sentence in enumerate(sentences):
        plain = _LIST_ITEM.sub("", without_markers(sentence)).strip()
        if neutral is not None and neutral(plain):
            continue
        sentence_numbers, sentence_names = numbers(plain), names(plain)
        facts = (
            sentence_numbers - question_numbers,
            {n for n in sentence_names if n not in question_names and n not in question_lower},
            key_terms(plain, question_terms),
        )
        # what it repeats from the question must hold where its facts do ("Node.js 20 ... is
        # Hydrogen" is not backed by a passage that names Hydrogen for Node.js 18)
        # (numbers in digits: "which two defences" asks for two things, it names no version)
        # (a name taken from the question's plain words, "the `timeout` parameter", counts too)
        echoed = (sentence_numbers & question_digits, sentence_names - facts[1])
        if not any(facts) or _thin(facts, plain, question_terms):
            # Only the question's own words ("Yes, statins lower LDL."): a verdict on it, backed by
            # a passage that says nearly all of them, or by none (a restated unanswerable question).
            facts = (sentence_numbers, sentence_names, key_terms(plain, set()))
            echoed = (set(), set())
            restated.add(i)
        if any(facts):
            claims.append((i, plain, facts, echoed))
    sims = _similarities([c[1] for c in claims], prepared, embed) if claims else None
    evidence: dict[int, list[Evidence]] = {}
    for row, (i, plain, (nums, nams, terms), (echoed_nums, echoed_names)) in enumerate(claims):
        size = len(terms) + len(nums) + len(nams)
        # a window stating the numbers and names must also share a word with the sentence
        anchors = key_terms(plain, set()) - {t for n in nams for t in tokenize(n)}
        evidence[i] = []
        for j, (lower, windows) in enumerate(prepared):
            # names anywhere in the passage (an identifier seldom matches by chance); numbers
            # in a window that also shares a word with the sentence
            absent = sorted(n for n in nams if n not in lower)
            absent_echo = sorted(n for n in echoed_names if not mentions(known_as[j], n))
            best: tuple[int, float, list[str]] | None = None
            for w in windows:
                if nums and anchors and not anchors & w.terms:
                    missing = sorted(nums) + absent
                else:
                    missing = sorted(n for n in nums if n not in w.numbers) + absent
                coverage = (len(terms & w.terms) + len(nums) + len(nams) - len(missing)) / size
                missing += sorted(n for n in echoed_nums if n not in w.numbers) + absent_echo
                if best is None or (-len(missing), coverage) > best[:2]:
                    best = (-len(missing), coverage, missing)
            missing = best[2] if best else sorted(nums | echoed_nums) + absent + absent_echo
            evidence[i].append(
                Evidence(
                    missing=missing,
                    coverage=best[1] if best else 0.0,
                    similarity=None if sims is None else float(sims[row, j]),
                )
            )
    cited = {i: parse_citations(s) for i, s in enumerate(sentences)}
    return Measured(sentences, evidence, cited, restated)


def support(measured: Measured, thresholds: Thresholds = Thresholds()) -> list[SentenceSupport]:
    """Each sentence with the passage (1-based) that supports it, if any (see the module doc)."""
    out = []
    for i, sentence in enumerate(measured.sentences):
        per_passage = measured.evidence.get(i)
        if per_passage is None:
            out.append(SentenceSupport(text=sentence, status="neutral"))
            continue
        if not per_passage:  # no passages at all
            out.append(SentenceSupport(text=sentence, status="unsupported"))
            continue
        own = measured.cited.get(i, [])

        least = max(thresholds.min_coverage, RESTATED_COVERAGE) if i in measured.restated else thresholds.min_coverage

        def passes(e: Evidence) -> bool:
            return not e.missing and (
                e.coverage >= least
                or (e.similarity is not None and e.similarity >= thresholds.min_similarity and e.coverage >= least / 2)
            )

        # the model's own citation wins among passages that pass; else the best evidence
        j = max(
            range(len(per_passage)),
            key=lambda j: (
                passes(per_passage[j]),
                (j + 1) in own,
                -len(per_passage[j].missing),
                per_passage[j].coverage + (per_passage[j].similarity or 0.0),
            ),
        )
        e = per_passage[j]
        s = SentenceSupport(text=sentence, status="unsupported", coverage=e.coverage, similarity=e.similarity)
        if passes(e):
            s.status, s.source = "supported", j + 1
        else:
            s.missing = sorted(set.intersection(*(set(x.missing) for x in per_passage)))
        out.append(s)
    return out


def attribute(
    answer: str,
    question: str,
    passages: Sequence[str],
    embed: Embed | None = None,
    thresholds: Thresholds = Thresholds(),
    neutral: Callable[[str], bool] | None = None,
) -> list[SentenceSupport]:
    """Each sentence of `answer` with the passage (1-based) that supports it, if any."""
    return support(measure(answer, question, passages, embed, neutral), thresholds)


def _similarities(
    sentences: list[str], passages: list[tuple[str, list[_Window]]], embed: Embed | None
) -> np.ndarray | None:
    """(sentence, passage) -> the best cosine between the sentence and a window of the passage."""
    texts = [w.text for _, windows in passages for w in windows]
    if embed is None or not texts:
        return None
    vectors = embed(sentences + texts)
    sent, win = vectors[: len(sentences)], vectors[len(sentences) :]
    cos = sent @ win.T
    out = np.full((len(sentences), len(passages)), -1.0)
    start = 0
    for j, (_, windows) in enumerate(passages):
        if windows:
            out[:, j] = cos[:, start : start + len(windows)].max(axis=1)
        start += len(windows)
    return out


def render(answer: str, support: Sequence[SentenceSupport]) -> str:
    """`answer` with each supported sentence cited [n] (the model's markers replaced) and each
    unsupported one marked UNSUPPORTED_MARK, spacing and line breaks kept."""
    spans = sentence_spans(answer)
    if len(spans) != len(support):  # pragma: no cover - both come from the same splitter
        raise ValueError("support does not match the answer's sentences")
    pieces: list[str] = []
    last = 0
    for (a, b), s in zip(spans, support):
        pieces.append(answer[last:a])
        sentence = without_markers(answer[a:b]).rstrip()
        sentence = re.sub(r"\s+([.,;:!?])$", r"\1", sentence)
        if s.status == "supported":
            sentence = mark(sentence, f"[{s.source}]")
        elif s.status == "unsupported":
            sentence = mark(sentence, UNSUPPORTED_MARK)
        pieces.append(sentence)
        last = b
    pieces.append(answer[last:])
    return "".join(pieces)


def mark(sentence: str, marker: str) -> str:
    """'It rains.' -> 'It rains [2].' (the marker goes inside the sentence it belongs to)."""
    if sentence and sentence[-1] in ".!?":
        return f"{sentence[:-1]} {marker}{sentence[-1]}"
    return f"{sentence} {marker}"
