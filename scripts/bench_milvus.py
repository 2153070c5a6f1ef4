#!/usr/bin/env python
"""The Milvus store engine beside the local one: SciFact quality and speed, and a scale run.

    .venv/bin/python scripts/bench_milvus.py beir  [--scifact DIR] [--server] [--out FILE]
    .venv/bin/python scripts/bench_milvus.py scale [--scifact DIR] [--size 100k] [--server]

beir   `localrag eval beir` (no rerank; hybrid, dense, BM25) with store.engine = "local" and
       "milvus" (Milvus Lite) in one run, each indexed from scratch (embedding included), then on
       the Milvus index: BM25 over Milvus's own analyzer on the raw text (bm25_terms = "milvus",
       published from the same catalogue, nothing re-embedded) and fusion inside Milvus
       (hybrid_search + RRFRanker) against localrag's RRF. --server adds a real Milvus 2.3.5
       server (PyPI `milvus`, dense only: 2.3 has no BM25).
scale  the synthetic collection of scripts/bench_scale.py (real SciFact passages and MiniLM
       vectors + noise) inserted into Milvus Lite (and the 2.3.5 server with --server): insert
       speed, query p50/p95 of dense, BM25 and hybrid (localrag RRF), and memory (RSS of this
       process, where Milvus Lite runs; of the server process for the server).
Prints JSON (and writes it to --out).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from localrag import offline  # noqa: E402

offline.enforce_offline_env()

from localrag.config import load_settings  # noqa: E402
from localrag.eval.beir import aggregate_to_documents, open_eval_index, percentile_ms, run_beir  # noqa: E402
from localrag.eval.beir_format import load_beir  # noqa: E402
from localrag.eval.metrics import DEFAULT_METRICS, evaluate  # noqa: E402

DEFAULT_SCIFACT = REPO.parent / "shared" / "eval" / "scifact"
MODES = {"hybrid": {}, "dense": {"retrieval.bm25_weight": 0.0}, "bm25": {"retrieval.dense_weight": 0.0}}
KEEP = ("ndcg@10", "recall@100", "index_seconds", "chunks", "chunks_per_s", "query_p50_ms", "query_p95_ms")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(base: Path):
    from milvus import MilvusServer

    server = MilvusServer(wait_for_started=False)
    server.set_base_dir(str(base))
    server.listen_port = _free_port()
    server.start()
    server.wait_started(timeout=120_000)
    return server, f"http://127.0.0.1:{server.listen_port}"


def server_rss_mib(server) -> float | None:
    try:
        for line in Path(f"/proc/{server.server_proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def self_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def settings_for(engine: str, uri: str | None = None, **extra):
    overrides = {"models_dir": str(REPO / "models"), "retrieval.rerank": False, "store.engine": engine, **extra}
    if uri:
        overrides["store.milvus.uri"] = uri
    return load_settings(overrides=overrides, environ={})


def beir_rows(name: str, data: Path, work: Path, engine: str, uri: str | None, modes, embedder, **extra) -> list[dict]:
    rows = []
    for mode in modes:
        settings = settings_for(engine, uri, **MODES[mode], **extra)
        report = run_beir(data, settings, index_dir=work, embedder=embedder)
        rows.append({"store": name, "mode": mode, **{k: report[k] for k in KEEP}, "cached": report["index_cached"]})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def engine_hybrid(data: Path, work: Path, uri: str, embedder, depth: int = 100) -> dict:
    """Fusion inside Milvus (hybrid_search + RRFRanker(60)) over the same candidates as localrag's RRF."""
    from pymilvus import AnnSearchRequest, RRFRanker

    from localrag.store.tokenize import tokenize

    dataset = load_beir(data, "test")
    settings = settings_for("milvus", uri, **{"retrieval.candidates": depth})
    index, _ = open_eval_index(dataset, settings, work, embedder=embedder)
    store = index.store
    run, latencies = {}, []
    for qid in dataset.qrels:
        query = dataset.queries[qid]
        t = time.perf_counter()
        qvec = embedder.encode_query(query).ravel().tolist()
        reqs = [
            AnnSearchRequest([qvec], "vector", {"metric_type": "IP"}, depth, expr=store.visible()),
            AnnSearchRequest([" ".join(tokenize(query, query=True))], "sparse", {"metric_type": "BM25"}, depth,
                             expr=store.visible()),
        ]  # fmt: skip
        res = store.client.hybrid_search(store.name, reqs, RRFRanker(60), limit=depth, output_fields=["path"])
        latencies.append((time.perf_counter() - t) * 1000)
        run[qid] = aggregate_to_documents([h["entity"]["path"] for h in res[0]])
    index.close()
    scores = evaluate(dataset.qrels, run, DEFAULT_METRICS)
    return {"store": "milvus-lite, fusion in Milvus (hybrid_search + RRFRanker)", "mode": "hybrid",
            "ndcg@10": round(scores.mean["ndcg@10"], 4), "recall@100": round(scores.mean["recall@100"], 4),
            "query_p50_ms": percentile_ms(latencies, 50), "query_p95_ms": percentile_ms(latencies, 95)}  # fmt: skip


