"""Helpers the test modules share: where the test models and the notes fixture are, the one
settings builder, and a fast stand-in for the embedder."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from localrag.config import Settings, load_settings
from tests.model_paths import find_models

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / "tests" / "data" / "notes"
MODELS = find_models(environ={})  # the environment of the test run does not move them


def make_settings(
    index: Path | str | None = None, models_dir: Path | str | None = MODELS, **overrides: Any
) -> Settings:
    """Settings for an index at `index` (None: the default) using the test models, ignoring the
    environment. Overrides are dotted keys, given as `**{"llm.backend": "none"}` or with `__` for
    the dots (`retrieval__rerank=False`)."""
    base: dict[str, Any] = {}
    if index is not None:
        base["index"] = str(index)
    if models_dir is not None:
        base["models_dir"] = str(models_dir)
    base.update({key.replace("__", "."): value for key, value in overrides.items()})
    return load_settings(overrides=base, environ={})


class CountingEmbedder:
    """Hashes words into buckets: similar texts get similar vectors. Records every text it embeds.
    Fits localrag.protocols.Embedder without loading a model."""

    name = "counting"
    dim = 32
    max_seq_length = 128

    def __init__(self) -> None:
        self.texts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        self.texts.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        if progress is not None:
            progress(len(texts))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def reset(self) -> None:
        self.texts = []
