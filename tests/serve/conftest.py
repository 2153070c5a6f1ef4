"""Fixtures for the serving tests: a tiny index over a copy of the notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.serve.serve_support import build_notes_index


@pytest.fixture(scope="module")
def notes_index(tmp_path_factory, models_dir, embedder) -> tuple[Path, Path]:
    """(notes folder, index folder): the notes fixture copied and indexed, one per test module."""
    return build_notes_index(tmp_path_factory.mktemp("served"), models_dir, embedder)
