"""DOCX via python-docx: paragraphs and tables in body order, Heading/Title styles as the
heading path, list paragraphs as '- ' items. Headers, footers and comments are left out."""

from __future__ import annotations

import re
from io import BytesIO

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.errors import SkipFile
from localrag.ingest.zipped import check_zip

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def _heading_level(paragraph: Paragraph) -> int | None:
    try:
        style = paragraph.style
        name = (style.name or "") if style is not None else ""
    except (KeyError, ValueError, AttributeError):
        return None
    if name.lower() == "title":
        return 0
    m = _HEADING_STYLE.match(name.strip())
    return int(m.group(1)) if m else None


def _is_list(paragraph: Paragraph) -> bool:
    try:
        style = paragraph.style
        name = (style.name or "").lower() if style is not None else ""
    except (KeyError, ValueError, AttributeError):
        name = ""
    p_pr = paragraph._p.pPr
    return name.startswith("list") or (p_pr is not None and p_pr.numPr is not None)


def _table_text(table: Table) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if not cells or cells[-1] != text:  # merged cells repeat their text
                cells.append(text)
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def load_docx(data: bytes, max_unpacked_mb: float = 300.0) -> Document:
    check_zip(data, "DOCX", max_unpacked_mb)
    try:
        document = docx.Document(BytesIO(data))
        body = document.element.body
        children = list(body.iterchildren())
    except Exception:  # python-docx raises zip, XML and key errors for damaged files
        raise SkipFile("corrupt DOCX") from None
    builder = TextBuilder()
    stack: list[tuple[int, str]] = []
    builder.start_section(())
    for child in children:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            text = paragraph.text.strip()
            if not text:
                continue
            level = _heading_level(paragraph)
            if level is not None:
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, " ".join(text.split())))
                builder.start_section(tuple(t for _, t in stack))
                builder.add_heading(text)
                continue
            builder.add_block(f"- {text}" if level is None and _is_list(paragraph) else text)
        elif tag == "tbl":
            builder.add_block(_table_text(Table(child, document)))
    return builder.build()
