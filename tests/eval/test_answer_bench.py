"""The answer benchmark's question sets and folder builder (docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path

import pytest

from localrag.eval.answers import load_questions

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "tests" / "data" / "answer_bench"
FOLDERS = ["science", "manual", "software", "code", "pdfs", "notes", "formats"]


def _builder():
    spec = importlib.util.spec_from_file_location("make_answer_bench", REPO / "scripts" / "make_answer_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def questions():
    return {name: load_questions(BENCH / f"{name}.jsonl") for name in FOLDERS}


def test_the_benchmark_has_the_size_and_mix_it_promises(questions):
    everything = [q for qs in questions.values() for q in qs]
    assert len(everything) >= 200 and len({q.id for q in everything}) == len(everything)
    assert sum(not q.answerable for q in everything) / len(everything) >= 0.2
    kinds = Counter(q.kind for q in everything)
    assert {"paraphrase", "yesno", "two-fact", "number", "why", "near-miss"} <= set(kinds)
    for name, qs in questions.items():
        assert len(qs) >= 30, name
        assert all(q.answerable == (q.kind != "near-miss") for q in qs), name


def test_every_answerable_question_has_gold_patterns_a_file_and_a_split(questions):
    for qs in questions.values():
        for q in qs:
            assert q.split in ("dev", "test"), q.id
            if q.answerable:
                assert q.expected_path and q.gold, q.id
                assert all(re.compile(p) for p in q.gold)
            if q.kind == "yesno":
                assert q.expected_verdict in ("yes", "no"), q.id


def test_no_gold_pattern_is_satisfied_by_restating_the_question(questions):
    for qs in questions.values():
        for q in qs:
            for pattern in q.gold:
                assert not re.search(pattern, q.question, re.IGNORECASE), (q.id, pattern)


def test_the_split_is_balanced_per_folder(questions):
    for name, qs in questions.items():
        for answerable in (True, False):
            group = Counter(q.split for q in qs if q.answerable == answerable)
            assert abs(group["dev"] - group["test"]) <= 1, (name, answerable, group)


def test_the_builder_copies_the_folders_from_the_repo(tmp_path, questions):
    builder = _builder()
    assert builder.main(["--out", str(tmp_path), "--only", "science,manual"]) == 0
    for name in ("science", "manual"):
        for q in questions[name]:
            if q.answerable:
                assert (tmp_path / name / q.expected_path).is_file(), q.id
    assert not (tmp_path / "manual" / "benchmarks.md").exists()  # its figures change
    assert not (tmp_path / "manual" / "serving.md").exists()  # the manual as the questions were written
    with pytest.raises(SystemExit):
        builder.main(["--out", str(tmp_path), "--only", "nonsense"])


@pytest.mark.slow
def test_the_formats_folder_holds_every_answer_where_the_question_says(tmp_path, questions):
    """The generated formats folder, loaded by localrag's own loaders (OCR included): the gold
    patterns of every answerable question (but yes/no ones, whose gold is the verdict's wording)
    are found in the text of its expected file, on its expected page for a scan."""
    import json

    from localrag.config import ChunkingSettings
    from localrag.ingest import load_document

    builder = _builder()
    assert builder.main(["--out", str(tmp_path), "--only", "formats"]) == 0
    folder = tmp_path / "formats"
    docs = {p.name: load_document(p.name, p.read_bytes(), ChunkingSettings()) for p in folder.iterdir()}
    pages = {(d := json.loads(line))["id"]: d.get("expected_page") for line in (BENCH / "formats.jsonl").open()}
    assert len(docs) == 11
    for q in questions["formats"]:
        if not q.answerable:
            continue
        doc = docs[q.expected_path]
        page = pages[q.id]
        text = doc.text if page is None else next(s.text for s in doc.sections if s.page == page)
        if q.kind != "yesno":
            for pattern in q.gold:
                assert re.search(pattern, text, re.IGNORECASE), (q.id, pattern)
