"""Cross-encoder reranking from a local model folder (ms-marco-MiniLM-L-6-v2 by default)."""

from __future__ import annotations

from pathlib import Path

from localrag.config import Settings
from localrag.encoders.base import CPU_RERANK_BATCH, CROSS_ENCODER, ScoringBackend, check_device, check_precision, plan
from localrag.errors import ModelMissingError
from localrag.hardware import EncoderPlan

RERANK_OFF_NOTICE = (
    "reranking is off: no cross-encoder in the models folder "
    "(copy ms-marco-MiniLM-L-6-v2 in with `localrag models add reranker PATH`)"
)


class Reranker:
    """A cross-encoder from a local model folder; `score(query, texts)` -> one relevance score per text.

    backend "torch": sentence-transformers' CrossEncoder (localrag/encoders/torch.py). backend
    "openvino": the same weights converted to OpenVINO (fp32 / bf16 hint / NNCF int8; see
    localrag/encoders/openvino.py), scored on the same scale. `device` (torch only): cpu, cuda or
    mps (see reranker_plan).
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
        check_device(CROSS_ENCODER, backend, device)
        self.device = device
        self.name = Path(model_dir).name
        self.batch_size = batch_size
        self.max_length = max_length
        self.backend = backend
        check_precision(CROSS_ENCODER, backend, precision)
        self.runner: ScoringBackend
        if backend == "openvino":
            from localrag.encoders.openvino import OpenVINOCrossEncoder

            self.runner = OpenVINOCrossEncoder(
                Path(model_dir), precision, batch_size, max_length, threads, CROSS_ENCODER.backend_setting
            )
        else:
            from localrag.encoders.torch import TorchCrossEncoder

            self.runner = TorchCrossEncoder(Path(model_dir), precision, device, batch_size, max_length)
        self.precision = self.runner.precision

    def score(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        return self.runner.score(query, texts)


def load_reranker(settings: Settings) -> Reranker | None:
    """The configured cross-encoder, or None when it is not installed (search still works)."""
    if not settings.retrieval.rerank:
        return None
    from localrag.models import resolve_model_path

    try:
        path = resolve_model_path(settings, "reranker", settings.retrieval.reranker)
    except ModelMissingError:
        return None
    p = reranker_plan(settings)
    return Reranker(
        path,
        batch_size=p.batch_size,
        max_length=settings.retrieval.rerank_max_length,
        precision=p.precision,
        backend=p.backend,
        threads=settings.embedder.threads,
        device=p.device,
    )


def reranker_plan(settings: Settings) -> EncoderPlan:
    """Where and how the cross-encoder runs: retrieval.reranker_device resolved against what torch sees."""
    return plan(settings, CROSS_ENCODER)
