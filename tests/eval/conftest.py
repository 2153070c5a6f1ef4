"""A tiny BEIR-format dataset for the eval tests (easy queries, one relevant document each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DOCS = [
    ("tom", "Tomato feeding", "Tomatoes get seaweed fertiliser every two weeks from June onwards."),
    ("cuc", "Cucumbers", "Cucumbers need warmth, a greenhouse and plenty of water."),
    ("bee", "Pollinators", "Bumblebees pollinate squash flowers early in the morning."),
    ("bat", "Batteries", "Lithium cells degrade faster when stored fully charged in heat."),
    ("tea", "Green tea", "Steep green tea at eighty degrees for two minutes to avoid bitterness."),
]
QUERIES = {
    "q1": "what fertiliser do tomatoes get",
    "q2": "which insects pollinate squash",
    "q3": "how should lithium batteries be stored",
    "q4": "temperature for brewing green tea",
}
QRELS = {"q1": "tom", "q2": "bee", "q3": "bat", "q4": "tea"}


@pytest.fixture
def tiny_beir(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in DOCS), encoding="utf-8"
    )
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()), encoding="utf-8"
    )
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items()), encoding="utf-8"
    )
    return root
