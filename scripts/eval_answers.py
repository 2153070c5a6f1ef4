#!/usr/bin/env python
"""Answer-quality evaluation: ask a question set over a folder and score citations and abstentions.

    .venv/bin/python scripts/eval_answers.py --folder docs --questions tests/data/docs_questions.jsonl \
        --llm none
    .venv/bin/python scripts/eval_answers.py --folder docs --questions tests/data/docs_questions.jsonl \
        --model qwen2.5-coder-1.5b-instruct-q4_k_m --k 4

The folder is indexed into --index (default: a fresh temporary directory; an existing index is
reused and updated incrementally). Each question gets a fresh, unpersisted ChatSession, as a
user's first question would. `expected_path` in the question set is relative to the current
directory (e.g. "docs/models.md") and is mapped to the index's paths (relative to --folder).

Prints JSON: {"settings", "index", "metrics" (localrag.eval.answers.summarize), "abstention"
(correct/false abstention for a range of thresholds of each check, from this run's scores:
"min_dense", the retrieval gate, meaningful with --min-dense 0 so no question was cut short;
"max_unsupported", the support check after generation, meaningful with --max-unsupported 1 or
a threshold below the configured one; "max_not_found", the model's probability of opening with
the not-found reply, meaningful with --max-not-found 0.999), "rows" (one per question)}.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localrag.chat import (  # noqa: E402
    ChatSession,
    Done,
    Sources,
    Token,
    best_dense,
    reply_support,
    starts_not_found,
)
from localrag.config import load_settings  # noqa: E402
from localrag.errors import LocalragError  # noqa: E402
from localrag.eval.answers import (  # noqa: E402
    CitedSource,
    Outcome,
    Question,
    abstention_table,
    is_correct,
    load_questions,
    not_found_table,
    summarize,
    support_table,
    verdict_of,
)
from localrag.index import Index  # noqa: E402
from localrag.store.tokenize import tokenize  # noqa: E402
from localrag.types import Answer  # noqa: E402

_STOP = threading.Event()  # set by SIGTERM / Ctrl-C
THRESHOLDS = [round(0.20 + 0.025 * i, 3) for i in range(17)]  # 0.20 .. 0.60
SUPPORT_THRESHOLDS = [0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.75, 1.0]
NOT_FOUND_THRESHOLDS = [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5]
ANSWER_CHARS = 400


def relative_to_folder(expected: str, folder: Path) -> str:
    """'docs/models.md' with folder 'docs' -> 'models.md' (the index stores folder-relative paths)."""
    try:
        return (Path.cwd() / expected).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return expected


def ask_one(session: ChatSession, question: Question) -> tuple[Outcome, Answer, str]:
    """Ask one question: its outcome, the answer, and the reply as streamed."""
    t0 = time.perf_counter()
    sources_ms: float | None = None
    first_token_ms: float | None = None
    answer: Answer | None = None
    reply: list[str] = []  # as streamed, before the session's checks rewrite it
    for event in session.ask_stream(question.question):
        now = (time.perf_counter() - t0) * 1000
        if isinstance(event, Sources):
            sources_ms = now
        elif isinstance(event, Token):
            reply.append(event.text)
            if first_token_ms is None:
                first_token_ms = now
        elif isinstance(event, Done):
            answer = event.answer
    assert answer is not None
    total_ms = (time.perf_counter() - t0) * 1000
    numbered = answer.sources
    cited = [
        CitedSource(h.path, h.heading, h.line_start, h.line_end)
        for c in answer.citations
        if 1 <= c.n <= len(numbered)
        for h in [numbered[c.n - 1]]
    ]
    outcome = Outcome(
        question_id=question.id,
        abstained=answer.abstained,
        cited=cited,
        source_paths=[h.path for h in answer.sources],
        generated=answer.tokens.prompt > 0,
        sources_ms=sources_ms,
        first_token_ms=first_token_ms,
        total_ms=total_ms,
        completion_tokens=answer.tokens.completion,
        prompt_tokens=answer.tokens.prompt,
        verdict=None if answer.abstained else verdict_of(answer.text),
    )
    return outcome, answer, "".join(reply)


def abstained_before_support_check(answer: Answer, reply: str) -> bool:
    """Whether the answer abstained for a reason other than the support check: it cited nothing
    (weak evidence, not found, uncited) or the reply opened with the not-found sentence."""
    return answer.abstained and (not answer.citations or starts_not_found(reply))


def evidence_features(question: str, answer: Answer, reply: str) -> dict:
    """Retrieval scores available without a cross-encoder, and the support check of a cited
    reply, for abstention calibration."""
    hits = answer.sources
    top = hits[0] if hits else None
    q_terms = set(tokenize(question, query=True))
    support = reply_support(question, reply, hits) if answer.citations else None
    return {
        "top_dense": best_dense(hits),
        "rank1_dense": top.scores.dense if top else None,
        "top_bm25": max((h.scores.bm25 or 0.0 for h in hits), default=None),
        "top_terms_matched": round(len(top.matched_terms) / len(q_terms), 3) if top and q_terms else None,
        "unsupported_share": round(support.unsupported_share, 3) if support else None,
        "unsupported_terms": support.unsupported if support else [],
        "not_found_probability": answer.not_found_probability,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--folder", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--llm", choices=["llama-cpp", "openai", "none"], default=None)
    p.add_argument("--model", default=None, help="LLM registry name (default: the configured one)")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--index", type=Path, default=None, help="index directory (reused if it exists)")
    p.add_argument("--min-dense", type=float, default=None, help="override retrieval.min_dense")
    p.add_argument("--max-unsupported", type=float, default=None, help="override llm.max_unsupported")
    p.add_argument("--max-not-found", type=float, default=None,
                   help="override llm.max_not_found (0.999: measured for every question, never applied)")
    p.add_argument("--only", default=None, help="comma-separated question ids, asked in this order")
    p.add_argument("--progress", action="store_true", help="one line per question on stderr")
    args = p.parse_args(argv)

    questions = load_questions(args.questions)
    if args.only:
        by_id = {q.id: q for q in questions}
        questions = [by_id[i] for i in args.only.split(",") if i in by_id]  # in the order given
    if args.limit:
        questions = questions[: args.limit]
    folder = args.folder.resolve()
    questions = [
        Question(**{**_fields(q), "expected_path": relative_to_folder(q.expected_path, folder)})
        if q.expected_path
        else q
        for q in questions
    ]

    tmp = None
    index_dir = args.index
    if index_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="eval-answers-")
        index_dir = Path(tmp.name) / "index"
    settings = load_settings(
        overrides={
            "index": str(index_dir),
            "retrieval.k": args.k,
            "retrieval.min_dense": args.min_dense,
            "llm.max_unsupported": args.max_unsupported,
            "llm.max_not_found": args.max_not_found,
            "llm.backend": args.llm,
            "llm.model": args.model,
        }
    )
    try:
        idx = Index.open(index_dir, settings, create=True)
        t = time.perf_counter()
        summary = idx.add(folder)
        index_s = time.perf_counter() - t
        llm = idx.llm
        rows = []
        outcomes = []
        features = []
        support = []
        not_found = []  # (answerable, abstained, correct, P(not found)) for the llm.max_not_found table
        interrupted = False
        signal.signal(signal.SIGTERM, _interrupt)
        for q in questions:
            session = ChatSession(idx.searcher, llm, settings)  # fresh and not persisted
            try:
                outcome, answer, reply = ask_one(session, q)
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: report the questions answered so far
                interrupted = True
                break
            except LocalragError:
                if not _STOP.is_set():
                    raise
                interrupted = True  # the signal landed in llama.cpp's abort callback and failed the decode
                break
            outcomes.append(outcome)
            feats = evidence_features(q.question, answer, reply)
            features.append((q.answerable, feats["top_dense"] if feats["top_dense"] is not None else 0.0))
            support.append((q.answerable, abstained_before_support_check(answer, reply), feats["unsupported_share"]))
            correct = is_correct(q, outcome)
            not_found.append((q.answerable, answer.abstained, correct, answer.not_found_probability))
            row = {
                "id": q.id,
                "answerable": q.answerable,
                "correct": correct,
                "abstained": outcome.abstained,
                "expected": q.expected_path,
                "cited": sorted({c.path for c in outcome.cited}),
                "verdict": outcome.verdict,
                "expected_verdict": q.expected_verdict,
                "sources": outcome.source_paths,
                "sources_ms": _r(outcome.sources_ms),
                "first_token_ms": _r(outcome.first_token_ms),
                "total_ms": _r(outcome.total_ms),
                "completion_tokens": outcome.completion_tokens,
                "prompt_tokens": answer.tokens.prompt,
                **feats,
                "answer": answer.text[:ANSWER_CHARS],
            }
            rows.append(row)
            if args.progress:
                print(
                    f"{q.id} {'ok ' if row['correct'] else 'BAD'} abst={int(outcome.abstained)} "
                    f"dense={row['top_dense']} ttft={row['first_token_ms']} {q.question[:60]}",
                    file=sys.stderr,
                    flush=True,
                )
        report = {
            "settings": {
                "folder": str(args.folder),
                "questions": str(args.questions),
                "llm": settings.llm.backend,
                "model": settings.llm.model if settings.llm.backend == "llama-cpp" else llm.name,
                "k": settings.retrieval.k,
                "min_dense": settings.retrieval.min_dense,
                "min_score": settings.retrieval.min_score,
                "max_unsupported": settings.llm.max_unsupported,
                "max_not_found": settings.llm.max_not_found,
                "reranker": idx.reranker is not None,
                "n_threads": settings.llm.n_threads,
                "load_avg": os.getloadavg()[0],
                "interrupted": interrupted,
            },
            "index": {
                **{key: summary.get(key) for key in ("added", "updated", "unchanged", "chunks")},
                "seconds": round(index_s, 1),
            },
            "metrics": summarize(questions, outcomes),
            "abstention": {
                "min_dense": abstention_table(features, THRESHOLDS),
                "max_unsupported": support_table(support, SUPPORT_THRESHOLDS),
                "max_not_found": not_found_table(not_found, NOT_FOUND_THRESHOLDS),
            },
            "rows": rows,
        }
        idx.close()
    except LocalragError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    _STOP.set()
    raise KeyboardInterrupt


def _fields(q: Question) -> dict:
    return {name: getattr(q, name) for name in Question.__dataclass_fields__}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


if __name__ == "__main__":
    sys.exit(main())
