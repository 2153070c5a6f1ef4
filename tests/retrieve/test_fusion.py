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


def test_overlapping_chunks_of_one_passage_merge_into_one_source():
    from localrag.retrieve.searcher import merge_overlapping
    from localrag.types import Hit

    doc = "alpha beta gamma delta epsilon zeta eta theta"
    a = Hit(1, "a.md", doc[0:22], char_start=0, char_end=22, line_start=1, line_end=2)  # alpha .. delta
    b = Hit(2, "b.md", "other file", char_start=0, char_end=10)
    c = Hit(3, "a.md", doc[11:33], char_start=11, char_end=33, line_start=2, line_end=3)  # gamma .. zeta
    d = Hit(4, "a.md", doc[40:], char_start=40, char_end=len(doc), line_start=5, line_end=5)  # far: stays apart
    merged = merge_overlapping([a, b, c, d])
    assert [h.chunk_id for h in merged] == [1, 2, 4]
    assert merged[0].text == doc[0:33]
    assert (merged[0].char_start, merged[0].char_end, merged[0].line_start, merged[0].line_end) == (0, 33, 1, 3)
    contained = Hit(5, "a.md", doc[2:10], char_start=2, char_end=10)
    assert merge_overlapping([a, contained])[0].text == a.text
