"""The seams between the pipeline's parts, as structural types: anything with these members fits
(the loaded models, and the small doubles the tests and benchmarks pass instead)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np


class Embedder(Protocol):
    """Turns text into L2-normalized float32 vectors (localrag.encoders.Embedder is the real one).

    `dim`: the vectors' length; `max_seq_length`: tokens the model reads, special tokens included;
    `encode` embeds passages in input order and calls `progress(n_done)` as it goes.
    """

    dim: int
    max_seq_length: int

    def count_tokens(self, text: str) -> int: ...

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...
