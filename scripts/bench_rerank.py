#!/usr/bin/env python
"""Cross-encoder rerank latency for the top 20, per backend / precision / max_length, in one run.

The model is a random-weight cross-encoder of ms-marco-MiniLM-L-6-v2's shape (hidden 384, 6 layers,
12 heads; built locally by bench_scale.random_cross_encoder): latency without the trained weights,
which cannot be downloaded here. Its scores mean nothing, so quality is not measured here: the
int8 path's fidelity is measured on the trained MiniLM embedder (same architecture) by
`localrag eval beir` (docs/benchmarks.md). Passages are SciFact abstracts cut to their first 200
MiniLM tokens (the default chunk size); queries are SciFact claims. Each configuration reranks the
same (query, top passages) sets; `vs_baseline` is the baseline's p50 over this one's.

    .venv/bin/python scripts/bench_rerank.py [--scifact ../shared/eval/scifact] [--queries 15]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_scale import latency, random_cross_encoder  # noqa: E402

from localrag.config import load_settings  # noqa: E402
from localrag.eval.beir_format import load_beir  # noqa: E402
from localrag.models import resolve_model_path  # noqa: E402
from localrag.retrieve.rerank import Reranker  # noqa: E402

CHUNK_TOKENS = 200
# (name, backend, precision, max_length); the first is the baseline
CONFIGS = [
    ("torch-fp32-512", "torch", "fp32", 512),
    ("torch-bf16-512", "torch", "bf16", 512),
    ("openvino-bf16-256", "openvino", "bf16", 256),
    ("openvino-int8-512", "openvino", "int8", 512),
    ("openvino-int8-256", "openvino", "int8", 256),
]


def passages(data_dir: Path, tokenizer, n: int) -> list[str]:
    """The first n corpus documents, each cut to its first CHUNK_TOKENS tokens."""
    out = []
    for doc in load_beir(data_dir).corpus[:n]:
        ids = tokenizer(doc.document_text(), add_special_tokens=False)["input_ids"][:CHUNK_TOKENS]
        out.append(tokenizer.decode(ids))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", type=Path, default=REPO.parent / "shared" / "eval" / "scifact")
    ap.add_argument("--queries", type=int, default=15)
    ap.add_argument("--top", type=int, default=20, help="passages reranked per query")
    args = ap.parse_args(argv)

    from transformers import AutoTokenizer

    dataset = load_beir(args.scifact)
    queries = [q for _, q in zip(range(args.queries), dataset.queries.values())]
    tokenizer_dir = resolve_model_path(load_settings(), "embedder")
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    texts = passages(args.scifact, tokenizer, args.top * args.queries)
    sets = [[texts[(i * args.top + j) % len(texts)] for j in range(args.top)] for i in range(len(queries))]
    report: dict = {
        "model": "random-weight BertForSequenceClassification, MiniLM-L6 shape (384/6/12/1536)",
        "pairs": args.top,
        "passage_tokens": CHUNK_TOKENS,
        "queries": len(queries),
        "cpus": len(os.sched_getaffinity(0)),
        "load_before": os.getloadavg()[0],
        "configs": {},
    }
    with tempfile.TemporaryDirectory(prefix="localrag-rerank-") as tmp:
        model = random_cross_encoder(tokenizer_dir, Path(tmp) / "ce")
        baseline = None
        for name, backend, precision, max_length in CONFIGS:
            reranker = Reranker(model, max_length=max_length, precision=precision, backend=backend)
            lat, _ = latency(lambda i: reranker.score(queries[i], sets[i]), len(queries))  # noqa: B023 - called here
            baseline = baseline or lat["p50_ms"]
            report["configs"][name] = {**lat, "vs_baseline": round(baseline / lat["p50_ms"], 2)}
            print(json.dumps({name: report["configs"][name]}), file=sys.stderr, flush=True)
    report["load_after"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
