"""RTF via striprtf: the text without control words, read as plain text."""

from __future__ import annotations

from striprtf.striprtf import rtf_to_text

from localrag.ingest.document import Document, normalize_newlines
from localrag.ingest.encoding import decode_text
from localrag.ingest.errors import SkipFile
from localrag.ingest.loaders.plain import load_plain


def load_rtf(data: bytes) -> Document:
    if not data.lstrip().startswith(b"{\\rtf"):
        raise SkipFile("not an RTF file (no {\\rtf header)")
    try:
        text = rtf_to_text(decode_text(data), errors="replace")
    except Exception as e:  # striprtf raises index and value errors on broken groups
        raise SkipFile(f"corrupt RTF: {type(e).__name__}: {e}"[:120]) from None
    return load_plain(normalize_newlines(text))
