"""walk(): order, ignore rules, size cap, symlinks; read_file() failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localrag.config import ChunkingSettings
from localrag.ingest import FileEntry, FolderError, SkipFile, read_file, walk


def _tree(root: Path, files: dict[str, bytes | str]) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)


def _outcome(root: Path, settings=None) -> dict[str, str]:
    out = {}
    for item in walk(root, settings or ChunkingSettings()):
        out[item.rel] = "ok" if isinstance(item, FileEntry) else item.reason
    return out


def test_sorted_and_ignores(tmp_path):
    _tree(
        tmp_path,
        {
            "b.md": "b",
            "a-c.txt": "x",
            "a/z.md": "z",
            "a/b/c.py": "print(1)",
            ".hidden.md": "h",
            ".git/config.txt": "x",
            "node_modules/m/index.js": "x",
            "venv/pyvenv.cfg": "home=/usr",
            "venv/lib/x.py": "x",
            "env/notes.md": "a folder named env without pyvenv.cfg is the user's",
            "pkg/__pycache__/m.txt": "x",
            "idx/catalog.sqlite3": "x",
            "idx/dense.json": "{}",
            "photo.png": b"\x89PNG\r\n",
            "m.pyc": b"\x00",
            "README": "readme",
            "song.mp3": b"ID3\x04\x00",
            "NOTES": "extensionless, text by content",
            "a.out": b"\x7fELF\x02\x01\x01\x00" + bytes(64),
            "program": b"\x7fELF\x02\x01\x01\x00" + bytes(64),
        },
    )
    got = _outcome(tmp_path)
    assert list(got) == sorted(got)
    assert got == {
        "NOTES": "ok",
        "README": "ok",
        "a-c.txt": "ok",
        "a.out": "unsupported",
        "a/b/c.py": "ok",
        "a/z.md": "ok",
        "b.md": "ok",
        "env/notes.md": "ok",
        "photo.png": "ok",  # an image: read by OCR (tests/ingest/test_ocr.py)
        "program": "unsupported",  # extensionless but binary
        "song.mp3": "unsupported",
    }


def test_localragignore_root_and_nested(tmp_path):
    _tree(
        tmp_path,
        {
            ".localragignore": "drafts/\n*.log\n!keep.log\n",
            "drafts/d.md": "x",
            "x.log": "x",
            "keep.log": "k",
            "sub/.localragignore": "secret.md\n",
            "sub/secret.md": "s",
            "sub/open.md": "o",
            "secret.md": "top-level secret is not matched by sub's file",
        },
    )
    assert _outcome(tmp_path) == {"keep.log": "ok", "secret.md": "ok", "sub/open.md": "ok"}


def test_size_cap_and_empty(tmp_path):
    _tree(tmp_path, {"big.txt": b"a" * 200_000, "empty.md": b"", "fine.md": b"x"})
    got = _outcome(tmp_path, ChunkingSettings(max_file_mb=0.1))
    assert got == {"big.txt": "too large (0.2 MB > 0.1 MB cap)", "empty.md": "empty file", "fine.md": "ok"}


def test_symlinks(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    _tree(root, {"real.md": "r", "dir/x.md": "x"})
    _tree(outside, {"o.md": "o"})
    os.symlink(outside / "o.md", root / "out.md")
    os.symlink(outside, root / "outdir")
    os.symlink(root / "real.md", root / "alias.md")
    os.symlink("loop2.md", root / "loop1.md")
    os.symlink("loop1.md", root / "loop2.md")
    os.symlink("..", root / "dir" / "up")
    os.symlink(root / "nowhere.md", root / "broken.md")
    got = _outcome(root)
    assert got == {
        "alias.md": "symlink to real.md, indexed there",
        "broken.md": "broken symlink",
        "dir/up": "symlink loop",
        "dir/x.md": "ok",
        "loop1.md": "symlink loop",
        "loop2.md": "symlink loop",
        "out.md": "symlink outside the folder",
        "outdir": "symlink outside the folder",
        "real.md": "ok",
    }
    followed = _outcome(root, ChunkingSettings(follow_symlinks=True))
    assert followed["out.md"] == "ok" and followed["outdir/o.md"] == "ok"


def test_follow_symlinks_detects_cycles_outside(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    _tree(root, {"a.md": "a"})
    _tree(outside, {"o.md": "o"})
    os.symlink(outside, root / "out")
    os.symlink(root / "out", outside / "back")  # outside/back -> root/out -> outside
    got = _outcome(root, ChunkingSettings(follow_symlinks=True))
    assert got == {"a.md": "ok", "out/back": "symlink loop", "out/o.md": "ok"}


def test_missing_root_is_a_user_error(tmp_path):
    with pytest.raises(FolderError, match="folder not found"):
        list(walk(tmp_path / "nope", ChunkingSettings()))
    (tmp_path / "f.md").write_text("x")
    with pytest.raises(FolderError, match="not a folder"):
        list(walk(tmp_path / "f.md", ChunkingSettings()))


def test_read_file_vanished_and_permission(tmp_path, monkeypatch):
    p = tmp_path / "a.md"
    p.write_text("hello")
    [entry] = list(walk(tmp_path, ChunkingSettings()))
    assert read_file(entry) == b"hello"
    p.unlink()
    with pytest.raises(SkipFile, match="vanished before it could be read"):
        read_file(entry)
    # Tests run as root, for whom chmod 000 does not stop reading: make open() refuse instead.
    p.write_text("hello")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", refuse)
    with pytest.raises(SkipFile, match="^unreadable: permission denied$"):
        read_file(entry)


def test_read_file_notices_growth_past_cap(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("x")
    [entry] = list(walk(tmp_path, ChunkingSettings()))
    p.write_bytes(b"x" * 300_000)
    with pytest.raises(SkipFile, match=r"too large \(0.3 MB > 0.2 MB cap\)"):
        read_file(entry, max_file_mb=0.2)


def test_unreadable_folder_is_reported(tmp_path, monkeypatch):
    _tree(tmp_path, {"ok.md": "x", "locked/a.md": "y"})
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert _outcome(tmp_path) == {"locked": "unreadable: permission denied", "ok.md": "ok"}
