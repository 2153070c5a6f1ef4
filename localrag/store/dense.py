"""FAISS inner-product search over chunk vectors, derived from the catalogue.

Vectors are L2-normalized, so inner product = cosine similarity.
- Up to `ivf_threshold` vectors: exact search, IndexIDMap2(IndexFlatIP) (ids = chunk ids).
- Past it: IndexIVFFlat with nlist ~ 4*sqrt(n) lists, trained on a random sample. nprobe is
  chosen at build time as the smallest power of two whose recall@10 against exact search
  (the same IVF index probed exhaustively) is >= TARGET_RECALL on synthetic queries (sums of three
  random stored vectors: off the stored points, like real queries; see _synthetic_queries).
  The measured recall is saved and shown by `localrag status`.

On disk: DIR/dense.faiss (faiss.write_index to a temp file, then os.replace) and
DIR/dense.json (generation, count, dim, kind, nprobe, recall, size, sha256). `load` returns
None for a missing, stale or corrupt index, and the Store rebuilds it from the catalogue.

Threads: one query runs fastest on one OpenMP thread (measured, 100k x 384 flat on this
2-core machine: 8.3 ms with 1 thread, 16.7 ms with 2), so searches run single-threaded;
building (k-means) uses every thread.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from localrag.store.atomic import read_json, sha256_file, write_atomic, write_json_atomic
from localrag.store.crashpoints import crash_point

log = logging.getLogger("localrag")

FAISS_FILE = "dense.faiss"
SIDECAR = "dense.json"
# Tuned on synthetic queries, which still overestimate recall on some collections (bench_scale's
# near-duplicate passages: 0.967 synthetic vs 0.806 real at nprobe 4). So aim high and never probe
# fewer than 1/64 of the lists: at 1M vectors that is 64 of ~4000 lists, a few ms per query.
TARGET_RECALL = 0.99
MIN_PROBE_FRACTION = 1 / 64
_RECALL_K = 10
_RECALL_QUERIES = 200

Batches = Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]  # re-iterable (ids, float32 vectors)


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def ivf_nlist(n: int) -> int:
    """~4*sqrt(n) lists, but no more than FAISS's 39 training points per list allow."""
    return max(1, min(int(round(4 * math.sqrt(n))), n // 39))


class DenseIndex:
    """A FAISS index whose ids are chunk ids, plus how it was built."""

    def __init__(
        self,
        index: faiss.Index | None,
        dim: int | None,
        generation: int,
        kind: str = "flat",
        nprobe: int | None = None,
        recall: float | None = None,
    ):
        self.index = index
        self.dim = dim
        self.generation = generation
        self.kind = kind  # "flat" | "ivf"
        self.nprobe = nprobe
        self.recall = recall  # measured recall@10 of the IVF index (1.0 for exact search)

    def __len__(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """Every chunk id in the index, sorted (for consistency checks)."""
        if self.index is None or self.index.ntotal == 0:
            return np.zeros(0, dtype=np.int64)
        if self.kind == "flat":
            return np.sort(faiss.vector_to_array(self.index.id_map))
        invlists = self.index.invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(self.index.nlist)
            if invlists.list_size(i)
        ]
        return np.sort(np.concatenate(parts))

    def info(self) -> dict:
        return {"kind": self.kind, "count": len(self), "dim": self.dim, "nprobe": self.nprobe, "recall": self.recall}

    # ---- building --------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        batches: Batches,
        count: int,
        dim: int | None,
        generation: int = 0,
        ivf_threshold: int = 200_000,
        seed: int = 0,
    ) -> "DenseIndex":
        """Build from `batches()` (called once for flat, twice for IVF: sample, then add)."""
        if dim is None or dim <= 0:
            return cls(None, None, generation)
        if count <= ivf_threshold:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            for ids, vecs in batches():
                index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
            return cls(index, dim, generation, "flat", None, 1.0)
        return cls._build_ivf(batches, count, dim, generation, seed)

    @classmethod
    def _build_ivf(cls, batches: Batches, count: int, dim: int, generation: int, seed: int) -> "DenseIndex":
        nlist = ivf_nlist(count)
        rng = np.random.default_rng(seed)
        # 50 points per list is above FAISS's 39-per-centroid minimum without training on everything.
        p = min(1.0, 50 * nlist / count)
        sample = np.concatenate([vecs[rng.random(len(vecs)) < p] for _, vecs in batches()])
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(np.ascontiguousarray(sample))
        for ids, vecs in batches():
            index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        queries = _synthetic_queries(sample, rng)
        nprobe, recall = choose_nprobe(index, queries)
        log.info("IVF index: %d vectors, nlist %d, nprobe %d, recall@10 %.3f", count, nlist, nprobe, recall)
        return cls(index, dim, generation, "ivf", nprobe, recall)

    @classmethod
    def from_catalog(cls, catalog, ivf_threshold: int) -> "DenseIndex":
        dim = int(catalog.get_meta("dim", "0") or 0) or None
        return cls.build(
            catalog.iter_embeddings,
            count=catalog.counts()["embeddings"],
            dim=dim,
            generation=catalog.generation,
            ivf_threshold=ivf_threshold,
        )

    # ---- searching -------------------------------------------------------------------------
    def search(
        self, qvec: np.ndarray, n: int, allowed_ids: np.ndarray | Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Best `n` chunks as (chunk_id, cosine), best first; optionally only `allowed_ids`."""
        if self.index is None or n <= 0 or self.index.ntotal == 0:
            return []
        q = np.ascontiguousarray(np.asarray(qvec, dtype=np.float32).reshape(1, -1))
        params = self._search_params(allowed_ids)
        if params is False:
            return []
        with _omp_threads(1):
            scores, ids = self.index.search(q, min(n, self.index.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _search_params(self, allowed_ids) -> faiss.SearchParameters | None | Literal[False]:
        assert self.index is not None  # search() returned early without one
        sel = None
        fraction = 1.0
        if allowed_ids is not None:
            allowed = np.ascontiguousarray(np.asarray(allowed_ids, dtype=np.int64))
            if len(allowed) == 0:
                return False
            sel = faiss.IDSelectorBatch(allowed)
            fraction = min(1.0, len(allowed) / max(1, self.index.ntotal))
        if self.kind == "ivf":
            # A filter leaves fewer candidates in each probed list: probe more lists to compensate.
            nlist = self.index.nlist
            nprobe = min(nlist, int(math.ceil((self.nprobe or 1) / fraction)))
            params = (
                faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
                if sel is not None
                else faiss.SearchParametersIVF(nprobe=nprobe)
            )
            params._selector_ref = sel  # keep the selector alive as long as the params
            return params
        if sel is None:
            return None
        flat = faiss.SearchParameters(sel=sel)
        flat._selector_ref = sel
        return flat

    # ---- persistence -----------------------------------------------------------------------
    def save(self, index_dir: Path) -> None:
        index_dir = Path(index_dir)
        path = index_dir / FAISS_FILE
        crash_point("dense-save")
        index = self.index
        if index is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, lambda tmp: faiss.write_index(index, str(tmp)))
        write_json_atomic(
            index_dir / SIDECAR,
            {
                **self.info(),
                "generation": self.generation,
                "size": path.stat().st_size if self.index is not None else 0,
                "sha256": sha256_file(path) if self.index is not None else None,
            },
        )

    @classmethod
    def load(cls, index_dir: Path, generation: int, dim: int | None) -> "DenseIndex | None":
        """The saved index if it is intact and built at `generation`; else None (and a warning)."""
        index_dir = Path(index_dir)
        meta = read_json(index_dir / SIDECAR)
        if meta is None:
            log.warning("dense index in %s is missing or unreadable; rebuilding it from the catalogue", index_dir)
            return None
        why = _problem(index_dir / FAISS_FILE, meta, generation, dim)
        if why is not None:
            # stale is routine (another process committed a generation): not worth a warning
            (log.info if why.startswith("stale") else log.warning)(
                "dense index in %s is %s; rebuilding it from the catalogue", index_dir, why
            )
            return None
        if meta["count"] == 0 and meta.get("sha256") is None:
            return cls(None, dim, generation)
        try:
            index = faiss.read_index(str(index_dir / FAISS_FILE))
        except RuntimeError as e:
            log.warning("dense index in %s is unreadable (%s); rebuilding it from the catalogue", index_dir, e)
            return None
        if index.ntotal != meta["count"] or index.d != dim:
            log.warning("dense index in %s does not match its sidecar; rebuilding it", index_dir)
            return None
        return cls(index, dim, generation, meta.get("kind", "flat"), meta.get("nprobe"), meta.get("recall"))


def _problem(path: Path, meta: dict, generation: int, dim: int | None) -> str | None:
    if meta.get("generation") != generation:
        return f"stale (generation {meta.get('generation')}, catalogue {generation})"
    if not isinstance(meta.get("count"), int):
        return "corrupt (bad sidecar)"
    if meta["count"] == 0 and meta.get("sha256") is None:
        return None
    if meta.get("dim") != dim:
        return f"for another dimension ({meta.get('dim')}, catalogue {dim})"
    try:
        size = path.stat().st_size
    except OSError:
        return "missing"
    if size != meta.get("size"):
        return "corrupt (wrong size)"
    if sha256_file(path) != meta.get("sha256"):
        return "corrupt (checksum mismatch)"
    return None


def _synthetic_queries(sample: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normalized sums of 3 random stored vectors.

    Real queries sit off the stored points. Measured with MiniLM on SciFact (5k abstracts and
    a 50k set around them), recall@10 on these queries is at or below the recall on the real
    300 queries at every nprobe (2-vector midpoints overestimated it: 0.958 vs 0.925 real), so
    a nprobe that reaches the target here reaches it on real questions too.
    """
    q = sample[rng.integers(0, len(sample), (_RECALL_QUERIES, 3))].sum(axis=1)
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(q, dtype=np.float32)


def recall_at(index: faiss.IndexIVF, queries: np.ndarray, nprobe: int, truth: np.ndarray, k: int = _RECALL_K) -> float:
    _, found = index.search(queries, k, params=faiss.SearchParametersIVF(nprobe=nprobe))
    hits = sum(len(set(f[f >= 0]) & set(t[t >= 0])) for f, t in zip(found, truth))
    return hits / max(1, int((truth >= 0).sum()))


def choose_nprobe(index: faiss.IndexIVF, queries: np.ndarray, target: float = TARGET_RECALL) -> tuple[int, float]:
    """Smallest power-of-two nprobe, at least nlist * MIN_PROBE_FRACTION, reaching `target` recall@10
    against exhaustive probing."""
    _, truth = index.search(queries, _RECALL_K, params=faiss.SearchParametersIVF(nprobe=index.nlist))
    nprobe = 1 << max(0, math.ceil(math.log2(max(1.0, index.nlist * MIN_PROBE_FRACTION))))
    while True:
        recall = recall_at(index, queries, nprobe, truth)
        if recall >= target or nprobe >= index.nlist:
            return min(nprobe, index.nlist), recall
        nprobe *= 2


def iter_arrays(ids: np.ndarray, vecs: np.ndarray, batch: int = 8192) -> Batches:
    """Batches over in-memory arrays (for tests and callers that already hold the vectors)."""

    def gen() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for s in range(0, len(ids), batch):
            yield np.asarray(ids[s : s + batch], dtype=np.int64), np.asarray(vecs[s : s + batch], dtype=np.float32)

    return gen


__all__ = ["DenseIndex", "choose_nprobe", "ivf_nlist", "iter_arrays"]
