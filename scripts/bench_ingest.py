#!/usr/bin/env python
"""Ingest benchmark: index a folder (or a BEIR corpus written out as files) into a fresh,
temporary index through the product's own `Index.add`, and print one JSON object:

  files/s, chunks/s (end to end), embedding chunks/s (time inside Embedder.encode),
  peak RSS, and the embedding speed of each backend/precision (torch fp32 = the baseline,
  torch bf16, OpenVINO bf16, OpenVINO int8) on the same chunks in the same run, with each
  one's cosine to the baseline; with --ndcg and --scifact, SciFact nDCG@10 (dense only) for each.

    .venv/bin/python scripts/bench_ingest.py ~/notes
    .venv/bin/python scripts/bench_ingest.py --scifact ../shared/eval/scifact --limit-docs 1000
    .venv/bin/python scripts/bench_ingest.py docs --backend torch --precision fp32   # "before"

The machine may be shared: "embedding.cpu_seconds" (this process's CPU time while embedding)
and "machine.loadavg" say how much of the CPUs the run actually had.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localrag import offline  # noqa: E402

offline.enforce_offline_env()

from localrag.config import load_settings  # noqa: E402
from localrag.errors import LocalragError  # noqa: E402
from localrag.embed import Embedder  # noqa: E402
from localrag.eval.beir import run_beir, write_corpus  # noqa: E402
from localrag.eval.beir_format import load_beir  # noqa: E402
from localrag.index import Index  # noqa: E402
from localrag.models import resolve_model_path  # noqa: E402
from localrag.store.passage import passage_text  # noqa: E402


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


class TimedEmbedder:
    """Delegates to an Embedder and adds up the seconds spent in encode()."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.texts = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def encode(self, texts, progress=None):
        t, cpu = time.perf_counter(), time.process_time()
        out = self.inner.encode(texts, progress)
        self.seconds += time.perf_counter() - t
        self.cpu_seconds += time.process_time() - cpu
        self.texts += len(texts)
        return out


def sample_passages(index: Index, total: int, n: int) -> list[str]:
    """Up to n of the `total` indexed passages, spread evenly over the collection, as the embedder
    sees them; streamed, so a large index is never held in memory."""
    picks = set(np.linspace(0, total - 1, n).astype(int).tolist()) if total > n else set(range(total))
    rows = (passage_text(h, t) for batch in index.store.catalog.iter_chunk_texts() for _, h, t in batch)
    return [text for i, text in enumerate(rows) if i in picks]


# (backend, precision); the first is the baseline every speed is compared with
ENCODERS = [("torch", "fp32"), ("torch", "bf16"), ("openvino", "bf16"), ("openvino", "int8")]


def encoder_speed(model_dir: Path, passages: list[str], batch_size: int) -> dict:
    """Embed the same passages with each backend/precision (each after a warm-up batch): speed,
    speed over the fp32 baseline, and mean / lowest cosine to the baseline's vectors."""
    out: dict = {"passages": len(passages)}
    baseline = None
    for backend, precision in ENCODERS:
        emb = Embedder(model_dir, precision=precision, batch_size=batch_size, backend=backend)
        emb.encode(passages[:batch_size])
        t = time.perf_counter()
        vecs = emb.encode(passages)
        speed = len(passages) / (time.perf_counter() - t)
        if baseline is None:
            baseline = (vecs, speed)
        cos = np.sum(vecs * baseline[0], axis=1)
        out[f"{backend}-{precision}"] = {
            "precision_used": emb.precision,
            "chunks_per_s": round(speed, 1),
            "vs_baseline": round(speed / baseline[1], 2),
            "cosine_to_baseline": {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)},
        }
        del emb
    return out


