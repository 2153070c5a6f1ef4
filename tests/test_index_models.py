"""Index.chat loads the LLM in a thread while the embedder loads, and a failed load reaches the caller."""

from __future__ import annotations

import threading

import pytest

from localrag.errors import LocalragError
from localrag.index import Index


@pytest.fixture
def idx(make_settings, embedder, notes):
    settings = make_settings(**{"llm.backend": "none", "retrieval.rerank": False})
    with Index.open(None, settings, create=True, embedder=embedder) as index:
        index.add(notes)
        yield index


def test_chat_loads_the_llm_beside_the_searcher(idx, monkeypatch):
    import localrag.generate.base as base

    loaded_on = []
    real = base.load_llm

    def recording(settings):
        loaded_on.append(threading.current_thread().name)
        return real(settings)

    monkeypatch.setattr(base, "load_llm", recording)
    session = idx.chat(persist=False)
    assert loaded_on == ["localrag-load-llm"]
    assert "searcher" in idx.__dict__ and "llm" in idx.__dict__
    assert idx.chat(persist=False).llm is session.llm  # loaded once
    assert session.ask("what goes on the compost heap?").sources


def test_a_failed_llm_load_is_raised_to_the_caller(idx):
    idx.settings.llm.backend = "llama-cpp"
    idx.settings.llm.model = str(idx.settings.index / "missing.gguf")
    with pytest.raises(LocalragError, match="missing.gguf"):
        idx.chat(persist=False)
    assert "searcher" in idx.__dict__  # the other load went on
