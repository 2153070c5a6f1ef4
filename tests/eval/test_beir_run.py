"""run_beir end to end on a tiny BEIR folder: real chunking, SQLite, FAISS, bm25s and MiniLM."""

from __future__ import annotations

import json

import pytest

from localrag.errors import ConfigError
from localrag.eval.beir import run_beir

CONTRACT_KEYS = {
    "dataset",
    "queries",
    "ndcg@10",
    "recall@10",
    "recall@100",
    "mrr@10",
    "index_seconds",
    "chunks",
    "chunks_per_s",
    "query_p50_ms",
    "query_p95_ms",
}


def test_run_beir_scores_and_reuses_the_cached_index(tiny_beir, tmp_path, make_settings, embedder) -> None:
    workspace = tmp_path / "ws"
    settings = make_settings(**{"retrieval.rerank": False})
    first = run_beir(tiny_beir, settings, index_dir=workspace, embedder=embedder)
    assert CONTRACT_KEYS <= set(first)
    assert first["dataset"] == "tiny" and first["queries"] == 4
    assert first["chunks"] == 5 and first["index_cached"] is False
    # These queries are easy: every relevant document is retrieved first.
    assert first["ndcg@10"] == pytest.approx(1.0) and first["mrr@10"] == pytest.approx(1.0)
    assert first["recall@100"] == pytest.approx(1.0)
    assert (workspace / "corpus" / "tom.txt").read_text(encoding="utf-8").startswith("Tomato feeding\n\n")

    bm25_only = make_settings(**{"retrieval.rerank": False, "retrieval.dense_weight": 0.0})
    second = run_beir(tiny_beir, bm25_only, index_dir=workspace, limit=2)
    assert second["index_cached"] is True and second["queries"] == 2
    assert second["index_seconds"] == first["index_seconds"]
    assert second["stages"]["dense"] is False and second["stages"]["bm25"] is True

    # a changed corpus is noticed (sha256) and re-indexed
    with (tiny_beir / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"_id": "new", "title": "Bread", "text": "Sourdough needs a starter."}) + "\n")
    third = run_beir(tiny_beir, settings, index_dir=workspace, embedder=embedder, limit=1)
    assert third["index_cached"] is False and third["chunks"] == 6


def test_run_beir_refuses_foreign_folders_and_empty_retrieval(tiny_beir, tmp_path, make_settings) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an eval workspace"):
        run_beir(tiny_beir, make_settings(), index_dir=foreign)
    assert (foreign / "precious.txt").exists()
    nothing = make_settings(**{"retrieval.dense_weight": 0.0, "retrieval.bm25_weight": 0.0})
    with pytest.raises(ConfigError, match="nothing to retrieve"):
        run_beir(tiny_beir, nothing, index_dir=tmp_path / "ws")


def test_an_interrupted_build_is_reset_not_refused(tiny_beir, tmp_path, make_settings, embedder, monkeypatch) -> None:
    from localrag.eval import beir

    workspace = tmp_path / "ws"
    settings = make_settings(**{"retrieval.rerank": False})
    original = beir.write_corpus

    def crash(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt  # as if the user pressed Ctrl+C mid-build

    with monkeypatch.context() as m:
        m.setattr(beir, "write_corpus", crash)
        with pytest.raises(KeyboardInterrupt):
            run_beir(tiny_beir, settings, index_dir=workspace, embedder=embedder)
    assert (workspace / "corpus").is_dir()
    report = run_beir(tiny_beir, settings, index_dir=workspace, embedder=embedder, limit=1)
    assert report["index_cached"] is False and report["chunks"] == 5 and report["skipped_documents"] == 0
