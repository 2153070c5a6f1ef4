"""Hybrid search: dense top-N + BM25 top-N -> RRF -> cross-encoder rerank of the top M -> top k."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any


from localrag.config import Settings
from localrag.protocols import Embedder
from localrag.retrieve.fusion import rrf
from localrag.retrieve.rerank import RERANK_OFF_NOTICE, Reranker
from localrag.types import Hit, StageScores

if TYPE_CHECKING:
    from localrag.store import Store


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)  # ms: dense, bm25, retrieve, rerank, total
    notices: list[str] = field(default_factory=list)

    def to_json(self, explain: bool = False) -> dict:
        out: dict[str, Any] = {"query": self.query, "hits": [h.to_json(explain=explain) for h in self.hits]}
        if explain:
            out["timings_ms"] = {k: round(v, 2) for k, v in self.timings.items()}
            out["notices"] = self.notices
        return out


def _normalise_types(types: list[str] | str | None) -> list[str] | None:
    if not types:
        return None
    if isinstance(types, str):
        types = types.split(",")
    return [t.strip() for t in types if t.strip()] or None


class Searcher:
    def __init__(self, store: Store, embedder: Embedder | None, settings: Settings, reranker: Reranker | None = None):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker

    def search(
        self,
        query: str,
        k: int | None = None,
        path_glob: str | None = None,
        types: list[str] | str | None = None,
        rerank: bool | None = None,
        candidates: int | None = None,
        with_terms: bool = True,
    ) -> SearchResult:
        """Top-k hits for `query`. The cross-encoder reorders the fused top `rerank_top`; hits past
        it keep their fused order (and score). `with_terms=False` skips the matched-term lists
        (for --explain and highlighting) where only the ranking matters, as in evaluation."""
        cfg = self.settings.retrieval
        k = k or cfg.k
        n = max(candidates or cfg.candidates, k)
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        notices: list[str] = list(self.store.notices)
        allowed = self.store.allowed_ids(path_glob, _normalise_types(types))
        if allowed is not None and allowed.size == 0:
            return SearchResult(query, [], {"total": 0.0}, ["no documents match the filters"])

        dense: list[tuple[int, float]] = []
        if cfg.dense_weight > 0:
            assert self.embedder is not None, "dense search (retrieval.dense_weight > 0) needs an embedder"
            t = time.perf_counter()
            qvec = self.embedder.encode_query(query)
            dense = self.store.dense.search(qvec, n, allowed_ids=allowed)
            timings["dense"] = (time.perf_counter() - t) * 1000
        keyword: list[tuple[int, float]] = []
        if cfg.bm25_weight > 0:
            t = time.perf_counter()
            keyword = self.store.keyword.search(query, n, allowed_ids=allowed)
            timings["bm25"] = (time.perf_counter() - t) * 1000

        fused = rrf(
            [[cid for cid, _ in dense], [cid for cid, _ in keyword]],
            k=cfg.rrf_k,
            weights=[cfg.dense_weight, cfg.bm25_weight],
        )
        timings["retrieve"] = (time.perf_counter() - t0) * 1000

        use_rerank = cfg.rerank if rerank is None else rerank
        reranked = bool(use_rerank and self.reranker is not None and fused)
        if use_rerank and self.reranker is None:
            notices.append(RERANK_OFF_NOTICE)
        # fetch beyond k: overlapping chunks of one passage are merged below and must not leave gaps
        depth = max(2 * k, cfg.rerank_top)
        top = fused[:depth]
        hits_by_id = self.store.get_hits([cid for cid, _ in top])

        # each stage's (rank, score) by chunk; StageScores only for the chunks that become hits
        dense_at = {cid: (rank, score) for rank, (cid, score) in enumerate(dense, 1)}
        keyword_at = {cid: (rank, score) for rank, (cid, score) in enumerate(keyword, 1)}
        hits: list[Hit] = []
        for rank, (cid, score) in enumerate(top, 1):
            hit = hits_by_id.get(cid)
            if hit is None:  # deleted between index generations; skip rather than show a ghost
                continue
            hit.scores = _stage_scores(dense_at.get(cid), keyword_at.get(cid))
            hit.scores.rrf, hit.scores.rrf_rank = float(score), rank
            hit.score = float(score)
            hits.append(hit)

        if reranked:
            assert self.reranker is not None  # `reranked` says there is one
            t = time.perf_counter()
            head, tail = hits[: cfg.rerank_top], hits[cfg.rerank_top :]
            scores = self.reranker.score(query, [_rerank_text(h) for h in head])
            for h, rerank_score in zip(head, scores):
                h.scores.rerank = rerank_score
                h.score = rerank_score
            head.sort(key=lambda h: -h.score)  # the rerank score, set just above
            for rank, h in enumerate(head, 1):
                h.scores.rerank_rank = rank
            hits = head + tail
            timings["rerank"] = (time.perf_counter() - t) * 1000
        hits = merge_overlapping(hits)[:k]
        for rank, h in enumerate(hits, 1):
            h.rank = rank
            if with_terms:
                h.matched_terms = self.store.keyword.matched_terms(query, h.text)
        timings["total"] = (time.perf_counter() - t0) * 1000
        return SearchResult(query, hits, timings, notices)


def _stage_scores(dense: tuple[int, float] | None, keyword: tuple[int, float] | None) -> StageScores:
    """A hit's dense and BM25 (rank, score), where it had one."""
    scores = StageScores()
    if dense is not None:
        scores.dense_rank, scores.dense = dense[0], float(dense[1])
    if keyword is not None:
        scores.bm25_rank, scores.bm25 = keyword[0], float(keyword[1])
    return scores


def merge_overlapping(hits: list[Hit]) -> list[Hit]:
    """Fold each hit into a better-ranked hit of the same file and page whose span it overlaps or
    touches (consecutive chunks share `overlap` tokens): one passage, one source, no repeated text
    in the LLM's prompt. Order is kept; a merged hit keeps the better hit's rank and scores."""
    kept: list[Hit] = []
    for hit in hits:
        for into in kept:
            if into.path == hit.path and into.page == hit.page and into.locator == hit.locator and _touch(into, hit):
                _absorb(into, hit)
                break
        else:
            kept.append(hit)
    return kept


def _touch(a: Hit, b: Hit) -> bool:
    return b.char_start <= a.char_end + 1 and a.char_start <= b.char_end + 1


def _absorb(into: Hit, other: Hit) -> None:
    """Union of two touching spans; chunk text is an exact slice of the document, so offsets splice it."""
    first, second = (into, other) if into.char_start <= other.char_start else (other, into)
    if second.char_end <= first.char_end:
        text = first.text
    else:
        tail_from = max(0, first.char_end - second.char_start)
        text = first.text + ("" if tail_from else "\n") + second.text[tail_from:]
    into.text = text
    into.char_start, into.char_end = first.char_start, max(first.char_end, second.char_end)
    into.heading = first.heading
    starts = [x for x in (into.line_start, other.line_start) if x is not None]
    ends = [x for x in (into.line_end, other.line_end) if x is not None]
    into.line_start = min(starts) if starts else None
    into.line_end = max(ends) if ends else None
    into.matched_terms = list(dict.fromkeys([*into.matched_terms, *other.matched_terms]))


def _rerank_text(hit: Hit) -> str:
    return f"{hit.heading_path}\n{hit.text}" if hit.heading else hit.text
