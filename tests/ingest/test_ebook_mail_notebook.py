"""EPUB, EML, MBOX and Jupyter notebooks: generated files through load_document, with locators."""

from __future__ import annotations

import pytest
from tests.fixtures import format_files as ff
from tests.ingest.ingest_checks import assert_sections_exact

from localrag.config import ChunkingSettings, IngestSettings
from localrag.ingest import SkipFile, load_document

S = ChunkingSettings()


def load(name: str, data: bytes, ingest: IngestSettings | None = None):
    doc = load_document(name, data, S, ingest)
    assert_sections_exact(doc)
    return doc


def test_epub_chapters_in_spine_order_with_headings():
    doc = load("allotment.epub", ff.epub_bytes())
    assert [(s.locator, s.heading) for s in doc.sections] == [
        ("chapter 1", ("Spring",)),
        ("chapter 1", ("Spring", "Frost")),
        ("chapter 2", ("Autumn",)),  # no heading of its own: the table of contents names it
    ]
    assert "Sow broad beans in March." in doc.sections[0].text
    assert doc.sections[2].text == "Garlic cloves go in during October, pointy end up."
    assert "The Allotment Year" not in doc.text  # the page <title> is not a heading of every chapter


def test_drm_epub_is_skipped():
    with pytest.raises(SkipFile, match="DRM-protected EPUB"):
        load_document("locked.epub", ff.drm_epub_bytes(), S)


def test_eml_headers_body_and_text_attachment():
    doc = load("meter.eml", ff.eml_bytes())
    body, attachment = doc.sections
    assert body.heading == ("Plot 14 water meter",) and body.locator == "Alice Smith, 2024-03-01"
    assert body.text.startswith("From: Alice Smith <alice@example.org>\nTo: me@example.org\nDate: ")
    assert "3312 litres" in body.text
    assert attachment.locator == "attachment readings.csv, rows 2-3"
    assert attachment.text == "Plot | Litres\n14 | 3312\n15 | 2890" and attachment.heading == ("Plot 14 water meter",)


def test_mbox_one_part_per_message():
    doc = load("club.mbox", ff.mbox_bytes())
    assert [(s.locator, s.heading) for s in doc.sections] == [
        ("message 1 (Bob Jones, 2024-03-04)", ("Seed swap",)),
        ("message 2 (Carol White, 2024-03-05)", ("Shed key",)),
    ]
    assert "\nFrom now on the shed key hangs behind the water butt." in doc.sections[1].text  # unquoted ">From"


def test_html_only_mail_is_read_as_text():
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"], msg["From"] = "Newsletter", "club@example.org"
    msg.set_content("<html><body><h1>Club news</h1><p>Plot <b>7</b> is free.</p></body></html>", subtype="html")
    doc = load("news.eml", msg.as_bytes())
    assert "Plot 7 is free." in doc.text and "<b>" not in doc.text


def test_mail_attachment_that_cannot_be_read_is_noted_not_fatal():
    msg = ff.message(
        "Scan",
        "a@example.org",
        "Mon, 04 Mar 2024 10:00:00 +0000",
        "See the attached PDF.",
        ("broken.pdf", b"%PDF-1.7 garbage"),
    )
    doc = load("scan.eml", msg.as_bytes())
    assert "See the attached PDF." in doc.text
    assert doc.notes and doc.notes[0].startswith("message: attachment broken.pdf left out: corrupt PDF")


def test_notebook_cells_headings_carry_on_and_outputs_are_optional():
    doc = load("soil.ipynb", ff.ipynb_bytes())
    assert [(s.locator, s.heading, s.kind) for s in doc.sections] == [
        ("cell 1", ("Soil analysis",), "text"),
        ("cell 2", ("Soil analysis",), "code"),
        ("cell 3", ("Soil analysis", "Nitrogen"), "text"),
        ("cell 4", ("Soil analysis", "Nitrogen"), "code"),
    ]
    assert "6.233333" not in doc.text
    with_outputs = load("soil.ipynb", ff.ipynb_bytes(), IngestSettings(notebook_outputs=True))
    outputs = {s.locator: s.text for s in with_outputs.sections if s.locator.endswith("output")}
    assert outputs == {"cell 2, output": "6.233333", "cell 4, output": "bed 3 nitrogen 12 ppm"}


def test_corrupt_notebook_is_skipped_with_a_reason():
    with pytest.raises(SkipFile, match="corrupt notebook"):
        load_document("x.ipynb", b'{"cells": [', S)
