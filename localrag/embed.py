"""MiniLM sentence embeddings, loaded from a local folder, normalized for inner-product search."""

from __future__ import annotations

import ctypes
import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from localrag.config import Settings
from localrag.errors import ConfigError, ModelMissingError
from localrag.hardware import GPU_EMBED_BATCH, EncoderPlan, chosen_fields, plan_encoder

log = logging.getLogger("localrag")


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


class Embedder:
    """A sentence embedder from a local model folder; each encode call is length-sorted so batches pad little.

    backend "torch": sentence-transformers (fp32, or bf16 weights where the CPU runs bf16 natively).
    backend "openvino": the same weights converted to OpenVINO (fp32, bf16 hint, or NNCF int8; see
    localrag/openvino_encoder.py), tokenized by the model's own tokenizer, pooled as its
    sentence-transformers config says. `device` (torch only): cpu, cuda or mps (see embedder_plan).
    """

    def __init__(
        self,
        model_dir: Path,
        precision: str = "int8",
        batch_size: int = 64,
        backend: str = "openvino",
        threads: int | None = None,
        device: str = "cpu",
    ):
        import transformers

        transformers.utils.logging.disable_progress_bar()
        # count_tokens measures texts longer than the model's window on purpose (to split them)
        transformers.utils.logging.set_verbosity_error()

        model_dir = Path(model_dir)
        if not (model_dir / "modules.json").is_file() and not (model_dir / "config.json").is_file():
            raise ModelMissingError(f"no sentence-transformers model in {model_dir}")
        if precision == "int8" and backend != "openvino":
            raise ConfigError("embedder.precision = 'int8' needs embedder.backend = 'openvino'")
        self.name = model_dir.name
        self.batch_size = batch_size
        self.backend = backend
        if device != "cpu" and backend != "torch":
            raise ConfigError(f"the embedder runs on {device} only with embedder.backend = 'torch'")
        self.device = device
        if backend == "openvino":
            self._init_openvino(model_dir, precision, threads)
        else:
            self._init_torch(model_dir, precision)

    def _init_torch(self, model_dir: Path, precision: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_dir), device=self.device, local_files_only=True)
        self.model.eval()
        if precision == "bf16" and self.device == "cpu" and not bf16_supported():
            log.info("bf16 is not native on this CPU; embedding in fp32")
            precision = "fp32"
        if precision == "bf16":
            self.model.to(torch.bfloat16)
        self.precision = precision
        self.dim = int(self.model.get_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)
        self.tokenizer = self.model.tokenizer
        self._forward = self._forward_torch

    def _init_openvino(self, model_dir: Path, precision: str, threads: int | None) -> None:
        from transformers import AutoTokenizer

        from localrag import openvino_encoder

        self.encoder = openvino_encoder.load(model_dir, "embedder", precision, threads, "embedder.backend")
        self.precision = precision
        self.pooling = openvino_encoder.pooling_mode(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.max_seq_length = _max_seq_length(model_dir, self.tokenizer)
        self.dim = int(self._forward_openvino(["dimension probe"]).shape[1])
        self._forward = self._forward_openvino

    def _forward_torch(self, texts: list[str]) -> np.ndarray:
        vecs = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=False,
            convert_to_tensor=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
        return vecs.float().cpu().numpy()

    def _forward_openvino(self, texts: list[str]) -> np.ndarray:
        from localrag.openvino_encoder import pool

        size = self.encoder.batch_size_for(len(texts), self.batch_size)
        batches = [
            self.tokenizer(
                texts[start : start + size], padding=True, truncation=True, max_length=self.max_seq_length, return_tensors="np"
            )
            for start in range(0, len(texts), size)
        ]
        states = self.encoder.run_many(batches)
        return np.concatenate([pool(h, b["attention_mask"], self.pooling) for h, b in zip(states, batches)]).astype(
            np.float32, copy=False
        )

    def count_tokens(self, text: str) -> int:
        """Model tokens in `text` (no special tokens, never truncated). The chunker calls this tens of
        times per document, so a fast tokenizer is called directly: transformers' wrapper costs more
        than the tokenizing (measured, 1,000 SciFact abstracts: 63k calls, 4.7 s -> 2.0 s)."""
        fast = self._counter
        if fast is None:
            return len(self.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])
        return len(fast.encode(text, add_special_tokens=False).ids)

    @functools.cached_property
    def _counter(self):
        """A private copy of the fast tokenizer with truncation and padding off (the shared one keeps
        whatever the last batch call configured), or None for a slow tokenizer."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None:
            return None
        from tokenizers import Tokenizer

        counter = Tokenizer.from_str(backend.to_str())
        counter.no_truncation()
        counter.no_padding()
        return counter

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed texts -> float32 (n, dim), L2-normalized, in input order. `progress(n_done)` after each block.

        Texts go to the model longest first across the whole call (sentence-transformers only sorts
        within what it is given), so every batch pads to nearly its own length; blocks of a few
        batches keep progress reports coming.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        block = self.batch_size * 2
        out: np.ndarray = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), block):
            idx = order[start : start + block]
            vecs = self._forward([texts[i] for i in idx])
            # normalize in fp32: bf16 rounding would leave norms off by up to ~1e-2
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            out[idx] = vecs
            release_freed_memory()
            if progress is not None:
                progress(start + len(idx))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _max_seq_length(model_dir: Path, tokenizer) -> int:
    """sentence-transformers' max_seq_length (sentence_bert_config.json), else the tokenizer's limit."""
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return int(min(tokenizer.model_max_length, 512))


def embedder_plan(settings: Settings) -> EncoderPlan:
    """Where and how the embedder runs: embedder.device resolved against what torch sees."""
    e = settings.embedder
    return plan_encoder(
        e, section_name="embedder", prefix="", device_field="device", batch=e.batch_size,
        chosen=chosen_fields(settings, "embedder"), gpu_batch=GPU_EMBED_BATCH,
    )  # fmt: skip


def vector_settings(settings: Settings) -> dict[str, str]:
    """The settings an embedding vector depends on, besides its text (caches of vectors key on these)."""
    plan = embedder_plan(settings)
    return {"embedder": settings.embedder.model, "backend": plan.backend, "precision": plan.precision}


def load_embedder(settings: Settings) -> Embedder:
    from localrag.models import resolve_model_path

    path = resolve_model_path(settings, "embedder", settings.embedder.model)
    plan = embedder_plan(settings)
    return Embedder(
        path, precision=plan.precision, batch_size=plan.batch_size, backend=plan.backend,
        threads=settings.embedder.threads, device=plan.device,
    )  # fmt: skip
