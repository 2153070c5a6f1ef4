"""Backend preparation: convert encoders for OpenVINO ahead of the first index or search."""

from __future__ import annotations

import time
from typing import Any

from localrag.config import Settings
from localrag.errors import ModelMissingError
from localrag.models.locations import resolve_model_path


def prepare_encoders(settings: Settings) -> list[dict[str, Any]]:
    """Convert the configured embedder, and the reranker when installed, for the OpenVINO backend now,
    so the first `index` or `search` does not (int8 calibration takes ~30 s on 2 cores).

    One row per encoder on the OpenVINO backend: {"name", "kind", "precision", "path", "seconds"}.
    A missing model is left to `fetch` / `add` to report.
    """
    from localrag import openvino_encoder

    wanted = []
    if settings.embedder.backend == "openvino":
        wanted.append(("embedder", "embedder", settings.embedder.model, settings.embedder.precision))
    r = settings.retrieval
    if r.rerank and r.rerank_backend == "openvino":
        wanted.append(("reranker", "cross-encoder", r.reranker, r.rerank_precision))
    rows = []
    for role, kind, name, precision in wanted:
        try:
            path = resolve_model_path(settings, role, name)
        except ModelMissingError:
            continue
        t0 = time.perf_counter()
        xml = openvino_encoder.prepare(path, kind, precision)
        rows.append(
            {
                "name": path.name,
                "kind": kind,
                "precision": precision,
                "path": str(xml),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    return rows
