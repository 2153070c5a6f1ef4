"""Hybrid search over a real index: real MiniLM, FAISS, bm25s, and a real (tiny) cross-encoder."""

from __future__ import annotations

import pytest

from localrag.index import Index
from localrag.retrieve.rerank import RERANK_OFF_NOTICE


@pytest.fixture
def index(make_settings, notes, embedder):
    idx = Index.create(settings=make_settings(), embedder=embedder)
    idx.add(notes)
    yield idx
    idx.close()


def test_every_hit_explains_its_stages(index):
    result = index.search_result("tomato fertiliser", k=4)
    assert result.hits[0].path == "garden/tomatoes.md"
    assert [h.rank for h in result.hits] == [1, 2, 3, 4]
    top = result.hits[0]
    assert top.scores.dense is not None and top.scores.dense_rank >= 1
    assert top.scores.bm25 is not None and top.scores.bm25_rank >= 1
    assert top.scores.rrf == pytest.approx(1 / (60 + top.scores.dense_rank) + 1 / (60 + top.scores.bm25_rank))
    assert "fertilis" in " ".join(top.matched_terms)
    assert RERANK_OFF_NOTICE in result.notices  # no cross-encoder in models/: said, and search still works
    explained = result.to_json(explain=True)["hits"][0]
    assert explained["explain"]["dense_rank"] == top.scores.dense_rank


def test_dense_only_and_bm25_only(make_settings, notes, embedder):
    dense = Index.create(settings=make_settings(**{"retrieval.bm25_weight": 0.0}), embedder=embedder)
    dense.add(notes)
    hit = dense.search("where is the printer address configured", k=2)[0]
    assert hit.scores.bm25 is None and hit.scores.dense is not None
    bm25 = Index.open(settings=make_settings(**{"retrieval.dense_weight": 0.0}), embedder=embedder)
    hit = bm25.search("Vaillant ecoTEC", k=2)[0]
    assert hit.path == "home/boiler.md" and hit.scores.dense is None


def test_filters_by_glob_and_type(index):
    hits = index.search("notes", k=10, path_glob="garden/*")
    assert hits and {h.path for h in hits} <= {"garden/tomatoes.md", "garden/compost.md"}
    hits = index.search("network password", k=10, types="txt")
    assert [h.path for h in hits] == ["home/wifi.txt"] * len(hits) and hits
    assert index.search_result("anything", path_glob="nothing/*").hits == []


def test_cross_encoder_reranks_top_m(make_settings, notes, embedder, tiny_reranker):
    settings = make_settings(**{"retrieval.reranker": str(tiny_reranker), "retrieval.rerank_top": 6})
    idx = Index.create(settings=settings, embedder=embedder)
    idx.add(notes)
    result = idx.search_result("how do I bake bread", k=3)
    assert result.notices == [] and "rerank" in result.timings
    scores = [h.scores.rerank for h in result.hits]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
    assert [h.scores.rerank_rank for h in result.hits] == [1, 2, 3]
    assert all(h.score == h.scores.rerank for h in result.hits)
    plain = idx.search_result("how do I bake bread", k=3, rerank=False)
    assert all(h.scores.rerank is None for h in plain.hits)


def test_rerank_reorders_only_the_top_m(make_settings, notes, embedder, tiny_reranker):
    settings = make_settings(**{"retrieval.reranker": str(tiny_reranker), "retrieval.rerank_top": 2})
    idx = Index.create(settings=settings, embedder=embedder)
    idx.add(notes)
    hits = idx.search("garden compost tomatoes boiler recipes", k=6, with_terms=False)
    reranked = [h for h in hits if h.scores.rerank is not None]
    assert 1 <= len(reranked) <= 2 and hits[: len(reranked)] == reranked
    tail = hits[len(reranked) :]
    assert [h.scores.rrf_rank for h in tail] == sorted(h.scores.rrf_rank for h in tail)
    assert all(h.matched_terms == [] for h in hits)
