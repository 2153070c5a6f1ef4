"""Bytes of one file -> Document / sections, dispatched on extension and content."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath

from localrag.config import ChunkingSettings
from localrag.ingest.document import Document
from localrag.ingest.encoding import declared_html_charset, decode_text
from localrag.ingest.errors import SkipFile
from localrag.ingest.formats import format_of
from localrag.types import Section

log = logging.getLogger(__name__)


def _sniff(data: bytes) -> str | None:
    """Formats recognised from content, whatever the extension says."""
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    return None


def load_document(rel: str, data: bytes, settings: ChunkingSettings) -> Document:
    """Load one file's bytes. Raises SkipFile with a short reason when it cannot be indexed."""
    if not data:
        raise SkipFile("empty file")
    fmt = _sniff(data) or format_of(rel)
    if fmt is None:
        raise SkipFile("unsupported")
    if fmt == "pdf":
        from localrag.ingest.loaders.pdf import load_pdf

        doc = load_pdf(data)
    elif fmt == "docx":
        from localrag.ingest.loaders.docx import load_docx

        doc = load_docx(data)
    else:
        text = decode_text(data, declared_html_charset(data) if fmt == "html" else None)
        doc = _load_text(fmt, rel, text, settings)
    if not doc.sections:
        raise SkipFile("no text")
    for note in doc.notes:
        log.info("%s: %s", rel, note)
    return doc


def _load_text(fmt: str, rel: str, text: str, settings: ChunkingSettings) -> Document:
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

        return load_data(text, settings.max_data_chars)
    from localrag.ingest.loaders.plain import load_plain

    return load_plain(text)


def load_sections(rel: str, data: bytes, settings: ChunkingSettings) -> list[Section]:
    """Sections of one file (see load_document)."""
    return load_document(rel, data, settings).sections
