"""Finding the files of a folder to index, and reading them."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from localrag.config import ChunkingSettings
from localrag.ingest.errors import FolderError, SkipFile
from localrag.ingest.formats import HEAD_BYTES, format_of
from localrag.ingest.ignore import IgnoreRules, is_ignored_dir, is_ignored_file

MB = 1024 * 1024


@dataclass(slots=True)
class FileEntry:
    path: Path  # absolute
    rel: str  # POSIX path relative to the root
    size: int
    mtime_ns: int


@dataclass(slots=True)
class SkippedEntry:
    rel: str
    reason: str


def too_large_reason(size: int, cap_mb: float) -> str:
    return f"too large ({size / MB:.1f} MB > {cap_mb:g} MB cap)"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _head(path: str) -> bytes | None:
    """The first bytes of a file (None when unreadable: reading it later gives the reason)."""
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError:
        return None


def _sort_key(entry: os.DirEntry) -> str:
    """Sorting folders as 'name/' makes a depth-first walk yield rel paths in sorted order."""
    try:
        is_dir = entry.is_dir()
    except OSError:
        is_dir = False
    return entry.name + "/" if is_dir else entry.name


class _Walker:
    def __init__(self, root: Path, settings: ChunkingSettings) -> None:
        self.root = str(root)
        self.real_root = os.path.realpath(root)
        self.settings = settings
        self.cap = int(settings.max_file_mb * MB)

    def walk(self, dir_path: str, dir_rel: str, rules: IgnoreRules, seen: frozenset[tuple[int, int]]) -> Iterator[FileEntry | SkippedEntry]:
        try:
            with os.scandir(dir_path) as it:
                entries = sorted(it, key=_sort_key)
        except PermissionError:
            yield SkippedEntry(dir_rel or ".", "unreadable: permission denied")
            return
        except OSError as e:
            yield SkippedEntry(dir_rel or ".", f"unreadable: {e.strerror or e}")
            return
        rules = rules.entering(dir_path, dir_rel)
        for entry in entries:
            rel = f"{dir_rel}/{entry.name}" if dir_rel else entry.name
            yield from self.visit(entry, rel, rules, seen)

    def visit(self, entry: os.DirEntry, rel: str, rules: IgnoreRules, seen: frozenset[tuple[int, int]]) -> Iterator[FileEntry | SkippedEntry]:
        try:
            st = os.stat(entry.path)  # follows links
        except OSError as e:
            if entry.is_symlink():
                reason = "symlink loop" if e.errno == errno.ELOOP else "broken symlink"
                if not is_ignored_file(entry.name) and not rules.ignores(rel, False):
                    yield SkippedEntry(rel, reason)
            elif not isinstance(e, FileNotFoundError):  # vanished mid-walk: nothing to report
                yield SkippedEntry(rel, f"unreadable: {e.strerror or e}")
            return
        is_dir = os.path.isdir(entry.path)
        if is_dir and is_ignored_dir(entry.path, entry.name) or not is_dir and is_ignored_file(entry.name):
            return
        if rules.ignores(rel, is_dir):
            return
        if entry.is_symlink():
            reason = self.symlink_problem(entry.path, is_dir, seen)
            if reason is not None:
                yield SkippedEntry(rel, reason)
                return
        if is_dir:
            key = (st.st_dev, st.st_ino)
            if key in seen:
                yield SkippedEntry(rel, "symlink loop")
                return
            yield from self.walk(entry.path, rel, rules, seen | {key})
            return
        if not os.path.isfile(entry.path):
            return  # sockets, FIFOs, devices
        if format_of(rel) is None and (Path(entry.name).suffix or format_of(rel, _head(entry.path)) is None):
            yield SkippedEntry(rel, "unsupported")
        elif st.st_size > self.cap:
            yield SkippedEntry(rel, too_large_reason(st.st_size, self.settings.max_file_mb))
        elif st.st_size == 0:
            yield SkippedEntry(rel, "empty file")
        else:
            yield FileEntry(Path(os.path.abspath(entry.path)), rel, st.st_size, st.st_mtime_ns)

    def symlink_problem(self, path: str, is_dir: bool, seen: frozenset[tuple[int, int]]) -> str | None:
        target = os.path.realpath(path)
        if _inside(target, self.real_root):
            if is_dir and _inside(os.path.realpath(os.path.dirname(path)), target):
                return "symlink loop"
            # The target is indexed under its own path; a second copy would duplicate hits.
            return f"symlink to {os.path.relpath(target, self.real_root)}, indexed there"
        if not self.settings.follow_symlinks:
            return "symlink outside the folder"
        return None


def walk(root: Path, settings: ChunkingSettings) -> Iterator[FileEntry | SkippedEntry]:
    """Files to index under `root` and files left out with a reason, sorted by rel path.

    Silently ignored: hidden entries, tool folders (.git, node_modules, virtualenvs,
    caches, localrag indexes), build artefacts, and whatever .localragignore files say.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise FolderError(f"folder not found: {root}")
    if not root.is_dir():
        raise FolderError(f"not a folder: {root}")
    walker = _Walker(root, settings)
    st = os.stat(root)
    yield from walker.walk(str(root), "", IgnoreRules(), frozenset({(st.st_dev, st.st_ino)}))


def read_file(entry: FileEntry, max_file_mb: float | None = None) -> bytes:
    """The file's bytes. Raises SkipFile when it vanished, cannot be read, or grew past the cap."""
    try:
        with open(entry.path, "rb") as f:
            if max_file_mb is None:
                return f.read()
            cap = int(max_file_mb * MB)
            data = f.read(cap + 1)
    except FileNotFoundError:
        raise SkipFile("vanished before it could be read") from None
    except PermissionError:
        raise SkipFile("unreadable: permission denied") from None
    except IsADirectoryError:
        raise SkipFile("vanished before it could be read") from None
    except OSError as e:
        raise SkipFile(f"unreadable: {e.strerror or e}") from None
    if len(data) > cap:
        raise SkipFile(too_large_reason(os.path.getsize(entry.path), max_file_mb))
    return data
