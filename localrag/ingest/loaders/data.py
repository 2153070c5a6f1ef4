"""CSV, JSON, YAML, TOML and similar: indexed as text, capped in size.

Data files can be huge and repetitive; only the first `max_chars` characters are
indexed (cut at a line end), and the Document says so in its notes.
"""

from __future__ import annotations

from localrag.ingest.document import Document, LineIndex, line_section


def load_data(text: str, max_chars: int) -> Document:
    notes = []
    if len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        cut = cut if cut > max_chars // 2 else max_chars
        notes.append(f"truncated: indexed the first {cut:,} of {len(text):,} characters")
        text = text[:cut]
    section = line_section(text, LineIndex(text), 0, len(text), (), "table")
    return Document(text=text, sections=[section] if section else [], notes=notes)
