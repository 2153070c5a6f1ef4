"""Offline OCR: RapidOCR running PP-OCR models that ship inside the rapidocr wheel (onnxruntime).

Nothing is downloaded: the two model files (text detection, recognition) are passed by path, after their sha256 is
checked against the model registry's entry "rapidocr-ppocr" (localrag/data/registry.toml: the files of
rapidocr 3.10.0, also what `localrag models verify` checks), so a changed or damaged install is
refused rather than silently used. The engine is loaded once per process, on the
first page that needs it.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path

from localrag.errors import LocalragError
from localrag.ingest.errors import SkipFile
from localrag.ingest.ocr_layout import box_from_points, reading_order


# The registry entry pinning the models inside the rapidocr wheel (rapidocr/models/); each of its
# files says which engine model it is ("use": Det, Rec).
REGISTRY_NAME = "rapidocr-ppocr"
USES = ("Det", "Rec")
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
    """Path of each model file ("Det", "Rec") in the installed rapidocr package, checked against
    the sha256 the model registry pins for it."""
    from localrag import models
    from localrag.models import locations

    try:
        spec = models.bundled_spec(REGISTRY_NAME)
    except LocalragError as e:
        raise OcrUnavailable(f"OCR models not registered: {e}") from None
    try:
        __import__(spec.package)
    except ImportError as e:
        raise OcrUnavailable(f"OCR engine not installed ({e.name})") from None
    package = locations.package_dir(spec)
    if package is None:
        raise OcrUnavailable(f"OCR engine not installed ({spec.package})")
    by_use = {f.use: f for f in spec.files if f.use}
    if set(by_use) != set(USES):
        raise OcrUnavailable(
            f"OCR models: registry entry {REGISTRY_NAME!r} names no {' and '.join(sorted(set(USES) - set(by_use)))} model: reinstall localrag"
        )
    pinned = (spec.source.get("requirement") or spec.package).replace("==", " ")
    paths = {}
    for use, f in by_use.items():
        path = package / spec.path / f.path
        try:
            digest = models.sha256_file(path)
        except OSError:
            raise OcrUnavailable(f"OCR model missing: {path}") from None
        if digest != f.sha256:
            raise OcrUnavailable(f"OCR model {f.path} fails its sha256 check (not the file of {pinned})")
        paths[use] = path
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
