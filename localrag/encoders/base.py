"""What the two encoders (the MiniLM embedder and the cross-encoder) share: the roles they play in the
settings, the backend protocols, the checks on a backend/precision/device choice, and the plan that
picks device, backend, precision and batch size (see localrag/hardware.py).

A backend is one file: localrag/encoders/torch.py (sentence-transformers, cpu/cuda/mps) and
localrag/encoders/openvino.py (OpenVINO IR on the CPU, fp32 / bf16 hint / NNCF int8). The embedder
(encoders/embedder.py) and the cross-encoder (encoders/cross_encoder.py) are built on either.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from localrag.errors import ConfigError
from localrag.hardware import GPU_EMBED_BATCH, GPU_RERANK_BATCH, EncoderPlan, chosen_fields, plan_encoder

if TYPE_CHECKING:
    import numpy as np

    from localrag.config import Settings

BACKENDS = ("torch", "openvino")
CPU_RERANK_BATCH = 32


@dataclass(frozen=True)
class EncoderRole:
    """Where an encoder's options live in the settings, and what its messages call it.

    `kind`: the OpenVINO IR kind ("embedder" / "cross-encoder"); `label`: the encoder in messages;
    `section` / `prefix`: its settings section and the prefix of its backend and precision fields;
    `device_field`: its device setting; `cpu_batch`: the CPU batch size (None: the section's batch_size).
    """

    kind: str
    label: str
    section: str
    prefix: str
    device_field: str
    cpu_batch: int | None
    gpu_batch: int

    @property
    def backend_setting(self) -> str:
        return f"{self.section}.{self.prefix}backend"

    @property
    def precision_setting(self) -> str:
        return f"{self.section}.{self.prefix}precision"


EMBEDDER = EncoderRole("embedder", "embedder", "embedder", "", "device", None, GPU_EMBED_BATCH)
CROSS_ENCODER = EncoderRole(
    "cross-encoder", "cross-encoder", "retrieval", "rerank_", "reranker_device", CPU_RERANK_BATCH, GPU_RERANK_BATCH
)


class EmbeddingBackend(Protocol):
    """Token states pooled to one (unnormalized) vector per text; `tokenizer` is the model's own."""

    precision: str
    dim: int
    max_seq_length: int
    tokenizer: Any

    def forward(self, texts: list[str]) -> np.ndarray: ...


class ScoringBackend(Protocol):
    """One relevance score per (query, text) pair, on CrossEncoder.predict's scale."""

    precision: str

    def score(self, query: str, texts: list[str]) -> list[float]: ...


def check_precision(role: EncoderRole, backend: str, precision: str) -> None:
    """int8 is the OpenVINO (NNCF) path: refused with another backend (it would otherwise run fp32 silently)."""
    if precision == "int8" and backend != "openvino":
        raise ConfigError(f"{role.precision_setting} = 'int8' needs {role.backend_setting} = 'openvino'")


def check_device(role: EncoderRole, backend: str, device: str) -> None:
    """A GPU is the torch path: OpenVINO runs on the CPU here."""
    if device != "cpu" and backend != "torch":
        raise ConfigError(f"the {role.label} runs on {device} only with {role.backend_setting} = 'torch'")


def plan(settings: Settings, role: EncoderRole) -> EncoderPlan:
    """Where and how the encoder of `role` runs: its device setting resolved against what torch sees."""
    section = getattr(settings, role.section)
    batch = role.cpu_batch if role.cpu_batch is not None else section.batch_size
    return plan_encoder(
        section, section_name=role.section, prefix=role.prefix, device_field=role.device_field, batch=batch,
        chosen=chosen_fields(settings, role.section), gpu_batch=role.gpu_batch,
    )  # fmt: skip


def bf16_supported() -> bool:
    """True when this CPU runs bf16 matmuls natively (else bf16 is slower than fp32)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None elsewhere."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS. Batches of varying shapes fragment glibc's heap: without
    this, RSS crept ~100 MB per 512 SciFact passages (peak 1.1 GiB at 1k documents, 2.1 GiB at 5k);
    with it, it stays flat (~0.5 GiB between calls)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
