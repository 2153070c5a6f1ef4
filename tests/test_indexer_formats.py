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
