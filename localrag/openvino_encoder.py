"""The OpenVINO backend's old import path: it lives in localrag/encoders/openvino.py now."""

from __future__ import annotations

from localrag.encoders.openvino import (
    CALIBRATION_BATCH,
    CALIBRATION_MAX_TOKENS,
    KINDS,
    PRECISIONS,
    OpenVINOEncoder,
    available,
    cached_ir,
    calibration_texts,
    load,
    pool,
    pooling_mode,
    prepare,
)

__all__ = [
    "CALIBRATION_BATCH",
    "CALIBRATION_MAX_TOKENS",
    "KINDS",
    "PRECISIONS",
    "OpenVINOEncoder",
    "available",
    "cached_ir",
    "calibration_texts",
    "load",
    "pool",
    "pooling_mode",
    "prepare",
]
