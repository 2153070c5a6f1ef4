"""Retrieval evaluation on a BEIR dataset, through the product's own indexing and search.

The corpus is written out as one text file per document ("title\\n\\ntext") and indexed
with `Index.add`, i.e. the very walk -> load -> chunk -> embed -> store path a user's folder
takes; queries go through the same `Searcher`. A document's score is its best chunk's
(the best rank any of its chunks reached).

The built index is cached in an eval workspace (default indexes/eval-<dataset>):

    WORKSPACE/eval.json   what the index was built from (corpus sha256, embedder, chunking)
    WORKSPACE/corpus/     the corpus as files (doc id, percent-encoded, + ".txt")
    WORKSPACE/index/      the localrag index

so runs that only change retrieval switches (--no-dense, --no-bm25, --no-rerank) reuse it.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from localrag.config import Settings
from localrag.embed import vector_settings
from localrag.errors import ConfigError
from localrag.eval.beir_format import BeirDataset, file_sha256, load_beir
from localrag.eval.metrics import DEFAULT_METRICS, evaluate

WORKSPACE_FILE = "eval.json"
DOC_SUFFIX = ".txt"
WORKSPACE_VERSION = 1


def doc_filename(doc_id: str) -> str:
    """A safe, reversible, non-hidden file name for a corpus id."""
    name = quote(doc_id, safe="")
    if name.startswith("."):  # the walker skips hidden files
        name = "%2E" + name[1:]
    return name + DOC_SUFFIX


def doc_id_from_path(path: str) -> str:
    return unquote(Path(path).name.removesuffix(DOC_SUFFIX))


def aggregate_to_documents(paths_in_rank_order: list[str]) -> dict[str, float]:
    """Chunk hits (paths, best first) -> doc id -> score, each document scored by its best chunk.

    Scores are 1/rank of the document's first chunk: strictly decreasing, so the document
    order is the chunk order and no ties reach the metrics' tie-breaking.
    """
    scores: dict[str, float] = {}
    for path in paths_in_rank_order:
        doc = doc_id_from_path(path)
        if doc not in scores:
            scores[doc] = 1.0 / (len(scores) + 1)
    return scores


def percentile_ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)), 2) if samples else 0.0


def _workspace_key(dataset: BeirDataset, settings: Settings) -> dict[str, Any]:
    return {
        "version": WORKSPACE_VERSION,
        "corpus_sha256": file_sha256(dataset.directory / "corpus.jsonl"),
        **vector_settings(settings),
        "chunking": {"size": settings.chunking.size, "overlap": settings.chunking.overlap},
    }


def _reset_workspace(workspace: Path) -> None:
    """Empty a workspace this module created; refuse to touch any other non-empty folder."""
    if workspace.exists():
        if not (workspace / WORKSPACE_FILE).is_file() and any(workspace.iterdir()):
            raise ConfigError(
                f"{workspace}: exists and is not an eval workspace (no {WORKSPACE_FILE}); choose another --index"
            )
        for sub in ("index", "corpus"):
            shutil.rmtree(workspace / sub, ignore_errors=True)
        (workspace / WORKSPACE_FILE).unlink(missing_ok=True)
    workspace.mkdir(parents=True, exist_ok=True)


def write_corpus(dataset: BeirDataset, folder: Path) -> None:
    """Each corpus document as FOLDER/<doc id>.txt holding "title\n\ntext"."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc in dataset.corpus:
        (folder / doc_filename(doc.doc_id)).write_text(doc.document_text(), encoding="utf-8")


def open_eval_index(
    dataset: BeirDataset,
    settings: Settings,
    workspace: Path,
    embedder=None,
    progress: Callable[[str], None] | None = None,
):
    """An `Index` over the dataset's corpus, built, or reused when its key matches.

    Returns (index, info) with info = {"index_seconds", "chunks", "skipped_documents", "cached"}. The embedder
    is loaded only when needed (building, or a dense query) unless one is passed in.
    """
    from localrag.index import Index

    key = _workspace_key(dataset, settings)
    meta_path = workspace / WORKSPACE_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else None
    index_settings = settings.model_copy(deep=True)
    index_settings.index = workspace / "index"
    if settings.store.engine == "milvus":  # never the collection of the user's own documents
        suffix = re.sub(r"[^A-Za-z0-9_]", "_", dataset.name)
        index_settings.store.milvus.collection = f"{settings.store.milvus.collection}_eval_{suffix}"[:200]

    if meta is not None and meta.get("key") == key and (workspace / "index").is_dir():
        index = Index.open(index_settings.index, index_settings)
        if embedder is not None:
            index.embedder = embedder  # share the loaded model (overrides the lazy cached_property)
        info = {k: meta.get(k, 0) for k in ("index_seconds", "chunks", "skipped_documents")}
        return index, {**info, "cached": True}

    _reset_workspace(workspace)
    # Mark the folder as ours before building, so an interrupted build is reset next time.
    meta_path.write_text(json.dumps({"key": None, "state": "building"}), encoding="utf-8")
    write_corpus(dataset, workspace / "corpus")
    index = Index.create(index_settings.index, index_settings)
    try:
        if embedder is not None:
            index.embedder = embedder
        if progress:
            progress(f"indexing {len(dataset.corpus)} documents from {dataset.name}")
        t = time.perf_counter()
        summary = index.add(workspace / "corpus")
        seconds = time.perf_counter() - t
        chunks = index.status().chunks
    except BaseException:
        index.close()
        raise
    # Skipped documents (e.g. empty ones) can never be retrieved: they count as misses.
    info = {"index_seconds": round(seconds, 2), "chunks": chunks, "skipped_documents": len(summary.skipped)}
    meta_path.write_text(json.dumps({"key": key, **info}, indent=2), encoding="utf-8")
    return index, {**info, "cached": False}


