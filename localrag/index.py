"""The public Python API: the CLI, the TUI and users' scripts all go through `Index`.

    from localrag import Index
    idx = Index.open("indexes/notes")            # or Index.create(path)
    idx.add("~/notes")                           # incremental; returns an IndexReport
    hits = idx.search("tomato fertiliser", k=5)
    answer = idx.ask("what fertiliser do the tomatoes get?")   # .text, .citations, .sources
    for event in idx.ask_stream("..."): ...

Models load when first needed: `search` loads no LLM, `status` no model at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localrag.config import Settings, load_settings
from localrag.index_events import Progress
from localrag.protocols import Embedder
from localrag.reports import IndexReport, IndexStatus
from localrag.types import Answer, Hit

if TYPE_CHECKING:  # each is imported where it is first used: `status` loads no model code
    from localrag.chat import ChatSession, Event
    from localrag.generate.base import LLM
    from localrag.retrieve.rerank import Reranker
    from localrag.retrieve.searcher import SearchResult, Searcher
    from localrag.store import Store


class Index:
    """An index directory plus the models that read and write it (each loaded on first use).

    `rebuild=True` at open starts the catalogue over (an unreadable one is moved aside), for
    `localrag index --rebuild`; the next `add` re-indexes everything.
    """

    def __init__(self, store: Store, settings: Settings, embedder: Embedder | None = None):
        self.store = store
        self.settings = settings
        if embedder is not None:  # share one loaded embedder between indexes (tests, eval)
            self.__dict__["embedder"] = embedder

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        settings: Settings | None = None,
        create: bool = False,
        embedder: Embedder | None = None,
        rebuild: bool = False,
        take_over: bool = False,
    ) -> Index:
        """`take_over` (the Milvus engine): this index folder becomes the writer of the collection
        even when another index folder publishes to it (else that is refused: IndexLockedError)."""
        from localrag.store import open_store

        settings = settings or load_settings()
        if path is not None:
            settings.index = Path(path).expanduser()
        store = open_store(settings, create=create, rebuild=rebuild, take_over=take_over)
        return cls(store, settings, embedder=embedder)

    @classmethod
    def create(
        cls,
        path: str | Path | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        take_over: bool = False,
    ) -> Index:
        return cls.open(path, settings, create=True, embedder=embedder, take_over=take_over)

    # models, loaded lazily: `search` needs no LLM, `status` needs nothing
    @cached_property
    def embedder(self) -> Embedder:
        from localrag.embed import load_embedder

        return load_embedder(self.settings)

    @cached_property
    def reranker(self) -> Reranker | None:
        from localrag.retrieve.rerank import load_reranker

        return load_reranker(self.settings)

    @cached_property
    def searcher(self) -> Searcher:
        from localrag.retrieve.searcher import Searcher

        return Searcher(self.store, self.embedder, self.settings, self.reranker)

    @cached_property
    def llm(self) -> LLM:
        from localrag.generate.base import load_llm

        return load_llm(self.settings)

    def reload_models(self, *names: str) -> None:
        """Forget loaded models ("embedder", "reranker", "llm"; default all) so the next use loads
        them again with the current settings, e.g. after switching the LLM or toggling reranking."""
        for name in names or ("embedder", "reranker", "llm"):
            self.__dict__.pop(name, None)
        self.__dict__.pop("searcher", None)  # it holds the embedder and the reranker

    def add(
        self, folder: str | Path | Sequence[str | Path], progress: Progress | None = None, rebuild: bool = False
    ) -> IndexReport:
        """Index `folder` incrementally (only new or changed files are embedded); `progress` gets the
        run's typed events (localrag/index_events.py).

        `folder` may also be one file, or several files and folders: the index then holds that
        selection of the folder containing them, and later calls add to it."""
        from localrag.indexer import index_folder

        paths = Path(folder).expanduser() if isinstance(folder, (str, Path)) else [Path(p).expanduser() for p in folder]
        return index_folder(self.store, paths, self.embedder, self.settings, progress=progress, rebuild=rebuild)

    def sources(self) -> list[Path]:
        """What the index was built from, to index again: its folder, or the files and folders selected in it."""
        from localrag.indexer import selected_paths

        root = self.store.catalog.get_meta("root")
        if not root:
            return []
        only = selected_paths(self.store)
        return [Path(root)] if only is None else [Path(root) / p for p in only]

    def search_result(self, query: str, k: int | None = None, **filters: Any) -> SearchResult:
        return self.searcher.search(query, k=k, **filters)

    def search(self, query: str, k: int | None = None, **filters: Any) -> list[Hit]:
        return self.search_result(query, k=k, **filters).hits

    def chat(self, chat_id: int | None = None, persist: bool = True) -> ChatSession:
        """A conversation; `persist` stores it in the index so it can be reopened (chat_id)."""
        from localrag.chat import ChatSession

        catalog = self.store.catalog if persist else None
        self._load_chat_models()
        return ChatSession(self.searcher, self.llm, self.settings, catalog=catalog, chat_id=chat_id)

    def _load_chat_models(self) -> None:
        """Load the LLM in a thread while the embedder (and reranker) load here: a one-off `ask`
        pays for both before its first token, and the two loads are mostly reading files and
        compiling, so together they take about as long as the longer one (~0.5 s each)."""
        if "llm" in self.__dict__ or "searcher" in self.__dict__:
            return
        import threading

        failed: list[BaseException] = []

        def load_llm() -> None:
            try:
                self.llm  # noqa: B018
            except BaseException as e:  # raised again below, in the caller's thread
                failed.append(e)

        # a daemon thread: Ctrl+C during the loads (a first run probes the model) exits at once
        thread = threading.Thread(target=load_llm, name="localrag-load-llm", daemon=True)
        thread.start()
        self.searcher  # noqa: B018 (loads the embedder and reranker)
        thread.join()
        if failed:
            raise failed[0]

    def ask(self, question: str, **filters: Any) -> Answer:
        """One-off question (not stored as a chat); filters: path_glob, types."""
        return self.chat(persist=False).ask(question, **filters)

    def ask_stream(self, question: str, **filters: Any) -> Iterator[Event]:
        return self.chat(persist=False).ask_stream(question, **filters)

    def status(self) -> IndexStatus:
        return self.store.status()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
