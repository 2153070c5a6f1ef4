"""Checks every ingest test applies to loaded documents and their chunks."""

from __future__ import annotations

from localrag.ingest.document import Document
from localrag.types import Chunk


def assert_sections_exact(doc: Document) -> None:
    """Each section's text is its span of the document text, and its first line is right."""
    assert doc.sections, "no sections"
    for s in doc.sections:
        assert doc.text[s.char_start : s.char_end] == s.text
        if s.line_start is not None:
            assert s.line_start == doc.text.count("\n", 0, s.char_start) + 1
            assert s.line_end == doc.text.count("\n", 0, s.char_end - 1) + 1


def assert_chunks_exact(doc_text: str, chunks: list[Chunk], count, max_tokens: int) -> None:
    """Chunk text == document text at its char span; lines, ordinals and token counts true."""
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.text == doc_text[c.char_start : c.char_end]
        assert c.text == c.text.strip() and c.text
        assert c.n_tokens == count(c.text) <= max_tokens
        if c.line_start is not None:
            assert c.line_start == doc_text.count("\n", 0, c.char_start) + 1
            assert c.line_end == doc_text.count("\n", 0, c.char_end - 1) + 1


def count_words(text: str) -> int:
    """A stand-in tokenizer for fast tests: one token per whitespace-separated word."""
    return len(text.split())