def run_beir(
    data_dir: Path,
    settings: Settings,
    *,
    split: str = "test",
    index_dir: Path | None = None,
    limit: int | None = None,
    depth: int = 100,
    embedder=None,
    reranker=None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Index DATA_DIR/corpus.jsonl (cached in `index_dir`), run the judged queries of `split`,
    and return the DESIGN.md report.

    Stages follow `settings.retrieval` (the CLI's --no-dense / --no-bm25 / --no-rerank set
    dense_weight=0 / bm25_weight=0 / rerank=False). `depth` chunk hits are fetched per query,
    from at least `depth` candidates per retriever, for recall@100 at the document level.
    """
    cfg = settings.retrieval
    if cfg.dense_weight == 0 and cfg.bm25_weight == 0:
        raise ConfigError("dense and BM25 weights are both 0: nothing to retrieve with")
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1")
    dataset = load_beir(Path(data_dir), split)
    workspace = Path(index_dir) if index_dir is not None else Path("indexes") / f"eval-{dataset.name}"
    run_settings = settings.model_copy(deep=True)
    run_settings.retrieval.candidates = max(cfg.candidates, depth)
    dense = cfg.dense_weight > 0

    index, info = open_eval_index(dataset, run_settings, workspace, embedder=embedder, progress=progress)
    try:
        if reranker is None and cfg.rerank:
            reranker = index.reranker  # None when no cross-encoder is installed (a notice says so)
        from localrag.retrieve.searcher import Searcher

        searcher = Searcher(
            index.store, index.embedder if dense else None, run_settings, reranker if cfg.rerank else None
        )
        query_ids = list(dataset.qrels)[:limit]
        if not query_ids:
            raise ConfigError(f"{dataset.directory}/qrels/{split}.tsv has no judged queries")
        n = run_settings.retrieval.candidates
        searcher.search(dataset.queries[query_ids[0]], k=depth, candidates=n, with_terms=False)  # warm-up, untimed
        run: dict[str, dict[str, float]] = {}
        latencies: list[float] = []
        notices: set[str] = set()
        for i, qid in enumerate(query_ids, 1):
            t = time.perf_counter()
            result = searcher.search(dataset.queries[qid], k=depth, candidates=n, with_terms=False)
            latencies.append((time.perf_counter() - t) * 1000)
            notices.update(result.notices)
            run[qid] = aggregate_to_documents([h.path for h in result.hits])
            if progress and i % 50 == 0:
                progress(f"{i}/{len(query_ids)} queries")
    finally:
        index.close()

    scores = evaluate({qid: dataset.qrels[qid] for qid in query_ids}, run, DEFAULT_METRICS)
    seconds = info["index_seconds"]
    return {
        "dataset": dataset.name,
        "queries": len(scores.per_query),
        **{name: round(value, 4) for name, value in scores.mean.items()},
        "index_seconds": seconds,
        "chunks": info["chunks"],
        "chunks_per_s": round(info["chunks"] / seconds, 1) if seconds else None,
        "query_p50_ms": percentile_ms(latencies, 50),
        "query_p95_ms": percentile_ms(latencies, 95),
        "index_cached": info["cached"],
        "skipped_documents": info["skipped_documents"],
        "stages": {
            "dense": dense,
            "bm25": cfg.bm25_weight > 0,
            "rerank": bool(cfg.rerank and searcher.reranker is not None),
            "embedder": settings.embedder.model,
            "precision": getattr(searcher.embedder, "precision", None),  # the one in use (bf16 falls back to fp32)
            "backend": getattr(searcher.embedder, "backend", None),
            "reranker": getattr(searcher.reranker, "name", None),
            "candidates": n,
            "hits_per_query": depth,  # chunk hits fetched per query (latency is for this many)
        },
        "notices": sorted(notices),
    }
