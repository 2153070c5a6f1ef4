"""Jupyter notebooks via nbformat: one part per cell, located as 'cell 7' (1-based, counting
every cell). Markdown cells are read as Markdown and their headings carry on to the cells
below; code cells are code. Text outputs (streams, text/plain results, errors) are kept
as 'cell 7, output' when [ingest] notebook_outputs is on, each cut at MAX_OUTPUT_CHARS."""

from __future__ import annotations

import nbformat

from localrag.ingest.document import Document, Part, join_parts
from localrag.ingest.errors import SkipFile
from localrag.ingest.loaders.markdown import find_headings, load_markdown
from localrag.ingest.loaders.plain import load_plain

MAX_OUTPUT_CHARS = 5000


def _output_text(outputs: list) -> str:
    texts = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            texts.append(str(out.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            texts.append(str(out.get("data", {}).get("text/plain", "")))
        elif kind == "error":
            texts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    text = "\n".join(t.strip() for t in texts if t.strip())
    return text[:MAX_OUTPUT_CHARS]


def load_notebook(text: str, with_outputs: bool = False) -> Document:
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as e:  # nbformat raises JSON, validation and version errors
        raise SkipFile(f"corrupt notebook: {type(e).__name__}: {e}"[:120]) from None
    parts: list[Part] = []
    stack: list[tuple[int, str]] = []  # headings of the markdown cells so far
    for number, cell in enumerate(notebook.cells, start=1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        where = f"cell {number}"
        if cell.get("cell_type") == "markdown":
            marks = find_headings(source)
            above = tuple(t for level, t in stack if not marks or level < min(m.level for m in marks))
            doc = load_markdown(source)
            for section in doc.sections:
                section.heading = (*above, *section.heading) if section.heading else tuple(t for _, t in stack)
            parts.append(Part(doc, locator=where))
            for mark in marks:
                while stack and stack[-1][0] >= mark.level:
                    stack.pop()
                stack.append((mark.level, mark.title))
            continue
        heading = tuple(t for _, t in stack)
        kind = "code" if cell.get("cell_type") == "code" else "text"
        parts.append(Part(load_plain(source, kind), locator=where, heading=heading))
        if with_outputs and cell.get("outputs"):
            parts.append(Part(load_plain(_output_text(cell["outputs"])), locator=f"{where}, output", heading=heading))
    return join_parts(parts)
