"""Every awkward file from tests/fixtures/bad_files.py through walk -> read_file -> load -> chunk."""

from __future__ import annotations

import builtins

import pytest
from tests.fixtures import bad_files
from tests.ingest.ingest_checks import assert_chunks_exact, assert_sections_exact, count_words

from localrag.config import ChunkingSettings
from localrag.ingest import FileEntry, SkipFile, chunk_sections, load_document, read_file, walk

SETTINGS = ChunkingSettings(max_file_mb=bad_files.CAP_MB)


def _ingest(folder):
    """{rel: "ok" | reason} and {rel: Document} for the loaded ones."""
    outcomes, docs = {}, {}
    for item in walk(folder, SETTINGS):
        if not isinstance(item, FileEntry):
            outcomes[item.rel] = item.reason
            continue
        try:
            docs[item.rel] = load_document(item.rel, read_file(item, SETTINGS.max_file_mb), SETTINGS)
            outcomes[item.rel] = "ok"
        except SkipFile as e:
            outcomes[item.rel] = e.reason
    return outcomes, docs


@pytest.fixture(scope="module")
def ingested(bad_folder):
    folder, expected = bad_folder
    outcomes, docs = _ingest(folder)
    return expected, outcomes, docs


def test_every_file_has_its_expected_outcome(ingested):
    expected, outcomes, _ = ingested
    assert list(outcomes) == sorted(outcomes)
    assert set(outcomes) == set(expected)
    wrong = {rel: (outcomes[rel], want) for rel, want in expected.items() if not bad_files.matches(outcomes[rel], want)}
    assert not wrong


def test_corrupt_reasons_say_why(ingested):
    _, outcomes, _ = ingested
    for rel in ("corrupt.pdf", "truncated.pdf"):
        assert len(outcomes[rel]) > len("corrupt PDF: ") + 3


def test_loaded_documents_keep_exact_spans_and_chunk(ingested):
    _, _, docs = ingested
    for rel, doc in docs.items():
        assert_sections_exact(doc)
        chunks = chunk_sections(doc.sections, count_words, 120, 16, 160)
        assert chunks, rel
        assert_chunks_exact(doc.text, chunks, count_words, 160)


def test_encodings_decode_without_mojibake(ingested):
    _, _, docs = ingested
    assert docs["cp1252.txt"].text == bad_files.CP1252_TEXT
    assert docs["utf16-bom.txt"].text == bad_files.UTF16_TEXT
    assert docs["utf16le-no-bom.txt"].text == bad_files.UTF16_TEXT
    assert docs["utf8-bom.md"].sections[0].heading == ("BOM heading",)
    assert docs["notes/été 2024 – résumé.md"].sections[0].heading == ("Été",)


def test_pdf_pages_and_bookmarks(ingested):
    _, _, docs = ingested
    for rel in ("good-multipage.pdf", "owner-password-only.pdf"):
        sections = docs[rel].sections
        assert [s.page for s in sections] == [1, 2, 3]
        assert [s.heading for s in sections] == [("Chapter 1",), ("Chapter 2",), ("Chapter 3",)]
        assert all(s.text.startswith(f"Page {s.page}: the greenhouse") for s in sections)
        assert all(s.line_start is None for s in sections)


def test_html_docx_python_structure(ingested):
    _, _, docs = ingested
    html = docs["good.html"]
    assert "track()" not in html.text and "Home" not in html.text and "Site footer" not in html.text
    assert [s.heading for s in html.sections] == [("Compost guide",), ("Compost guide", "Greens and browns")]
    docx = docs["good.docx"]
    assert [s.heading for s in docx.sections] == [("Seed catalogue", "Beans")]
    assert "- Borlotti" in docx.text and "Variety | Days\nCobra | 60" in docx.text
    py = docs["good.py"]
    assert [s.heading for s in py.sections] == [(), ("next_watering",), ("Schedule",)]
    assert py.sections[1].line_start == 6 and py.sections[1].line_end == 8


def test_mega_line_is_one_line_many_chunks(ingested):
    _, _, docs = ingested
    doc = docs["mega-line.txt"]
    chunks = chunk_sections(doc.sections, count_words, 200, 32, 256)
    assert len(chunks) > 500
    assert {(c.line_start, c.line_end) for c in chunks} == {(1, 1)}


def test_permission_denied_reported(bad_folder, monkeypatch):
    """Root reads chmod-000 files, so make open() refuse the way it would for a user."""
    folder, _ = bad_folder
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if str(file).endswith("unreadable.md"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    outcomes, _ = _ingest(folder)
    assert outcomes["unreadable.md"] == "unreadable: permission denied"
    assert outcomes["good.md"] == "ok"
