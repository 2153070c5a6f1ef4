"""Pure pieces of the BEIR runner: corpus file names and chunk -> document aggregation."""

from __future__ import annotations

import pytest

from localrag.eval.beir import aggregate_to_documents, doc_filename, doc_id_from_path, percentile_ms


@pytest.mark.parametrize("doc_id", ["4983", "a/b c", ".hidden", "ünï", "x%2Fy", "PMC.1"])
def test_doc_filenames_are_safe_and_reversible(doc_id: str) -> None:
    name = doc_filename(doc_id)
    assert "/" not in name and not name.startswith(".")
    assert name.endswith(".txt")
    assert doc_id_from_path(f"corpus/{name}") == doc_id


def test_aggregation_scores_a_document_by_its_best_chunk() -> None:
    scores = aggregate_to_documents(["b.txt", "a.txt", "b.txt", "c.txt", "a.txt"])
    assert list(scores) == ["b", "a", "c"]
    assert scores["b"] > scores["a"] > scores["c"]  # order of first (best) chunk, no ties


def test_percentiles() -> None:
    assert percentile_ms([], 50) == 0.0
    assert percentile_ms([1.0, 2.0, 3.0, 4.0], 50) == 2.5