def cmd_beir(args) -> dict:
    from localrag.embed import load_embedder

    work = Path(args.work)
    embedder = load_embedder(settings_for("local"))
    rows = beir_rows("local", args.scifact, work / "local", "local", None, MODES, embedder)
    lite = str(work / "lite" / "milvus.db")
    rows += beir_rows("milvus-lite", args.scifact, work / "lite", "milvus", lite, MODES, embedder)
    # BM25 by Milvus's own analyzer: the same catalogue published to a second Lite file
    raw = work / "lite-raw"
    if not (raw / "index").is_dir():
        shutil.copytree(work / "lite", raw, ignore=shutil.ignore_patterns("milvus.db", "write.lock"))
    # publishing an indexed catalogue to an empty Milvus (no embedding): what a sync costs
    raw_settings = settings_for("milvus", str(raw / "milvus.db"), **{"store.milvus.bm25_terms": "milvus"})
    t = time.perf_counter()
    index, _ = open_eval_index(load_beir(args.scifact, "test"), raw_settings, raw, embedder=embedder)
    sync_s = time.perf_counter() - t
    index.close()
    rows.append({"store": "milvus-lite", "publish_seconds_12620_chunks_from_catalogue": round(sync_s, 1)})
    rows += beir_rows("milvus-lite, Milvus analyzer (no stemming)", args.scifact, raw, "milvus",
                      str(raw / "milvus.db"), ["hybrid", "bm25"], embedder, **{"store.milvus.bm25_terms": "milvus"})  # fmt: skip
    rows.append(engine_hybrid(args.scifact, work / "lite", lite, embedder))
    if args.server:
        server, uri = start_server(work / "server-data")
        try:
            rows += beir_rows("milvus 2.3.5 server", args.scifact, work / "server", "milvus", uri, ["dense"], embedder)
            rows.append({"store": "milvus 2.3.5 server", "server_rss_mib": server_rss_mib(server)})
        finally:
            server.stop()
    return {"dataset": "scifact", "rerank": False, "embedder": "all-MiniLM-L6-v2", "rows": rows}


