"""Bytes of one file -> Document / sections, dispatched on extension and content."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import PurePosixPath

from localrag.config import ChunkingSettings, IngestSettings
from localrag.ingest.document import Document
from localrag.ingest.encoding import declared_html_charset, decode_text
from localrag.ingest.errors import SkipFile
from localrag.ingest.formats import HEAD_BYTES, format_of
from localrag.ingest.options import LoadOptions
from localrag.types import Section

log = logging.getLogger(__name__)


def _sniff(data: bytes) -> str | None:
    """Formats recognised from content, whatever the extension says."""
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    return None


def load_document(
    rel: str,
    data: bytes,
    settings: ChunkingSettings,
    ingest: IngestSettings | None = None,
    *,
    count_tokens: Callable[[str], int] | None = None,
    on_ocr_page: Callable[[float], None] | None = None,
) -> Document:
    """Load one file's bytes. Raises SkipFile with a short reason when it cannot be indexed.

    `count_tokens` (the embedder's) sizes table row groups to whole chunks; `on_ocr_page` is
    called after each page read by OCR with the seconds it took (progress).
    """
    options = LoadOptions(settings, ingest or IngestSettings(), count_tokens, on_ocr_page)
    doc = load_with(rel, data, options)
    for note in doc.notes:
        log.info("%s: %s", rel, note)
    return doc


def load_with(rel: str, data: bytes, options: LoadOptions) -> Document:
    """load_document with its options gathered (also used for mail attachments)."""
    if not data:
        raise SkipFile("empty file")
    fmt = _sniff(data) or format_of(rel, data[:HEAD_BYTES])
    if fmt is None:
        raise SkipFile("unsupported")
    binary = _BINARY_LOADERS.get(fmt)
    if binary is not None:
        doc = binary(data, options)
    else:
        text = decode_text(data, declared_html_charset(data) if fmt == "html" else None)
        doc = _load_text(fmt, rel, text, options)
    if not doc.sections:
        raise SkipFile("no text")
    return doc


def _loader(module: str, name: str) -> Callable[..., Document]:
    """A loader, imported on first use (each pulls in its format's library)."""
    return getattr(importlib.import_module(f"localrag.ingest.loaders.{module}"), name)


def _unpacked_cap(options: LoadOptions) -> float:
    return options.ingest.max_unpacked_mb


_BINARY_LOADERS: dict[str, Callable[[bytes, LoadOptions], Document]] = {
    "pdf": lambda data, o: _loader("pdf", "load_pdf")(data, o),
    "docx": lambda data, o: _loader("docx", "load_docx")(data, _unpacked_cap(o)),
    "xlsx": lambda data, o: _loader("xlsx", "load_xlsx")(data, o),
    "ods": lambda data, o: _loader("ods", "load_ods")(data, o),
    "odt": lambda data, o: _loader("odt", "load_odt")(data, _unpacked_cap(o)),
    "pptx": lambda data, o: _loader("pptx", "load_pptx")(data, _unpacked_cap(o)),
    "epub": lambda data, o: _loader("epub", "load_epub")(data, _unpacked_cap(o)),
    "eml": lambda data, o: _loader("mail", "load_eml")(data, o),
    "mbox": lambda data, o: _loader("mail", "load_mbox")(data, o),
    "image": lambda data, o: _loader("image", "load_image")(data, o),
    "rtf": lambda data, o: _loader("rtf", "load_rtf")(data),
}


def _load_text(fmt: str, rel: str, text: str, options: LoadOptions) -> Document:
    if fmt == "markdown":
        from localrag.ingest.loaders.markdown import load_markdown

        return load_markdown(text)
    if fmt == "rst":
        from localrag.ingest.loaders.rst import load_rst

        return load_rst(text)
    if fmt == "html":
        from localrag.ingest.loaders.html import load_html

        return load_html(text)
    if fmt == "code":
        from localrag.ingest.loaders.code import load_code

        name = PurePosixPath(rel).name
        return load_code(text, PurePosixPath(name).suffix or name)
    if fmt == "data":
        from localrag.ingest.loaders.data import load_data

        return load_data(text, options.chunking.max_data_chars)
    if fmt == "csv":
        from localrag.ingest.loaders.csv_table import load_csv

        return load_csv(text, rel.lower().endswith(".tsv"), options)
    if fmt == "notebook":
        from localrag.ingest.loaders.notebook import load_notebook

        return load_notebook(text, options.ingest.notebook_outputs)
    from localrag.ingest.loaders.plain import load_plain

    return load_plain(text)


def load_sections(rel: str, data: bytes, settings: ChunkingSettings) -> list[Section]:
    """Sections of one file (see load_document)."""
    return load_document(rel, data, settings).sections
