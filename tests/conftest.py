"""Shared fixtures: the repo's models folder, settings for a temporary index, the notes fixture."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
NOTES = Path(__file__).parent / "data" / "notes"
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
    """Settings for an index under tmp_path, using the repo's models; overrides are dotted keys."""
    from localrag.config import load_settings

    def make(**overrides):
        base = {"index": str(tmp_path / "index"), "models_dir": str(models_dir)}
        base.update({k.replace("__", "."): v for k, v in overrides.items()})
        return load_settings(overrides=base, environ={})

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
