"""The sentence encoders: the MiniLM embedder and the cross-encoder reranker, one home for both.

    base.py           roles in the settings, backend protocols, the backend/precision/device checks,
                      the device plan (localrag/hardware.py decides), shared CPU helpers
    torch.py          the torch backend (sentence-transformers; cpu, cuda, mps)
    openvino.py       the OpenVINO backend (IR conversion, NNCF int8, the compiled encoder)
    embedder.py       Embedder, load_embedder, embedder_plan, vector_settings
    cross_encoder.py  Reranker, load_reranker, reranker_plan, RERANK_OFF_NOTICE

The old import paths (localrag.embed, localrag.openvino_encoder, localrag.retrieve.rerank) re-export
these names. Nothing heavy (torch, transformers, OpenVINO) is imported until a model is loaded.
"""

from __future__ import annotations

from localrag.encoders.base import CPU_RERANK_BATCH, bf16_supported, release_freed_memory
from localrag.encoders.cross_encoder import RERANK_OFF_NOTICE, Reranker, load_reranker, reranker_plan
from localrag.encoders.embedder import Embedder, embedder_plan, load_embedder, vector_settings

__all__ = [
    "CPU_RERANK_BATCH",
    "RERANK_OFF_NOTICE",
    "Embedder",
    "Reranker",
    "bf16_supported",
    "embedder_plan",
    "load_embedder",
    "load_reranker",
    "release_freed_memory",
    "reranker_plan",
    "vector_settings",
]
