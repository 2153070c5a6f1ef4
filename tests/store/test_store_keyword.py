"""BM25 keyword index: bm25s against the rank-bm25 reference, filters, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from localrag.store.keyword import SIDECAR, KeywordIndex, top_n

CORPUS = [
    "Tomatoes need a sunny spot and regular watering in summer.",
    "Feed tomato plants weekly with a potassium-rich fertiliser once flowers appear.",
    "Compost heaps need a mix of green and brown material and occasional turning.",
    "Crushed eggshells add calcium to compost and deter slugs around seedlings.",
    "The boiler pressure should sit between one and one and a half bar.",
    "To bleed a radiator, turn the valve a quarter turn until water appears.",
    "Reset the wifi router by holding the button for ten seconds.",
    "The guest wifi password is printed on the back of the router.",
    "Pack light for the Lisbon trip: the trams are steep and crowded.",
    "Train tickets from Porto to Lisbon are cheapest booked a week ahead.",
    "Sourdough needs an active starter fed twelve hours before mixing.",
    "Bake the sourdough loaf at a high heat with steam for the first twenty minutes.",
    "Water tomato seedlings from below to avoid damping off.",
    "A potassium deficiency shows as yellow leaf edges on tomato plants.",
    "Slugs love young lettuce; beer traps and copper tape keep them away.",
    "The router firmware update fixed the dropping wifi connection.",
    "Def parse_http_request(raw): split the request line and headers.",
    "class HTTPServerError raised when the upstream server fails.",
    "東京の天気は晴れです。",
    "京都の寺はとても古い。",
]
QUERIES = [
    "tomato fertiliser",
    "wifi router password",
    "sourdough starter",
    "slugs compost",
    "Lisbon train tickets",
    "radiator valve water",
    "potassium tomato leaves",
    "parse_http_request",
    "server error",
    "東京の天気",
]


def _docs():
    return [(10 + 3 * i, text) for i, text in enumerate(CORPUS)]  # sparse, ascending ids


@pytest.fixture(scope="module")
def engines():
    return KeywordIndex.build(_docs(), "bm25s"), KeywordIndex.build(_docs(), "rank-bm25")


@pytest.mark.parametrize("query", QUERIES)
def test_bm25s_and_rank_bm25_rank_the_top_the_same(engines, query):
    fast, ref = engines
    a = [cid for cid, _ in fast.search(query, 3)]
    b = [cid for cid, _ in ref.search(query, 3)]
    assert a and a == b


@pytest.mark.parametrize("term", ["tomato", "wifi", "sourdough", "water", "router"])
def test_single_term_scores_are_proportional_across_engines(engines, term):
    # One term: the IDFs differ by a constant factor, so the whole ranking must be identical.
    fast, ref = engines
    a = dict(fast.search(term, len(CORPUS)))
    b = dict(ref.search(term, len(CORPUS)))
    assert a.keys() == b.keys() and len(a) >= 2
    ratios = np.array([b[k] / a[k] for k in a])
    assert np.allclose(ratios, ratios[0], rtol=1e-4)


def test_search_returns_ids_not_positions_best_first(engines):
    fast, _ = engines
    hits = fast.search("tomato", 10)
    ids = {cid for cid, _ in hits}
    assert ids <= {10 + 3 * i for i in range(len(CORPUS))}
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert ids == {10 + 3 * i for i, t in enumerate(CORPUS) if "omato" in t}


def test_allowed_ids_filter(engines):
    for index in engines:
        allowed = [10 + 3 * 12, 10 + 3 * 7]  # a tomato doc and a non-tomato doc
        assert [cid for cid, _ in index.search("tomato", 5, allowed_ids=allowed)] == [10 + 3 * 12]
        assert index.search("tomato", 5, allowed_ids=[]) == []


def test_no_match_and_stopword_only_queries_return_nothing(engines):
    for index in engines:
        assert index.search("zebra", 5) == []
        assert index.search("the and of", 5) == []


def test_query_terms_are_known_stemmed_terms(engines):
    fast, ref = engines
    assert fast.query_terms("The tomatoes and zebras") == ["tomato"]
    assert ref.query_terms("The tomatoes and zebras") == ["tomato"]
    assert KeywordIndex.matched_terms("feeding tomatoes", CORPUS[1]) == ["feed", "tomato"]


def test_cjk_is_findable(engines):
    for index in engines:
        (top, _), *_ = index.search("天気", 2)
        assert top == 10 + 3 * 18
        assert 10 + 3 * 19 in {cid for cid, _ in index.search("京都", 2)}


def test_empty_index_searches_nothing():
    index = KeywordIndex.build([], "bm25s")
    assert len(index) == 0 and index.search("anything", 5) == [] and index.query_terms("x") == []


def test_top_n_ties_and_mask():
    scores = np.array([0.0, 2.0, 1.0, 2.0, 3.0], dtype=np.float32)
    assert top_n(scores, 3).tolist() == [4, 1, 3]
    assert top_n(scores, 10).tolist() == [4, 1, 3, 2]
    assert top_n(scores, 2, np.array([1, 0, 1, 1, 0], bool)).tolist() == [3, 2]


def test_save_load_round_trip(tmp_path, engines):
    fast, _ = engines
    built = KeywordIndex.build(_docs(), "bm25s", generation=7)
    built.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path, 7)
    assert loaded is not None and loaded.generation == 7
    for q in QUERIES:
        assert loaded.search(q, 5) == pytest.approx(fast.search(q, 5))
    # no pickles anywhere
    assert not any(p.suffix in {".pkl", ".pickle"} for p in tmp_path.rglob("*"))


def test_resave_replaces_the_folder_atomically(tmp_path):
    KeywordIndex.build(_docs(), "bm25s", generation=1).save(tmp_path)
    KeywordIndex.build(_docs()[:5], "bm25s", generation=2).save(tmp_path)
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1 and json.loads((tmp_path / SIDECAR).read_text())["dir"] == folders[0].name
    assert len(KeywordIndex.load(tmp_path, 2)) == 5


def test_stale_or_corrupt_saved_index_is_refused(tmp_path, caplog):
    caplog.set_level("INFO", logger="localrag")
    KeywordIndex.build(_docs(), "bm25s", generation=3).save(tmp_path)
    assert KeywordIndex.load(tmp_path, 4) is None  # stale
    assert "stale" in caplog.text
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    data = folder / "data.csc.index.npy"
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF
    data.write_bytes(bytes(raw))
    assert KeywordIndex.load(tmp_path, 3) is None  # checksum
    assert "checksum" in caplog.text
    (tmp_path / SIDECAR).write_text("{not json")
    assert KeywordIndex.load(tmp_path, 3) is None
