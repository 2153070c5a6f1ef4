"""Cross-encoder reranking from a local model folder (ms-marco-MiniLM-L-6-v2 by default)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from localrag.config import Settings
from localrag.errors import ConfigError, ModelMissingError
from localrag.hardware import GPU_RERANK_BATCH, EncoderPlan, chosen_fields, plan_encoder

log = logging.getLogger("localrag")
CPU_RERANK_BATCH = 32

RERANK_OFF_NOTICE = (
    "reranking is off: no cross-encoder in the models folder "
    "(copy ms-marco-MiniLM-L-6-v2 in with `localrag models add reranker PATH`)"
)


class Reranker:
    """A cross-encoder from a local model folder; `score(query, texts)` -> one relevance score per text.

    backend "torch": sentence-transformers' CrossEncoder, with bf16 weights where the CPU runs bf16
    natively (top-20 pairs of ~200 tokens, MiniLM-L6 shape, 2 cores: 3.6 s fp32 -> 2.4 s bf16 under load).
    backend "openvino": the same weights converted to OpenVINO (fp32 / bf16 hint / NNCF int8; see
    localrag/openvino_encoder.py). Scores go through the activation CrossEncoder.predict would apply
    (`_uses_sigmoid`), so they are on the same scale under both backends. `device` (torch only):
    cpu, cuda or mps (see reranker_plan).
    """

    def __init__(
        self,
        model_dir: Path,
        batch_size: int = CPU_RERANK_BATCH,
        max_length: int = 256,
        precision: str = "int8",
        backend: str = "openvino",
        threads: int | None = None,
        device: str = "cpu",
    ):
        import transformers

        transformers.utils.logging.disable_progress_bar()
        if device != "cpu" and backend != "torch":
            raise ConfigError(f"the cross-encoder runs on {device} only with retrieval.rerank_backend = 'torch'")
        self.device = device
        self.name = Path(model_dir).name
        self.batch_size = batch_size
        self.max_length = max_length
        self.backend = backend
        if precision == "int8" and backend != "openvino":
            raise ConfigError("retrieval.rerank_precision = 'int8' needs retrieval.rerank_backend = 'openvino'")
        if backend == "openvino":
            self._init_openvino(Path(model_dir), precision, threads)
        else:
            self._init_torch(Path(model_dir), precision)

    def _init_torch(self, model_dir: Path, precision: str) -> None:
        import torch
        from sentence_transformers import CrossEncoder

        from localrag.embed import bf16_supported

        self.model = CrossEncoder(str(model_dir), device=self.device, max_length=self.max_length, local_files_only=True)
        if precision == "bf16" and (self.device != "cpu" or bf16_supported()):
            self.model.model.to(torch.bfloat16)
        self.precision = precision
        self._score = self._score_torch

    def _init_openvino(self, model_dir: Path, precision: str, threads: int | None) -> None:
        from transformers import AutoConfig, AutoTokenizer

        from localrag import openvino_encoder

        self.encoder = openvino_encoder.load(model_dir, "cross-encoder", precision, threads, "retrieval.rerank_backend")
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.sigmoid = _uses_sigmoid(model_dir, AutoConfig.from_pretrained(str(model_dir), local_files_only=True))
        self.precision = precision
        self._score = self._score_openvino

    def _score_torch(self, query: str, texts: list[str]) -> list[float]:
        scores = self.model.predict([(query, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]

    def _score_openvino(self, query: str, texts: list[str]) -> list[float]:
        size = self.encoder.batch_size_for(len(texts), self.batch_size)
        batches = [
            self.tokenizer(
                [query] * len(texts[start : start + size]), texts[start : start + size], padding=True,
                truncation="longest_first", max_length=self.max_length, return_tensors="np",
            )  # fmt: skip
            for start in range(0, len(texts), size)
        ]
        logits = np.concatenate(self.encoder.run_many(batches)).astype(np.float64)
        scores = logits[:, 0] if logits.shape[1] == 1 else logits.max(axis=1)
        if self.sigmoid:
            scores = 1.0 / (1.0 + np.exp(-scores))
        return [float(s) for s in scores]

    def score(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        return self._score(query, texts)


def _uses_sigmoid(model_dir: Path, config) -> bool:
    """CrossEncoder's activation for this model, looked up where CrossEncoder looks: the folder's
    config_sentence_transformers.json, then config.json (ms-marco models name Identity there: raw
    logits), else a sigmoid for one-label models."""
    st_config = model_dir / "config_sentence_transformers.json"
    name = json.loads(st_config.read_text()).get("activation_fn") if st_config.is_file() else None
    if not name:
        st = getattr(config, "sentence_transformers", None) or {}
        name = st.get("activation_fn") or getattr(config, "sbert_ce_default_activation_function", None)
    if name:
        return name.rsplit(".", 1)[-1] == "Sigmoid"
    return config.num_labels == 1


def load_reranker(settings: Settings) -> Reranker | None:
    """The configured cross-encoder, or None when it is not installed (search still works)."""
    if not settings.retrieval.rerank:
        return None
    from localrag.models import resolve_model_path

    try:
        path = resolve_model_path(settings, "reranker", settings.retrieval.reranker)
    except ModelMissingError:
        return None
    plan = reranker_plan(settings)
    return Reranker(
        path,
        batch_size=plan.batch_size,
        max_length=settings.retrieval.rerank_max_length,
        precision=plan.precision,
        backend=plan.backend,
        threads=settings.embedder.threads,
        device=plan.device,
    )


def reranker_plan(settings: Settings) -> EncoderPlan:
    """Where and how the cross-encoder runs: retrieval.reranker_device resolved against what torch sees."""
    return plan_encoder(
        settings.retrieval, section_name="retrieval", prefix="rerank_", device_field="reranker_device",
        batch=CPU_RERANK_BATCH, chosen=chosen_fields(settings, "retrieval"), gpu_batch=GPU_RERANK_BATCH,
    )  # fmt: skip
