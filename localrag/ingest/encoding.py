"""Bytes -> text: BOMs, UTF-16 without BOM, UTF-8, then cp1252/Latin-1; binary refused.

Order matters: a BOM is certain; a NUL-every-other-byte pattern is UTF-16 and must be
tested before the NUL check that marks binary; strict UTF-8 rarely accepts anything
that is not UTF-8, so it is tried before the single-byte fallbacks.
"""

from __future__ import annotations

import codecs
import re

from localrag.ingest.document import normalize_newlines
from localrag.ingest.errors import SkipFile

_SAMPLE = 8192
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Signatures of common binary formats that may hide behind a text extension.
_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x7fELF", b"\x1f\x8b", b"%PDF-", b"MZ\x90\x00")
# Control bytes that do not occur in text (tab, LF, VT, FF, CR, ESC are allowed).
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _utf16_without_bom(sample: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NULs sit on one parity (mostly-ASCII UTF-16)."""
    if len(sample) < 4:
        return None
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2
    if odd > 0.3 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.3 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _looks_binary(sample: bytes) -> bool:
    if sample.startswith(_MAGIC) or b"\x00" in sample:
        return True
    return len(_CONTROL.findall(sample)) > 0.1 * len(sample)


def looks_like_text(sample: bytes) -> bool:
    """Whether the first bytes of a file read as text (any BOM, UTF-16, or no binary signs)."""
    if not sample.strip():
        return False
    if sample.startswith(tuple(bom for bom, _ in _BOMS)) or _utf16_without_bom(sample) is not None:
        return True
    return not _looks_binary(sample)


def _decode_single_byte(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d are unassigned in cp1252
        return data.decode("latin-1"), "latin-1"


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def declared_html_charset(data: bytes) -> str | None:
    """The codec named by an HTML <meta charset> in the first 4 KB, if Python knows it."""
    m = _META_CHARSET.search(data[:4096])
    if not m:
        return None
    try:
        return codecs.lookup(m.group(1).decode("ascii")).name
    except LookupError:
        return None


def detect_and_decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding name) with newlines normalised to LF and any BOM removed.

    `declared` is an encoding the file names for itself (HTML meta charset); it is
    used after BOM and UTF-16 detection, and only if the bytes decode with it.

    Raises SkipFile("empty file") for zero bytes and SkipFile("binary") for data that
    is not text in any of the supported encodings.
    """
    if not data:
        raise SkipFile("empty file")
    for bom, name in _BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(name, errors="replace")
            return normalize_newlines(text), name + ("-sig" if name == "utf-8" else "")
    sample = data[:_SAMPLE]
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        usable = data[: len(data) - len(data) % 2]
        return normalize_newlines(usable.decode(utf16, errors="replace")), utf16
    if _looks_binary(sample):
        raise SkipFile("binary")
    if declared is not None and declared not in ("utf-8", "ascii"):
        try:
            return normalize_newlines(data.decode(declared)), declared
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return normalize_newlines(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few bad bytes: keep UTF-8 rather than turn every accent into mojibake.
    sequences = _UTF8_MULTIBYTE.findall(data)
    valid = len(sequences)
    invalid = len(_HIGH_BYTE.findall(data)) - sum(len(m) for m in sequences)
    if valid and valid >= invalid:
        return normalize_newlines(data.decode("utf-8", errors="replace")), "utf-8"
    text, name = _decode_single_byte(data)
    return normalize_newlines(text), name


def decode_text(data: bytes, declared: str | None = None) -> str:
    """The text of `data`; see detect_and_decode."""
    return detect_and_decode(data, declared)[0]
