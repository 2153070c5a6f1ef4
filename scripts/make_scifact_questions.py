#!/usr/bin/env python
"""Build the SciFact answer-evaluation set: abstracts written out as Markdown files + questions.

    .venv/bin/python scripts/make_scifact_questions.py ../shared/eval/scifact

Chooses (deterministically, --seed) test claims that have exactly one cited abstract:
  - `--answerable` claims whose cited abstract holds SciFact's annotated evidence for them
    (SUPPORT or CONTRADICT sentences in queries.jsonl's metadata); that abstract is written
    out (expected_path = that file, `label` = the annotation, `expected_verdict` "yes" for
    SUPPORT and "no" for CONTRADICT);
  - `--unanswerable` claims whose cited abstracts are NOT written out (nor any abstract cited
    for them in queries.jsonl's evidence metadata), so the folder holds no evidence for them;
  - `--distractors` other abstracts, none of them evidence for an unanswerable claim.
A claim SciFact annotates NOT ENOUGH INFO (cited, but no evidence sentence: empty metadata) is
never answerable: its abstract is about the topic but, by the annotators' reading, does not say
whether the claim holds, so "not found" is a right reply to it. Such claims serve only as
unanswerable ones (their cited abstract not written out).
Each abstract becomes DOCS/<corpus id>.md ("# title", blank line, abstract). Each claim is
asked as "Is it true that <claim>?". expected_path is relative to the current directory.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

DEFAULT_DOCS = Path("tests/data/scifact_docs")
DEFAULT_QUESTIONS = Path("tests/data/scifact_questions.jsonl")
# Claims checked by reading the top retrieved abstracts and found answerable from a distractor
# after all: they are never used as unanswerable questions.
NOT_UNANSWERABLE = {
    "1100": "'Statins increase blood cholesterol': distractor 21557614 says statins inhibit cholesterol synthesis",
}


def as_question(claim: str) -> str:
    """'Aspirin lowers X.' -> 'Is it true that aspirin lowers X?' (acronyms keep their case)."""
    c = claim.strip().rstrip(".").strip()
    if len(c) > 1 and c[0].isupper() and c[1].islower():
        c = c[0].lower() + c[1:]
    return f"Is it true that {c}?"


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path: Path) -> dict[str, set[str]]:
    rels: dict[str, set[str]] = {}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if int(row["score"]) > 0:
                rels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return rels


def build(
    scifact: Path, docs_dir: Path, questions_path: Path, n_ans: int, n_unans: int, n_distract: int, seed: int
) -> dict:
    corpus = {d["_id"]: d for d in read_jsonl(scifact / "corpus.jsonl")}
    queries = {q["_id"]: q for q in read_jsonl(scifact / "queries.jsonl")}
    qrels = read_qrels(scifact / "qrels" / "test.tsv")
    rng = random.Random(seed)

    def evidence(qid: str) -> set[str]:
        meta = queries[qid].get("metadata") or {}
        return set(qrels.get(qid, set())) | {str(k) for k in meta}

    def label(qid: str) -> str | None:
        """SciFact's annotation of the claim's one cited abstract; None for NOT ENOUGH INFO."""
        (doc,) = qrels[qid]
        labels = {e["label"] for e in ((queries[qid].get("metadata") or {}).get(doc) or [])}
        return "/".join(sorted(labels)) or None

    single = sorted((q for q, docs in qrels.items() if len(docs) == 1 and q in queries), key=int)
    rng.shuffle(single)
    answerable = [q for q in single if label(q)][:n_ans]
    written = {next(iter(qrels[q])) for q in answerable}
    rest = [q for q in single if q not in answerable]
    unanswerable = [q for q in rest if not (evidence(q) & written) and q not in NOT_UNANSWERABLE][:n_unans]
    forbidden = set().union(*(evidence(q) for q in unanswerable)) if unanswerable else set()
    pool = sorted(d for d in corpus if d not in written and d not in forbidden)
    written |= set(rng.sample(pool, n_distract))

    docs_dir.mkdir(parents=True, exist_ok=True)
    for old in docs_dir.glob("*.md"):
        if old.stem not in written:
            old.unlink()
    for doc_id in sorted(written, key=int):
        d = corpus[doc_id]
        text = f"# {d['title'].strip()}\n\n{d['text'].strip()}\n"
        (docs_dir / f"{doc_id}.md").write_text(text, encoding="utf-8")

    rows = []
    for q in answerable:
        doc = next(iter(qrels[q]))
        annotation = label(q)
        rows.append(
            {
                "id": f"s{q}",
                "question": as_question(queries[q]["text"]),
                "answerable": True,
                "expected_path": (docs_dir / f"{doc}.md").as_posix(),
                "claim": queries[q]["text"],
                "label": annotation,
                "expected_verdict": {"SUPPORT": "yes", "CONTRADICT": "no"}.get(annotation),
            }
        )
    for q in unanswerable:
        rows.append(
            {
                "id": f"s{q}",
                "question": as_question(queries[q]["text"]),
                "answerable": False,
                "claim": queries[q]["text"],
            }
        )
    questions_path.parent.mkdir(parents=True, exist_ok=True)
    questions_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return {"documents": len(written), "answerable": len(answerable), "unanswerable": len(unanswerable)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("scifact", type=Path, help="BEIR SciFact folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    p.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    p.add_argument("--answerable", type=int, default=40)
    p.add_argument("--unanswerable", type=int, default=12)
    p.add_argument("--distractors", type=int, default=260)
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args(argv)
    if not (args.scifact / "corpus.jsonl").is_file():
        print(f"error: no corpus.jsonl in {args.scifact}", file=sys.stderr)
        return 2
    summary = build(
        args.scifact, args.docs, args.questions, args.answerable, args.unanswerable, args.distractors, args.seed
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
