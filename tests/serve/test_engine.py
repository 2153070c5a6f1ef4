"""The server's Engine in-process: concurrent searches give exactly the sequential results (the
shared Searcher and the OpenVINO encoder's per-stream inference requests are thread-safe), and a
generation published by a writer is picked up by a background reload, never half of one."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from localrag.index import Index
from localrag.serve.engine import Engine
from tests.helpers import make_settings

QUERIES = [
    "boiler pressure", "tomato fertiliser", "wifi password", "compost bin", "pasta recipe", "train to the coast",
    "blight on leaves", "filling loop", "raised bed", "seaweed feed", "router reboot", "granular feed",
]  # fmt: skip


@pytest.fixture(scope="module")
def engine(notes_index, models_dir):
    return Engine(make_settings(notes_index[1], models_dir))


def test_concurrent_searches_equal_sequential_ones(engine):
    expected = [engine.search(q, k=4) for q in QUERIES]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            assert list(pool.map(lambda q: engine.search(q, k=4), QUERIES)) == expected


def test_a_published_generation_is_reloaded_in_the_background(tmp_path, models_dir, embedder):
    from tests.serve.serve_support import build_notes_index

    notes, index = build_notes_index(tmp_path, models_dir, embedder)
    engine = Engine(make_settings(index, models_dir))
    before = engine.generation
    assert engine.search("zorblax peppers", k=1)["hits"][0]["path"] != "peppers.md"
    (notes / "peppers.md").write_text("# Peppers\n\nThe zorblax peppers need a warm greenhouse.\n")
    with Index.open(index, make_settings(index, models_dir), embedder=embedder) as writer:
        writer.add(notes)
    deadline = time.monotonic() + 20
    while engine.generation == before and time.monotonic() < deadline:
        time.sleep(0.1)
    snapshot = engine.snapshot()
    assert snapshot.generation == before + 1
    assert snapshot.store.generation == snapshot.store.catalog.generation  # derived indexes of that generation
    assert engine.search("zorblax peppers", k=1)["hits"][0]["path"] == "peppers.md"
    assert engine.status()["health"]["fresh"] is True
