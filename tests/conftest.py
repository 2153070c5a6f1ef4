"""Shared fixtures: the repo's models folder, settings for a temporary index, the notes fixture."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tests.helpers import NOTES, REPO
from tests.helpers import make_settings as build_settings
from tests.model_paths import find_models

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODELS = find_models()  # LOCALRAG_MODELS of the test run is honoured here (tests.helpers.MODELS ignores it)
SHARED = REPO.parent / "shared"
SMOLLM2 = "smollm2-135m-instruct"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(f"{what} missing at {path}: run `make test-models` (python scripts/fetch_models.py --test)")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    _require(MODELS / "all-MiniLM-L6-v2" / "model.safetensors", "the MiniLM embedder")
    return MODELS


@pytest.fixture(scope="session")
def smollm2_path(models_dir) -> Path:
    return _require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf", "the SmolLM2 test LLM")


@pytest.fixture
def make_settings(tmp_path, models_dir):
    """Settings for an index under tmp_path, using the repo's models; overrides are dotted keys
    (`retrieval__rerank=False`); `index` and `models_dir` overrides replace those."""

    def make(**overrides):
        index = overrides.pop("index", tmp_path / "index")
        return build_settings(index, overrides.pop("models_dir", models_dir), **overrides)

    return make


@pytest.fixture
def notes(tmp_path) -> Path:
    """A writable copy of the Markdown/text notes fixture."""
    dest = tmp_path / "notes"
    shutil.copytree(NOTES, dest)
    return dest


@pytest.fixture(scope="session")
def embedder(models_dir):
    from localrag.embed import Embedder

    return Embedder(models_dir / "all-MiniLM-L6-v2")


def build_cross_encoder(dest: Path, tokenizer_dir: Path, hidden: int = 32, layers: int = 2, heads: int = 2) -> Path:
    """A random-weight BERT cross-encoder saved with CrossEncoder.save (no download): it exercises the real
    rerank code; its scores mean nothing. MiniLM-L6 shape is hidden=384, layers=6, heads=12."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 4,
        num_labels=1,
        max_position_embeddings=512,
    )
    staging = dest.with_name(dest.name + "-staging")
    BertForSequenceClassification(config).save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    CrossEncoder(str(staging), device="cpu", local_files_only=True).save(str(dest))
    shutil.rmtree(staging)
    return dest


@pytest.fixture(scope="session")
def tiny_reranker(tmp_path_factory, models_dir) -> Path:
    return build_cross_encoder(
        tmp_path_factory.mktemp("models") / "tiny-cross-encoder", models_dir / "all-MiniLM-L6-v2"
    )
