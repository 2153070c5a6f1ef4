"""Cross-encoder reranking from a local model folder (ms-marco-MiniLM-L-6-v2 by default)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from localrag.config import Settings
from localrag.errors import ModelMissingError

log = logging.getLogger("localrag")

RERANK_OFF_NOTICE = (
    "reranking is off: no cross-encoder in the models folder "
    "(copy ms-marco-MiniLM-L-6-v2 in with `localrag models add reranker PATH`)"
)


class Reranker:
    """A cross-encoder from a local model folder; `score(query, texts)` -> one relevance score per text.

    backend "torch": sentence-transformers' CrossEncoder, with bf16 weights where the CPU runs bf16
    natively (top-20 pairs of ~200 tokens, MiniLM-L6 shape, 2 cores: 3.6 s fp32 -> 2.4 s bf16 under load).
    backend "openvino": the same weights converted to OpenVINO (fp32 / bf16 hint / NNCF int8; see
    localrag/openvino_encoder.py). Scores are the model's logits through a sigmoid for one-label
    models, as CrossEncoder.predict gives them, so thresholds carry over between backends.
    """

    def __init__(
        self,
        model_dir: Path,
        batch_size: int = 32,
        max_length: int = 512,
        precision: str = "bf16",
        backend: str = "torch",
        threads: int | None = None,
    ):
        import transformers

        transformers.utils.logging.disable_progress_bar()
        self.name = Path(model_dir).name
        self.batch_size = batch_size
        self.max_length = max_length
        self.backend = backend
        if backend == "openvino":
            self._init_openvino(Path(model_dir), precision, threads)
        else:
            self._init_torch(Path(model_dir), precision)

    def _init_torch(self, model_dir: Path, precision: str) -> None:
        import torch
        from sentence_transformers import CrossEncoder

        from localrag.embed import bf16_supported

        self.model = CrossEncoder(str(model_dir), device="cpu", max_length=self.max_length, local_files_only=True)
        if precision == "bf16" and bf16_supported():
            self.model.model.to(torch.bfloat16)
        self.precision = precision
        self._score = self._score_torch

    def _init_openvino(self, model_dir: Path, precision: str, threads: int | None) -> None:
        from transformers import AutoConfig, AutoTokenizer

        from localrag import openvino_encoder
        from localrag.cpu import physical_cores

        if not openvino_encoder.available():
            raise ModelMissingError("the OpenVINO rerank backend needs OpenVINO: pip install 'openvino>=2025.1' nncf")
        xml = openvino_encoder.prepare(model_dir, "cross-encoder", precision)
        self.encoder = openvino_encoder.OpenVINOEncoder(xml, precision, threads or physical_cores())
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.single_label = AutoConfig.from_pretrained(str(model_dir), local_files_only=True).num_labels == 1
        self.precision = precision
        self._score = self._score_openvino

    def _score_torch(self, query: str, texts: list[str]) -> list[float]:
        scores = self.model.predict([(query, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]

    def _score_openvino(self, query: str, texts: list[str]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            inputs = self.tokenizer(
                [query] * len(batch), batch, padding=True, truncation="longest_first",
                max_length=self.max_length, return_tensors="np",
            )  # fmt: skip
            logits = self.encoder.run(inputs).astype(np.float64)
            scores = 1.0 / (1.0 + np.exp(-logits[:, 0])) if self.single_label else logits.max(axis=1)
            out.extend(float(s) for s in scores)
        return out

    def score(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        return self._score(query, texts)


def load_reranker(settings: Settings) -> Reranker | None:
    """The configured cross-encoder, or None when it is not installed (search still works)."""
    if not settings.retrieval.rerank:
        return None
    from localrag.models import resolve_model_path

    try:
        path = resolve_model_path(settings, "reranker", settings.retrieval.reranker)
    except ModelMissingError:
        return None
    r = settings.retrieval
    return Reranker(
        path,
        max_length=r.rerank_max_length,
        precision=r.rerank_precision,
        backend=r.rerank_backend,
        threads=settings.embedder.threads,
    )
