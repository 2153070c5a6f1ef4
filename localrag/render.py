"""Rich rendering of search hits, answers, status and tables for the CLI (people, not scripts)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from localrag.generate.attribution import UNSUPPORTED_MARK
from localrag.types import Answer, Hit

if TYPE_CHECKING:
    from localrag.doctor import DoctorReport


def _snippet(text: str, width: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_hits(console: Console, result, explain: bool = False) -> None:
    if not result.hits:
        console.print("no results")
        return
    for hit in result.hits:
        console.print(f"[bold cyan]{hit.rank}.[/] [bold]{escape(hit.location())}[/]  [dim]score {hit.score:.4f}[/]")
        if hit.heading:
            console.print(f"   [magenta]{escape(hit.heading_path)}[/]")
        console.print(f"   {escape(_snippet(hit.text))}")
        if explain:
            s = hit.scores
            console.print(
                f"   [dim]dense #{s.dense_rank or '—'} {_fmt(s.dense)} · bm25 #{s.bm25_rank or '—'} {_fmt(s.bm25)}"
                f" · rrf #{s.rrf_rank or '—'} {_fmt(s.rrf)} · rerank #{s.rerank_rank or '—'} {_fmt(s.rerank)}"
                f" · matched: {', '.join(hit.matched_terms) or '—'}[/]"
            )
    if explain and result.timings:
        console.print("[dim]" + "  ".join(f"{k} {v:.1f} ms" for k, v in result.timings.items()) + "[/]")


def print_sources(console: Console, hits: Sequence[Hit], rewritten_query: str | None = None) -> None:
    if rewritten_query:
        console.print(f"[dim]searched for: {escape(rewritten_query)}[/]")
    console.print("[bold]Sources[/]")
    for n, hit in enumerate(hits, 1):
        console.print(
            f"  [cyan][{n}][/] {escape(hit.location())}" + (f" — {escape(hit.heading_path)}" if hit.heading else "")
        )
    console.print()


_CITATION = re.compile(r"\[\d[\d,\s\-–]*\]")


def answer_text(answer: Answer) -> Text:
    """The answer for a terminal: [n] in cyan, sentences no source supports in yellow."""
    text = Text()
    for piece in re.split(f"({_CITATION.pattern}|{re.escape(UNSUPPORTED_MARK)})", answer.text):
        if piece == UNSUPPORTED_MARK:
            text.append(piece, style="bold yellow")
        elif _CITATION.fullmatch(piece):
            text.append(piece, style="cyan")
        else:
            text.append(piece)
    return text


def print_answer_footer(console: Console, answer: Answer) -> None:
    if answer.abstained:
        why = f" ({answer.abstain_reason.replace('_', ' ')})" if answer.abstain_reason else ""
        console.print(f"[yellow]not found in your documents{why}: the sources above are only the nearest passages[/]")
    if answer.unsupported_sentences:
        console.print(
            f"[yellow]{answer.unsupported_sentences} sentence(s) marked {escape(UNSUPPORTED_MARK)}: no source states them[/]"
        )
    if answer.invalid_citations:
        console.print(f"[yellow]dropped citations to sources that were not given: {answer.invalid_citations}[/]")
    cited = sorted({c.n for c in answer.citations})
    if cited:
        console.print("[dim]cited: " + ", ".join(f"[{n}]" for n in cited) + "[/]")
    t = answer.timings_ms
    first = "—" if t.first_token is None else f"{t.first_token / 1000:.1f} s"
    console.print(
        f"[dim]tokens {answer.tokens.prompt}+{answer.tokens.completion}/{answer.tokens.context_window} · "
        f"retrieve {t.retrieve:.0f} ms · first token {first} · total {t.total / 1000:.1f} s[/]"
    )


def print_table(console: Console, rows: Iterable[dict], columns: Sequence[str]) -> None:
    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*(escape("" if row.get(c) is None else str(row.get(c))) for c in columns))
    console.print(table)


def _status_value(key: str, value) -> str:
    if key == "indexed_at" and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def print_status(console: Console, info: dict) -> None:
    for key, value in info.items():
        if key in ("skipped", "notes"):
            continue
        console.print(f"[bold]{key}[/]: {escape(_status_value(key, value))}")
    skipped = info.get("skipped") or []
    if skipped:
        console.print(f"[bold]skipped files[/] ({len(skipped)}):")
        for item in skipped:
            console.print(f"  {escape(item['path'])}: {escape(item['reason'])}")
    notes = info.get("notes") or []
    if notes:
        console.print(f"[bold]partly indexed files[/] ({len(notes)}):")
        for item in notes:
            console.print(f"  {escape(item['path'])}: {escape(item['note'])}")


def print_doctor(console: Console, report: DoctorReport) -> None:
    from localrag.doctor import summarize

    for label, line in summarize(report):
        console.print(f"[bold]{label}[/]: {escape(line)}")
    for notice in report.notices:
        console.print(f"[dim]note: {escape(notice)}[/]")
    if not report.problems:
        console.print("[green]no problems found[/]")
    for p in report.problems:
        console.print(f"[red]problem:[/] {escape(p.problem)}\n   [green]fix:[/] {escape(p.fix)}")
