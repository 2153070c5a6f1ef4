"""Plain text: one section; the chunker finds paragraphs and sentences."""

from __future__ import annotations

from localrag.ingest.document import Document, LineIndex, line_section


def load_plain(text: str, kind: str = "text") -> Document:
    section = line_section(text, LineIndex(text), 0, len(text), (), kind)
    return Document(text=text, sections=[section] if section else [])
