"""PPTX, XLSX, ODS, ODT, CSV, RTF and extensionless text: generated files through load_document,
their locators, and the chunks they make."""

from __future__ import annotations

import pytest
from tests.fixtures import format_files as ff
from tests.ingest.ingest_checks import assert_chunks_exact, assert_sections_exact, count_words

from localrag.config import ChunkingSettings, IngestSettings
from localrag.ingest import chunk_sections, load_document

S = ChunkingSettings()


def load(name: str, data: bytes, settings: ChunkingSettings = S, ingest: IngestSettings | None = None, **kw):
    doc = load_document(name, data, settings, ingest, **kw)
    assert_sections_exact(doc)
    return doc


def by_locator(doc) -> dict[str, str]:
    return {s.locator: s.text for s in doc.sections}


def test_pptx_slides_titles_tables_groups_and_notes():
    doc = load("deck.pptx", ff.pptx_bytes())
    assert [(s.locator, s.heading) for s in doc.sections] == [
        ("slide 1", ("Greenhouse plan",)),
        ("slide 1, notes", ("Greenhouse plan",)),
        ("slide 2", ("Glass budget",)),
    ]
    slides = by_locator(doc)
    assert "vents open at 24 degrees" in slides["slide 1"]
    assert slides["slide 1, notes"] == "Mention the backup heater in March."
    assert "Glass panes | 420 EUR" in slides["slide 2"]  # a table, row by row
    assert "glazier in Leeds" in slides["slide 2"]  # text inside a group shape
    assert all(s.page is None and s.line_start is None for s in doc.sections)


def test_xlsx_rows_grouped_with_the_header_repeated_and_sheet_row_ranges():
    doc = load("budget.xlsx", ff.xlsx_bytes(), count_tokens=count_words)
    budget = [s for s in doc.sections if s.heading == ("Budget",)]
    assert len(budget) > 3
    header = "Item | Supplier | Cost EUR"
    assert all(s.text.startswith(header + "\n") and s.kind == "table" for s in budget)
    # Row ranges are the sheet's own rows (header in row 1), contiguous, covering rows 2..121.
    ranges = [tuple(int(x) for x in s.locator.removeprefix("sheet Budget, rows ").split("-")) for s in budget]
    assert ranges[0][0] == 2 and ranges[-1][1] == 121
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:]))
    row43 = next(s for s, (lo, hi) in zip(budget, ranges) if lo <= 43 <= hi)
    assert "Heirloom tomato seeds | Real Seed Catalogue | 7.25" in row43.text
    assert "Seed packet 3 | Supplier 3 | 5.5" in budget[0].text  # whole floats lose nothing, 5.5 stays
    notes = [s for s in doc.sections if s.heading == ("Notes",)]
    assert [s.locator for s in notes] == ["sheet Notes, row 2"]
    # Every group fits one chunk (size 200 by the same counter): the header leads every chunk.
    chunks = chunk_sections(doc.sections, count_words, S.size, S.overlap, 254)
    assert_chunks_exact(doc.text, chunks, count_words, 254)
    assert len(chunks) == len(doc.sections)
    assert all(c.text.startswith(("Item | Supplier", "Topic | Note")) and c.locator for c in chunks)


def test_xlsx_dates_and_integers_read_as_people_write_them():
    import datetime

    doc = load("d.xlsx", ff.xlsx_bytes([["When", "Count"], [datetime.datetime(2024, 3, 1), 12.0]]))
    assert "2024-03-01 | 12" in doc.text


def test_table_text_is_capped_with_a_note():
    doc = load("budget.xlsx", ff.xlsx_bytes(), ChunkingSettings(max_data_chars=1000))
    assert len(doc.text) < 2500 and doc.notes and doc.notes[0].startswith("truncated: indexed up to sheet Budget, row")


