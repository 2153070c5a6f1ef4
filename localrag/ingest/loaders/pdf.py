"""PDF via pypdf: one section per page with its page number; bookmarks as headings.

Scanned PDFs have no text layer and are skipped with that reason (no OCR here).
Parsing untrusted files can fail anywhere inside pypdf, so any exception from it is
turned into a "corrupt PDF" skip naming the cause.
"""

from __future__ import annotations

import logging
import re
from io import BytesIO

from pypdf import PdfReader

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.errors import SkipFile

_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def short_reason(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _TRAILING_SPACE.sub("\n", text)
    return _MANY_BLANK_LINES.sub("\n\n", text).strip()


def _outline_marks(reader: PdfReader) -> list[tuple[int, tuple[str, ...]]]:
    """(0-based page, heading path) for each bookmark, in page order; [] when none/unreadable."""
    marks: list[tuple[int, tuple[str, ...]]] = []

    def walk(items: list, path: tuple[str, ...]) -> None:
        last: tuple[str, ...] = path
        for item in items:
            if isinstance(item, list):
                walk(item, last)
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            last = (*path, title) if title else path
            page = reader.get_destination_page_number(item)
            if page is not None and page >= 0:
                marks.append((page, last))

    try:
        walk(reader.outline, ())
    except Exception:  # a broken outline must not cost the text
        return []
    marks.sort(key=lambda m: m[0])
    return marks


def _heading_for(page: int, marks: list[tuple[int, tuple[str, ...]]]) -> tuple[str, ...]:
    heading: tuple[str, ...] = ()
    for first_page, path in marks:
        if first_page > page:
            break
        heading = path
    return heading


def load_pdf(data: bytes) -> Document:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # per-object repair warnings are noise here
    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many PDFs only restrict editing: empty user password
            except Exception:
                opened = 0
            if not opened:
                raise SkipFile("encrypted PDF")
        pages = list(reader.pages)
    except SkipFile:
        raise
    except Exception as e:
        raise SkipFile(f"corrupt PDF: {short_reason(e)}") from None
    if not pages:
        raise SkipFile("corrupt PDF: no pages")
    marks = _outline_marks(reader)
    builder = TextBuilder()
    failed: list[str] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = _tidy(page.extract_text() or "")
        except Exception as e:
            failed.append(f"page {number}: {short_reason(e)}")
            continue
        if text:
            builder.start_section(_heading_for(number - 1, marks), page=number)
            builder.add_block(text)
    notes = [f"text of {len(failed)} page(s) could not be read ({failed[0]})"] if failed else []
    doc = builder.build(notes)
    if not doc.sections:
        if failed and len(failed) == len(pages):
            raise SkipFile(f"corrupt PDF: {failed[0]}")
        raise SkipFile("no text layer; OCR not supported")
    return doc
