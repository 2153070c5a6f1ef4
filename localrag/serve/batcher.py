"""Micro-batching of query embeddings: concurrent searches' queries embedded in one encoder call.

`QueryBatcher(embedder, max_batch, wait_s)` stands in for the embedder in the server's Searcher.
`encode_query(text)` hands the query to one batching thread and waits for its vector. That
thread takes every query waiting (at most `max_batch`) and embeds them with one
`embedder.encode` call, which pads them to one length and spreads them over the encoder's
streams. While it embeds, the next queries gather, so under load batches form by themselves and
a lone query is not held back; `wait_s` > 0 also waits that long for company before a batch
that is not yet full. Everything else (`encode`, `dim`, ...) is the embedder's own.

A query's vector in a batch equals its vector alone up to rounding (mean pooling ignores the
padding); serve.query_batch turns it on, and docs/benchmarks.md has what it measured.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

import numpy as np


class QueryBatcher:
    def __init__(self, embedder: Any, max_batch: int, wait_s: float = 0.0) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._pending: list[tuple[str, Future[np.ndarray]]] = []
        self._wake = threading.Condition()
        self.batches = 0  # encoder calls made, and the queries they embedded
        self.queries = 0
        threading.Thread(target=self._serve, name="localrag-query-batcher", daemon=True).start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.embedder, name)

    def encode_query(self, text: str) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        with self._wake:
            self._pending.append((text, future))
            self._wake.notify()
        return future.result()

    def _next_batch(self) -> list[tuple[str, Future[np.ndarray]]]:
        with self._wake:
            while not self._pending:
                self._wake.wait()
            deadline = time.monotonic() + self.wait_s
            while len(self._pending) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._wake.wait(left)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            self.batches += 1
            self.queries += len(batch)
        return batch

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                vectors = self.embedder.encode([text for text, _ in batch])
            except BaseException as e:  # each waiting search raises it
                for _, future in batch:
                    future.set_exception(e)
                continue
            for (_, future), vector in zip(batch, vectors):
                future.set_result(vector)
