"""The index and the models one server process shares between all of its requests.

Models load once and are shared. The index is read through a `Snapshot`: a Store opened at
one generation plus its Searcher. When `localrag index` or `watch` in another process publishes
a new generation, the next request that notices starts a reload in a background thread: it
waits until that writer has saved the derived indexes of the new generation (or has gone),
opens a Store at it and swaps it in. Requests in flight finish on the snapshot they started
with; no request waits for a reload. The catalogue publishes a generation in one transaction
and derived files are renamed into place (localrag/store/), so a snapshot is always one whole
generation, never a half-written one.

Concurrent searches share one Searcher: the catalogue serialises its SQLite calls, the OpenVINO
encoders give each concurrent query an inference request of its own, FAISS and bm25s only read,
PyStemmer keeps the GIL for each word, and the shared tokenizer is always called with the same
truncation and padding (so it never reconfigures itself under another thread); `Searcher.search`
needs no lock of its own. tests/serve/test_engine.py checks concurrent against sequential results.
"""

from __future__ import annotations

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
from localrag.store import Store
from localrag.store.atomic import read_json
from localrag.store.dense import SIDECAR as DENSE_SIDECAR
from localrag.store.keyword import SIDECAR as KEYWORD_SIDECAR
from localrag.store.lock import WriteLock

log = logging.getLogger("localrag")

GENERATION_CHECK_S = 0.25  # a request looks at the catalogue's generation at most this often
WRITER_WAIT_S = 120.0  # how long a reload waits for a writer to save the new derived indexes
RELOAD_RETRY_S = 5.0  # after a failed reload, requests wait this long before starting another


@dataclass(frozen=True, slots=True)
class Snapshot:
    store: Store
    searcher: Any  # localrag.retrieve.searcher.Searcher
    generation: int


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
        store = Store.open(self.index_dir, settings)
        self._snapshot = Snapshot(store, None, store.generation)

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

        return Searcher(store, self.embedder, self.settings, self.reranker)

    def snapshot(self) -> Snapshot:
        """The snapshot to serve this request from (starting a reload when the index moved on)."""
        snap = self._snapshot
        if snap.searcher is None:  # first use: build it with the models
            with self._reloading:
                if self._snapshot.searcher is None:
                    self._snapshot = Snapshot(snap.store, self._searcher(snap.store), snap.generation)
                snap = self._snapshot
        now = time.monotonic()
        if now - self._checked_at >= GENERATION_CHECK_S:
            self._checked_at = now
            if snap.store.catalog.generation != snap.generation and self._reloading.acquire(blocking=False):
                threading.Thread(target=self._reload, name="localrag-reload", daemon=True).start()
        return snap

    @property
    def generation(self) -> int:
        """The index generation requests are served from."""
        return self.snapshot().generation

    def _reload(self) -> None:
        try:
            target = self._snapshot.store.catalog.generation
            self._wait_for_writer(target)
            store = Store.open(self.index_dir, self.settings)
            self._snapshot = Snapshot(store, self._searcher(store), store.generation)
            # the old store is closed when the last request using it lets go of it
            log.info("serving index generation %d", store.generation)
        except Exception as e:  # a reload must never take the server down: keep serving the last one
            log.warning("could not load the new index generation (%s); still serving %d", e, self._snapshot.generation)
            self._checked_at = time.monotonic() + RELOAD_RETRY_S
        finally:
            self._reloading.release()

    def _wait_for_writer(self, generation: int) -> None:
        """Until the derived indexes of `generation` are on disk or no writer holds the lock:
        opening earlier would rebuild in memory what the writer is about to save."""
        deadline = time.monotonic() + WRITER_WAIT_S
        while time.monotonic() < deadline:
            saved = [read_json(self.index_dir / name) or {} for name in (DENSE_SIDECAR, KEYWORD_SIDECAR)]
            if all(s.get("generation", -1) >= generation for s in saved):
                return
            lock = WriteLock(self.index_dir)
            if lock.try_acquire():
                lock.release()
                return
            time.sleep(0.2)

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
