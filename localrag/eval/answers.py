"""Scoring for answer evaluation: did the answer cite the right file, did it abstain when it should.

Pure functions over plain records so they can be tested on fixed inputs; `scripts/eval_answers.py`
turns `ChatSession` runs into `Outcome`s and prints `summarize(...)`.

Conventions:
- An answerable question is answered correctly when the answer did not abstain, one of its
  citations points into the expected file (or one of `also_paths`; and, when the question names
  them, into a chunk under the expected heading and overlapping the expected lines) and, when the
  question has `gold` patterns, the answer matches every one (`grade`: correct, partly, wrong).
- An unanswerable question is answered correctly when the answer abstained.
- A question that asks whether a claim holds may name its `expected_verdict` ("yes" or "no");
  its verdict is right when the answer is correct as above and opens with that word.
- Time to first token counts only questions the model was actually asked (an abstention on
  weak evidence answers at once and would flatter the median).
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from localrag.errors import ConfigError
from localrag.generate.attribution import UNSUPPORTED_MARK
from localrag.generate.citations import without_markers


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    answerable: bool
    expected_path: str | None = None
    # one heading, or several when the answer is written in more than one section
    expected_heading: str | tuple[str, ...] | None = None
    expected_lines: tuple[int, int] | None = None  # 1-based inclusive; any overlap counts
    expected_verdict: str | None = None  # "yes" or "no", for a question whether a claim holds
    gold: tuple[str, ...] = ()  # regexes a correct answer matches, every one (case-insensitive)
    also_paths: tuple[str, ...] = ()  # other files that answer it equally well
    kind: str | None = None  # paraphrase, yesno, two-fact, number, why, near-miss
    split: str | None = None  # "dev" (choose settings on it) or "test" (report, never tune)
    folder: str | None = None  # the benchmark folder it is asked over


@dataclass(frozen=True, slots=True)
class CitedSource:
    """A source an answer cited, with what is needed to check it against a question."""

    path: str
    heading: tuple[str, ...] = ()
    line_start: int | None = None
    line_end: int | None = None


@dataclass(slots=True)
class Outcome:
    """What one question produced (times in ms from the start of the question)."""

    question_id: str
    abstained: bool
    cited: list[CitedSource] = field(default_factory=list)
    source_paths: list[str] = field(default_factory=list)  # all sources shown, best first
    generated: bool = False  # whether the model was called (not an early weak-evidence abstention)
    sources_ms: float | None = None
    first_token_ms: float | None = None
    total_ms: float | None = None
    completion_tokens: int = 0
    prompt_tokens: int = 0
    verdict: str | None = None  # "yes" / "no" when the answer opens with one (`verdict_of`)
    text: str = ""  # the answer as shown
    # sentences marked supported whose cited passage lacks one of their numbers or names
    supported_lacking_fact: int = 0
    supported_sentences: int = 0


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set (fields id, question, answerable, expected_path,
    expected_heading (a heading or a list of them), expected_lines as [start, end],
    expected_verdict "yes"/"no", gold (a list of regexes), also_paths, kind, split)."""
    questions: list[Question] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read question set {path}: {e.strerror or e}") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            lines_field = d.get("expected_lines")
            heading = d.get("expected_heading")
            q = Question(
                id=str(d["id"]),
                question=str(d["question"]),
                answerable=bool(d["answerable"]),
                expected_path=d.get("expected_path"),
                expected_heading=tuple(map(str, heading)) if isinstance(heading, list) else heading,
                expected_lines=(int(lines_field[0]), int(lines_field[1])) if lines_field else None,
                expected_verdict=d.get("expected_verdict"),
                gold=tuple(map(str, d.get("gold") or ())),
                also_paths=tuple(map(str, d.get("also_paths") or ())),
                kind=d.get("kind"),
                split=d.get("split"),
                folder=d.get("folder"),
            )
            for pattern in q.gold:
                re.compile(pattern)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError, re.error) as e:
            raise ConfigError(f"{path}:{no}: not a valid question ({e})") from None
        if q.answerable and not q.expected_path:
            raise ConfigError(f"{path}:{no}: answerable question {q.id!r} has no expected_path")
        if q.split not in (None, "dev", "test"):
            raise ConfigError(f'{path}:{no}: split must be "dev" or "test", not {q.split!r}')
        if q.expected_verdict not in (None, "yes", "no"):
            raise ConfigError(f'{path}:{no}: expected_verdict must be "yes" or "no", not {q.expected_verdict!r}')
        questions.append(q)
    return questions


