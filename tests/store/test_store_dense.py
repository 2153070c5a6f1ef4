"""FAISS dense index: exact search, IVF recall, filters, atomic save and corruption checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from localrag.store.dense import FAISS_FILE, SIDECAR, DenseIndex, ivf_nlist, iter_arrays


def _normalized(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Vectors around 100 centres: topical structure like real embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((100, dim))
    return _normalized(centres[rng.integers(0, 100, n)] + 0.6 * rng.standard_normal((n, dim)))


def _queries(vecs: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _normalized(vecs[rng.integers(0, len(vecs), n)] + vecs[rng.integers(0, len(vecs), n)])


@pytest.fixture(scope="module")
def data():
    vecs = _clustered(3000, 32)
    ids = np.arange(len(vecs), dtype=np.int64) * 5 + 3  # chunk ids are not positions
    return ids, vecs


def test_flat_search_is_exact(data):
    ids, vecs = data
    index = DenseIndex.build(iter_arrays(ids, vecs, batch=700), len(ids), 32, generation=1)
    assert index.kind == "flat" and len(index) == len(ids)
    for q in _queries(vecs, 20):
        sims = vecs @ q
        got = index.search(q, 10)
        # the 10 best similarities, in order (ids compared through their true scores: near-ties may swap)
        assert [s for _, s in got] == pytest.approx(np.sort(sims)[::-1][:10].tolist(), abs=1e-5)
        by_id = dict(zip(ids.tolist(), sims.tolist()))
        assert [by_id[cid] for cid, _ in got] == pytest.approx([s for _, s in got], abs=1e-5)


def test_flat_filter_returns_only_allowed_ids(data):
    ids, vecs = data
    index = DenseIndex.build(iter_arrays(ids, vecs), len(ids), 32)
    allowed = ids[::10]
    q = _queries(vecs, 1)[0]
    got = index.search(q, 10, allowed_ids=allowed)
    sims = vecs[::10] @ q
    assert {cid for cid, _ in got} <= set(allowed.tolist())
    assert [s for _, s in got] == pytest.approx(np.sort(sims)[::-1][:10].tolist(), abs=1e-5)
    assert index.search(q, 10, allowed_ids=np.array([], np.int64)) == []


def test_ivf_past_the_threshold_reaches_its_measured_recall(data):
    ids, vecs = data
    index = DenseIndex.build(iter_arrays(ids, vecs), len(ids), 32, ivf_threshold=1000)
    assert index.kind == "ivf" and index.index.nlist == ivf_nlist(len(ids))
    assert index.recall >= 0.95 and 1 <= index.nprobe < index.index.nlist
    exact = DenseIndex.build(iter_arrays(ids, vecs), len(ids), 32)
    queries = _queries(vecs, 100, seed=7)  # other queries than the ones nprobe was tuned on
    recall = np.mean(
        [len({c for c, _ in index.search(q, 10)} & {c for c, _ in exact.search(q, 10)}) / 10 for q in queries]
    )
    assert recall >= 0.9
    assert set(index.ids().tolist()) == set(ids.tolist())


def test_ivf_filter_probes_more_lists_to_keep_results(data):
    ids, vecs = data
    index = DenseIndex.build(iter_arrays(ids, vecs), len(ids), 32, ivf_threshold=1000)
    allowed = ids[::50]  # 60 of 3000: most probed lists hold none of them
    q = _queries(vecs, 1)[0]
    got = index.search(q, 10, allowed_ids=allowed)
    assert len(got) == 10 and {c for c, _ in got} <= set(allowed.tolist())


def test_nlist_follows_sqrt_but_respects_training_minimum():
    assert ivf_nlist(1_000_000) == 4000
    assert ivf_nlist(3000) == 3000 // 39


def test_save_load_round_trip(tmp_path, data):
    ids, vecs = data
    for threshold in (10_000, 1000):
        built = DenseIndex.build(iter_arrays(ids, vecs), len(ids), 32, generation=4, ivf_threshold=threshold)
        built.save(tmp_path)
        loaded = DenseIndex.load(tmp_path, 4, 32)
        assert loaded is not None and loaded.info() == built.info()
        q = _queries(vecs, 1)[0]
        assert loaded.search(q, 5) == built.search(q, 5)
    assert not list(tmp_path.glob(".*.tmp"))  # no temp files left behind


def test_stale_missing_and_corrupt_files_load_as_none(tmp_path, data, caplog):
    caplog.set_level("INFO", logger="localrag")
    ids, vecs = data
    DenseIndex.build(iter_arrays(ids, vecs), len(ids), 32, generation=4).save(tmp_path)
    assert DenseIndex.load(tmp_path, 5, 32) is None and "stale" in caplog.text
    assert DenseIndex.load(tmp_path, 4, 64) is None  # another embedder dimension
    path = tmp_path / FAISS_FILE
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert DenseIndex.load(tmp_path, 4, 32) is None and "checksum" in caplog.text
    path.write_bytes(bytes(raw[:100]))
    assert DenseIndex.load(tmp_path, 4, 32) is None and "wrong size" in caplog.text
    path.unlink()
    assert DenseIndex.load(tmp_path, 4, 32) is None
    (tmp_path / SIDECAR).unlink()
    assert DenseIndex.load(tmp_path, 4, 32) is None


def test_sidecar_records_generation_and_checksum(tmp_path, data):
    ids, vecs = data
    DenseIndex.build(iter_arrays(ids, vecs), len(ids), 32, generation=9).save(tmp_path)
    meta = json.loads((tmp_path / SIDECAR).read_text())
    assert meta["generation"] == 9 and meta["count"] == len(ids) and len(meta["sha256"]) == 64
    assert meta["size"] == (tmp_path / FAISS_FILE).stat().st_size


def test_empty_index_searches_nothing(tmp_path):
    index = DenseIndex.build(iter_arrays(np.zeros(0, np.int64), np.zeros((0, 8), np.float32)), 0, 8)
    assert index.search(np.ones(8, np.float32), 5) == []
    index.save(tmp_path)
    assert len(DenseIndex.load(tmp_path, 0, 8)) == 0
    assert DenseIndex.build(iter_arrays(np.zeros(0), np.zeros((0, 8))), 0, None).search(np.ones(8), 3) == []