def test_csv_and_tsv_are_tables_with_row_ranges():
    rows = "plant,bed,sown\n" + "".join(f"tomato {i},B{i % 4},2024-03-{i % 28 + 1:02d}\n" for i in range(1, 80))
    doc = load("sowing.csv", rows.encode(), count_tokens=count_words)
    assert len(doc.sections) > 1 and all(s.text.startswith("plant | bed | sown\n") for s in doc.sections)
    assert doc.sections[0].locator.startswith("rows 2-") and doc.sections[-1].locator.endswith("-80")
    tsv = load("t.tsv", b"a\tb\n1\t2\n")
    assert tsv.sections[0].text == "a | b\n1 | 2" and tsv.sections[0].locator == "row 2"
    semicolons = load("s.csv", b"name;litres\nplot 14;3312\nplot 15;2890\n")
    assert "plot 14 | 3312" in semicolons.text  # the delimiter is sniffed


def test_ods_sheets_and_repeated_rows_do_not_explode():
    doc = load("harvest.ods", ff.ods_bytes())
    assert [(s.locator, s.heading) for s in doc.sections] == [("sheet Harvest, rows 2-3", ("Harvest",))]
    assert doc.sections[0].text == "Crop | Kilograms\nPotatoes | 31\nCourgettes | 12"
    # An empty run claiming a million rows of 16,384 cells only moves the row number on.
    bomb = load("bomb.ods", ff.ods_bytes(repeat_empty_rows=1_000_000))
    assert bomb.sections[0].locator == "sheet Harvest, rows 2-1000004"
    assert bomb.text.endswith("Beans | 9") and len(bomb.text) < 200


def test_odt_headings_paragraphs_and_lists():
    doc = load("orchard.odt", ff.odt_bytes())
    assert [s.heading for s in doc.sections] == [("Orchard diary",), ("Orchard diary", "Pests")]
    assert "pruned in February" in doc.sections[0].text
    assert "- Grease bands\n- Pheromone traps" in doc.sections[1].text


def test_rtf_text_without_control_words():
    doc = load("rhubarb.rtf", ff.RTF.encode())
    assert (
        doc.sections[0].text == "Rhubarb is forced under a bucket from January.\nThe crowns are split every five years."
    )
    assert doc.sections[0].line_start == 1


@pytest.mark.parametrize("name", ["LICENSE", "NOTES", "recipe", "Vagrantfile"])
def test_extensionless_text_is_read_by_content(name):
    doc = load(name, b"Permission is hereby granted, free of charge.\nSecond line.\n")
    assert doc.sections[0].text.startswith("Permission") and doc.sections[0].line_end == 2


def test_readme_and_makefile_found_by_the_walk_and_loaded(tmp_path):
    """The issue's own examples, through walk -> read -> load: README as text, Makefile as code
    (its targets split like functions), neither 'unsupported'."""
    from localrag.ingest import FileEntry, read_file, walk

    (tmp_path / "README").write_text("Read me first: the pumps are serviced in spring.\n")
    (tmp_path / "Makefile").write_text(".PHONY: test\ntest:\n\tpytest -q\n\nlint:\n\truff check .\n")
    entries = {e.rel: e for e in walk(tmp_path, S)}
    assert all(isinstance(e, FileEntry) for e in entries.values()) and set(entries) == {"README", "Makefile"}
    readme = load("README", read_file(entries["README"], S.max_file_mb))
    assert readme.sections[0].text == "Read me first: the pumps are serviced in spring."
    make = load("Makefile", read_file(entries["Makefile"], S.max_file_mb))
    assert "pytest -q" in make.text and "ruff check ." in make.text and make.sections[-1].line_end == 6


def test_extensionless_binary_and_mailbox_by_content():
    from localrag.ingest import SkipFile

    with pytest.raises(SkipFile, match="unsupported"):
        load_document("program", b"\x7fELF\x02\x01\x01\x00" + bytes(200), S)
    inbox = load("Inbox", ff.mbox_bytes())  # Thunderbird keeps mailboxes without an extension
    assert [s.locator for s in inbox.sections][0].startswith("message 1 (Bob Jones")
