#!/usr/bin/env python
"""Scale benchmark of the store's own DenseIndex / KeywordIndex on synthetic collections.

For each size (default 100k chunks; --sizes 100k,1m for both) it builds and measures:
  dense flat (exact) and dense IVF: build seconds, RSS, size on disk, query p50/p95,
      IVF recall@10 against exact search on real SciFact query vectors;
  BM25 (the configured engine, bm25s by default): build seconds, RSS, size on disk, p50/p95;
  hybrid (dense of the kind the product picks at that size + BM25 + RRF, no rerank): p50/p95;
and once: query embedding latency and cross-encoder rerank latency over the top 20.

The collections are synthetic, built from real text (the JSON says so under "data"):
  text    SciFact abstracts cut into ~100-word passages; passage i is passage i mod R, with
          10% of its words dropped (deterministically) from the second repetition on;
  vectors MiniLM embeddings of those R real passages (default 5,000), plus gaussian noise
          (sigma per dimension, --sigma), L2-normalized;
  queries the SciFact test claims, embedded with the same model.
The reranker is a randomly initialised BertForSequenceClassification of MiniLM-L6 shape
(hidden 384, 6 layers, 12 heads, intermediate 1536): the latency of
ms-marco-MiniLM-L-6-v2 without downloading it. It is built locally, nothing is fetched.

    .venv/bin/python scripts/bench_scale.py                       # 100k
    .venv/bin/python scripts/bench_scale.py --sizes 100k,1m       # ~20 min on 2 cores
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from localrag import offline  # noqa: E402

offline.enforce_offline_env()

from localrag.config import load_settings  # noqa: E402
from localrag.errors import LocalragError  # noqa: E402
from localrag.embed import Embedder  # noqa: E402
from localrag.eval.beir_format import BeirDataset, load_beir  # noqa: E402
from localrag.models import resolve_model_path  # noqa: E402
from localrag.retrieve.fusion import rrf  # noqa: E402
from localrag.retrieve.rerank import Reranker  # noqa: E402
from localrag.store.dense import DenseIndex, iter_arrays  # noqa: E402
from localrag.store.keyword import KeywordIndex  # noqa: E402

PASSAGE_WORDS = 100
DROP_RATE = 0.1
RERANK_TOP = 20


# ----------------------------------------------------------------------------- measuring
def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def disk_mib(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 3)


def latency(fn: Callable[[int], object], n: int) -> tuple[dict, list]:
    """Call fn(i) for i < n (after one untimed call); p50/p95 in ms and the results."""
    fn(0)
    times, results = [], []
    for i in range(n):
        t = time.perf_counter()
        results.append(fn(i))
        times.append((time.perf_counter() - t) * 1000)
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
    }, results


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if s[-1:] in "km" else s) * mult)


# ----------------------------------------------------------------------------- synthetic data
def real_passages(dataset: BeirDataset, n: int) -> list[str]:
    """The first n ~100-word passages of the corpus ("title\\n\\ntext" cut by words)."""
    out: list[str] = []
    for doc in dataset.corpus:
        words = doc.document_text().split()
        for s in range(0, len(words), PASSAGE_WORDS):
            out.append(" ".join(words[s : s + PASSAGE_WORDS]))
            if len(out) == n:
                return out
    return out


class Collection:
    """Chunk i (1-based ids, as in the catalogue) derived from real passage (i-1) mod R."""

    def __init__(self, passages: list[str], real_vecs: np.ndarray, size: int, sigma: float, seed: int = 0):
        self.words = [p.split() for p in passages]
        self.passages = passages
        self.real_vecs = real_vecs
        self.size = size
        self.sigma = sigma
        self.seed = seed

    def text(self, chunk_id: int) -> str:
        i = chunk_id - 1
        base, rep = i % len(self.passages), i // len(self.passages)
        if rep == 0:
            return self.passages[base]
        words = self.words[base]
        keep = np.random.default_rng((self.seed, i)).random(len(words)) >= DROP_RATE
        return " ".join(w for w, k in zip(words, keep) if k)

    def texts(self) -> Iterator[tuple[int, str]]:
        for cid in range(1, self.size + 1):
            yield cid, self.text(cid)

    def vectors(self, block: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
        ids = np.arange(1, self.size + 1, dtype=np.int64)
        vecs = np.empty((self.size, self.real_vecs.shape[1]), dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        for s in range(0, self.size, block):
            rows = np.arange(s, min(s + block, self.size))
            v = self.real_vecs[rows % len(self.real_vecs)] + rng.normal(
                0, self.sigma, (len(rows), vecs.shape[1])
            ).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            vecs[s : s + len(rows)] = v
        return ids, vecs


def embed_cached(embedder: Embedder, texts: list[str], cache_dir: Path) -> tuple[np.ndarray, float | None]:
    """Embeddings of texts, cached on disk by content (seconds is None when cached)."""
    key = hashlib.sha256(
        ("\x00".join(texts) + embedder.name + embedder.backend + embedder.precision).encode()
    ).hexdigest()[:16]
    path = cache_dir / f"real-{key}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False), None
    t = time.perf_counter()
    vecs = embedder.encode(texts)
    seconds = time.perf_counter() - t
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs, allow_pickle=False)
    return vecs, round(seconds, 1)


def random_cross_encoder(tokenizer_dir: Path, out: Path) -> Path:
    """A random-weight cross-encoder of ms-marco-MiniLM-L-6-v2's shape, saved as a model folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=384,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
        num_labels=1,
    )
    BertForSequenceClassification(config).eval().save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


