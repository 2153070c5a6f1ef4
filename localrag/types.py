"""The records that flow through the pipeline: ingest -> store -> retrieve -> generate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(slots=True)
class Section:
    """A piece of a loaded document with its structural position, before size-based chunking.

    Loaders produce sections; the chunker splits or packs them by token count.
    `line_start`/`line_end` are 1-based inclusive lines of the source file (None when the
    format has no meaningful lines, e.g. PDF); `char_start`/`char_end` are offsets into the
    document's extracted text. `locator` names the place in the file's own terms where a page
    or line number would not ('slide 3', 'sheet Budget, rows 2-40', 'message 4', 'cell 7',
    'page 3 (OCR)'); citations show it instead of page/lines.
    """

    text: str
    heading: tuple[str, ...] = ()
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    char_start: int = 0
    char_end: int = 0
    kind: str = "text"  # text | code | table | heading
    locator: str | None = None


@dataclass(slots=True)
class Chunk:
    """One retrievable passage of a document."""

    text: str
    ordinal: int
    heading: tuple[str, ...] = ()
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    char_start: int = 0
    char_end: int = 0
    n_tokens: int = 0
    locator: str | None = None  # see Section.locator

    @property
    def heading_path(self) -> str:
        return " > ".join(self.heading)


@dataclass(slots=True)
class StageScores:
    dense: float | None = None
    dense_rank: int | None = None
    bm25: float | None = None
    bm25_rank: int | None = None
    rrf: float | None = None
    rrf_rank: int | None = None
    rerank: float | None = None
    rerank_rank: int | None = None


@dataclass(slots=True)
class Hit:
    """A retrieved chunk with where it came from and how each stage scored it."""

    chunk_id: int
    path: str
    text: str
    rank: int = 0
    score: float = 0.0
    page: int | None = None
    heading: tuple[str, ...] = ()
    line_start: int | None = None
    line_end: int | None = None
    char_start: int = 0
    char_end: int = 0
    scores: StageScores = field(default_factory=StageScores)
    matched_terms: list[str] = field(default_factory=list)
    locator: str | None = None  # see Section.locator

    @property
    def heading_path(self) -> str:
        return " > ".join(self.heading)

    def place(self) -> str:
        """Where in the file: 'page 3', 'lines 10-32', 'line 4', the format's own locator
        ('slide 3', 'page 2 (OCR)'), or '' when nothing is known."""
        if self.locator:
            return self.locator
        parts = []
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.line_start is not None:
            if self.line_end is not None and self.line_end != self.line_start:
                parts.append(f"lines {self.line_start}-{self.line_end}")
            else:
                parts.append(f"line {self.line_start}")
        return ", ".join(parts)

    def location(self) -> str:
        """Human form: 'notes/x.md, lines 10-32' or 'paper.pdf, page 3'."""
        return ", ".join(p for p in (self.path, self.place()) if p)

    def to_json(self, explain: bool = False) -> dict:
        out = {
            "rank": self.rank,
            "path": self.path,
            "page": self.page,
            "heading": self.heading_path or None,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "locator": self.locator,
            "text": self.text,
            "score": self.score,
            "scores": {
                "dense": self.scores.dense,
                "bm25": self.scores.bm25,
                "rrf": self.scores.rrf,
                "rerank": self.scores.rerank,
            },
        }
        if explain:
            out["explain"] = {**asdict(self.scores), "matched_terms": self.matched_terms}
        return out


@dataclass(slots=True)
class Citation:
    """A [n] marker in an answer, resolved to the source it names."""

    n: int
    path: str
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    locator: str | None = None  # see Section.locator

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "path": self.path,
            "page": self.page,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "locator": self.locator,
        }


@dataclass(slots=True)
class SentenceSupport:
    """One sentence of an answer and what backs it."""

    text: str
    status: str  # "supported", "unsupported" or "neutral"
    source: int | None = None  # 1-based number of the supporting passage
    coverage: float = 0.0  # share of key terms in that passage (best passage when unsupported)
    similarity: float | None = None
    missing: list[str] = field(default_factory=list)  # numbers/names in no passage (unsupported)

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "status": self.status,
            "source": self.source,
            "coverage": round(self.coverage, 3),
            "similarity": None if self.similarity is None else round(self.similarity, 3),
            "missing": self.missing,
        }


@dataclass(slots=True)
class TokenUsage:
    prompt: int = 0
    completion: int = 0
    context_window: int = 0


@dataclass(slots=True)
class Timings:
    retrieve: float = 0.0
    rerank: float = 0.0
    first_token: float | None = None
    total: float = 0.0


@dataclass(slots=True)
class Answer:
    question: str
    text: str
    sources: list[Hit]
    citations: list[Citation] = field(default_factory=list)
    invalid_citations: list[int] = field(default_factory=list)
    abstained: bool = False
    query: str | None = None  # the standalone query used for retrieval, when rewritten
    tokens: TokenUsage = field(default_factory=TokenUsage)
    timings_ms: Timings = field(default_factory=Timings)
    dropped_sources: int = 0  # retrieved but left out of the prompt for lack of room
    shortened_sources: int = 0  # given to the model in part (their best-matching sentences)
    not_found_probability: float | None = None  # the model's P(reply opens with "not found")
    abstain_reason: str | None = None  # weak_retrieval | unmentioned | model_declined | unsupported | off_topic
    sentences: list[SentenceSupport] = field(default_factory=list)  # the reply's, attributed
    draft: str | None = None  # the model's reply as written, before attribution

    @property
    def unsupported_sentences(self) -> int:
        """Sentences of the shown answer that no source supports (marked in its text)."""
        return 0 if self.abstained else sum(s.status == "unsupported" for s in self.sentences)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "query": self.query or self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "sentences": [s.to_json() for s in self.sentences],
            "draft": self.draft,
            "citations": [c.to_json() for c in self.citations],
            "invalid_citations": self.invalid_citations,
            "sources": [h.to_json() for h in self.sources],
            "dropped_sources": self.dropped_sources,
            "shortened_sources": self.shortened_sources,
            "not_found_probability": None
            if self.not_found_probability is None
            else round(self.not_found_probability, 4),
            "tokens": {
                "prompt": self.tokens.prompt,
                "completion": self.tokens.completion,
                "context_window": self.tokens.context_window,
            },
            "timings_ms": {
                "retrieve": round(self.timings_ms.retrieve, 1),
                "rerank": round(self.timings_ms.rerank, 1),
                "first_token": None if self.timings_ms.first_token is None else round(self.timings_ms.first_token, 1),
                "total": round(self.timings_ms.total, 1),
            },
        }
