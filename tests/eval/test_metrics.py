"""Metrics against hand-computed answers and, where installed, pytrec_eval."""

from __future__ import annotations

import math
import random

import pytest

from localrag.eval.metrics import (
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    parse_metric,
    rank_documents,
    recall_at_k,
)

LOG3 = math.log2(3)


def test_rank_documents_breaks_ties_by_doc_id_descending() -> None:
    assert rank_documents({"a": 0.5, "d": 0.9, "b": 0.5, "c": 0.1}) == ["d", "b", "a", "c"]


def test_ndcg_uses_linear_gain_and_ideal_from_all_qrels() -> None:
    rels = {"a": 1, "b": 2, "c": 0, "z": 1}  # z is relevant but never retrieved
    ranking = ["d", "b", "a", "c"]
    dcg = 2 / LOG3 + 1 / 2  # b at rank 2, a at rank 3
    idcg = 2 + 1 / LOG3 + 1 / 2  # grades 2, 1, 1
    assert ndcg_at_k(ranking, rels, 10) == pytest.approx(dcg / idcg)
    # cut at 2: only b counts; ideal cut to the two best grades
    assert ndcg_at_k(ranking, rels, 2) == pytest.approx((2 / LOG3) / (2 + 1 / LOG3))


def test_ndcg_ignores_negative_grades_and_is_one_for_perfect_ranking() -> None:
    assert ndcg_at_k(["x", "b", "c"], {"x": -1, "b": 2, "c": 1}, 10) == pytest.approx(
        (2 / LOG3 + 1 / 2) / (2 + 1 / LOG3)
    )
    assert ndcg_at_k(["b", "c"], {"b": 2, "c": 1}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["b"], {"b": 0}, 10) == 0.0


def test_recall_and_mrr_respect_the_cutoff() -> None:
    rels = {"a": 1, "b": 1, "c": 0}
    ranking = ["c", "x", "a", "y", "b"]
    assert recall_at_k(ranking, rels, 3) == pytest.approx(0.5)
    assert recall_at_k(ranking, rels, 5) == pytest.approx(1.0)
    assert mrr_at_k(ranking, rels, 3) == pytest.approx(1 / 3)
    assert mrr_at_k(ranking, rels, 2) == 0.0  # c is judged but not relevant


def test_evaluate_means_over_judged_queries_and_zero_for_missing_runs() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    run = {"q1": {"a": 2.0, "x": 1.0}}  # q2 has no run -> zeros; q3 has no relevant doc -> skipped
    ev = evaluate(qrels, run, ["ndcg@10", "recall@1", "mrr@10"])
    assert set(ev.per_query) == {"q1", "q2"}
    assert ev.per_query["q1"] == {"ndcg@10": 1.0, "recall@1": 1.0, "mrr@10": 1.0}
    assert ev.per_query["q2"] == {"ndcg@10": 0.0, "recall@1": 0.0, "mrr@10": 0.0}
    assert ev.mean == {"ndcg@10": 0.5, "recall@1": 0.5, "mrr@10": 0.5}


@pytest.mark.parametrize("bad", ["ndcg", "ndcg@0", "map@10", "recall@x", "mrr@"])
def test_parse_metric_rejects_unknown_names(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_metric(bad)


def _random_case(seed: int) -> tuple[dict, dict]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(40)]
    qrels, run = {}, {}
    for q in range(25):
        qid = f"q{q}"
        judged = rng.sample(docs, rng.randint(1, 8))
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        # coarse scores so that ties are frequent
        run[qid] = {d: float(rng.randint(0, 5)) for d in rng.sample(docs, rng.randint(0, 30))}
    return qrels, run


@pytest.mark.parametrize("seed", range(5))
def test_matches_pytrec_eval(seed: int) -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels, run = _random_case(seed)
    ours = evaluate(qrels, run, ["ndcg@10", "ndcg@3", "recall@10", "recall@5", "mrr@10", "mrr@3"])
    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.3,10", "recall.5,10"}).evaluate(run)
    for qid, values in ours.per_query.items():
        ref = full.get(qid, {})
        assert values["ndcg@10"] == pytest.approx(ref.get("ndcg_cut_10", 0.0), abs=1e-9)
        assert values["ndcg@3"] == pytest.approx(ref.get("ndcg_cut_3", 0.0), abs=1e-9)
        assert values["recall@10"] == pytest.approx(ref.get("recall_10", 0.0), abs=1e-9)
        assert values["recall@5"] == pytest.approx(ref.get("recall_5", 0.0), abs=1e-9)
    # MRR@k == trec_eval recip_rank on the run cut to its top k (trec order)
    for k in (3, 10):
        cut = {
            q: {d: s for d, s in scores.items() if d in set(rank_documents(scores)[:k])} for q, scores in run.items()
        }
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
        for qid, values in ours.per_query.items():
            assert values[f"mrr@{k}"] == pytest.approx(rr.get(qid, {}).get("recip_rank", 0.0), abs=1e-9)
