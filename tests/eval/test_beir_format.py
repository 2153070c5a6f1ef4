"""Reading BEIR-format folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localrag.errors import ConfigError, LocalragError
from localrag.eval.beir_format import BeirDoc, load_beir

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "eval" / "scifact"


def write_dataset(root: Path, qrels: str = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq2\td3\t1\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    docs = [
        {"_id": "d1", "title": "Tomatoes", "text": "Tomatoes get seaweed fertiliser.", "metadata": {}},
        {"_id": "d2", "title": "", "text": "Cucumbers like warmth.", "metadata": {}},
        {"_id": "d3", "title": "Bees", "text": "Bees pollinate squash.", "metadata": {}},
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    queries = [
        {"_id": "q1", "text": "what fertiliser do tomatoes get"},
        {"_id": "q2", "text": "who pollinates"},
        {"_id": "q3", "text": "unjudged query"},
    ]
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


def test_load_beir_keeps_only_judged_queries(tmp_path: Path) -> None:
    ds = load_beir(write_dataset(tmp_path / "tiny"))
    assert ds.name == "tiny"
    assert [d.doc_id for d in ds.corpus] == ["d1", "d2", "d3"]
    assert ds.queries == {"q1": "what fertiliser do tomatoes get", "q2": "who pollinates"}
    assert ds.qrels == {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 1}}


def test_document_text_joins_title_and_text() -> None:
    assert BeirDoc("1", "Title", "Body.").document_text() == "Title\n\nBody."
    assert BeirDoc("1", "  ", "Body.").document_text() == "Body."


@pytest.mark.parametrize(
    "qrels, message",
    [
        ("q1\td1\t1\n", "header"),
        ("query-id\tcorpus-id\tscore\nq1\td1\tyes\n", ":2:"),
        ("query-id\tcorpus-id\tscore\nq9\td1\t1\n", "not in queries.jsonl"),
    ],
)
def test_bad_qrels_are_user_errors(tmp_path: Path, qrels: str, message: str) -> None:
    root = write_dataset(tmp_path / "bad", qrels)
    with pytest.raises(LocalragError, match=message):
        load_beir(root)


def test_missing_files_and_bad_json_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such dataset folder"):
        load_beir(tmp_path / "nope")
    root = write_dataset(tmp_path / "x")
    with pytest.raises(ConfigError, match="qrels/dev.tsv|dev.tsv: not found"):
        load_beir(root, split="dev")
    (root / "corpus.jsonl").write_text('{"_id": "d1"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"corpus.jsonl:2: not valid JSON"):
        load_beir(root)
    (root / "corpus.jsonl").write_text('{"_id": "d1"}\n{"_id": "d1"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate document id"):
        load_beir(root)


@pytest.mark.skipif(not SCIFACT.is_dir(), reason="shared SciFact copy not present")
def test_scifact_shape() -> None:
    ds = load_beir(SCIFACT)
    assert len(ds.corpus) == 5183
    assert len(ds.queries) == 300
    assert sum(len(v) for v in ds.qrels.values()) == 339