def _norm(s: str) -> str:
    return " ".join(s.split()).casefold()


def cites_expected(question: Question, cited: Iterable[CitedSource], file_only: bool = False) -> bool:
    """Whether any citation points to the expected file (and heading/lines unless `file_only`)."""
    paths = {question.expected_path, *question.also_paths}
    for c in cited:
        if c.path not in paths:
            continue
        if file_only:
            return True
        if question.expected_heading and not _expected_headings(question) & {_norm(h) for h in c.heading}:
            continue
        if question.expected_lines and not _overlaps(question.expected_lines, c.line_start, c.line_end):
            continue
        return True
    return False


def _expected_headings(question: Question) -> set[str]:
    h = question.expected_heading or ()
    return {_norm(x) for x in ((h,) if isinstance(h, str) else h)}


def _overlaps(expected: tuple[int, int], start: int | None, end: int | None) -> bool:
    if start is None:
        return False
    end = start if end is None else end
    return start <= expected[1] and expected[0] <= end


def _without_marks(text: str) -> str:
    """An answer's text without its [n] citations and "[not in sources]" marks."""
    return without_markers(text).replace(UNSUPPORTED_MARK, "")


def gold_matches(question: Question, text: str) -> int:
    """How many of the question's gold patterns the answer text matches ([n] marks removed)."""
    plain = " ".join(_without_marks(text).split())
    return sum(bool(re.search(p, plain, re.IGNORECASE)) for p in question.gold)


def grade(question: Question, outcome: Outcome) -> str:
    """correct | partly | wrong | false_abstention for an answerable question (partly: the right
    file cited or some gold facts stated, not both in full); correct_abstention | answered for an
    unanswerable one."""
    if not question.answerable:
        return "correct_abstention" if outcome.abstained else "answered"
    if outcome.abstained:
        return "false_abstention"
    cites = cites_expected(question, outcome.cited)
    matched = gold_matches(question, outcome.text)
    if cites and matched == len(question.gold):
        return "correct"
    return "partly" if cites or matched else "wrong"


def is_correct(question: Question, outcome: Outcome) -> bool:
    return grade(question, outcome) in ("correct", "correct_abstention")


_VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def verdict_of(text: str) -> str | None:
    """ "yes" or "no" when the answer opens with that word ("Yes [1]. …", "No, the trial …")."""
    m = _VERDICT.match(text)
    return m.group(1).lower() if m else None


def verdict_is_right(question: Question, outcome: Outcome) -> bool:
    return is_correct(question, outcome) and outcome.verdict == question.expected_verdict


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def tokens_per_second(outcomes: Iterable[Outcome]) -> float | None:
    """Completion tokens over generation time (first token to end), pooled over the questions
    the model answered; None when nothing was generated."""
    tokens = 0
    seconds = 0.0
    for o in outcomes:
        if o.generated and o.first_token_ms is not None and o.total_ms is not None and o.completion_tokens > 1:
            # the first token's time belongs to the prompt; count the rest
            tokens += o.completion_tokens - 1
            seconds += max(o.total_ms - o.first_token_ms, 0.0) / 1000
    return round(tokens / seconds, 2) if seconds > 0 else None


def prompt_tokens_per_second(outcomes: Iterable[Outcome]) -> float | None:
    """Prompt tokens over the time from sources shown to first token (prompt processing, which
    is what time to first token is made of on a CPU), pooled; None when nothing was generated."""
    tokens = 0
    seconds = 0.0
    for o in outcomes:
        if o.generated and o.prompt_tokens and o.first_token_ms is not None and o.sources_ms is not None:
            tokens += o.prompt_tokens
            seconds += max(o.first_token_ms - o.sources_ms, 0.0) / 1000
    return round(tokens / seconds, 1) if seconds > 0 else None


