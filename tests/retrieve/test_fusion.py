from localrag.retrieve.fusion import rrf


def test_rrf_scores_are_sum_of_reciprocal_ranks():
    fused = dict(rrf([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == 1 / 61 + 1 / 62
    assert fused["b"] == 1 / 62
    assert fused["c"] == 1 / 63 + 1 / 61


def test_rrf_orders_by_fused_score_and_agreement_wins():
    order = [item for item, _ in rrf([["x", "y", "z"], ["y", "z", "x"]], k=60)]
    assert order == ["y", "x", "z"] or order == ["y", "z", "x"]
    assert order[0] == "y"  # ranked 2 and 1 beats ranked 1 and 3


def test_rrf_weights_and_zero_weight_lists():
    only_second = [item for item, _ in rrf([["a", "b"], ["b", "a"]], weights=[0.0, 1.0])]
    assert only_second == ["b", "a"]
    weighted = dict(rrf([["a"], ["b"]], k=10, weights=[2.0, 1.0]))
    assert weighted == {"a": 2 / 11, "b": 1 / 11}


def test_rrf_ties_keep_first_seen_order_and_empty_input():
    assert [i for i, _ in rrf([["p", "q"], ["q", "p"]])] == ["p", "q"]
    assert rrf([[], []]) == []
