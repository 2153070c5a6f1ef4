"""OCR quality and speed on rendered pages of known text; prints JSON.

    python scripts/bench_ocr.py [--quick] [--det-side N]

Renders an A4 page of known English text (numbers, names, punctuation) in several fonts at
150 and 300 dpi, clean, slightly rotated (1.5 degrees) and noisy (Gaussian noise plus
specks), and one two-column page; reads each as an image and (clean ones) as an image-only
PDF through localrag's own loaders, and reports the character error rate per condition
(edit distance / reference length, whitespace collapsed) and pages per second. Runs on
whatever cores onnxruntime finds (2 on the development machine). Wall time suffers when
other processes share the cores, so the CPU time per page is reported too: on an idle
machine with N cores a page takes about cpu_seconds_per_page / N seconds (an estimate:
onnxruntime does not keep every core busy all the time).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageFilter, ImageFont  # noqa: E402

from localrag.config import ChunkingSettings, IngestSettings  # noqa: E402
from localrag.ingest import load_document, ocr  # noqa: E402

FONTS = {"sans": "DejaVuSans.ttf", "serif": "DejaVuSerif.ttf", "mono": "DejaVuSansMono.ttf"}
TEXT = (
    "The allotment committee met on 4 March 2024 at the village hall. Rent for a full plot "
    "rises to 62.50 GBP a year from April; half plots pay 31.25 GBP. Water meters on plots 14 "
    "and 15 read 3312 and 2890 litres. Mrs. Okafor proposed a seed swap on Saturday 16 March, "
    "seconded by Mr. Lindqvist. The shed key now hangs behind the water butt (ask Carol). "
    "Compost bays A-C must be turned every two weeks; bay D holds leaf mould only. Bonfires "
    "are not allowed between 1 May and 30 September. Next meeting: 8 April, 7:30 pm."
)
A4_INCHES = (8.27, 11.69)
MARGIN_INCHES = 0.8


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if font.getlength(trial) <= width:
            line = trial
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def render_page(font_file: str, dpi: int, columns: int = 1, text: str = TEXT) -> Image.Image:
    """An A4 page of 11 pt text at `dpi`, in one or two columns."""
    w, h = int(A4_INCHES[0] * dpi), int(A4_INCHES[1] * dpi)
    page = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(font_file, int(11 / 72 * dpi))
    margin = int(MARGIN_INCHES * dpi)
    gutter = int(0.35 * dpi)
    col_w = (w - 2 * margin - (columns - 1) * gutter) // columns
    line_h = int(11 / 72 * dpi * 1.45)
    if columns == 1:
        chunks = [text]
    else:
        words = text.split()
        half = len(words) // 2
        chunks = [" ".join(words[:half]), " ".join(words[half:])]
    for c, chunk in enumerate(chunks):
        x = margin + c * (col_w + gutter)
        for i, line in enumerate(_wrap(chunk, font, col_w)):
            draw.text((x, margin + i * line_h), line, fill=0, font=font)
    return page


def degrade(page: Image.Image, kind: str, seed: int = 7) -> Image.Image:
    if kind == "rotated":
        return page.rotate(1.5, resample=Image.BICUBIC, expand=False, fillcolor=255)
    if kind == "noisy":
        rng = random.Random(seed)
        noisy = Image.effect_noise(page.size, 24).point(lambda v: v - 128)
        out = Image.blend(page, Image.merge("L", [noisy]).filter(ImageFilter.GaussianBlur(0.4)), 0.18)
        px = out.load()
        for _ in range(page.size[0] * page.size[1] // 800):  # specks
            px[rng.randrange(page.size[0]), rng.randrange(page.size[1])] = rng.choice((0, 90))
        return out
    return page


def image_only_pdf(page: Image.Image, dpi: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    buf = io.BytesIO()
    page.save(buf, "PNG")
    pdf.image(buf, x=0, y=0, w=A4_INCHES[0] * 72, h=A4_INCHES[1] * 72)
    return bytes(pdf.output())


def _norm(text: str) -> str:
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(reference: str, hypothesis: str) -> float:
    ref, hyp = _norm(reference), _norm(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one font, clean pages only")
    parser.add_argument("--det-side", type=int, default=None, help="override ocr.DET_LIMIT_SIDE")
    args = parser.parse_args()
    if args.det_side:
        ocr.DET_LIMIT_SIDE = args.det_side
    t0 = time.perf_counter()
    ocr._engine()
    load_s = time.perf_counter() - t0
    fonts = {"sans": FONTS["sans"]} if args.quick else FONTS
    kinds = ("clean",) if args.quick else ("clean", "rotated", "noisy")
    rows = []
    ocr_seconds = cpu_seconds = 0.0
    pages = 0

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def run(name: str, source: str, dpi: int, reference: str, read) -> None:
        nonlocal ocr_seconds, cpu_seconds, pages
        t, c = time.perf_counter(), cpu()
        text = read()
        dt, dc = time.perf_counter() - t, cpu() - c
        ocr_seconds += dt
        cpu_seconds += dc
        pages += 1
        rows.append(
            {
                "condition": name,
                "input": source,
                "dpi": dpi,
                "cer": round(cer(reference, text), 4),
                "seconds": round(dt, 2),
                "cpu_seconds": round(dc, 2),
            }
        )

    settings, ingest = ChunkingSettings(), IngestSettings()
    for font_name, font_file in fonts.items():
        for dpi in (150, 300):
            for kind in kinds:
                page = degrade(render_page(font_file, dpi), kind)
                run(f"{font_name}/{kind}", "image", dpi, TEXT, lambda: ocr.read_image(page))  # noqa: B023 - run calls it
                if kind == "clean":
                    data = image_only_pdf(page, dpi)
                    run(
                        f"{font_name}/{kind}",
                        "pdf",
                        dpi,
                        TEXT,
                        lambda: load_document("scan.pdf", data, settings, ingest).text,  # noqa: B023 - run calls it
                    )
    two = render_page(FONTS["serif"], 300, columns=2)
    run("serif/two-column", "image", 300, TEXT, lambda: ocr.read_image(two))
    data = image_only_pdf(two, 300)
    run("serif/two-column", "pdf", 300, TEXT, lambda: load_document("scan.pdf", data, settings, ingest).text)  # noqa: B023

    clean300 = [r["cer"] for r in rows if r["dpi"] == 300 and r["condition"].endswith("/clean")]
    print(
        json.dumps(
            {
                "engine": "rapidocr (PP-OCRv6 small det/rec, onnxruntime)",
                "det_limit_side": ocr.DET_LIMIT_SIDE,
                "cores": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "engine_load_seconds": round(load_s, 2),
                "pages": pages,
                "pages_per_second": round(pages / ocr_seconds, 3),
                "cpu_seconds_per_page": round(cpu_seconds / pages, 2),
                "pages_per_second_idle_estimate": round((os.cpu_count() or 1) * pages / cpu_seconds, 3),
                "mean_cer_300dpi_clean": round(sum(clean300) / len(clean300), 4),
                "max_cer_300dpi_clean": max(clean300),
                "conditions": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
