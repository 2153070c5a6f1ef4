"""ChatSession: one conversation over an index — condense, retrieve, answer, cite, abstain (no UI).

`ask_stream` yields events in a fixed order so a UI can show sources before the model starts:
``Sources`` once, then ``Token`` pieces (the model's reply as written), then ``Done`` with the
finished `Answer`, whose text carries the citations.

Three jobs, three mechanisms:

* **Answer**: the model answers briefly from the numbered sources, asked neither to cite nor to
  say when it does not know (`localrag.generate.prompt`); it may still say so on its own.
* **Cite**: each sentence of the reply is attributed to the passage that states its numbers,
  names and key terms (`localrag.generate.attribution`); supported sentences get [n], the
  others are marked "[not in sources]" and never shown as verified.
* **Abstain**, from evidence, naming the signal that decided (`Answer.abstain_reason`):
  ``weak_retrieval`` — no hit's dense cosine reaches `retrieval.min_dense` (the model is not
  called); ``unmentioned`` — a name the question asks about ("Slack", "lzma.open") is in none
  of the passages (`answer.abstain_unmentioned`; the model is not called); ``model_declined`` —
  the model said it does not know (`localrag.generate.replies`), or (when `llm.max_not_found` is below 1) it would most
  likely open with that; ``unsupported`` — no sentence of the reply is
  supported by a source; ``off_topic`` — the passages that support it are not about the question
  (dense cosine below `answer.min_subject`). The nearest sources are always listed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from localrag.config import RetrievalSettings, Settings
from localrag.generate.base import LLM
from localrag.generate.attribution import Measured, Thresholds, measure, render, support, unmentioned_names
from localrag.generate.citations import parse_citations, resolve
from localrag.generate.prompt import NOT_FOUND, PromptPlan, build_messages, is_yes_no
from localrag.generate.replies import declines, loop_start, says_not_found
from localrag.store.tokenize import STOPWORDS
from localrag.protocols import Embedder
from localrag.types import Answer, Hit, TokenUsage, Timings

CONDENSE_TIMEOUT_S = 8.0
CONDENSE_MAX_TOKENS = 64
HISTORY_TURNS = 3  # earlier exchanges shown to the condenser
TITLE_CHARS = 80

CONDENSE_SYSTEM = (
    "Rewrite the user's follow-up question as one standalone question that can be understood "
    "without the conversation. Keep names and technical terms. Reply with the question only."
)

# A question that leans on the conversation: pronouns, ellipsis, "what about ...".
_REFERS_BACK = re.compile(
    r"\b(?:it|its|it's|this|that|these|those|they|them|their|there|he|she|his|her|him|one|ones|"
    r"same|also|else|more|other|another|former|latter)\b|^\s*(?:and|but|or|so|what about|how about)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_][\w\-.]*", re.UNICODE)
_QUESTION_WORDS = frozenset(
    "what which who whom whose how when where why do does did can could would should tell me about "
    "please is are was were".split()
)
# What a yes/no reply goes on with after its verdict (llm.verdict_first).
VERDICT_LEAD = ". The source says"
# Stop a reply that starts another turn or copies the prompt's structure.
ANSWER_STOP = ["\nQuestion:", "<source", "\n\n\n"]
WEAK_EVIDENCE_NOTE = "The closest passages I found are listed below."
# Why an answer abstained, in words, by `Answer.abstain_reason`.
ABSTAIN_REASONS = {
    "weak_retrieval": "No passage in your documents is close to the question.",
    "unmentioned": "None of the closest passages mentions what the question asks about.",
    "model_declined": "The model found no answer in the closest passages.",
    "unsupported": "The model's reply states facts that none of the passages contains.",
    "off_topic": "The passages that hold the reply's facts are not about the question.",
}


def abstention_text(reason: str, has_sources: bool, unmentioned: Sequence[str] = ()) -> str:
    note = f" {WEAK_EVIDENCE_NOTE}" if has_sources else ""
    why = ABSTAIN_REASONS[reason]
    if unmentioned:
        why = f"{why[:-1]}: {', '.join(unmentioned)}."
    return f"{NOT_FOUND} {why}{note}"


def title(hit: Hit) -> str:
    """What a passage is known by without saying it: its file's path and its headings."""
    return f"{hit.path}\n{hit.heading_path}"


