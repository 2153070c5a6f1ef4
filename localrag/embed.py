"""The embedder's old import path: it lives in localrag/encoders/ now (embedder.py, one file per backend)."""

from __future__ import annotations

from localrag.encoders.base import bf16_supported, release_freed_memory
from localrag.encoders.embedder import Embedder, embedder_plan, load_embedder, vector_settings

__all__ = ["Embedder", "bf16_supported", "embedder_plan", "load_embedder", "release_freed_memory", "vector_settings"]
