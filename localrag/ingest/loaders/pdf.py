"""PDF via pypdf: one section per page with its page number; bookmarks as headings.

Pages without a usable text layer (none, a few stray characters, or garbage from a font
without a Unicode map) are rendered with pypdfium2 and read by OCR when [ingest] ocr is
"auto", up to ocr_max_pages per file; they are located as 'page 3 (OCR)'. Parsing
untrusted files can fail anywhere inside pypdf, so any exception from it is turned into a
"corrupt PDF" skip naming the cause.
"""

from __future__ import annotations

import logging
import re
import time
from io import BytesIO

from pypdf import PdfReader

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.errors import SkipFile
from localrag.ingest.options import LoadOptions

MIN_TEXT_CHARS = 8  # fewer letters/digits than this: a page number or a stray mark, not a text layer
_COMMON_PUNCTUATION = set(".,;:!?'\"()[]{}-–—/\\%&@#*+=<>$€£§°_|~^`’‘“”…•·")
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


def needs_ocr(text: str) -> bool:
    """Whether a page's extracted text is too thin or too garbled to stand for the page."""
    alnum = sum(c.isalnum() for c in text)
    if alnum < MIN_TEXT_CHARS:
        return True
    plain = alnum + sum(c.isspace() or c in _COMMON_PUNCTUATION for c in text)
    return plain < 0.8 * len(text)


def _ocr_pages(data: bytes, numbers: list[int], options: LoadOptions, out: dict[int, str]) -> None:
    """Fill `out` with {page number: OCR text} for the given 1-based pages, rendered with
    pypdfium2; a failure (SkipFile) keeps the pages read before it."""
    import pypdfium2

    from localrag.ingest.ocr import MAX_LONG_SIDE, read_image

    try:
        pdf = pypdfium2.PdfDocument(data)
    except Exception as e:  # pdfium refuses what pypdf could open: report it as OCR failing
        raise SkipFile(f"OCR failed: cannot render the PDF ({short_reason(e)})") from None
    try:
        for number in numbers:
            started = time.perf_counter()
            page = pdf[number - 1]
            try:
                width, height = page.get_size()
                scale = MAX_LONG_SIDE / max(width, height, 1.0)
                image = page.render(scale=scale).to_pil()
            except Exception as e:
                raise SkipFile(f"OCR failed: cannot render page {number} ({short_reason(e)})") from None
            finally:
                page.close()
            out[number] = read_image(image)
            if options.on_ocr_page is not None:
                options.on_ocr_page(time.perf_counter() - started)
    finally:
        pdf.close()


def load_pdf(data: bytes, options: LoadOptions | None = None) -> Document:
    options = options or LoadOptions()
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
    failed: list[str] = []
    texts: dict[int, str] = {}
    for number, page in enumerate(pages, start=1):
        try:
            texts[number] = _tidy(page.extract_text() or "")
        except Exception as e:
            failed.append(f"page {number}: {short_reason(e)}")
    notes = [f"text of {len(failed)} page(s) could not be read ({failed[0]})"] if failed else []
    scanned = [n for n, text in texts.items() if needs_ocr(text)]
    ocr: dict[int, str] = {}
    ocr_failure: str | None = None
    if scanned and options.ingest.ocr == "auto":
        cap = options.ingest.ocr_max_pages
        if len(scanned) > cap:
            notes.append(f"OCR limited to {cap} of {len(scanned)} pages without text ([ingest] ocr_max_pages)")
        try:
            _ocr_pages(data, scanned[:cap], options, ocr)
        except SkipFile as e:
            ocr_failure = e.reason
            notes.append(f"pages without text left out: {e.reason}")
    elif scanned:
        notes.append("pages without text left out: OCR is off ([ingest] ocr)")
    builder = TextBuilder()
    for number, text in texts.items():
        heading = _heading_for(number - 1, marks)
        if ocr.get(number, "").strip():
            builder.start_section(heading, page=number, locator=f"page {number} (OCR)")
            builder.add_block(ocr[number])
        elif text:
            builder.start_section(heading, page=number)
            builder.add_block(text)
    doc = builder.build(notes)
    if not doc.sections:
        if failed and len(failed) == len(pages):
            raise SkipFile(f"corrupt PDF: {failed[0]}")
        if ocr_failure:
            raise SkipFile(ocr_failure)
        if options.ingest.ocr == "off":
            raise SkipFile("no text layer; OCR is off ([ingest] ocr)")
        raise SkipFile("no text layer, and OCR found no text")
    return doc
