"""Every format of issue 18 against its bad inputs: corrupt (truncated or not that format at all),
password-protected, zip or decompression bomb, oversized fields. Each is skipped with its own
reason, and the good file it was made from loads (so the damage is what is refused)."""

from __future__ import annotations

import io
import json

import pytest
from tests.fixtures import bad_files
from tests.fixtures import format_files as ff

from localrag.config import ChunkingSettings, IngestSettings
from localrag.ingest import SkipFile, load_document

S = ChunkingSettings()
CAP_MB = 4  # [ingest] max_unpacked_mb for these tests: the bombs unpack to 5 MB
INGEST = IngestSettings(max_unpacked_mb=CAP_MB)
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)  # what Office writes for a password-protected file


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def bomb(what: str, member: str) -> tuple[bytes, str]:
    return ff.zip_bomb(member, CAP_MB + 1), f"{what} unpacks to 5 MB (> {CAP_MB} MB cap; a zip bomb?)"


def _csv_with_a_huge_field() -> bytes:
    return b'plot,note\n14,"' + b"x" * 200_000 + b'"\n'


def _png() -> bytes:
    return ff.png_bytes(["Scanned note"])


GOOD = {
    "book.epub": ff.epub_bytes,
    "deck.pptx": ff.pptx_bytes,
    "budget.xlsx": ff.xlsx_bytes,
    "harvest.ods": ff.ods_bytes,
    "orchard.odt": ff.odt_bytes,
    "rows.csv": lambda: b"plot,litres\n14,3312\n",
    "meter.eml": ff.eml_bytes,
    "club.mbox": ff.mbox_bytes,
    "soil.ipynb": ff.ipynb_bytes,
    "rhubarb.rtf": lambda: ff.RTF.encode(),
}

# (file name, bytes builder, expected reason: exact, or a prefix when it ends in ":" or "(")
CASES = [
    ("book.epub", lambda: half(ff.epub_bytes()), "corrupt EPUB:"),
    ("book.epub", ff.drm_epub_bytes, "DRM-protected EPUB"),
    ("book.epub", lambda: bomb("EPUB", "EPUB/spring.xhtml")[0], bomb("EPUB", "x")[1]),
    ("deck.pptx", lambda: half(ff.pptx_bytes()), "corrupt PPTX:"),
    ("deck.pptx", lambda: OLE, "password-protected or old-format file (not PPTX)"),
    ("deck.pptx", lambda: ff.zip_encrypted(ff.pptx_bytes()), "encrypted PPTX"),
    ("deck.pptx", lambda: bomb("PPTX", "ppt/slides/slide1.xml")[0], bomb("PPTX", "x")[1]),
    ("budget.xlsx", lambda: half(ff.xlsx_bytes()), "corrupt XLSX:"),
    ("budget.xlsx", lambda: OLE, "password-protected or old-format file (not XLSX)"),
    ("budget.xlsx", lambda: ff.zip_encrypted(ff.xlsx_bytes()), "encrypted XLSX"),
    ("budget.xlsx", lambda: bomb("XLSX", "xl/worksheets/sheet1.xml")[0], bomb("XLSX", "x")[1]),
    ("harvest.ods", lambda: half(ff.ods_bytes()), "corrupt ODS:"),
    ("harvest.ods", lambda: ff.password_odf(ff.ods_bytes()), "password-protected ODS"),
    ("harvest.ods", lambda: bomb("ODS", "content.xml")[0], bomb("ODS", "x")[1]),
    ("orchard.odt", lambda: half(ff.odt_bytes()), "corrupt ODT:"),
    ("orchard.odt", lambda: ff.password_odf(ff.odt_bytes()), "password-protected ODT"),
    ("orchard.odt", lambda: bomb("ODT", "content.xml")[0], bomb("ODT", "x")[1]),
    ("rows.csv", _csv_with_a_huge_field, "unreadable CSV: field larger than field limit (131072)"),
    ("rows.csv", lambda: bytes(range(256)) * 16, "binary"),
    ("meter.eml", lambda: b"just a line of words, no headers\n", "not an e-mail message (no headers)"),
    ("meter.eml", lambda: bytes(range(256)) * 16, "not an e-mail message (no headers)"),
    ("club.mbox", lambda: b"no envelope line here\n", "no messages in mailbox"),
    ("soil.ipynb", lambda: b'{"cells": [', "corrupt notebook:"),
    ("soil.ipynb", lambda: b"[1, 2, 3]", "corrupt notebook:"),
    ("rhubarb.rtf", lambda: b"plain words", "not an RTF file (no {\\rtf header)"),
    ("scan.png", lambda: _png()[:200], "corrupt image:"),
    ("scan.png", ff.pixel_bomb_png, "image too large ("),
]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_the_good_file_of_each_format_loads(name):
    assert load_document(name, GOOD[name](), S, INGEST).sections


@pytest.mark.parametrize(
    ("name", "build", "expected"), CASES, ids=[f"{n}-{reason.split(':')[0][:30]}" for n, _, reason in CASES]
)
def test_bad_input_is_skipped_with_its_reason(name, build, expected):
    with pytest.raises(SkipFile) as skipped:
        load_document(name, build(), S, INGEST)
    assert bad_files.matches(skipped.value.reason, expected), skipped.value.reason


def test_the_cap_is_the_setting():
    """A genuine package just over the unpacked cap is refused, and read once the cap is raised."""
    import zipfile

    data = ff.xlsx_bytes()
    unpacked_mb = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()) / 1024 / 1024
    with pytest.raises(SkipFile, match=r"XLSX unpacks to 0 MB \(> 0\.01 MB cap; a zip bomb\?\)"):
        load_document("budget.xlsx", data, S, IngestSettings(max_unpacked_mb=min(0.01, unpacked_mb / 2)))
    assert load_document("budget.xlsx", data, S, IngestSettings(max_unpacked_mb=unpacked_mb * 2)).sections


def test_a_mailbox_keeps_its_good_messages_around_a_bad_attachment():
    """One message's unreadable attachment costs that attachment only."""
    bad = ff.message("Broken", "a@example.org", "Mon, 04 Mar 2024 10:00:00 +0000", "Body kept.", ("x.xlsx", OLE))
    good = ff.message("Fine", "b@example.org", "Tue, 05 Mar 2024 10:00:00 +0000", "Second message kept.")
    mbox = b"".join(b"From x@example.org Mon Mar  4 10:00:00 2024\n" + m.as_bytes() + b"\n" for m in (bad, good))
    doc = load_document("club.mbox", mbox, S)
    assert "Body kept." in doc.text and "Second message kept." in doc.text
    reason = "password-protected or old-format file (not XLSX)"
    assert doc.notes == [f"message 1: attachment x.xlsx left out: {reason}"], doc.notes


def test_notebook_that_is_json_but_not_a_notebook():
    with pytest.raises(SkipFile, match="corrupt notebook"):
        load_document("x.ipynb", json.dumps({"nbformat": 4}).encode(), S)
