"""Indexing the notes fixture with the real MiniLM embedder, then searching both indexes."""

from __future__ import annotations

import numpy as np
import pytest

from localrag.indexer import embedding_text, index_folder
from localrag.store import Store


@pytest.fixture
def indexed(make_settings, notes, embedder):
    settings = make_settings()
    store = Store.open(settings.index, settings, create=True)
    summary = index_folder(store, notes, embedder, settings)
    yield store, settings, summary
    store.close()


def _top_path(store: Store, ranked: list[tuple[int, float]]) -> str:
    return store.get_hits([ranked[0][0]])[ranked[0][0]].path


def test_every_note_is_indexed_within_the_model_window(indexed, notes, embedder):
    store, _, summary = indexed
    assert summary.added == sum(1 for p in notes.rglob("*") if p.is_file()) and summary.skipped == []
    rows = store.catalog.chunk_rows(store.keyword.ids.tolist())
    assert rows and all(r.chunk.n_tokens <= embedder.max_seq_length - 2 for r in rows.values())
    assert store.status().embedder == {"name": "all-MiniLM-L6-v2", "dim": embedder.dim}


@pytest.mark.parametrize(
    ("question", "path"),
    [
        ("how often do the tomatoes get fertiliser", "garden/tomatoes.md"),
        ("what should the boiler pressure gauge read", "home/boiler.md"),
        ("what is the guest wifi network called", "home/wifi.txt"),
    ],
)
def test_dense_and_keyword_search_find_the_right_note(indexed, embedder, question, path):
    store, _, _ = indexed
    assert _top_path(store, store.dense.search(embedder.encode_query(question), 3)) == path
    assert _top_path(store, store.keyword.search(question, 3)) == path


def test_stored_float16_vectors_match_a_fresh_float32_encoding(indexed, embedder):
    store, _, _ = indexed
    ((ids, stored),) = list(store.catalog.iter_embeddings())
    rows = store.catalog.chunk_rows(ids.tolist())
    fresh = embedder.encode(
        [embedding_text(rows[i].chunk, embedder.count_tokens, embedder.max_seq_length - 2) for i in ids.tolist()]
    )
    cos = np.sum(stored * fresh, axis=1)
    assert cos.min() > 0.999


def test_heading_path_is_part_of_what_is_embedded(indexed, embedder):
    store, _, _ = indexed
    # "Watering" chunk text never says "tomato": the heading path carries it to the query
    hits = store.dense.search(embedder.encode_query("watering tomatoes"), 2)
    assert "garden/tomatoes.md" in {store.get_hits([c])[c].path for c, _ in hits}


def test_reopened_index_searches_without_reembedding(indexed, embedder):
    store, settings, _ = indexed
    again = Store.open(settings.index, settings)
    assert again.health == {"catalog": "ok", "dense": "ok", "keyword": "ok"}
    q = embedder.encode_query("compost heap")
    assert again.dense.search(q, 3) == store.dense.search(q, 3)
