"""`--llm none`: answer with the best-matching sentences of the sources, each cited. No model needed.

It speaks the same LLM protocol as the generative backends: it reads the numbered sources back
out of the user message the prompt module built, so the chat pipeline has one path for all.
Sentences are scored by `localrag.generate.sentences.score`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from localrag.generate.attribution import mark
from localrag.generate.base import BaseLLM
from localrag.generate.prompt import NOT_FOUND, parse_prompt
from localrag.generate.sentences import query_terms, score, split_sentences

MAX_SENTENCES = 3
MAX_SENTENCE_CHARS = 400


def extract_answer(question: str, sources: list[tuple[int, str]], max_sentences: int = MAX_SENTENCES) -> str:
    """The best sentence of each source that shares terms with the question, best sources first,
    each followed by its [n]; NOT_FOUND when no sentence shares any term."""
    wanted = query_terms(question)
    picked: list[tuple[float, int, str]] = []
    for n, text in sources:
        scored = [(score(wanted, s), s) for s in split_sentences(text)]
        scored = [x for x in scored if x[0] > 0]
        if scored:
            best_score, best = max(scored, key=lambda x: x[0])
            if len(best) > MAX_SENTENCE_CHARS:
                best = best[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + " …"
            picked.append((best_score, n, best))
    if not picked:
        return NOT_FOUND
    top = sorted(picked, key=lambda x: -x[0])[:max_sentences]
    top.sort(key=lambda x: x[1])  # keep the retrieval order in the answer
    return " ".join(_cite(s, n) for _, n, s in top)


def _cite(sentence: str, n: int) -> str:
    """'It rains.' -> 'It rains [2].' (the marker goes inside the sentence it supports)."""
    return mark(sentence.rstrip(), f"[{n}]")


class ExtractiveLLM(BaseLLM):
    """Quotes instead of generating. `generative = False` tells the chat session not to ask it to
    rewrite follow-up questions."""

    name = "extractive"
    n_ctx = 1_000_000  # no window: every retrieved source is considered
    generative = False

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        stop: list[str] | None = None,
        cancel: threading.Event | None = None,
        opening: str = "",
    ) -> Iterator[str]:
        if opening:
            raise ValueError(f"{type(self).__name__} cannot continue a reply (continues_replies is False)")
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        question, sources = parse_prompt(user)
        answer = extract_answer(question, sources)
        for piece in re.findall(r"\S+\s*", answer):
            if cancel is not None and cancel.is_set():
                return
            yield piece