def unmentioned(question: str, hits: list[Hit]) -> list[str]:
    """The names of `question` that none of `hits` mentions (in its text, path or headings),
    as the question spells them."""
    missing = unmentioned_names(question, [f"{title(h)}\n{h.text}" for h in hits])
    spelled = []
    for name in missing:
        m = re.search(re.escape(name), question, re.IGNORECASE)
        spelled.append(f"“{m.group(0) if m else name}”")
    return spelled


@dataclass(frozen=True, slots=True)
class Sources:
    hits: list[Hit]
    query: str
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Token:
    text: str


@dataclass(frozen=True, slots=True)
class Done:
    answer: Answer


Event = Sources | Token | Done


class SearchResultLike(Protocol):
    hits: list[Hit]
    timings: dict[str, float]


class SearcherLike(Protocol):
    embedder: Embedder | None  # the attribution compares meanings with it (None: by words only)

    def search(self, query: str, k: int | None = None) -> SearchResultLike: ...


@dataclass(slots=True)
class Turn:
    question: str
    answer: str
    query: str


def best_dense(hits: list[Hit]) -> float | None:
    """The highest dense (cosine) score among the hits; None when no hit has one (dense off).

    This, not the fused score, measures how close the evidence is: RRF scores depend only on
    ranks, so the best hit of an unrelated question scores as high as a perfect match.
    """
    scores = [h.scores.dense for h in hits if h.scores.dense is not None]
    return max(scores) if scores else None


def weak_evidence(hits: list[Hit], cfg: RetrievalSettings) -> bool:
    """Whether to abstain without asking the model (see the module docstring)."""
    if not hits or hits[0].score < cfg.min_score:
        return True
    dense = best_dense(hits)
    return dense is not None and dense < cfg.min_dense


def refers_back(question: str) -> bool:
    """Whether a question probably needs the conversation to be understood."""
    return bool(_REFERS_BACK.search(question)) or len(_WORD.findall(question)) <= 3


def key_terms(text: str) -> list[str]:
    """Content words of `text` in their own spelling (for the no-LLM follow-up rewrite)."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text):
        low = w.lower().strip(".-")
        if low and low not in STOPWORDS and low not in _QUESTION_WORDS:
            seen.setdefault(w.strip(".-"), None)
    return list(seen)


def fallback_query(question: str, previous: Turn) -> str:
    """Previous query's key terms + the new question: cheap and keeps the topic for retrieval."""
    new = {w.lower() for w in key_terms(question)}
    carried = [w for w in key_terms(previous.query) if w.lower() not in new]
    return " ".join([*carried, question.strip()])


