"""Office files, e-books, mail, notebooks and scans through the indexer and the store: their
locators reach hits, citations, the prompt and the CLI's source list; OCR pages are counted in
the progress events; scans skipped while OCR was off are read once it is on."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console

from localrag import index_events as ev
from localrag.config import IngestSettings, Settings
from localrag.generate.citations import resolve
from localrag.generate.prompt import format_source
from localrag.indexer import index_folder
from localrag.render import print_sources
from localrag.store import Store
from tests.fixtures import format_files as ff
from tests.helpers import CountingEmbedder


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "home"
    root.mkdir()
    for name, build in ff.FILES.items():
        (root / name).write_bytes(build())
    (root / "LICENSE").write_text("Permission is hereby granted to prune the pear tree.\n")
    (root / "scan.pdf").write_bytes(ff.image_only_pdf([["Bonfires are banned between May and September."]]))
    return root


def _hits(store: Store, query: str):
    found = store.keyword.search(query, 5)
    hits = store.get_hits([c for c, _ in found])
    return [hits[c] for c, _ in found if c in hits]


def test_locators_reach_hits_citations_prompt_and_sources(folder, tmp_path):
    settings = Settings(index=tmp_path / "index")
    events = []
    store = Store.open(settings.index, settings, create=True)
    summary = index_folder(store, folder, CountingEmbedder(), settings, progress=events.append)
    assert summary.skipped == []
    assert summary.ocr_pages == 1
    [ocr_event] = [e for e in events if isinstance(e, ev.Ocr)]
    assert ocr_event.path == "scan.pdf" and ocr_event.done == 1 and ocr_event.seconds > 0

    places = {}
    for query, path in [
        ("backup heater", "deck.pptx"),
        ("heirloom", "budget.xlsx"),
        ("garlic", "allotment.epub"),
        ("shed key", "club.mbox"),
        ("nitrogen", "soil.ipynb"),
        ("bonfires", "scan.pdf"),
        ("pear tree", "LICENSE"),
        ("courgettes", "harvest.ods"),
    ]:
        hit = next(h for h in _hits(store, query) if h.path == path)
        places[path] = hit.place()
    low, high = map(int, places.pop("budget.xlsx").removeprefix("sheet Budget, rows ").split("-"))
    assert low <= 43 <= high  # the heirloom seeds sit in sheet row 43
    assert places == {
        "deck.pptx": "slide 1, notes",
        "allotment.epub": "chapter 2",
        "club.mbox": "message 2 (Carol White, 2024-03-05)",
        "soil.ipynb": "cell 3",
        "scan.pdf": "page 1 (OCR)",
        "LICENSE": "line 1",
        "harvest.ods": "sheet Harvest, rows 2-3",
    }
    scan = next(h for h in _hits(store, "bonfires") if h.path == "scan.pdf")
    assert scan.page == 1 and scan.to_json()["locator"] == "page 1 (OCR)"
    [citation], _ = resolve("Bonfires are banned in summer [1].", [scan])
    assert citation.to_json()["locator"] == "page 1 (OCR)" and citation.page == 1
    assert 'place="page 1 (OCR)"' in format_source(1, scan)
    out = io.StringIO()
    print_sources(Console(file=out, width=200), [scan])
    assert "scan.pdf, page 1 (OCR)" in out.getvalue()
    store.close()


def test_scans_skipped_with_ocr_off_are_read_when_it_is_on(folder, tmp_path):
    settings = Settings(index=tmp_path / "index", ingest=IngestSettings(ocr="off"))
    store = Store.open(settings.index, settings, create=True)
    summary = index_folder(store, folder, CountingEmbedder(), settings)
    assert summary.skipped == [{"path": "scan.pdf", "reason": "no text layer; OCR is off ([ingest] ocr)"}]
    assert summary.ocr_pages == 0
    settings.ingest.ocr = "auto"
    summary = index_folder(store, folder, CountingEmbedder(), settings)
    assert summary.skipped == [] and summary.added == 1 and summary.ocr_pages == 1
    store.close()


def test_catalogues_from_before_locators_gain_the_column(tmp_path):
    from localrag.store.catalog import Catalog

    path = tmp_path / "catalog.sqlite3"
    Catalog.open(path, create=True).close()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE chunks DROP COLUMN locator")
    conn.execute("ALTER TABLE staged_chunks DROP COLUMN locator")
    conn.commit()
    conn.close()
    Catalog.open(path).close()
    conn = sqlite3.connect(path)
    assert "locator" in {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}
    assert "locator" in {r[1] for r in conn.execute("PRAGMA table_info(staged_chunks)")}
    conn.close()


def test_the_cli_progress_shows_ocr_pages_per_second():
    from localrag.progress import IndexProgress

    out = io.StringIO()
    with IndexProgress(console=Console(file=out, width=160, force_terminal=True)) as progress:
        progress(ev.Scan(files=1, skipped=0))
        progress(ev.Ocr(path="scan.pdf", done=3, seconds=6.0))
    assert "pages read by OCR" in out.getvalue() and "0.50 pages/s" in out.getvalue()


def _mixed_pdf() -> bytes:
    return ff.mixed_pdf(
        "Page one has a real text layer about the rainwater tank.", "Page two was scanned: hosepipes banned in August."
    )


BAD = {  # file: (bytes, the reason it is skipped with); zip bombs measured against a 4 MB cap
    "truncated.xlsx": (lambda: ff.xlsx_bytes()[:300], "corrupt XLSX:"),
    "locked.odt": (lambda: ff.password_odf(ff.odt_bytes()), "password-protected ODT"),
    "locked.pptx": (
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
        "password-protected or old-format file (not PPTX)",
    ),
    "bomb.pptx": (lambda: ff.zip_bomb("ppt/slides/slide1.xml", 5), "PPTX unpacks to 5 MB (> 4 MB cap; a zip bomb?)"),
    "drm.epub": (ff.drm_epub_bytes, "DRM-protected EPUB"),
    "corrupt.ipynb": (lambda: b'{"cells": [', "corrupt notebook:"),
    "not-really.rtf": (lambda: b"plain words", "not an RTF file (no {\\rtf header)"),
    "pixel-bomb.png": (ff.pixel_bomb_png, "image too large ("),
}
BROKEN_OCR = "OCR model PP-OCRv6_det_small.onnx fails its sha256 check (not the file of rapidocr 3.10.0)"


def test_bad_files_and_a_failing_ocr_cost_only_themselves_and_ocr_is_retried_once_mended(folder, tmp_path, monkeypatch):
    """A folder of every format plus broken files, indexed while the OCR models fail their checksum:
    each broken file and each scan is skipped with its reason, a PDF with a text page keeps it,
    and every other file is indexed and found. With rapidocr mended (the files unchanged), the
    next run reads the scans and the left-out page."""
    from tests.fixtures.bad_files import matches
    from tests.ingest.test_ocr import tampered_package

    from localrag.ingest import ocr

    for name, (build, _) in BAD.items():
        (folder / name).write_bytes(build())
    (folder / "note.png").write_bytes(ff.png_bytes(["The shed key hangs behind the water butt."]))
    (folder / "tank.pdf").write_bytes(_mixed_pdf())
    settings = Settings(index=tmp_path / "index", ingest=IngestSettings(max_unpacked_mb=4))
    store = Store.open(settings.index, settings, create=True)
    tampered_package(tmp_path, monkeypatch, "PP-OCRv6_det_small.onnx")
    ocr._engine.cache_clear()
    try:
        summary = index_folder(store, folder, CountingEmbedder(), settings)
    finally:
        monkeypatch.undo()
        ocr._engine.cache_clear()
    skipped = {s["path"]: s["reason"] for s in summary.skipped}
    expected = {name: reason for name, (_, reason) in BAD.items()} | {"note.png": BROKEN_OCR, "scan.pdf": BROKEN_OCR}
    assert set(skipped) == set(expected)
    assert all(matches(skipped[name], reason) for name, reason in expected.items()), skipped
    good = len(ff.FILES) + 2  # the format files, LICENSE and the text page of tank.pdf
    assert summary.added == good and summary.ocr_pages == 0
    assert summary.notes == [{"path": "tank.pdf", "note": f"pages without text left out: {BROKEN_OCR}"}]
    for query, path in [("backup heater", "deck.pptx"), ("heirloom", "budget.xlsx"), ("garlic", "allotment.epub"),
                        ("shed key", "club.mbox"), ("nitrogen", "soil.ipynb"), ("pear tree", "LICENSE"),
                        ("courgettes", "harvest.ods"), ("codling", "orchard.odt"), ("3312", "meter.eml"),
                        ("rainwater", "tank.pdf")]:  # fmt: skip
        assert any(h.path == path for h in _hits(store, query)), (query, path)

    summary = index_folder(store, folder, CountingEmbedder(), settings)  # OCR mended, no file changed
    assert {s["path"] for s in summary.skipped} == set(BAD)
    assert (summary.added, summary.updated, summary.unchanged) == (2, 1, good - 1)
    assert summary.ocr_pages == 3 and summary.notes == []
    places = {h.path: h.place() for q in ("hosepipes", "bonfires", "water butt") for h in _hits(store, q)}
    assert places["tank.pdf"] == "page 2 (OCR)" and places["scan.pdf"] == "page 1 (OCR)"
    assert places["note.png"] == "image (OCR)"
    assert index_folder(store, folder, CountingEmbedder(), settings).unchanged == good + 2  # nothing left to retry
    store.close()


def test_a_pdf_indexed_in_part_with_ocr_off_gains_its_scanned_pages_when_ocr_is_on(tmp_path):
    root = tmp_path / "home"
    root.mkdir()
    (root / "tank.pdf").write_bytes(_mixed_pdf())
    settings = Settings(index=tmp_path / "index", ingest=IngestSettings(ocr="off"))
    store = Store.open(settings.index, settings, create=True)
    summary = index_folder(store, root, CountingEmbedder(), settings)
    assert summary.added == 1 and summary.ocr_pages == 0
    assert summary.notes == [{"path": "tank.pdf", "note": "pages without text left out: OCR is off ([ingest] ocr)"}]
    assert index_folder(store, root, CountingEmbedder(), settings).unchanged == 1  # still off: not re-read
    settings.ingest.ocr = "auto"
    summary = index_folder(store, root, CountingEmbedder(), settings)
    assert summary.updated == 1 and summary.ocr_pages == 1 and summary.notes == []
    [hit] = [h for h in _hits(store, "hosepipes") if h.path == "tank.pdf"]
    assert hit.place() == "page 2 (OCR)"
    store.close()
