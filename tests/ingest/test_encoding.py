"""Encoding detection: BOMs, UTF-16 without BOM, UTF-8, cp1252/Latin-1; binary refused."""

from __future__ import annotations

import codecs

import pytest

from localrag.ingest import SkipFile
from localrag.ingest.encoding import declared_html_charset, detect_and_decode

TEXT = "Grüße, naïve café — 番茄 ✓\nsecond line\n"


@pytest.mark.parametrize(
    "data,encoding",
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16-le"),  # Python writes LE with a BOM
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-32"), "utf-32-le"),
    ],
)
def test_unicode_forms_round_trip(data, encoding):
    assert detect_and_decode(data) == (TEXT, encoding)


def test_cp1252_and_latin1_fallbacks():
    text = "Prix: 3€ – «déjà vu» œuvre\n"
    assert detect_and_decode(text.encode("cp1252")) == (text, "cp1252")
    # 0x81 is unassigned in cp1252: Latin-1 takes the whole file instead of failing
    assert detect_and_decode(b"caf\xe9 \x81") == ("café \x81", "latin-1")


def test_mostly_utf8_with_one_bad_byte_stays_utf8():
    data = "é".encode() * 20 + b" \xff " + "ü".encode() * 20
    text, encoding = detect_and_decode(data)
    assert encoding == "utf-8" and text.startswith("é" * 20) and "\ufffd" in text


def test_newlines_normalised():
    assert detect_and_decode(b"a\r\nb\rc\n")[0] == "a\nb\nc\n"


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)),
        b"\x7fELF\x02\x01\x01" + bytes(100),
        b"PK\x03\x04" + b"x" * 100,
        b"text" + b"\x01\x02\x03\x04\x05\x06" * 20,
        b"\x00" * 10 + b"abc",
    ],
)
def test_binary_refused(data):
    with pytest.raises(SkipFile, match="^binary$"):
        detect_and_decode(data)


def test_empty_refused():
    with pytest.raises(SkipFile, match="^empty file$"):
        detect_and_decode(b"")


def test_html_meta_charset():
    assert (
        declared_html_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">') == "shift_jis"
    )
    assert declared_html_charset(b"<meta charset='nonsense-enc'>") is None
    page = '<meta charset="windows-1251"><p>Привет</p>'.encode("cp1251")
    assert "Привет" in detect_and_decode(page, declared_html_charset(page))[0]
