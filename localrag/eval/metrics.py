"""Ranking metrics computed exactly as trec_eval / pytrec_eval compute them.

Conventions (checked against pytrec-eval-terrier in tests/eval/test_metrics.py):

- A run's documents are ranked by score descending, ties broken by document id
  descending (trec_eval sorts by `sim` then `strcmp(docno)`, both descending).
- nDCG@k (`ndcg_cut.k`): gain = the qrel grade (linear, not 2^grade; grades <= 0
  give no gain), discount 1/log2(rank + 1); the ideal DCG is built from all of the
  query's qrels, sorted by grade, cut at k.
- recall@k (`recall.k`): relevant documents (grade >= 1) in the top k / all relevant.
- MRR@k: 1/rank of the first relevant document within the top k, else 0
  (trec_eval's `recip_rank` on the run cut at k).
- The mean is taken over queries with at least one relevant document; a query
  missing from the run scores 0 (trec_eval's `-c`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Qrels = Mapping[str, Mapping[str, int]]  # query id -> doc id -> relevance grade
Run = Mapping[str, Mapping[str, float]]  # query id -> doc id -> score

DEFAULT_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
_METRIC_NAMES = ("ndcg", "recall", "mrr")


def rank_documents(scores: Mapping[str, float]) -> list[str]:
    """Document ids in trec_eval order: score descending, then doc id descending."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def ndcg_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gain; 0.0 when the query has no positively graded document."""
    ideal = sorted((g for g in rels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    if idcg == 0.0:
        return 0.0
    dcg = sum(rels.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]) if rels.get(doc, 0) > 0)
    return dcg / idcg


def recall_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (grade >= 1) found in the top k."""
    relevant = {doc for doc, g in rels.items() if g >= 1}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k, else 0."""
    for i, doc in enumerate(ranking[:k]):
        if rels.get(doc, 0) >= 1:
            return 1.0 / (i + 1)
    return 0.0


_FUNCTIONS = {"ndcg": ndcg_at_k, "recall": recall_at_k, "mrr": mrr_at_k}


def parse_metric(name: str) -> tuple[str, int]:
    """'ndcg@10' -> ('ndcg', 10). Raises ValueError for anything else."""
    base, sep, cut = name.partition("@")
    if base not in _FUNCTIONS or not sep or not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"unknown metric {name!r}: expected one of {_METRIC_NAMES} followed by @k, e.g. ndcg@10")
    return base, int(cut)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Per-query values and their means, keyed by metric name ('ndcg@10', ...)."""

    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]


def evaluate(qrels: Qrels, run: Run, metrics: Iterable[str] = DEFAULT_METRICS) -> Evaluation:
    """Score `run` against `qrels` for every query that has a relevant document."""
    parsed = [(name, *parse_metric(name)) for name in metrics]
    per_query: dict[str, dict[str, float]] = {}
    for qid, rels in qrels.items():
        if not any(g >= 1 for g in rels.values()):
            continue
        ranking = rank_documents(run.get(qid, {}))
        per_query[qid] = {name: _FUNCTIONS[base](ranking, rels, k) for name, base, k in parsed}
    n = len(per_query)
    mean = {name: (sum(q[name] for q in per_query.values()) / n if n else 0.0) for name, _, _ in parsed}
    return Evaluation(per_query=per_query, mean=mean)
