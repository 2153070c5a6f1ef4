"""The JSON documents of `search`, `ask` and `status`, built in one place: the CLI prints them
(`--json`), the HTTP server sends them and the MCP tools return them (localrag/serve/), so they
cannot drift apart. The TypedDicts spell the contract of shared/DESIGN.md out for type checkers
and for the MCP tools' output schemas; tests/serve checks that they match what is sent.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict  # pydantic (the MCP output schemas) needs it before 3.12

from localrag.types import Answer, Hit


class StageScoresJSON(TypedDict):
    dense: float | None
    bm25: float | None
    rrf: float | None
    rerank: float | None


class HitJSON(TypedDict):
    rank: int
    path: str
    page: int | None
    heading: str | None
    line_start: int | None
    line_end: int | None
    locator: str | None  # "slide 3", "sheet Budget, rows 2-40", "page 3 (OCR)": see Section.locator
    text: str
    score: float
    scores: StageScoresJSON


class SearchJSON(TypedDict):
    query: str
    hits: list[HitJSON]


class CitationJSON(TypedDict):
    n: int
    path: str
    page: int | None
    line_start: int | None
    line_end: int | None
    locator: str | None


class SentenceJSON(TypedDict):
    text: str
    status: str
    source: int | None
    coverage: float
    similarity: float | None
    missing: list[str]


class TokensJSON(TypedDict):
    prompt: int
    completion: int
    context_window: int


class TimingsJSON(TypedDict):
    retrieve: float
    rerank: float
    first_token: float | None
    total: float


class AnswerJSON(TypedDict):
    question: str
    query: str
    answer: str
    abstained: bool
    abstain_reason: str | None
    sentences: list[SentenceJSON]
    draft: str | None
    citations: list[CitationJSON]
    invalid_citations: list[int]
    sources: list[HitJSON]
    dropped_sources: int
    shortened_sources: int
    not_found_probability: float | None
    tokens: TokensJSON
    timings_ms: TimingsJSON


class SourcesJSON(TypedDict):
    query: str
    sources: list[HitJSON]
    notices: list[str]


class CitationsJSON(TypedDict):
    citations: list[CitationJSON]
    sources: list[HitJSON]
    abstained: bool
    query: str  # what was searched: a follow-up is rewritten into a standalone question


class EmbedderJSON(TypedDict):
    name: str | None
    dim: int | None


class KeywordJSON(TypedDict):
    engine: str
    count: int


class _StatusJSONRequired(TypedDict):
    index: str
    root: str | None
    documents: int
    chunks: int
    skipped: list[dict[str, str]]
    notes: list[dict[str, str]]
    generation: int
    embedder: EmbedderJSON
    vector_dtype: str | None
    dense: dict[str, Any]
    keyword: KeywordJSON
    indexed_at: float | None
    disk_bytes: int
    health: dict[str, Any]


class StatusJSON(_StatusJSONRequired, total=False):
    """What localrag.reports.IndexStatus.to_json() writes; `dense` and `health` are the engine's own."""

    paths: list[str]  # only for an index of selected files and folders (its JSON puts it after "root")


def search_response(result: Any, explain: bool = False) -> SearchJSON:
    """`localrag search --json`: {"query", "hits": [...]} (`result` is a SearchResult)."""
    return result.to_json(explain=explain)


def answer_response(answer: Answer) -> AnswerJSON:
    """`localrag ask --json`: the whole answer, its citations, sources, tokens and timings."""
    return answer.to_json()  # type: ignore[return-value]


def status_response(index: Any) -> dict[str, Any]:
    """`localrag status --json` of an open Index (or Store): documents, chunks, health... (its
    keys are spelled out in StatusJSON)."""
    return index.status().to_json()


def sources_response(hits: list[Hit], query: str, notices: list[str]) -> SourcesJSON:
    """What a streamed answer sends before its first token: the sources it is built from."""
    return {"query": query, "sources": [h.to_json() for h in hits], "notices": list(notices)}  # type: ignore[misc]


def citations_response(answer: Answer) -> CitationsJSON:
    """The `localrag` object an OpenAI-compatible reply carries beside the answer text."""
    full = answer_response(answer)
    return {key: full[key] for key in ("citations", "sources", "abstained", "query")}  # type: ignore[return-value]
