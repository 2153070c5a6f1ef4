#!/usr/bin/env python
"""Answer-quality evaluation: ask question sets over folders and grade the answers.

    # the answer benchmark (folders from scripts/make_answer_bench.py), dev half:
    .venv/bin/python scripts/eval_answers.py --bench tests/data/answer_bench --split dev --progress
    # decide the replies of an earlier run again with the current code (no generation):
    .venv/bin/python scripts/eval_answers.py --bench tests/data/answer_bench --split dev --replay run.json
    # one folder and question set (paths in the set relative to the current directory):
    .venv/bin/python scripts/eval_answers.py --folder docs --questions tests/data/docs_questions.jsonl

Rule: settings (prompts, thresholds) are chosen on `--split dev`; `--split test` is reported and
never tuned on (docs/benchmarks.md).

Each folder is indexed into --index-root/<folder> (reused and updated incrementally; default: a
temporary directory). Each question gets a fresh, unpersisted ChatSession, as a user's first
question would. Prints JSON: {"settings", "sets": {name: {"index", "metrics"}}, "metrics"
(all sets pooled; localrag.eval.answers.summarize), "sweep" (the attribution and abstention
thresholds and each gate switched off, recomputed from this run's replies without asking the
model again; run with --min-dense -1 so no question is cut off before the model), "rows"}.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localrag.chat import ChatSession, Done, Sources, Token, best_dense, decide  # noqa: E402
from localrag.config import Settings, load_settings  # noqa: E402
from localrag.errors import LocalragError  # noqa: E402
from localrag.eval.answers import (  # noqa: E402
    CitedSource,
    Outcome,
    Question,
    abstention_table,
    grade,
    lacks_fact,
    load_questions,
    summarize,
    verdict_of,
)
from localrag.generate.attribution import render  # noqa: E402
from localrag.generate.citations import resolve  # noqa: E402
from localrag.index import Index  # noqa: E402
from localrag.types import Answer  # noqa: E402

_STOP = threading.Event()  # set by SIGTERM / Ctrl-C
THRESHOLDS = [round(0.10 + 0.025 * i, 3) for i in range(17)]  # min_dense 0.10 .. 0.50
COVERAGE = [0.3, 0.4, 0.5, 0.6]
SIMILARITY = [0.6, 0.7, 2.0]  # 2.0: similarity never suffices
SUBJECT = [0.0, 0.2, 0.3]
ANSWER_CHARS = 500
REPO = Path(__file__).resolve().parents[1]


def relative_to_folder(expected: str, folder: Path) -> str:
    """'docs/models.md' with folder 'docs' -> 'models.md' (the index stores folder-relative paths)."""
    try:
        return (Path.cwd() / expected).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return expected


def cited_sources(answer: Answer) -> list[CitedSource]:
    numbered = answer.sources
    return [
        CitedSource(h.path, h.heading, h.line_start, h.line_end)
        for c in answer.citations
        if 1 <= c.n <= len(numbered)
        for h in [numbered[c.n - 1]]
    ]


def ask_one(session: ChatSession, question: Question) -> tuple[Outcome, Answer]:
    """Ask one question: its outcome and the answer."""
    t0 = time.perf_counter()
    sources_ms: float | None = None
    first_token_ms: float | None = None
    answer: Answer | None = None
    for event in session.ask_stream(question.question):
        now = (time.perf_counter() - t0) * 1000
        if isinstance(event, Sources):
            sources_ms = now
        elif isinstance(event, Token):
            if first_token_ms is None:
                first_token_ms = now
        elif isinstance(event, Done):
            answer = event.answer
    assert answer is not None
    total_ms = (time.perf_counter() - t0) * 1000
    outcome = Outcome(
        question_id=question.id,
        abstained=answer.abstained,
        cited=cited_sources(answer),
        source_paths=[h.path for h in answer.sources],
        generated=answer.tokens.prompt > 0,
        sources_ms=sources_ms,
        first_token_ms=first_token_ms,
        total_ms=total_ms,
        completion_tokens=answer.tokens.completion,
        prompt_tokens=answer.tokens.prompt,
        verdict=None if answer.abstained else verdict_of(answer.text),
        text=answer.text,
    )
    _count_supported(outcome, answer)
    return outcome, answer


def _recorded_times(outcome: Outcome, row: dict) -> None:
    """A replayed question that reached the model: the times and token counts it took then."""
    outcome.first_token_ms = row.get("first_token_ms")
    outcome.total_ms = row.get("total_ms")
    outcome.completion_tokens = row.get("completion_tokens") or 0


def _count_supported(outcome: Outcome, answer: Answer) -> None:
    supported = [s for s in answer.sentences if s.status == "supported" and s.source] if not answer.abstained else []
    outcome.supported_sentences = len(supported)
    outcome.supported_lacking_fact = sum(lacks_fact(s.text, answer.sources[s.source - 1].text) for s in supported)


class RecordedLLM:
    """The configured LLM with its replies taken from an earlier run's report (`--replay`): the
    prompt is built with the real tokenizer, so the same sources reach the "model", and every
    later step (gates, attribution, rendering) runs as the current code has it. Generation is
    greedy, so a recorded reply is what the model would write again for the same prompt."""

    def __init__(self, llm, drafts: dict[str, str | None]) -> None:
        self._llm = llm
        self._drafts = drafts
        self.question_id: str | None = None
        self.missing: list[str] = []  # questions that reach the model now but did not then

    def __getattr__(self, name: str):
        return getattr(self._llm, name)

    def opening_probability(self, messages, opening, cancel=None):
        return None  # not recorded; replays run with llm.max_not_found = 1

    def stream(self, messages, max_tokens, stop=None, cancel=None):
        draft = self._drafts.get(self.question_id or "")
        if draft is None:
            self.missing.append(self.question_id or "?")
            return
        yield draft


def recorded_drafts(report: Path) -> tuple[dict[str, str | None], dict[str, dict]]:
    """(question id -> the model's reply, question id -> the row) from a report of this script."""
    rows = {row["id"]: row for row in json.loads(report.read_text(encoding="utf-8"))["rows"]}
    return {i: (row.get("draft") or None) for i, row in rows.items()}, rows


# The classic LangChain RetrievalQA ("stuff") prompt: the ablation's reference row. No chat
# template, greedy, stopped at the first blank line; no citations, no gates.
CLASSIC_PROMPT = (
    "Use the following pieces of context to answer the question at the end. If you don't know the "
    "answer, just say that you don't know, don't try to make up an answer.\n\n{context}\n\n"
    "Question: {question}\nHelpful Answer:"
)


def ask_classic(idx: Index, llm, question: Question, k: int) -> tuple[Outcome, Answer]:
    """The reference row: the same hits in the classic completion prompt (llama.cpp only). Its
    answer cites nothing, so it is graded on the facts it states (`gold_stated`)."""
    t0 = time.perf_counter()
    hits = idx.searcher.search(question.question, k=k).hits
    prompt = CLASSIC_PROMPT.format(context="\n\n".join(h.text for h in hits), question=question.question)
    first = None
    pieces = []
    try:
        for chunk in llm._llama.create_completion(prompt, max_tokens=192, temperature=0.0, stop=["\n\n"], stream=True):
            first = first or (time.perf_counter() - t0) * 1000
            pieces.append(chunk["choices"][0]["text"])
    except RuntimeError:
        if _STOP.is_set():  # the signal landed inside llama_decode: report what is done
            raise KeyboardInterrupt from None
        raise
    text = "".join(pieces).strip()
    declined = bool(re.search(r"\bdon'?t know\b|do not know", text, re.IGNORECASE))
    answer = Answer(question.question, text, hits, abstained=declined)
    outcome = Outcome(
        question.id,
        declined,
        [],
        source_paths=[h.path for h in hits],
        generated=True,
        first_token_ms=first,
        total_ms=(time.perf_counter() - t0) * 1000,
        text=text,
    )
    return outcome, answer


def sweep_grades(session: ChatSession, question: Question, answer: Answer, settings: Settings) -> dict[str, str]:
    """The grade this question would get under other attribution/abstention settings, from the
    same reply (no new generation): key "coverage/similarity/subject/gate" -> grade."""
    out: dict[str, str] = {}
    reply = answer.draft
    top = best_dense(answer.sources)
    if reply is None:  # never generated (weak retrieval with the configured min_dense)
        return out
    measured = session.measure(reply, question.question, answer.sources) if reply else None
    for cov, sim, subj, unsupported_gate in itertools.product(COVERAGE, SIMILARITY, SUBJECT, (True, False)):
        trial = dataclasses.replace(answer, sentences=[], citations=[], abstained=False)
        cfg = settings.model_copy(deep=True)
        cfg.answer.min_coverage, cfg.answer.min_similarity, cfg.answer.min_subject = cov, sim, subj
        cfg.answer.abstain_unsupported = unsupported_gate
        reason = decide(reply, question.question, answer.sources, cfg, measured, trial)
        if reason is None:
            trial.text = render(reply, trial.sentences)
            trial.citations, _ = resolve(trial.text, answer.sources)
        trial.abstained = reason is not None
        o = Outcome(question.id, trial.abstained, cited_sources(trial), text=trial.text if not trial.abstained else "")
        key = f"{cov}/{sim}/{subj}/{'gate' if unsupported_gate else 'nogate'}"
        out[key] = grade(question, o)
    out["_top_dense"] = top  # type: ignore[assignment]
    return out


def summarize_sweep(questions: list[Question], sweeps: list[dict], min_dense: list[float]) -> list[dict]:
    """For each setting of the sweep (and each min_dense gate on top of it): correct, false and
    correct abstentions."""
    by_id = {q.id: q for q in questions}
    keys = sorted({k for s in sweeps for k in s if not k.startswith("_")})
    rows = []
    for key in keys:
        for gate in min_dense:
            grades = []
            for s in sweeps:
                q = by_id[s["_id"]]
                g = s.get(key)
                if g is None:
                    continue
                top = s.get("_top_dense")
                if top is not None and top < gate:
                    g = "false_abstention" if q.answerable else "correct_abstention"
                grades.append((q.answerable, g))
            ans = [g for a, g in grades if a]
            una = [g for a, g in grades if not a]
            rows.append(
                {
                    "setting": key,
                    "min_dense": gate,
                    "correct": _share(sum(g == "correct" for g in ans), len(ans)),
                    "false_abstention": _share(sum(g == "false_abstention" for g in ans), len(ans)),
                    "correct_abstention": _share(sum(g == "correct_abstention" for g in una), len(una)),
                }
            )
    return rows


def _share(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def bench_sets(bench: Path, folders_root: Path, names: list[str] | None) -> list[tuple[str, Path, Path]]:
    """(name, folder, question file) for each question file of the benchmark."""
    sets = []
    for qfile in sorted(bench.glob("*.jsonl")):
        if names and qfile.stem not in names:
            continue
        folder = folders_root / qfile.stem
        if not folder.is_dir():
            raise LocalragError(f"{folder} is missing: build it with scripts/make_answer_bench.py")
        sets.append((qfile.stem, folder, qfile))
    return sets


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--bench", type=Path, default=None, help="a folder of question sets, one per benchmark folder")
    p.add_argument("--folders-root", type=Path, default=REPO / "indexes/answer-bench")
    p.add_argument("--sets", default=None, help="comma-separated benchmark folders (default: all)")
    p.add_argument("--folder", type=Path, default=None, help="one folder (with --questions)")
    p.add_argument("--questions", type=Path, default=None)
    p.add_argument("--split", choices=["dev", "test", "all"], default="all")
    p.add_argument("--index-root", type=Path, default=None, help="index directories (reused if they exist)")
    p.add_argument("--llm", choices=["llama-cpp", "openai", "none"], default=None)
    p.add_argument("--model", default=None, help="LLM registry name (default: the configured one)")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    p.add_argument("--min-dense", type=float, default=None, help="override retrieval.min_dense")
    p.add_argument("--max-not-found", type=float, default=None, help="override llm.max_not_found")
    p.add_argument("--max-prompt-tokens", type=int, default=None, help="override llm.max_prompt_tokens")
    p.add_argument("--cite-inline", action="store_true", help="ask the model to cite inline (llm.cite_inline)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any other setting, dotted")
    p.add_argument("--sweep", action="store_true", help="recompute grades over the attribution thresholds")
    p.add_argument("--classic", action="store_true", help="the reference row: classic completion prompt, no gates")
    p.add_argument("--only", default=None, help="comma-separated question ids")
    p.add_argument(
        "--replay",
        type=Path,
        default=None,
        help="an earlier report: decide its recorded replies again with the current code (no generation; "
        "times of questions that reach the model are the recorded ones)",
    )
    p.add_argument("--progress", action="store_true", help="one line per question on stderr")
    args = p.parse_args(argv)

    if args.bench:
        sets = bench_sets(args.bench, args.folders_root, args.sets.split(",") if args.sets else None)
    elif args.folder and args.questions:
        sets = [(args.questions.stem, args.folder, args.questions)]
    else:
        p.error("give --bench, or --folder and --questions")

    tmp = None
    index_root = args.index_root
    if index_root is None:
        tmp = tempfile.TemporaryDirectory(prefix="eval-answers-")
        index_root = Path(tmp.name)
    overrides = {
        "retrieval.k": args.k,
        "retrieval.min_dense": args.min_dense,
        "llm.max_not_found": args.max_not_found,
        "llm.max_prompt_tokens": args.max_prompt_tokens,
        "llm.cite_inline": True if args.cite_inline else None,
        "llm.backend": args.llm,
        "llm.model": args.model,
    }
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value) if value[:1] in '-0123456789tf[{"' else value
    replay = None
    if args.replay:
        if args.classic:
            p.error("--replay replays the default pipeline, not --classic")
        replay = recorded_drafts(args.replay)
        overrides["llm.max_not_found"] = 1.0
    replay_missing: list[str] = []  # replayed questions that reach the model now and had no reply then
    report: dict = {"sets": {}, "rows": []}
    all_questions: list[Question] = []
    outcomes: list[Outcome] = []
    sweeps: list[dict] = []
    interrupted = False
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for name, folder, qfile in sets:
            questions = _questions(qfile, folder.resolve(), name, args)
            if not questions:
                continue
            settings = load_settings(overrides={**overrides, "index": str(index_root / name)})
            idx = Index.open(index_root / name, settings, create=True)
            t = time.perf_counter()
            summary = idx.add(folder)
            index_s = time.perf_counter() - t
            llm = idx.llm if replay is None else RecordedLLM(idx.llm, replay[0])
            set_outcomes = []
            for q in questions:
                if replay is not None:
                    llm.question_id = q.id
                session = ChatSession(idx.searcher, llm, settings)  # fresh and not persisted
                try:
                    outcome, answer = ask_classic(idx, llm, q, args.k) if args.classic else ask_one(session, q)
                except KeyboardInterrupt:
                    interrupted = True
                    break
                except LocalragError:
                    if not _STOP.is_set():
                        raise
                    interrupted = True  # the signal landed in llama.cpp's abort callback
                    break
                set_outcomes.append(outcome)
                if args.sweep and not args.classic:
                    sweeps.append({"_id": q.id, **sweep_grades(session, q, answer, settings)})
                if replay is not None and outcome.generated and q.id in replay[1]:
                    _recorded_times(outcome, replay[1][q.id])
                row = _row(q, outcome, answer)
                report["rows"].append(row)
                if args.progress:
                    print(
                        f"{q.id} {row['grade']:<18} {row['abstain_reason'] or '':<14} dense={row['top_dense']} "
                        f"ttft={row['first_token_ms']} {q.question[:60]}",
                        file=sys.stderr,
                        flush=True,
                    )
            report["sets"][name] = {
                "index": {
                    "added": summary.added,
                    "updated": summary.updated,
                    "unchanged": summary.unchanged,
                    "chunks": summary.chunks,
                    "seconds": round(index_s, 1),
                },
                "metrics": summarize(questions, set_outcomes),
            }
            all_questions += questions
            outcomes += set_outcomes
            report["settings"] = _settings(settings, idx, llm, args, interrupted)
            if replay is not None:
                replay_missing += llm.missing
                report["settings"].update(replay=str(args.replay), replay_missing=replay_missing)
            idx.close()
            if interrupted:
                break
    except LocalragError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    finally:
        if tmp is not None:
            tmp.cleanup()
    report["metrics"] = summarize(all_questions, outcomes)
    pairs = [(r["answerable"], r["top_dense"] or 0.0) for r in report["rows"]]
    report["min_dense_table"] = abstention_table(pairs, THRESHOLDS)
    if args.sweep:
        report["sweep"] = summarize_sweep(all_questions, sweeps, [-1.0, *THRESHOLDS[4:12]])
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def _questions(qfile: Path, folder: Path, name: str, args: argparse.Namespace) -> list[Question]:
    questions = load_questions(qfile)
    if args.split != "all":
        questions = [q for q in questions if q.split in (None, args.split)]
    if args.only:
        wanted = args.only.split(",")
        questions = [q for q in questions if q.id in wanted]
    if args.limit:
        questions = questions[: args.limit]
    out = []
    for q in questions:
        fields = {f: getattr(q, f) for f in Question.__dataclass_fields__}
        fields["folder"] = name
        if q.expected_path and not args.bench:
            fields["expected_path"] = relative_to_folder(q.expected_path, folder)
        out.append(Question(**fields))
    return out


def _row(q: Question, outcome: Outcome, answer: Answer) -> dict:
    return {
        "id": q.id,
        "set": q.folder,
        "split": q.split,
        "kind": q.kind,
        "answerable": q.answerable,
        "grade": grade(q, outcome),
        "abstained": outcome.abstained,
        "abstain_reason": answer.abstain_reason,
        "expected": q.expected_path,
        "cited": sorted({c.path for c in outcome.cited}),
        "verdict": outcome.verdict,
        "expected_verdict": q.expected_verdict,
        "sources": outcome.source_paths,
        "top_dense": None if best_dense(answer.sources) is None else round(best_dense(answer.sources), 3),
        "sentences": [s.to_json() for s in answer.sentences],
        "supported_lacking_fact": outcome.supported_lacking_fact,
        "sources_ms": _r(outcome.sources_ms),
        "first_token_ms": _r(outcome.first_token_ms),
        "total_ms": _r(outcome.total_ms),
        "completion_tokens": outcome.completion_tokens,
        "prompt_tokens": answer.tokens.prompt,
        "shortened_sources": answer.shortened_sources,
        "dropped_sources": answer.dropped_sources,
        "not_found_probability": answer.not_found_probability,
        "draft": (answer.draft or "")[:ANSWER_CHARS],
        "answer": answer.text[:ANSWER_CHARS],
    }


def _settings(settings: Settings, idx: Index, llm, args: argparse.Namespace, interrupted: bool) -> dict:
    return {
        "bench": str(args.bench) if args.bench else str(args.questions),
        "split": args.split,
        "llm": settings.llm.backend,
        "model": settings.llm.model if settings.llm.backend == "llama-cpp" else llm.name,
        "k": settings.retrieval.k,
        "min_dense": settings.retrieval.min_dense,
        "max_not_found": settings.llm.max_not_found,
        "max_prompt_tokens": settings.llm.max_prompt_tokens,
        "cite_inline": settings.llm.cite_inline,
        "answer": settings.answer.model_dump(),
        "reranker": idx.reranker is not None,
        "n_threads": settings.llm.n_threads,
        "load_avg": os.getloadavg()[0],
        "interrupted": interrupted,
    }


def _interrupt(signum: int, frame: object) -> None:
    _STOP.set()
    raise KeyboardInterrupt


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


if __name__ == "__main__":
    sys.exit(main())
