"""The cross-encoder's old import path: it lives in localrag/encoders/ now (cross_encoder.py)."""

from __future__ import annotations

from localrag.encoders.base import CPU_RERANK_BATCH
from localrag.encoders.cross_encoder import RERANK_OFF_NOTICE, Reranker, load_reranker, reranker_plan

__all__ = ["CPU_RERANK_BATCH", "RERANK_OFF_NOTICE", "Reranker", "load_reranker", "reranker_plan"]
