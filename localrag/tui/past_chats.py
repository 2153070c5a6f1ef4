"""Rebuild the answers of a stored chat from its messages (the session saves `Answer.to_json()`)."""

from __future__ import annotations

from localrag.types import Answer, Citation, Hit, TokenUsage, Timings


def hit_from_json(d: dict, rank: int) -> Hit:
    heading = d.get("heading") or ""
    return Hit(
        chunk_id=-1,
        path=d.get("path", ""),
        text=d.get("text", ""),
        rank=d.get("rank", rank),
        score=float(d.get("score") or 0.0),
        page=d.get("page"),
        heading=tuple(heading.split(" > ")) if heading else (),
        line_start=d.get("line_start"),
        line_end=d.get("line_end"),
        locator=d.get("locator"),
    )


def answer_from_json(question: str, text: str, payload: dict | None) -> Answer:
    p = payload or {}
    tokens = p.get("tokens") or {}
    t = p.get("timings_ms") or {}
    return Answer(
        question=question,
        text=text,
        sources=[hit_from_json(h, i) for i, h in enumerate(p.get("sources") or [], 1)],
        citations=[Citation(**c) for c in p.get("citations") or []],
        invalid_citations=list(p.get("invalid_citations") or []),
        abstained=bool(p.get("abstained")),
        query=p.get("query") if p.get("query") not in (None, question) else None,
        tokens=TokenUsage(tokens.get("prompt", 0), tokens.get("completion", 0), tokens.get("context_window", 0)),
        timings_ms=Timings(t.get("retrieve", 0.0), t.get("rerank", 0.0), t.get("first_token"), t.get("total", 0.0)),
        dropped_sources=int(p.get("dropped_sources") or 0),
        shortened_sources=int(p.get("shortened_sources") or 0),
    )


def answers_from_messages(messages: list[dict]) -> list[Answer]:
    """Pair each user message with the assistant reply after it (unanswered questions are dropped)."""
    answers: list[Answer] = []
    question: str | None = None
    for m in messages:
        if m["role"] == "user":
            question = m["content"]
        elif m["role"] == "assistant" and question is not None:
            answers.append(answer_from_json(question, m["content"], m.get("payload")))
            question = None
    return answers
