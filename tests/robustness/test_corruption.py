"""Damaged index files: derived FAISS/BM25 files are detected and rebuilt from SQLite with a warning;
a damaged SQLite catalogue is one clear error line naming the file and the fix, and that fix works."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers import MODELS, make_settings
from tests.robustness.robustness_support import (
    GEN1,
    assert_derived_match_catalog,
    documents,
    search_paths,
    write_folder,
)

from localrag.cli import main
from localrag.indexer import index_folder
from localrag.store import Store
from localrag.store.atomic import sha256_file


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):
    """A clean index of the generation-1 fixture folder, and what searching it returns."""
    base = tmp_path_factory.mktemp("corrupt")
    folder = base / "folder"
    write_folder(folder, GEN1)
    settings = make_settings(base / "index")
    with Store.open(base / "index", settings, create=True) as store:
        index_folder(store, folder, embedder, settings)
        expected = {"documents": documents(store), "search": search_paths(store, embedder, settings)}
    return base / "index", folder, expected


@pytest.fixture
def index_copy(built, tmp_path):
    src, folder, expected = built
    dst = tmp_path / "index"
    shutil.copytree(src, dst)
    return dst, folder, expected


def _bm25_file(index_dir: Path) -> Path:
    """The largest array of the live bm25s folder."""
    live = json.loads((index_dir / "bm25.json").read_text())["dir"]
    return max((index_dir / live).iterdir(), key=lambda p: p.stat().st_size)


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "faiss-truncated": (lambda d: _truncate(d / "dense.faiss"), "dense", "wrong size"),
    "faiss-bit-flip": (lambda d: _flip_byte(d / "dense.faiss"), "dense", "checksum"),
    "faiss-deleted": (lambda d: (d / "dense.faiss").unlink(), "dense", "missing"),
    "faiss-sidecar-garbage": (lambda d: (d / "dense.json").write_text("{not json"), "dense", "unreadable"),
    "bm25-truncated": (lambda d: _truncate(_bm25_file(d)), "keyword", "wrong size"),
    "bm25-bit-flip": (lambda d: _flip_byte(_bm25_file(d)), "keyword", "checksum"),
    "bm25-folder-deleted": (lambda d: shutil.rmtree(_bm25_file(d).parent), "keyword", "missing"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_derived_index_is_rebuilt_with_a_warning(damage, index_copy, embedder, caplog):
    index_dir, _, expected = index_copy
    harm, which, why = DAMAGE[damage]
    harm(index_dir)
    settings = make_settings(index_dir)
    with caplog.at_level(logging.WARNING, logger="localrag"):
        store = Store.open(index_dir, settings)
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(why in w and "rebuilding" in w for w in warnings), warnings
        assert store.health[which] == "rebuilt"
        assert_derived_match_catalog(store)
        assert documents(store) == expected["documents"]
        assert search_paths(store, embedder, settings) == expected["search"]
    finally:
        store.close()
    # the rebuilt files were saved: the next open loads them without a warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="localrag"), Store.open(index_dir, settings) as store:
        assert store.health[which] == "ok"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    sidecar = json.loads((index_dir / "dense.json").read_text())
    assert sha256_file(index_dir / "dense.faiss") == sidecar["sha256"]


def test_cli_warns_on_stderr_and_still_answers(index_copy):
    """The real command (own process, so its logging setup applies): warning on stderr, JSON on stdout."""
    index_dir, _, expected = index_copy
    _truncate(index_dir / "dense.faiss")
    proc = subprocess.run(
        [sys.executable, "-m", "localrag.cli", "status", "--index", str(index_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["documents"] == len(expected["documents"])
    assert status["chunks"] == status["dense"]["count"] == status["keyword"]["count"]
    assert status["health"]["dense"] == "rebuilt"
    warning = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warning) == 1 and "dense index" in warning[0] and "rebuilding" in warning[0], proc.stderr


def _garble_header(path: Path) -> None:
    with open(path, "r+b") as f:
        f.write(b"this is not an SQLite file" * 4)


def _garble_pages(path: Path) -> None:
    """Keep the header and schema page, destroy the table pages."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(8192)
        f.write(b"\xde\xad\xbe\xef" * ((size - 8192) // 4))


CATALOG_DAMAGE = {
    "header": _garble_header,
    "pages": _garble_pages,
    "truncated": lambda p: os.truncate(p, p.stat().st_size // 3),
}


@pytest.mark.parametrize("damage", list(CATALOG_DAMAGE))
@pytest.mark.parametrize("command", ["status", "search", "index"])
def test_damaged_catalogue_is_one_clear_line(damage, command, index_copy, capfd, monkeypatch):
    index_dir, folder, _ = index_copy
    monkeypatch.setenv("LOCALRAG_MODELS", str(MODELS))
    catalog = index_dir / "catalog.sqlite3"
    CATALOG_DAMAGE[damage](catalog)
    argv = {"status": ["status"], "search": ["search", "alpha pump"], "index": ["index", str(folder)]}[command]
    assert main([*argv, "--index", str(index_dir)]) == 1
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert str(catalog) in lines[0]
    assert "localrag index --rebuild" in lines[0]


def test_rebuild_recovers_a_damaged_catalogue(index_copy, capfd, monkeypatch, embedder):
    index_dir, folder, expected = index_copy
    monkeypatch.setenv("LOCALRAG_MODELS", str(MODELS))
    _garble_header(index_dir / "catalog.sqlite3")
    assert main(["index", str(folder), "--index", str(index_dir), "--rebuild", "--json"]) == 0
    summary = json.loads(capfd.readouterr().out)
    assert summary["added"] == len(expected["documents"])
    aside = list(index_dir.glob("catalog.sqlite3.corrupt-*"))
    assert len(aside) == 1, "the damaged catalogue is kept aside, not deleted"
    settings = make_settings(index_dir)
    with Store.open(index_dir, settings) as store:
        assert documents(store) == expected["documents"]
        assert_derived_match_catalog(store)
        assert search_paths(store, embedder, settings) == expected["search"]


def test_debug_flag_shows_the_traceback(index_copy, capfd):
    index_dir, _, _ = index_copy
    _garble_header(index_dir / "catalog.sqlite3")
    assert main(["--debug", "status", "--index", str(index_dir)]) == 1
    err = capfd.readouterr().err
    assert "Traceback" in err and "IndexCorruptError" in err
    assert "localrag index --rebuild" in err.strip().splitlines()[-1]
