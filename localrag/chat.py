"""ChatSession: one conversation over an index — condense, retrieve, generate, cite (no UI here).

`ask_stream` yields events in a fixed order so a UI can show sources before the model starts:
``Sources`` once, then ``Token`` pieces, then ``Done`` with the finished `Answer`.

Abstention: the session answers "I couldn't find this in your documents" (and still lists the
nearest sources) when the evidence is weak (`weak_evidence`: no hits, the best hit's final score
below `retrieval.min_score`, or the best dense cosine among the hits below `retrieval.min_dense`;
the model is then not called at all), when the model's reply says it cannot find the answer and
cites nothing, or when the reply cites none of the sources (it is then kept, marked unverified).
A reply that cites nothing and does not say "not found" first gets one short follow-up turn
asking the model which sources support it (`CITE_REQUEST`); the numbers it names are appended.
A reply that opens with the not-found sentence abstains even if it cites something.
A reply that cites sources and also says part of the question is not covered is an answer,
unless it fails the support check (`reply_support`): it asserts more than `llm.max_unsupported`
of the question's terms although none of the sources contains them, the way small models
restate an unanswerable question as a fact ("The Slack commands of localrag are ...").
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from localrag.config import RetrievalSettings, Settings
from localrag.generate.base import LLM, is_generative
from localrag.generate.citations import parse_citations, resolve, strip_invalid, without_markers
from localrag.generate.grounding import Support, check_support
from localrag.generate.prompt import NOT_FOUND, PromptPlan, build_messages
from localrag.generate.sentences import split_sentences
from localrag.store.tokenize import STOPWORDS
from localrag.types import Answer, Hit, TokenUsage, Timings

CONDENSE_TIMEOUT_S = 8.0
CONDENSE_MAX_TOKENS = 64
HISTORY_TURNS = 3  # earlier exchanges shown to the condenser
TITLE_CHARS = 80

CONDENSE_SYSTEM = (
    "Rewrite the user's follow-up question as one standalone question that can be understood "
    "without the conversation. Keep names and technical terms. Reply with the question only."
)

# Replies that mean "not in the sources" (the prompt asks for NOT_FOUND, models paraphrase it).
_NOT_FOUND_PATTERNS = re.compile(
    r"couldn'?t find|could not find|can'?not find|can'?t find|unable to find|did not find|didn'?t find|"
    r"no information|not (?:mentioned|contained|provided|found|stated|specified|covered)|"
    r"(?:sources?|documents?|context) do(?:es)? not (?:contain|mention|say|provide|include|report|state|discuss|address)|"
    r"don'?t (?:contain|mention|have|know)|do not (?:contain|mention|have|know)|no relevant",
    re.IGNORECASE,
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
# Asked once, in the same conversation, when a reply cites nothing and does not say "not found"
# (Qwen2.5-Coder-1.5B did that for 6 of 42 answerable docs questions, mostly list/code answers).
# The conversation prefix is already in the model's KV cache, so this costs a few tokens.
CITE_REQUEST = (
    "Which of the numbered sources support your answer? Reply with their numbers only, "
    "like [1] or [1, 3]. If none of them does, reply [0]."
)
CITE_MAX_TOKENS = 16
WEAK_EVIDENCE_NOTE = "The closest passages I found are listed below."
UNCITED_NOTE = "The model's reply below cites none of them, so treat it as unverified:"


def unsupported_note(words: list[str]) -> str:
    """The note before a reply that failed the support check (`words` from the question)."""
    quoted = ", ".join(f'"{w}"' for w in words)
    return f"None of the sources mentions {quoted}, so treat the model's reply below as unverified:"


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


_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”')


# The reply the prompt asks for when the sources lack the answer, at the start of a reply.
_STARTS_NOT_FOUND = re.compile(
    r"^\W*I (?:couldn'?t|could not|can'?t|cannot) find (?:this|that|it|the answer)\b[^.!?\n\[]*"
    r"\bin (?:your|the) (?:documents|sources)",
    re.IGNORECASE,
)


def starts_not_found(text: str) -> bool:
    """The reply opens with the not-found sentence: the model decided the sources lack the answer,
    whatever it appends (Qwen once added the manual's own "closest passages" note and a [1])."""
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


def reply_support(question: str, reply: str, hits: list[Hit]) -> Support:
    """The support check of a reply against the sources it was given. Sentences saying the
    sources lack something assert nothing ("The sources do not mention the dose.")."""
    asserted = " ".join(s for s in split_sentences(reply) if not says_not_found(s))
    return check_support(question, asserted, [h.text for h in hits])


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
        if is_generative(self.llm):
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
        if not weak_evidence(hits, self.settings.retrieval):
            plan = build_messages(prompt_question, hits, self.llm, self.settings)
            answer.sources = hits[: len(plan.hits)]  # untruncated text for display
            answer.dropped_sources = plan.dropped
            answer.shortened_sources = plan.shortened
            answer.tokens.prompt = plan.prompt_tokens
            answer.not_found_probability = self._not_found_probability(plan.messages, cancel)
        if plan is None or self._likely_not_found(answer):
            # abstain without generating: weak evidence, or the model would say "not found"
            answer.abstained = True
            answer.text = NOT_FOUND + (f" {WEAK_EVIDENCE_NOTE}" if hits else "")
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
        estimate = getattr(self.llm, "opening_probability", None)
        if estimate is None or self.settings.llm.max_not_found >= 1:
            return None
        return estimate(messages, NOT_FOUND, cancel=cancel)

    def _likely_not_found(self, answer: Answer) -> bool:
        p = answer.not_found_probability
        return p is not None and p > self.settings.llm.max_not_found

    def _generate(
        self, answer: Answer, plan: PromptPlan, question: str, cancel: threading.Event, t0: float
    ) -> Iterator[Event]:
        """Stream the model's reply, then check its citations and support into `answer`."""
        timings = answer.timings_ms
        pieces: list[str] = []
        for piece in self.llm.stream(plan.messages, plan.max_tokens, cancel=cancel):
            if timings.first_token is None:
                timings.first_token = (time.perf_counter() - t0) * 1000
            pieces.append(piece)
            yield Token(piece)
            if cancel.is_set():
                break
        reply = "".join(pieces).strip()
        answer.tokens.completion = self.llm.count_tokens(reply) if reply else 0
        if self._needs_citations(reply, cancel):
            cited = self._ask_for_citations(plan.messages, reply, len(plan.hits), cancel)
            if cited:
                marker = " [" + ", ".join(str(n) for n in cited) + "]"
                reply += marker
                yield Token(marker)
        # checked against the whole passages: what the citations point to and the user can read
        self._finish(answer, reply, answer.sources, question, cancelled=cancel.is_set())

    def _needs_citations(self, reply: str, cancel: threading.Event) -> bool:
        return bool(
            reply
            and not cancel.is_set()
            and is_generative(self.llm)
            and not parse_citations(reply)
            and not says_not_found(reply)
        )

    def _ask_for_citations(
        self, messages: list[dict[str, str]], reply: str, n_sources: int, cancel: threading.Event
    ) -> list[int]:
        """The source numbers the model names for its own uncited reply (valid ones only)."""
        follow_up = [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": CITE_REQUEST}]
        pieces = list(self.llm.stream(follow_up, CITE_MAX_TOKENS, stop=["\n"], cancel=cancel))
        return [n for n in parse_citations("".join(pieces)) if 1 <= n <= n_sources]

    def _finish(self, answer: Answer, reply: str, numbered: list[Hit], question: str, cancelled: bool) -> None:
        """Check citations and support, and decide whether the reply counts as an answer.
        `question` is the one the model was given (a follow-up is rewritten)."""
        citations, invalid = resolve(reply, numbered)
        text = strip_invalid(reply, len(numbered)) if invalid else reply
        answer.citations, answer.invalid_citations = citations, invalid
        if cancelled:
            answer.text = text
        elif not text:
            answer.abstained = True
            answer.text = NOT_FOUND
        elif (not citations and says_not_found(text)) or starts_not_found(text):
            answer.abstained = True
            answer.text = text
        elif denies_for_lack_of_evidence(text):
            answer.abstained = True
            answer.citations = []  # they support nothing
            answer.text = f"{NOT_FOUND} {WEAK_EVIDENCE_NOTE}"
        elif not citations:
            answer.abstained = True
            answer.text = f"{NOT_FOUND} {UNCITED_NOTE}\n\n{text}"
        else:
            support = reply_support(question, text, numbered)
            if support.unsupported_share > self.settings.llm.max_unsupported:
                answer.abstained = True  # citations are kept: they show what the model leaned on
                answer.text = f"{NOT_FOUND} {unsupported_note(support.words)}\n\n{text}"
            else:
                answer.text = text


def _forward(source: threading.Event, target: threading.Event) -> None:
    """Set `target` when `source` is set (until `target` is set for another reason)."""
    while not target.is_set():
        if source.wait(0.05):
            target.set()
            return
