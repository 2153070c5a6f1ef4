"""scripts/make_scifact_questions.py on a small SciFact-shaped dataset with evidence annotations."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# claim id -> (claim, cited abstract, SciFact annotation of that abstract or None = NOT ENOUGH INFO)
CLAIMS = {
    str(i): (f"Claim number {i} holds.", str(1000 + i), label)
    for i, label in enumerate(
        ["SUPPORT", "CONTRADICT", None, "SUPPORT", None, None, "CONTRADICT", None, None, "SUPPORT"], 1
    )
}


def _builder():
    spec = importlib.util.spec_from_file_location(
        "make_scifact_questions", REPO / "scripts" / "make_scifact_questions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scifact(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    docs = [str(1000 + i) for i in range(1, 21)]  # SciFact ids are numbers
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d, "title": f"Title {d}", "text": f"Abstract of {d}."}) + "\n" for d in docs),
        encoding="utf-8",
    )
    queries = []
    for qid, (claim, doc, label) in CLAIMS.items():
        meta = {doc: [{"sentences": [0], "label": label}]} if label else {}
        queries.append({"_id": qid, "text": claim, "metadata": meta})
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{doc}\t1\n" for q, (_, doc, _) in CLAIMS.items()),
        encoding="utf-8",
    )
    return root


def test_only_annotated_evidence_is_answerable(tmp_path):
    scifact = _scifact(tmp_path / "scifact")
    docs, questions = tmp_path / "docs", tmp_path / "q.jsonl"
    summary = _builder().build(scifact, docs, questions, n_ans=3, n_unans=4, n_distract=5, seed=1)

    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines()]
    assert summary == {"documents": 3 + 5, "answerable": 3, "unanswerable": 4}
    written = {p.stem for p in docs.glob("*.md")}
    for row in rows:
        claim, doc, label = CLAIMS[row["id"][1:]]
        assert row["question"] == f"Is it true that claim number {row['id'][1:]} holds?"
        if row["answerable"]:
            assert label is not None, "a NOT ENOUGH INFO claim was made answerable"
            assert row["label"] == label
            assert row["expected_verdict"] == {"SUPPORT": "yes", "CONTRADICT": "no"}[label]
            assert row["expected_path"] == (docs / f"{doc}.md").as_posix()
            assert (docs / f"{doc}.md").read_text(encoding="utf-8") == f"# Title {doc}\n\nAbstract of {doc}.\n"
        else:
            assert doc not in written, "an unanswerable claim's cited abstract is in the folder"


def test_not_enough_info_claims_fill_the_unanswerable_side(tmp_path):
    scifact = _scifact(tmp_path / "scifact")
    docs, questions = tmp_path / "docs", tmp_path / "q.jsonl"
    _builder().build(scifact, docs, questions, n_ans=5, n_unans=5, n_distract=0, seed=7)
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines()]
    answerable = {r["id"][1:] for r in rows if r["answerable"]}
    # all five annotated claims are answerable; what is left for the other side is the NEI ones
    assert answerable == {q for q, (_, _, label) in CLAIMS.items() if label}
    assert {r["id"][1:] for r in rows if not r["answerable"]} == {q for q, (_, _, label) in CLAIMS.items() if not label}
