"""Cross-encoder reranking from a local model folder (ms-marco-MiniLM-L-6-v2 by default)."""

from __future__ import annotations

import logging
from pathlib import Path

from localrag.config import Settings
from localrag.errors import ModelMissingError

log = logging.getLogger("localrag")

RERANK_OFF_NOTICE = (
    "reranking is off: no cross-encoder in the models folder "
    "(copy ms-marco-MiniLM-L-6-v2 in with `localrag models add reranker PATH`)"
)


class Reranker:
    """`precision="bf16"` casts the weights to bf16 where the CPU runs it natively, as the embedder
    does (top-20 pairs of ~200 tokens, MiniLM-L6 shape, 2 cores: 3.6 s fp32 -> 2.4 s bf16)."""

    def __init__(self, model_dir: Path, batch_size: int = 32, max_length: int = 512, precision: str = "bf16"):
        import torch
        import transformers
        from sentence_transformers import CrossEncoder

        from localrag.embed import bf16_supported

        transformers.utils.logging.disable_progress_bar()
        self.model = CrossEncoder(str(model_dir), device="cpu", max_length=max_length, local_files_only=True)
        if precision == "bf16" and bf16_supported():
            self.model.model.to(torch.bfloat16)
        self.name = Path(model_dir).name
        self.batch_size = batch_size

    def score(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        scores = self.model.predict(
            [(query, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(s) for s in scores]


def load_reranker(settings: Settings) -> Reranker | None:
    """The configured cross-encoder, or None when it is not installed (search still works)."""
    if not settings.retrieval.rerank:
        return None
    from localrag.models import resolve_model_path

    try:
        path = resolve_model_path(settings, "reranker", settings.retrieval.reranker)
    except ModelMissingError:
        return None
    return Reranker(path, precision=settings.embedder.precision)
