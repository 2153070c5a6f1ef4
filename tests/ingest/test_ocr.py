"""OCR through the real engine (rapidocr, models from its wheel): images, image-only PDFs, pages
with a garbage text layer, the page cap, OCR off, and failures named per file."""

from __future__ import annotations

import io

import pytest
from tests.fixtures import format_files as ff
from tests.ingest.ingest_checks import assert_sections_exact

from localrag.config import ChunkingSettings, IngestSettings
from localrag.ingest import SkipFile, load_document, ocr
from localrag.ingest.loaders.pdf import needs_ocr
from localrag.ingest.ocr_layout import Box, reading_order

S = ChunkingSettings()
SHED = ["The shed key hangs behind the water butt.", "Call Carol on 0113 496 0000."]


def words(text: str) -> set[str]:
    return set(text.lower().replace(".", " ").replace(",", " ").split())


def test_the_models_come_from_the_wheel_and_match_their_checksums():
    paths = ocr.model_paths()
    assert set(paths) == {"Det", "Rec"}
    assert all("site-packages" in str(p) or "dist-packages" in str(p) for p in paths.values())


def test_png_is_read_and_counted():
    pages = []
    doc = load_document("note.png", ff.png_bytes(SHED), S, on_ocr_page=pages.append)
    assert_sections_exact(doc)
    [section] = doc.sections
    assert section.locator == "image (OCR)" and section.page is None
    assert {"shed", "key", "hangs", "behind", "water", "butt", "carol", "0113", "496", "0000"} <= words(doc.text)
    assert len(pages) == 1 and 0 < pages[0] < 120  # seconds spent on the page


@pytest.mark.parametrize(("name", "fmt"), [("photo.jpg", "JPEG"), ("photo.webp", "WEBP"), ("scan.bmp", "BMP")])
def test_jpeg_webp_and_bmp_are_read(name, fmt):
    out = io.BytesIO()
    ff.text_image(["Rota for March: Carol waters."]).convert("RGB").save(out, fmt)
    doc = load_document(name, out.getvalue(), S)
    assert [s.locator for s in doc.sections] == ["image (OCR)"]
    assert {"rota", "march", "carol", "waters"} <= words(doc.text.replace(":", " "))


def test_image_only_pdf_pages_keep_their_numbers_and_say_ocr():
    pdf = ff.image_only_pdf([["Invoice 4711 from the glazier", "Total due: 420 EUR by 31 March"]])
    seen = []
    doc = load_document("scan.pdf", pdf, S, on_ocr_page=seen.append)
    assert_sections_exact(doc)
    assert [(s.page, s.locator) for s in doc.sections] == [(1, "page 1 (OCR)")]
    assert {"invoice", "4711", "glazier", "420", "eur", "31", "march"} <= words(doc.text)
    assert len(seen) == 1 and seen[0] > 0


def test_mixed_pdf_ocr_only_where_the_text_layer_is_missing():
    pdf = ff.mixed_pdf(
        "Page one has a real text layer about compost bays.", "Page two was scanned: bonfires banned in May."
    )
    doc = load_document("mixed.pdf", pdf, S)
    assert [(s.page, s.locator) for s in doc.sections] == [(1, None), (2, "page 2 (OCR)")]
    assert "compost bays" in doc.sections[0].text and "bonfires" in doc.sections[1].text.lower()


def test_garbage_text_layer_is_recognised():
    assert needs_ocr("")
    assert needs_ocr("3")  # a page number alone
    assert needs_ocr("ÿþ¤¤ §¶ ¬¬ ±± ¤¤ ÿÿ ¶¶ §§ ¬¬ ±± ÿÿ")
    assert needs_ocr("\ue000\ue001\ue002\ue003 \ue004\ue005\ue006\ue007 \ue008\ue009")
    assert not needs_ocr("The vents open at 24 °C (75 °F) – see § 3.")
    assert not needs_ocr("Tomaten brauchen Wärme; 番茄需要温暖。")


