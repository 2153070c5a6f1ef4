"""scripts/eval_answers.py end to end with --llm none: real MiniLM, real index, the notes fixture."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTES_QUESTIONS = [
    {
        "id": "a1",
        "question": "What fertiliser do the tomatoes get?",
        "answerable": True,
        "expected_path": "notes/garden/tomatoes.md",
    },
    {
        "id": "a2",
        "question": "What should the boiler pressure read?",
        "answerable": True,
        "expected_path": "notes/home/boiler.md",
    },
]


def _script():
    spec = importlib.util.spec_from_file_location("eval_answers", REPO / "scripts" / "eval_answers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_relative_to_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    eval_answers = _script()
    assert eval_answers.relative_to_folder("docs/models.md", tmp_path / "docs") == "models.md"
    assert eval_answers.relative_to_folder("elsewhere/x.md", tmp_path / "docs") == "elsewhere/x.md"


def _extractive_args(tmp_path, notes, rows: list[dict]) -> list[str]:
    """The script's arguments for `rows` (written to q.jsonl) over `notes`: extractive answers,
    k = 3, indexes kept under tmp_path/indexes."""
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return ["--folder", str(notes), "--questions", str(questions), "--llm", "none", "--k", "3",
            "--index-root", str(tmp_path / "indexes")]  # fmt: skip


@pytest.mark.slow
def test_eval_answers_with_extractive_backend(tmp_path, notes, models_dir, capsys, monkeypatch):
    monkeypatch.setenv("LOCALRAG_MODELS", str(models_dir))
    monkeypatch.chdir(tmp_path)  # expected paths are relative to the current directory
    rows = [*NOTES_QUESTIONS, {"id": "u1", "question": "zebra quasar xylophone?", "answerable": False}]
    args = [*_extractive_args(tmp_path, notes, rows), "--sweep"]

    assert _script().main(args) == 0
    report = json.loads(capsys.readouterr().out)
    m = report["metrics"]
    assert m["questions"] == 3 and m["answerable"] == 2 and m["unanswerable"] == 1
    assert m["citation_accuracy"] == 1.0
    assert m["abstention_accuracy"] == 1.0  # nonsense is far below the dense threshold
    rows_by_id = {r["id"]: r for r in report["rows"]}
    assert rows_by_id["a1"]["cited"] == ["garden/tomatoes.md"] and rows_by_id["a1"]["grade"] == "correct"
    assert rows_by_id["u1"]["grade"] == "correct_abstention" and rows_by_id["u1"]["abstain_reason"] == "weak_retrieval"
    assert rows_by_id["u1"]["abstained"] and rows_by_id["u1"]["top_dense"] < report["settings"]["min_dense"]
    # sources are shown before the first token of the answer
    assert all(r["sources_ms"] <= r["first_token_ms"] for r in report["rows"])
    index = report["sets"]["q"]["index"]
    assert report["settings"]["k"] == 3 and index["chunks"] > 0 and index["added"] > 0
    assert report["sets"]["q"]["metrics"] == m  # one set: the pooled metrics are its own
    assert [t["threshold"] for t in report["min_dense_table"]][:2] == [0.1, 0.125]
    # extractive answers quote the sources: every sentence supported, whatever the coverage threshold
    sweep = [r for r in report["sweep"] if r["min_dense"] == -1.0]
    assert sweep and all(r["correct"] == 1.0 and r["false_abstention"] == 0.0 for r in sweep)
    assert m["supported_sentences"] >= 2 and m["supported_lacking_fact"] == 0

    # the index is reused: a second run indexes nothing new
    assert _script().main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["sets"]["q"]["index"]["added"] == 0 and again["sets"]["q"]["index"]["unchanged"] == index["added"]
    assert again["metrics"] == {**m, **{k: again["metrics"][k] for k in m if k.endswith("_ms") or k.endswith("_s")}}


@pytest.mark.slow
def test_replay_decides_the_recorded_replies_again(tmp_path, notes, models_dir, capsys, monkeypatch):
    monkeypatch.setenv("LOCALRAG_MODELS", str(models_dir))
    monkeypatch.chdir(tmp_path)
    args = _extractive_args(tmp_path, notes, NOTES_QUESTIONS)
    assert _script().main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["grade"] for r in report["rows"]] == ["correct", "correct"]
    # a reply the sources do not hold, recorded for a1: the replay abstains on it; a2 is unchanged
    report["rows"][0]["draft"] = "The tomatoes get 40 g of blood meal."
    recorded = tmp_path / "run.json"
    recorded.write_text(json.dumps(report), encoding="utf-8")

    assert _script().main([*args, "--replay", str(recorded)]) == 0
    replayed = json.loads(capsys.readouterr().out)
    by_id = {r["id"]: r for r in replayed["rows"]}
    assert by_id["a1"]["grade"] == "false_abstention" and by_id["a1"]["abstain_reason"] == "unsupported"
    assert by_id["a1"]["draft"] == "The tomatoes get 40 g of blood meal."
    assert by_id["a2"]["grade"] == "correct" and by_id["a2"]["answer"] == report["rows"][1]["answer"]
    assert by_id["a2"]["first_token_ms"] == report["rows"][1]["first_token_ms"]  # the recorded time
    assert replayed["settings"]["replay"] == str(recorded) and replayed["settings"]["replay_missing"] == []


@pytest.mark.slow
def test_the_classic_reference_row_runs_the_completion_prompt(tmp_path, notes, models_dir, capsys, monkeypatch):
    pytest.importorskip("llama_cpp")
    monkeypatch.setenv("LOCALRAG_MODELS", str(models_dir))
    monkeypatch.chdir(tmp_path)
    questions = tmp_path / "q.jsonl"
    row = {
        "id": "a1",
        "question": "What fertiliser do the tomatoes get?",
        "answerable": True,
        "expected_path": "notes/garden/tomatoes.md",
        "gold": ["seaweed"],
    }
    questions.write_text(json.dumps(row) + "\n", encoding="utf-8")
    args = [
        "--folder",
        str(notes),
        "--questions",
        str(questions),
        "--model",
        "smollm2-135m-instruct",
        "--k",
        "2",
        "--index-root",
        str(tmp_path / "indexes"),
        "--classic",
    ]
    assert _script().main(args) == 0
    report = json.loads(capsys.readouterr().out)
    (only,) = report["rows"]
    assert only["answer"] and only["cited"] == [] and only["sentences"] == []  # no citations, no gates
    assert only["first_token_ms"] is not None and report["metrics"]["gold_stated"] in (0.0, 1.0)
    assert "Helpful Answer:" in _script().CLASSIC_PROMPT
