"""QueryBatcher with the real MiniLM embedder: queries from concurrent threads come back with the
vector each would get alone (up to rounding), a full batch is one encoder call, and a server
Engine with serve.query_batch ranks as one without it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from localrag.config import load_settings
from localrag.serve.batcher import QueryBatcher
from localrag.serve.engine import Engine

QUERIES = [
    "boiler pressure", "tomato fertiliser", "wifi password", "compost bin", "pasta recipe", "train to the coast",
    "blight on leaves", "filling loop", "raised bed", "seaweed feed", "router reboot", "granular feed",
]  # fmt: skip


def test_concurrent_queries_get_their_own_vectors(embedder):
    alone = {q: embedder.encode_query(q) for q in QUERIES}
    batcher = QueryBatcher(embedder, max_batch=8)
    with ThreadPoolExecutor(8) as pool:
        vectors = list(pool.map(batcher.encode_query, QUERIES * 3))
    for q, v in zip(QUERIES * 3, vectors):
        assert v.shape == alone[q].shape and float(np.dot(v, alone[q])) > 0.9999
    assert batcher.queries == len(QUERIES) * 3 and 1 <= batcher.batches <= batcher.queries
    assert batcher.dim == embedder.dim  # the rest is the embedder's


def test_a_full_batch_is_one_encoder_call(embedder):
    batcher = QueryBatcher(embedder, max_batch=4, wait_s=60)  # waits for company until the batch is full
    start = threading.Barrier(4)

    def one(q: str) -> np.ndarray:
        start.wait()
        return batcher.encode_query(q)

    with ThreadPoolExecutor(4) as pool:
        vectors = list(pool.map(one, QUERIES[:4]))
    assert (batcher.batches, batcher.queries) == (1, 4) and len(vectors) == 4


def test_an_engine_with_query_batches_ranks_as_one_without(notes_index, models_dir):
    def engine(batch: int) -> Engine:
        overrides = {"index": str(notes_index[1]), "models_dir": str(models_dir), "serve.query_batch": batch}
        return Engine(load_settings(overrides=overrides, environ={}))

    def ranking(result: dict) -> list[tuple]:
        return [(h["path"], h["line_start"], h["text"]) for h in result["hits"]]

    plain, batched = engine(0), engine(8)
    expected = [ranking(plain.search(q, k=4)) for q in QUERIES]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(2):
            assert [ranking(r) for r in pool.map(lambda q: batched.search(q, k=4), QUERIES)] == expected
    assert batched._query_embedder.queries == 2 * len(QUERIES)