def summarize(questions: Sequence[Question], outcomes: Sequence[Outcome]) -> dict:
    """The metrics of one run. `outcomes` may cover a subset of `questions` (matched by id)."""
    by_id = {q.id: q for q in questions}
    pairs = [(by_id[o.question_id], o) for o in outcomes]
    answerable = [(q, o) for q, o in pairs if q.answerable]
    unanswerable = [(q, o) for q, o in pairs if not q.answerable]
    generated = [o for _, o in pairs if o.generated]
    grades = [grade(q, o) for q, o in answerable]
    return {
        "questions": len(pairs),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "correct": _share([g == "correct" for g in grades]),
        # every gold fact stated, cited or not (the measure for a reference row that cites nothing)
        "gold_stated": _share([gold_matches(q, o.text) == len(q.gold) for q, o in answerable if q.gold]),
        "partly_correct": _share([g == "partly" for g in grades]),
        "wrong": _share([g == "wrong" for g in grades]),
        "citation_accuracy": _share([is_correct(q, o) for q, o in answerable]),
        "citation_file_accuracy": _share(
            [not o.abstained and cites_expected(q, o.cited, file_only=True) for q, o in answerable]
        ),
        "expected_file_in_sources": _share([q.expected_path in o.source_paths for q, o in answerable]),
        "verdict_accuracy": _share([verdict_is_right(q, o) for q, o in answerable if q.expected_verdict]),
        "false_abstention_rate": _share([o.abstained for _, o in answerable]),
        "abstention_accuracy": _share([o.abstained for _, o in unanswerable]),
        "overall_accuracy": _share([is_correct(q, o) for q, o in pairs]),
        "generated": len(generated),
        "supported_sentences": sum(o.supported_sentences for _, o in pairs),
        "supported_lacking_fact": sum(o.supported_lacking_fact for _, o in pairs),
        "median_total_ms": _median(o.total_ms for _, o in pairs),
        "sources_before_first_token": _share(
            [
                o.sources_ms is not None and (o.first_token_ms is None or o.sources_ms <= o.first_token_ms)
                for _, o in pairs
            ]
        ),
        "median_sources_ms": _median(o.sources_ms for _, o in pairs),
        "median_first_token_ms": _median(o.first_token_ms for o in generated),
        "p90_first_token_ms": _quantile([o.first_token_ms for o in generated], 0.9),
        "tokens_per_s": tokens_per_second(generated),
        "median_prompt_tokens": _median(o.prompt_tokens for o in generated),
        "prompt_tokens_per_s": prompt_tokens_per_second(generated),
    }


def _quantile(values: Sequence[float | None], q: float) -> float | None:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    return round(present[min(len(present) - 1, int(q * len(present)))], 1)


def abstention_table(samples: Sequence[tuple[bool, float]], thresholds: Iterable[float]) -> list[dict[str, float]]:
    """For each threshold t, abstaining when `score < t`: the share of unanswerable questions
    correctly abstained and the share of answerable ones wrongly abstained.
    `samples` are (answerable, evidence score) pairs."""
    pos = [s for a, s in samples if a]
    neg = [s for a, s in samples if not a]
    rows = []
    for t in thresholds:
        rows.append(
            {
                "threshold": t,
                "correct_abstain": _share([s < t for s in neg]) or 0.0,
                "false_abstain": _share([s < t for s in pos]) or 0.0,
            }
        )
    return rows


_DIGITS = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_ENUMERATOR = re.compile(r"^\s*\(?\d{1,2}[.)]\s+")
_CODE_NAME = re.compile(r"`([^`\n]+)`|(?<![\w-])(--?[A-Za-z][\w-]+|\w+(?:[._]\w+)+(?:\(\))?)")


def lacks_fact(sentence: str, passage: str) -> bool:
    """Whether a sentence states a number or a code name (`quoted`, --option, dotted or
    snake_case identifier) that the passage does not contain literally. A check independent of
    the attribution's own, for the benchmark's "marked supported but not in its source" count."""
    plain = _ENUMERATOR.sub("", _without_marks(sentence))  # "2. Build a wheel": 2 is the item's place
    text = passage.replace(",", "").lower()
    for m in _DIGITS.finditer(plain):
        if m.group(0).replace(",", "") not in text:
            return True
    for m in _CODE_NAME.finditer(plain):
        name = (m.group(1) or m.group(2)).strip(".").replace(",", "").lower()  # compared as the passage is
        if name and name not in text:
            return True
    return False