# ----------------------------------------------------------------------------- one size
def bench_size(coll: Collection, qvecs: np.ndarray, queries: list[str], settings, work: Path) -> dict:
    n_q = len(queries)
    cand = settings.retrieval.candidates
    res: dict = {"chunks": coll.size}
    t = time.perf_counter()
    ids, vecs = coll.vectors()
    res["vectors_seconds"] = round(time.perf_counter() - t, 1)
    m = min(len(vecs), len(coll.real_vecs))
    res["mean_cosine_to_real"] = round(float(np.mean(np.sum(vecs[:m] * coll.real_vecs[:m], axis=1))), 3)
    product_kind = "flat" if coll.size <= settings.retrieval.ivf_threshold else "ivf"

    # dense, exact
    t = time.perf_counter()
    flat = DenseIndex.build(iter_arrays(ids, vecs), len(ids), vecs.shape[1], ivf_threshold=coll.size)
    build = time.perf_counter() - t
    (work / "flat").mkdir()
    flat.save(work / "flat")
    lat, truth = latency(lambda i: flat.search(qvecs[i], cand), n_q)
    res["dense_flat"] = {
        "build_seconds": round(build, 1),
        "rss_mib_after": rss_mib(),
        "disk_mib": disk_mib(work / "flat"),
        **lat,
    }

    # dense, IVF (forced, whatever the size)
    t = time.perf_counter()
    ivf = DenseIndex.build(iter_arrays(ids, vecs), len(ids), vecs.shape[1], ivf_threshold=0)
    build = time.perf_counter() - t
    del vecs, ids
    (work / "ivf").mkdir()
    ivf.save(work / "ivf")
    lat, found = latency(lambda i: ivf.search(qvecs[i], cand), n_q)
    recall = np.mean(
        [
            len({c for c, _ in f[:10]} & {c for c, _ in t_[:10]}) / max(1, min(10, len(t_)))
            for f, t_ in zip(found, truth)
        ]
    )
    res["dense_ivf"] = {
        "build_seconds": round(build, 1),
        "nlist": int(ivf.index.nlist),
        "nprobe": ivf.nprobe,
        "build_recall_synthetic": round(float(ivf.recall), 3),
        "recall@10_vs_exact": round(float(recall), 3),
        "rss_mib_after": rss_mib(),
        "disk_mib": disk_mib(work / "ivf"),
        **lat,
    }
    dense = flat if product_kind == "flat" else ivf
    if product_kind == "flat":
        del ivf
    else:
        del flat
    gc.collect()

    # BM25
    engine = settings.retrieval.bm25_engine
    t = time.perf_counter()
    keyword = KeywordIndex.build(coll.texts(), engine=engine)
    build = time.perf_counter() - t
    gc.collect()
    (work / "bm25").mkdir()
    keyword.save(work / "bm25")
    lat, _ = latency(lambda i: keyword.search(queries[i], cand), n_q)
    res["bm25"] = {
        "engine": engine,
        "build_seconds": round(build, 1),
        "rss_mib_after": rss_mib(),
        "disk_mib": disk_mib(work / "bm25"),
        **lat,
    }

    # hybrid, as the searcher fuses (query embedding excluded: see query_embedding)
    def hybrid(i: int) -> list:
        d = dense.search(qvecs[i], cand)
        k = keyword.search(queries[i], cand)
        return rrf([[c for c, _ in d], [c for c, _ in k]], k=settings.retrieval.rrf_k)

    lat, fused = latency(hybrid, n_q)
    res["hybrid"] = {"dense_kind": product_kind, "candidates": cand, **lat}
    res["top20_texts_sample"] = [[coll.text(int(c)) for c, _ in f[:RERANK_TOP]] for f in fused[:30]]
    res["peak_rss_mib"] = peak_rss_mib()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", type=Path, default=REPO.parent / "shared" / "eval" / "scifact")
    ap.add_argument("--sizes", default="100k", help="comma-separated chunk counts, e.g. 100k,1m")
    ap.add_argument("--real", type=int, default=5000, help="real passages embedded")
    ap.add_argument("--sigma", type=float, default=0.025, help="gaussian noise per dimension before normalizing")
    ap.add_argument("--queries", type=int, default=200, help="queries timed per measurement")
    ap.add_argument("--cache", type=Path, default=REPO / "indexes" / "bench-cache", help="cache for real embeddings")
    ap.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder latency")
    args = ap.parse_args(argv)

    ds = load_beir(args.scifact)
    passages = real_passages(ds, args.real)
    queries = list(ds.queries.values())[: args.queries]
    settings = load_settings()
    model_dir = resolve_model_path(settings, "embedder")
    e = settings.embedder
    embedder = Embedder(model_dir, precision=e.precision, batch_size=e.batch_size, backend=e.backend)
    real_vecs, embed_seconds = embed_cached(embedder, passages, args.cache)
    qvecs = embedder.encode(queries)
    q_lat, _ = latency(lambda i: embedder.encode_query(queries[i]), min(len(queries), 50))

    report: dict = {
        "data": {
            "synthetic": True,
            "text": f"SciFact passages of ~{PASSAGE_WORDS} words (chunk i = passage i mod {len(passages)}, "
            f"{int(DROP_RATE * 100)}% of words dropped from the 2nd repetition on)",
            "vectors": f"MiniLM embeddings of the {len(passages)} real passages + N(0, {args.sigma}^2) per dim, L2-normalized",
            "queries": f"{len(queries)} SciFact test claims (text for BM25, MiniLM vectors for dense)",
        },
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "embedder": {
            "name": embedder.name,
            "backend": embedder.backend,
            "precision": embedder.precision,
            "real_passages_seconds": embed_seconds,
        },
        "query_embedding": q_lat,
        "sizes": {},
    }
    samples: list[list[str]] = []
    for size in [parse_size(s) for s in args.sizes.split(",") if s.strip()]:
        coll = Collection(passages, real_vecs, size, args.sigma)
        with tempfile.TemporaryDirectory(prefix="localrag-scale-") as tmp:
            t = time.perf_counter()
            res = bench_size(coll, qvecs, queries, settings, Path(tmp))
            res["total_seconds"] = round(time.perf_counter() - t, 1)
        samples = res.pop("top20_texts_sample")
        report["sizes"][str(size)] = res
        gc.collect()
        print(json.dumps({"size": size, **res}), file=sys.stderr, flush=True)

    if not args.no_rerank and samples:
        with tempfile.TemporaryDirectory(prefix="localrag-ce-") as tmp:
            r = settings.retrieval
            reranker = Reranker(
                random_cross_encoder(model_dir, Path(tmp) / "ce"),
                max_length=r.rerank_max_length,
                precision=r.rerank_precision,
                backend=r.rerank_backend,
            )
            lat, _ = latency(
                lambda i: reranker.score(queries[i % len(queries)], samples[i % len(samples)]), len(samples)
            )
        report["rerank_top20"] = {
            "model": "random-weight BertForSequenceClassification, MiniLM-L6 shape (384/6/12/1536)",
            "backend": r.rerank_backend, "precision": r.rerank_precision, "max_length": r.rerank_max_length,
            "pairs": RERANK_TOP, **lat,
        }  # fmt: skip
    report["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LocalragError as e:  # a missing dataset or model: one line, like the CLI
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