def cmd_scale(args) -> dict:
    from bench_scale import Collection, embed_cached, parse_size, real_passages

    from localrag.embed import load_embedder
    from localrag.retrieve.fusion import rrf
    from localrag.store.milvus import MilvusStore
    from localrag.store.milvus_client import (
        LIVE_FOREVER,
        create_chunks_collection,
        create_meta_collection,
        dense_index_type,
        row_key,
    )
    from localrag.store.tokenize import tokenize

    size = parse_size(args.size)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    dataset = load_beir(args.scifact, "test")
    embedder = load_embedder(settings_for("local"))
    passages = real_passages(dataset, args.real)
    real_vecs, _ = embed_cached(embedder, passages, work / "cache")
    coll = Collection(passages, real_vecs, size, sigma=args.sigma)
    queries = [dataset.queries[q] for q in list(dataset.qrels)[: args.queries]]
    qvecs = np.stack([embedder.encode_query(q).ravel() for q in queries])
    out = {"chunks": size, "real_passages": args.real, "queries": len(queries), "engines": []}

    targets = [] if args.server_only else [("milvus-lite", str(work / "scale-lite.db"), None)]
    server = None
    if args.server:
        server, uri = start_server(work / "scale-server-data")
        targets.append(("milvus 2.3.5 server", uri, server))
    try:
        for name, uri, srv in targets:
            if not uri.startswith("http"):
                shutil.rmtree(uri, ignore_errors=True)
            settings = settings_for("milvus", uri, index=str(work / "no-index"), **{"store.milvus.collection": "scale"})
            rss0 = self_rss_mib()
            store = MilvusStore(Path(settings.index), settings, None)
            for c in (store.name, store.meta_name):
                if store.client.has_collection(c):
                    store.client.drop_collection(c)
            bm25 = srv is None
            create_chunks_collection(store.client, store.name, 384, bm25, dense_index_type(settings.store.milvus))
            create_meta_collection(store.client, store.meta_name)
            ids, vecs = coll.vectors()
            t = time.perf_counter()
            for start in range(0, size, 1000):
                rows = []
                for i in range(start, min(size, start + 1000)):
                    text = coll.text(i + 1)
                    rows.append({"row": row_key(1, i + 1), "id": i + 1, "path": f"doc{i // 4}.txt", "text": text,
                                 "terms": " ".join(tokenize(text)), "heading": "[]", "ordinal": i % 4, "page": -1,
                                 "line_start": -1, "line_end": -1, "char_start": 0, "char_end": len(text),
                                 "gen_from": 1, "gen_to": LIVE_FOREVER, "vector": vecs[i].tolist()})  # fmt: skip
                store.client.insert(store.name, rows)
            store.client.flush(store.name)  # as a sync does before publishing
            insert_s = time.perf_counter() - t
            store._put_meta({"state": {"version": 1, "catalog_generation": 1, "chunks": size, "dim": 384,
                                       "bm25_terms": "localrag", "doc_pages": 0}})  # fmt: skip
            store.ensure_fresh()
            lat = {"dense": [], "bm25": [], "hybrid": []}
            for q, qv in zip(queries, qvecs):
                t = time.perf_counter()
                store.dense.search(qv, 50)
                lat["dense"].append((time.perf_counter() - t) * 1000)
                if bm25:
                    t = time.perf_counter()
                    store.keyword.search(q, 50)
                    lat["bm25"].append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    fused = rrf(
                        [[c for c, _ in store.dense.search(qv, 50)], [c for c, _ in store.keyword.search(q, 50)]]
                    )
                    store.get_hits([c for c, _ in fused[:10]])
                    lat["hybrid"].append((time.perf_counter() - t) * 1000)
            row = {
                "store": name,
                "insert_seconds": round(insert_s, 1),
                "insert_chunks_per_s": round(size / insert_s, 1),
            }
            for kind, samples in lat.items():
                if samples:
                    row[f"{kind}_p50_ms"] = percentile_ms(samples, 50)
                    row[f"{kind}_p95_ms"] = percentile_ms(samples, 95)
            row["rss_mib_this_process"] = self_rss_mib()
            row["rss_mib_growth"] = round(self_rss_mib() - rss0, 1)
            if srv is not None:
                row["server_rss_mib"] = server_rss_mib(srv)
            store.close()
            out["engines"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["beir", "scale"])
    p.add_argument("--scifact", type=Path, default=DEFAULT_SCIFACT)
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "localrag-bench-milvus"))
    p.add_argument("--server", action="store_true", help="also run the Milvus 2.3.5 server (PyPI milvus)")
    p.add_argument("--server-only", action="store_true", help="scale: the server alone (with --server)")
    p.add_argument("--size", default="100k")
    p.add_argument("--real", type=int, default=5000, help="real passages the scale collection is built from")
    p.add_argument("--sigma", type=float, default=0.025)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    report = cmd_beir(args) if args.command == "beir" else cmd_scale(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
