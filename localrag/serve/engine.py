"""The index and the models one server process shares between all of its requests.

Models load once and are shared. The index is read through a `Snapshot`: a store (either
engine, `open_store`) opened at one version plus its Searcher. At most every
GENERATION_CHECK_S a request starts a check in a background thread: when `localrag index` or
`watch` in another process has published a new version, the thread waits until it can be opened
whole (the local engine: the writer has saved its derived indexes, or has gone), opens a store
at it (`Store.reopen`) and swaps it in. Requests in flight finish on the snapshot they started
with; no request waits for a check or a reload. Each engine publishes a version in one step (the
local catalogue in one transaction with derived files renamed into place; Milvus by flipping its
state row, the rows of the version before kept for its readers), so a snapshot is always one
whole generation, never a half-written one.

Concurrent searches share one Searcher: the catalogue serialises its SQLite calls, the OpenVINO
encoders give each concurrent query an inference request of its own, FAISS and bm25s only read,
PyStemmer keeps the GIL for each word, and the shared tokenizer is always called with the same
truncation and padding (so it never reconfigures itself under another thread); `Searcher.search`
needs no lock of its own. tests/serve/test_engine.py checks concurrent against sequential results.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localrag.chat import ChatSession, Turn
from localrag.config import Settings
from localrag.responses import SearchJSON, search_response, status_response
from localrag.serve.sources import SourceJSON, read_source
from localrag.store import Store, open_store

log = logging.getLogger("localrag")

GENERATION_CHECK_S = 0.25  # a request looks at the catalogue's generation at most this often
WRITER_WAIT_S = 120.0  # how long a reload waits for a writer to save the new derived indexes
RELOAD_RETRY_S = 5.0  # after a failed reload, requests wait this long before starting another


@dataclass(frozen=True, slots=True)
class Snapshot:
    store: Store
    searcher: Any  # localrag.retrieve.searcher.Searcher
    generation: int
    stamp: tuple  # Store.served_stamp, compared with Store.published_stamp()


def _snapshot(store: Store, searcher: Any) -> Snapshot:
    return Snapshot(store, searcher, store.served_generation, store.served_stamp)


class Engine:
    """`Engine(settings)` opens the index (IndexNotFoundError when there is none); `load_models()`
    loads the embedder, the reranker and (unless `llm=False`) the LLM now instead of on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index_dir = Path(settings.index).expanduser()
        self._models_lock = threading.Lock()
        self._models: dict[str, Any] = {}
        self._reloading = threading.Lock()
        self._checked_at = 0.0
        self._snapshot = _snapshot(open_store(settings), None)

    # ---- models ------------------------------------------------------------------------------
    def _model(self, name: str) -> Any:
        with self._models_lock:
            if name not in self._models:
                if name == "embedder":
                    from localrag.embed import load_embedder

                    self._models[name] = load_embedder(self.settings)
                elif name == "reranker":
                    from localrag.retrieve.rerank import load_reranker

                    self._models[name] = load_reranker(self.settings)
                else:
                    from localrag.generate.base import load_llm

                    self._models[name] = load_llm(self.settings)
            return self._models[name]

    @property
    def embedder(self) -> Any:
        return self._model("embedder")

    @property
    def reranker(self) -> Any:
        return self._model("reranker")

    @property
    def llm(self) -> Any:
        return self._model("llm")

    def load_models(self, llm: bool = True) -> None:
        self.snapshot()
        if llm:
            self._model("llm")

    # ---- the index ---------------------------------------------------------------------------
    def _searcher(self, store: Store) -> Any:
        from localrag.retrieve.searcher import Searcher

        return Searcher(store, self._query_embedder, self.settings, self.reranker)

    @functools.cached_property
    def _query_embedder(self) -> Any:
        """What searches embed their query with: the embedder, or a QueryBatcher around it
        (serve.query_batch). First used under `_reloading`, so made once."""
        cfg = self.settings.serve
        if cfg.query_batch <= 1:
            return self.embedder
        from localrag.serve.batcher import QueryBatcher

        return QueryBatcher(self.embedder, cfg.query_batch, cfg.query_batch_wait_ms / 1000)

    def snapshot(self) -> Snapshot:
        """The snapshot to serve this request from (starting a check for a new version when due)."""
        snap = self._snapshot
        if snap.searcher is None:  # first use: build it with the models
            with self._reloading:
                if self._snapshot.searcher is None:
                    self._snapshot = _snapshot(snap.store, self._searcher(snap.store))
                snap = self._snapshot
        now = time.monotonic()
        if now - self._checked_at >= GENERATION_CHECK_S and self._reloading.acquire(blocking=False):
            self._checked_at = now
            threading.Thread(target=self._reload_if_published, name="localrag-reload", daemon=True).start()
        return snap

    @property
    def generation(self) -> int:
        """The index generation requests are served from."""
        return self.snapshot().generation

    def _reload_if_published(self) -> None:
        old = self._snapshot
        try:
            if old.store.published_stamp() == old.stamp:
                return
            old.store.wait_until_loadable(WRITER_WAIT_S)
            store = old.store.reopen()
            self._snapshot = _snapshot(store, self._searcher(store))
            # the old store is closed when the last request using it lets go of it
            log.info("serving index generation %d", self._snapshot.generation)
        except Exception as e:  # a reload must never take the server down: keep serving the last one
            log.warning("could not check for or load a new index generation (%s); still serving %d", e, old.generation)
            self._checked_at = time.monotonic() + RELOAD_RETRY_S
        finally:
            self._reloading.release()

    def close(self) -> None:
        """Close the store being served (a Milvus Lite file is then free for another process)."""
        self._snapshot.store.close()

    # ---- requests ----------------------------------------------------------------------------
    def search(
        self, query: str, k: int | None = None, path_glob: str | None = None, types: str | None = None
    ) -> SearchJSON:
        """The JSON of `localrag search --json`."""
        # with_terms: the matched-term lists are for --explain, which the JSON here leaves out
        result = self.snapshot().searcher.search(query, k=k, path_glob=path_glob, types=types, with_terms=False)
        return search_response(result)

    def status(self) -> dict:
        """The JSON of `localrag status --json`."""
        return status_response(self.snapshot().store)

    def session(self, history: list[Turn] | None = None, k: int | None = None) -> ChatSession:
        """A conversation that is not stored in the index; `history` = earlier (question, answer)s."""
        settings = self.settings
        if k is not None:
            settings = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"k": k})})
        session = ChatSession(self.snapshot().searcher, self.llm, settings)
        session.history = list(history or [])
        return session

    def source(self, path: str, line_start: int = 1, line_end: int | None = None) -> SourceJSON:
        return read_source(
            self.snapshot().store, path, line_start, line_end, max_lines=self.settings.serve.max_source_lines
        )