def test_ocr_off_and_the_page_cap():
    pdf = ff.image_only_pdf([["First scanned page"], ["Second scanned page"]])
    with pytest.raises(SkipFile, match=r"no text layer; OCR is off \(\[ingest\] ocr\)"):
        load_document("scan.pdf", pdf, S, IngestSettings(ocr="off"))
    with pytest.raises(SkipFile, match="OCR is off"):
        load_document("note.png", ff.png_bytes(SHED), S, IngestSettings(ocr="off"))
    doc = load_document("scan.pdf", pdf, S, IngestSettings(ocr_max_pages=1))
    assert [s.locator for s in doc.sections] == ["page 1 (OCR)"]
    assert doc.notes == ["OCR limited to 1 of 2 pages without text ([ingest] ocr_max_pages)"]


def test_multipage_tiff_pages():
    out = io.BytesIO()
    first, second = ff.text_image(["Rota for March"]), ff.text_image(["Rota for April"])
    first.save(out, "TIFF", save_all=True, append_images=[second])
    doc = load_document("rota.tiff", out.getvalue(), S)
    assert [(s.page, s.locator) for s in doc.sections] == [(1, "page 1 (OCR)"), (2, "page 2 (OCR)")]
    assert "april" in doc.sections[1].text.lower()


def tampered_package(tmp_path, monkeypatch, name: str) -> None:
    """Point the registry's OCR entry at a copy of the rapidocr package's model files with one byte of
    `name` flipped (the installed files are never touched)."""
    from localrag import models

    spec = models.bundled_spec(ocr.REGISTRY_NAME)
    real = models.package_dir(spec) / spec.path
    copy = tmp_path / "rapidocr"
    (copy / spec.path).mkdir(parents=True)
    for f in spec.files:
        data = bytearray((real / f.path).read_bytes())
        if f.path == name:
            data[len(data) // 2] ^= 0xFF
        (copy / spec.path / f.path).write_bytes(bytes(data))
    monkeypatch.setattr(models.locations, "package_dir", lambda s: copy)


def test_the_pins_are_the_registry_entry():
    from localrag import models

    spec = models.bundled_spec(ocr.REGISTRY_NAME)
    paths = ocr.model_paths()
    assert {use: p.name for use, p in paths.items()} == {f.use: f.path for f in spec.files}
    assert all(p.parent == models.package_dir(spec) / spec.path for p in paths.values())


def test_a_failing_engine_skips_the_file_with_its_reason(tmp_path, monkeypatch):
    tampered_package(tmp_path, monkeypatch, "PP-OCRv6_det_small.onnx")
    ocr._engine.cache_clear()
    try:
        with pytest.raises(SkipFile, match="OCR model PP-OCRv6_det_small.onnx fails its sha256 check"):
            load_document("note.png", ff.png_bytes(SHED), S)
        # A PDF with text pages keeps them and notes the pages it could not read.
        from fpdf import FPDF

        pdf = FPDF()
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 8, "A text page survives.")
        pdf.add_page()
        pdf.rect(20, 20, 80, 60, style="F")
        doc = load_document("mixed.pdf", bytes(pdf.output()), S)
        assert doc.sections[0].text == "A text page survives."
        assert doc.notes == [
            "pages without text left out: OCR model PP-OCRv6_det_small.onnx fails its sha256 check"
            " (not the file of rapidocr 3.10.0)"
        ]
    finally:
        ocr._engine.cache_clear()


def test_two_columns_are_read_column_by_column():
    def box(x: int, y: int, text: str, w: int = 380) -> Box:
        return Box(x, y, x + w, y + 30, text)

    title = Box(100, 0, 900, 40, "Minutes")
    left = [box(100, 60 + 40 * i, f"left {i}") for i in range(4)]
    right = [box(520, 60 + 40 * i, f"right {i}") for i in range(4)]
    text = reading_order([title, *right, *left])
    assert text == "Minutes\n\n" + "\n".join(f"left {i}" for i in range(4)) + "\n\n" + "\n".join(
        f"right {i}" for i in range(4)
    )
    one_column = [Box(100, 40 * i, 900, 40 * i + 30, f"line {i}") for i in range(8)]
    assert reading_order(one_column) == "\n".join(f"line {i}" for i in range(8))
