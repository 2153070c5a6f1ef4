"""Images (PNG, JPEG, TIFF, WebP, BMP) read by OCR: one section per frame, located as
'image (OCR)', or 'page 2 (OCR)' for the pages of a multi-page TIFF, up to
[ingest] ocr_max_pages."""

from __future__ import annotations

import time
import warnings
from io import BytesIO

from PIL import Image, UnidentifiedImageError

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.errors import SkipFile
from localrag.ingest.options import LoadOptions
from localrag.ingest.loaders.pdf import short_reason


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow warns past MAX_IMAGE_PIXELS and refuses past twice that; both are refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data))
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise SkipFile(f"image too large (over {Image.MAX_IMAGE_PIXELS:,} pixels; a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise SkipFile("corrupt image: not a readable picture") from None
    except Exception as e:  # truncated or damaged image data
        raise SkipFile(f"corrupt image: {short_reason(e)}") from None
    return image


def load_image(data: bytes, options: LoadOptions) -> Document:
    if options.ingest.ocr == "off":
        raise SkipFile("image: OCR is off ([ingest] ocr)")
    from localrag.ingest.ocr import read_image

    image = _open(data)
    frames = getattr(image, "n_frames", 1)
    cap = options.ingest.ocr_max_pages
    builder = TextBuilder()
    notes = [f"OCR limited to the first {cap} of {frames} pages ([ingest] ocr_max_pages)"] if frames > cap else []
    for frame in range(min(frames, cap)):
        started = time.perf_counter()
        if frame:
            try:
                image.seek(frame)
                image.load()
            except Exception as e:  # a damaged later frame: keep what was read
                notes.append(f"page {frame + 1} unreadable: {short_reason(e)}")
                break
        text = read_image(image)
        if options.on_ocr_page is not None:
            options.on_ocr_page(time.perf_counter() - started)
        page = frame + 1 if frames > 1 else None
        builder.start_section(page=page, locator=f"page {page} (OCR)" if page else "image (OCR)")
        builder.add_block(text)
    doc = builder.build(notes)
    if not doc.sections:
        raise SkipFile("no text found by OCR")
    return doc
