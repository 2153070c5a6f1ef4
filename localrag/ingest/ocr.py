"""Offline OCR: RapidOCR running PP-OCR models that ship inside the rapidocr wheel (onnxruntime).

Nothing is downloaded: the two model files (text detection, recognition) are passed by path, after their sha256 is
checked against the values below (the files of rapidocr 3.10.0), so a changed or damaged
install is refused rather than silently used. The engine is loaded once per process, on the
first page that needs it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from functools import lru_cache
from pathlib import Path

from localrag.ingest.errors import SkipFile
from localrag.ingest.ocr_layout import box_from_points, reading_order


RAPIDOCR_VERSION = "3.10.0"
# Models inside the rapidocr wheel (rapidocr/models/), by role: (file name, sha256).
MODELS = {
    "Det": ("PP-OCRv6_det_small.onnx", "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"),
    "Rec": ("PP-OCRv6_rec_small.onnx", "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"),
}
# Text detection runs on the page scaled to this long side (PaddleOCR's own "max" style);
# rapidocr's default (short side >= 736, i.e. the whole 2000-pixel page) missed a lone line of
# 11 pt text on an A4 page. With 960, 1280 and 2000 the bench_ocr --quick pages all read at
# CER 0; 1280 is the middle, keeping some margin for small print. Recognition still reads the
# crops at full resolution.
DET_LIMIT_SIDE = 1280
# Pages are read with at most this many pixels on their long side. Larger images are scaled
# down first: rapidocr's own cut-down to 2000 lost the last lines of a 300 dpi A4 page.
MAX_LONG_SIDE = 2000
_LOCK = threading.Lock()  # one page at a time: onnxruntime already uses every core


class OcrUnavailable(SkipFile):
    """The OCR engine cannot run here (not installed, or its model files fail their checksum)."""


def model_paths() -> dict[str, Path]:
    """Path of each model file in the installed rapidocr package, checksum verified."""
    try:
        import rapidocr
    except ImportError as e:
        raise OcrUnavailable(f"OCR engine not installed ({e.name})") from None
    folder = Path(rapidocr.__file__).parent / "models"
    paths = {}
    for role, (name, sha256) in MODELS.items():
        path = folder / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise OcrUnavailable(f"OCR model missing: {path}") from None
        if digest != sha256:
            raise OcrUnavailable(f"OCR model {name} fails its sha256 check (not the file of rapidocr {RAPIDOCR_VERSION})")
        paths[role] = path
    return paths


@lru_cache(maxsize=1)
def _engine():
    paths = model_paths()
    from rapidocr import RapidOCR

    params = {
        "Global.log_level": "error",
        # The line-direction classifier turned whole lines of upright 11 pt text upside down
        # (garbage out, CER up to 45% in bench_ocr); scans are upright, so it is left out.
        "Global.use_cls": False,
        "Det.limit_type": "max",
        "Det.limit_side_len": DET_LIMIT_SIDE,
        **{f"{role}.model_path": str(p) for role, p in paths.items()},
    }
    engine = RapidOCR(params=params)
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return engine


def read_image(image) -> str:
    """The text of a Pillow image in reading order ('' when none is found).

    Raises OcrUnavailable when the engine cannot be loaded and SkipFile("OCR failed: ...")
    when it fails on this image.
    """
    import numpy as np
    from PIL import Image

    engine = _engine()
    image = image.convert("RGB")
    if max(image.size) > MAX_LONG_SIDE:
        scale = MAX_LONG_SIDE / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    pixels = np.asarray(image)
    with _LOCK:
        try:
            result = engine(pixels)
        except Exception as e:  # onnxruntime / OpenCV errors on odd images
            raise SkipFile(f"OCR failed: {type(e).__name__}: {e}"[:120]) from None
    if result.boxes is None or result.txts is None:
        return ""
    return reading_order([box_from_points(b, t) for b, t in zip(result.boxes, result.txts)])