class ChatSession:
    def __init__(
        self,
        searcher: SearcherLike,
        llm: LLM,
        settings: Settings,
        catalog: Any = None,
        chat_id: int | None = None,
        condense_timeout_s: float = CONDENSE_TIMEOUT_S,
    ) -> None:
        self.searcher = searcher
        self.llm = llm
        self.settings = settings
        self.catalog = catalog
        self.chat_id = chat_id
        self.condense_timeout_s = condense_timeout_s
        self.history: list[Turn] = self._load_history() if catalog is not None and chat_id is not None else []
        self._cancel = threading.Event()

    # ---- history ----------------------------------------------------------------------
    def _load_history(self) -> list[Turn]:
        turns: list[Turn] = []
        question: str | None = None
        for m in self.catalog.messages(self.chat_id):
            if m["role"] == "user":
                question = m["content"]
            elif m["role"] == "assistant" and question is not None:
                query = (m.get("payload") or {}).get("query") or question
                turns.append(Turn(question, m["content"], query))
                question = None
        return turns

    def _persist(self, answer: Answer) -> None:
        if self.catalog is None:
            return
        if self.chat_id is None:
            self.chat_id = self.catalog.create_chat(answer.question.strip()[:TITLE_CHARS] or "chat")
        self.catalog.add_message(self.chat_id, "user", answer.question)
        self.catalog.add_message(self.chat_id, "assistant", answer.text, payload=answer.to_json())

    # ---- condensation -----------------------------------------------------------------
    def condense(self, question: str) -> tuple[str, str]:
        """(retrieval query, question for the answer prompt) for a possibly context-dependent question."""
        if not self.history or not refers_back(question):
            return question, question
        previous = self.history[-1]
        if self.llm.generative:
            rewritten = self._condense_with_llm(question)
            if rewritten:
                return rewritten, rewritten
        return fallback_query(question, previous), f"{question.strip()} (follow-up to: {previous.question.strip()})"

    def _condense_with_llm(self, question: str) -> str | None:
        """The LLM's standalone rewrite, or None when it is slow, empty, or implausible."""
        lines = []
        for turn in self.history[-HISTORY_TURNS:]:
            lines.append(f"User: {turn.question.strip()}")
            lines.append(f"Assistant: {turn.answer.strip()[:300]}")
        messages = [
            {"role": "system", "content": CONDENSE_SYSTEM},
            {
                "role": "user",
                "content": "Conversation:\n" + "\n".join(lines) + f"\n\nFollow-up question: {question.strip()}\n"
                "Standalone question:",
            },
        ]
        deadline = threading.Event()
        timer = threading.Timer(self.condense_timeout_s, deadline.set)
        timer.start()
        stop_watch = threading.Thread(target=_forward, args=(self._cancel, deadline), daemon=True)
        stop_watch.start()
        pieces: list[str] = []
        try:
            for piece in self.llm.stream(messages, CONDENSE_MAX_TOKENS, stop=["\n"], cancel=deadline):
                pieces.append(piece)
        finally:
            timer.cancel()
            timed_out = deadline.is_set()
            deadline.set()  # ends the watcher
        text = "".join(pieces).strip().strip('"').strip()
        if timed_out or not text or len(text) > 4 * len(question) + 200:
            return None
        return text

    # ---- asking -------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the answer being generated (from any thread); the stream ends within a token."""
        self._cancel.set()

    def ask(self, question: str, **filters: Any) -> Answer:
        for event in self.ask_stream(question, **filters):
            if isinstance(event, Done):
                return event.answer
        raise AssertionError("ask_stream ended without Done")  # pragma: no cover

    def ask_stream(self, question: str, **filters: Any) -> Iterator[Event]:
        """Sources, then Token..., then Done. `filters` go to the searcher (path_glob, types)."""
        self._cancel = cancel = threading.Event()
        t0 = time.perf_counter()
        query, prompt_question = self.condense(question)

        result = self.searcher.search(query, k=self.settings.retrieval.k, **filters)
        hits = list(result.hits)
        timings = Timings(
            retrieve=float(result.timings.get("retrieve", 0.0)),
            rerank=float(result.timings.get("rerank", 0.0)),
        )
        yield Sources(hits, query, list(getattr(result, "notices", [])))

        answer = Answer(
            question=question,
            text="",
            sources=hits,
            query=query if query != question else None,
            tokens=TokenUsage(context_window=self.llm.n_ctx),
            timings_ms=timings,
        )
        plan = None
        missing: list[str] = []
        if weak_evidence(hits, self.settings.retrieval):
            answer.abstain_reason = "weak_retrieval"
        elif self.settings.answer.abstain_unmentioned and (missing := unmentioned(prompt_question, hits)):
            answer.abstain_reason = "unmentioned"
        else:
            plan = build_messages(prompt_question, hits, self.llm, self.settings)
            answer.sources = hits[: len(plan.hits)]  # untruncated text for display
            answer.dropped_sources = plan.dropped
            answer.shortened_sources = plan.shortened
            answer.tokens.prompt = plan.prompt_tokens
            answer.not_found_probability = self._not_found_probability(plan.messages, cancel)
            if self._likely_not_found(answer):
                answer.abstain_reason = "model_declined"
        if plan is None or answer.abstain_reason:
            # abstain without generating: weak evidence, a name no passage mentions, or the model
            # would say it does not know
            answer.abstained = True
            answer.text = abstention_text(answer.abstain_reason, bool(hits), missing) if hits else NOT_FOUND
            timings.first_token = (time.perf_counter() - t0) * 1000
            yield Token(answer.text)
        else:
            yield from self._generate(answer, plan, prompt_question, cancel, t0)

        timings.total = (time.perf_counter() - t0) * 1000
        self.history.append(Turn(question, answer.text, query))
        self._persist(answer)
        yield Done(answer)

    def _not_found_probability(self, messages: list[dict[str, str]], cancel: threading.Event) -> float | None:
        """The model's probability of opening its reply with the not-found sentence, where the
        backend can tell (llama.cpp); it also leaves the prompt in the model's cache."""
        if self.settings.llm.max_not_found >= 1:
            return None
        return self.llm.opening_probability(messages, NOT_FOUND, cancel=cancel)

    def _likely_not_found(self, answer: Answer) -> bool:
        p = answer.not_found_probability
        return p is not None and p > self.settings.llm.max_not_found

    def _generate(
        self, answer: Answer, plan: PromptPlan, question: str, cancel: threading.Event, t0: float
    ) -> Iterator[Event]:
        """Stream the model's reply, then attribute it to the sources and decide (`_finish`)."""
        timings = answer.timings_ms
        written = ""
        opening = self._verdict_opening(plan.messages, question, cancel)
        begun = {"opening": opening} if opening else {}
        for piece in self.llm.stream(plan.messages, plan.max_tokens, stop=ANSWER_STOP, cancel=cancel, **begun):
            if timings.first_token is None:
                timings.first_token = (time.perf_counter() - t0) * 1000
            written += piece
            yield Token(piece)
            if cancel.is_set():
                break
            if (looped_at := loop_start(written)) is not None:
                written = written[:looped_at]  # stop a looping model; the final text drops the loop
                break
        reply = written.strip()
        answer.tokens.completion = self.llm.count_tokens(reply) if reply else 0
        # checked against the whole passages: what the citations point to and the user can read
        self._finish(answer, reply, answer.sources, question, cancelled=cancel.is_set())

    def _verdict_opening(self, messages: list[dict[str, str]], question: str, cancel: threading.Event) -> str:
        """For a yes/no question (llm.verdict_first, a backend that continues replies): the
        reply's start, "Yes. The source says" or "No. The source says", by which of the two
        the model would more likely open with; "" otherwise. Off by default: on the answer
        benchmark's dev half it answered 13 of 30 yes/no questions correctly against 15 without
        it, its one-sentence findings dropping facts the free reply states (docs/benchmarks.md)."""
        if not (self.settings.llm.verdict_first and self.llm.continues_replies and is_yes_no(question)):
            return ""
        yes = self.llm.opening_probability(messages, "Yes", cancel=cancel)
        no = self.llm.opening_probability(messages, "No", cancel=cancel)
        if yes is None or no is None:
            return ""
        return f"{'Yes' if yes >= no else 'No'}{VERDICT_LEAD}"

    def measure(self, reply: str, question: str, numbered: list[Hit]) -> Measured:
        """The attribution evidence of a reply (`localrag.generate.attribution.measure`)."""
        embedder = self.searcher.embedder
        embed = embedder.encode if embedder is not None and self.settings.answer.min_similarity <= 1 else None
        return measure(
            reply,
            question,
            [h.text for h in numbered],
            embed=embed,
            neutral=says_not_found,
            titles=[title(h) for h in numbered],
        )

    def _finish(self, answer: Answer, reply: str, numbered: list[Hit], question: str, cancelled: bool) -> None:
        """Attribute the reply's sentences to the sources and decide whether it is an answer.
        `question` is the one the model was given (a follow-up is rewritten)."""
        answer.draft = reply
        if cancelled:
            answer.text = reply
            return
        measured = self.measure(reply, question, numbered) if reply else None
        reason = decide(reply, question, numbered, self.settings, measured, answer)
        if reason is not None:
            answer.abstained = True
            answer.abstain_reason = reason
            answer.citations = []
            answer.text = abstention_text(reason, bool(numbered))
            return
        answer.text = render(reply, answer.sentences)
        answer.citations, _ = resolve(answer.text, numbered)
        # markers the model wrote that name no source (replaced by the attribution, but reported)
        answer.invalid_citations = [n for n in parse_citations(reply) if not 1 <= n <= len(numbered)]


def decide(
    reply: str, question: str, numbered: list[Hit], settings: Settings, measured: Measured | None, answer: Answer
) -> str | None:
    """The abstain reason for a reply, or None when it is an answer; fills `answer.sentences`.
    (A function of its arguments, so an evaluation can replay it under other settings.)"""
    if not reply or measured is None or declines(reply):
        return "model_declined"
    thresholds = Thresholds(settings.answer.min_coverage, settings.answer.min_similarity)
    answer.sentences = support(measured, thresholds)
    backing = {s.source for s in answer.sentences if s.status == "supported" and s.source is not None}
    if not backing:  # nothing it says comes from a source (a restatement of the question counts so)
        return "unsupported" if settings.answer.abstain_unsupported else None
    subject = [numbered[n - 1].scores.dense for n in backing]
    known = [d for d in subject if d is not None]
    if known and max(known) < settings.answer.min_subject:
        return "off_topic"
    return None


def _forward(source: threading.Event, target: threading.Event) -> None:
    """Set `target` when `source` is set (until `target` is set for another reason)."""
    while not target.is_set():
        if source.wait(0.05):
            target.set()
            return
