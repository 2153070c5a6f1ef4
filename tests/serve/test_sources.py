"""get_source (localrag/serve/sources.py): lines of an indexed document, and no way out of the
indexed folder — not by '..', not by an absolute path, not through a symbolic link, not to a
file the indexer left out."""

from __future__ import annotations

import os

import pytest
from tests.serve.serve_support import build_notes_index

from localrag.errors import SourceAccessError
from localrag.serve.sources import read_source
from localrag.store import Store
from tests.helpers import make_settings


def open_store(index, models_dir) -> Store:
    return Store.open(index, make_settings(None, models_dir))


@pytest.fixture(scope="module")
def store(notes_index, models_dir):
    with open_store(notes_index[1], models_dir) as s:
        yield s


def test_reads_the_lines_asked_for(store, notes_index):
    notes, _ = notes_index
    lines = (notes / "home" / "boiler.md").read_text().splitlines()
    got = read_source(store, "home/boiler.md", 6, 7)
    assert got == {
        "path": "home/boiler.md", "line_start": 6, "line_end": 7, "total_lines": len(lines),
        "text": "\n".join(lines[5:7]), "origin": "file",
    }  # fmt: skip
    assert read_source(store, "./home/boiler.md")["text"] == "\n".join(lines)
    assert read_source(store, "home/boiler.md", 2, None, max_lines=2)["line_end"] == 3
    past_end = read_source(store, "home/boiler.md", 500, 600)
    assert past_end["text"] == "" and past_end["total_lines"] == len(lines)


@pytest.mark.parametrize(
    "path",
    [
        "../notes/home/boiler.md",
        "home/../../index/catalog.sqlite3",
        "/etc/passwd",
        "..",
        "",
        "home\\boiler.md",
        "a\x00b",
    ],
)
def test_refuses_paths_that_leave_the_folder(store, path):
    with pytest.raises(SourceAccessError):
        read_source(store, path)


def test_refuses_an_absolute_path_even_inside_the_folder(store, notes_index):
    notes, _ = notes_index
    with pytest.raises(SourceAccessError, match="relative"):
        read_source(store, str(notes / "home" / "boiler.md"))


def test_refuses_files_the_index_does_not_hold(store, notes_index):
    notes, _ = notes_index
    (notes / ".env").write_text("SECRET=1\n")  # inside the folder, never indexed (dotfile)
    (notes / "later.md").write_text("# Later\n")  # inside the folder, not indexed yet
    for path in (".env", "later.md", "garden"):
        with pytest.raises(SourceAccessError, match="not an indexed document"):
            read_source(store, path)


def test_refuses_an_indexed_file_now_linked_outside(tmp_path, models_dir, embedder):
    notes, index = build_notes_index(tmp_path, models_dir, embedder)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the indexed folder\n")
    target = notes / "travel.md"
    target.unlink()
    os.symlink(secret, target)
    with open_store(index, models_dir) as store, pytest.raises(SourceAccessError, match="outside the indexed folder"):
        read_source(store, "travel.md")