def ndcg_by_encoder(scifact: Path, settings, work: Path) -> dict:
    out = {}
    for backend, precision in ENCODERS:
        s = settings.model_copy(deep=True)
        s.embedder.backend, s.embedder.precision = backend, precision
        s.retrieval.bm25_weight = 0.0
        s.retrieval.rerank = False
        report = run_beir(scifact, s, index_dir=work / f"eval-{backend}-{precision}")
        out[f"{backend}-{precision}"] = {"ndcg@10": report["ndcg@10"], "index_seconds": report["index_seconds"]}
    return out


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", type=Path, help="folder to index")
    ap.add_argument("--scifact", type=Path, help="BEIR dataset folder whose corpus is indexed instead")
    ap.add_argument("--limit-docs", type=int, help="with --scifact: only the first N corpus documents")
    ap.add_argument("--precision-sample", type=int, default=512, help="passages for the backend/precision comparison")
    ap.add_argument("--ndcg", action="store_true", help="with --scifact: nDCG@10 (dense) per backend/precision (slow)")
    ap.add_argument(
        "--backend", choices=("torch", "openvino"), help="embedder backend for the ingest (default: config)"
    )
    ap.add_argument(
        "--precision", choices=("fp32", "bf16", "int8"), help="embedder precision for the ingest (default: config)"
    )
    ap.add_argument("--batch-size", type=int, help="embedder batch size (default: config)")
    args = ap.parse_args(argv)
    if (args.folder is None) == (args.scifact is None):
        ap.error("give a FOLDER or --scifact DIR")

    overrides = {
        "embedder.backend": args.backend,
        "embedder.precision": args.precision,
        "embedder.batch_size": args.batch_size,
    }
    settings = load_settings(overrides=overrides)
    load_start = os.getloadavg()
    model_dir = resolve_model_path(settings, "embedder")
    with tempfile.TemporaryDirectory(prefix="localrag-bench-") as tmp:
        work = Path(tmp)
        if args.scifact is not None:
            dataset = load_beir(args.scifact)
            if args.limit_docs:
                dataset = dataclasses.replace(dataset, corpus=dataset.corpus[: args.limit_docs])
            folder = work / "corpus"
            write_corpus(dataset, folder)
        else:
            folder = args.folder.expanduser()

        s = settings.model_copy(deep=True)
        s.index = work / "index"
        index = Index.create(s.index, s)
        e = s.embedder
        timed = TimedEmbedder(Embedder(model_dir, precision=e.precision, batch_size=e.batch_size, backend=e.backend))
        index.embedder = timed
        t = time.perf_counter()
        summary = index.add(folder)
        seconds = time.perf_counter() - t
        chunks = index.status().chunks
        files = summary.added + summary.updated
        passages = sample_passages(index, chunks, args.precision_sample)
        tokens = [timed.count_tokens(p) for p in passages]
        index.close()
        ingest_rss = peak_rss_mib()

        report = {
            "source": str(args.scifact or args.folder),
            "files": files,
            "skipped": len(summary.skipped),
            "chunks": chunks,
            "seconds": round(seconds, 2),
            "files_per_s": round(files / seconds, 1),
            "chunks_per_s": round(chunks / seconds, 1),
            "chunk_tokens_mean": round(float(np.mean(tokens)), 1) if tokens else None,
            "embedding": {
                "backend": timed.backend,
                "precision_used": timed.precision,
                "batch_size": timed.batch_size,
                "seconds": round(timed.seconds, 2),
                "cpu_seconds": round(timed.cpu_seconds, 2),
                "chunks_per_s": round(timed.texts / timed.seconds, 1) if timed.seconds else None,
                "share_of_ingest": round(timed.seconds / seconds, 2),
            },
            "peak_rss_mib_ingest": ingest_rss,
            "encoder_speed": encoder_speed(model_dir, passages, s.embedder.batch_size),
            "ndcg": None,
            "ndcg_note": "pass --ndcg with --scifact to measure SciFact nDCG@10 (dense only) per backend/precision",
            "machine": {
                "cpus": len(os.sched_getaffinity(0)),
                "torch_threads": _torch_threads(),
                "python": platform.python_version(),
                "loadavg": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
            },
        }
        if args.ndcg and args.scifact is not None:
            report["ndcg"] = ndcg_by_encoder(args.scifact, settings, work)
            report["ndcg_note"] = "full SciFact test split, dense retrieval only, no rerank"
        report["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LocalragError as e:  # a missing dataset or model: one line, like the CLI
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
