"""Finding the files of a folder to index, and reading them."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Sequence
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

    def walk(
        self, dir_path: str, dir_rel: str, rules: IgnoreRules, seen: frozenset[tuple[int, int]]
    ) -> Iterator[FileEntry | SkippedEntry]:
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

    def visit(
        self, entry: os.DirEntry, rel: str, rules: IgnoreRules, seen: frozenset[tuple[int, int]]
    ) -> Iterator[FileEntry | SkippedEntry]:
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
            problem = self.symlink_problem(entry.path, is_dir, seen)
            if problem is not None:
                yield SkippedEntry(rel, problem)
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


IGNORED_REASON = "ignored: a hidden file, a tool's folder or a .localragignore rule leaves it out"


def walk(
    root: Path, settings: ChunkingSettings, only: Sequence[str] | None = None
) -> Iterator[FileEntry | SkippedEntry]:
    """Files to index under `root` and files left out with a reason, sorted by rel path.

    Silently ignored: hidden entries, tool folders (.git, node_modules, virtualenvs,
    caches, localrag indexes), build artefacts, and whatever .localragignore files say.
    `only`: POSIX paths relative to `root` (files or folders) to walk instead of all of it; the
    same rules apply, and a path given there that they leave out is reported as skipped.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise FolderError(f"folder not found: {root}")
    if not root.is_dir():
        raise FolderError(f"not a folder: {root}")
    walker = _Walker(root, settings)
    st = os.stat(root)
    seen = frozenset({(st.st_dev, st.st_ino)})
    if only is None:
        yield from walker.walk(str(root), "", IgnoreRules(), seen)
        return
    for rel in _outermost(root, only):
        yield from _walk_one(walker, root, rel, seen)


def _outermost(root: Path, only: Sequence[str]) -> list[str]:
    """The selection without paths inside another selected folder, in the walker's order."""
    rels = sorted({r.strip("/") for r in only if r.strip("/")}, key=lambda r: r + "/" if (root / r).is_dir() else r)
    out: list[str] = []
    for rel in rels:
        if not any(rel.startswith(o + "/") for o in out):
            out.append(rel)
    return out


def _walk_one(
    walker: _Walker, root: Path, rel: str, seen: frozenset[tuple[int, int]]
) -> Iterator[FileEntry | SkippedEntry]:
    """One selected path, with the ignore rules its ancestors would have applied on a full walk."""
    parts = rel.split("/")
    rules = IgnoreRules().entering(str(root), "")
    dir_path, dir_rel = str(root), ""
    for name in parts[:-1]:
        dir_path = os.path.join(dir_path, name)
        dir_rel = f"{dir_rel}/{name}" if dir_rel else name
        if is_ignored_dir(dir_path, name) or rules.ignores(dir_rel, True):
            yield SkippedEntry(rel, IGNORED_REASON)
            return
        rules = rules.entering(dir_path, dir_rel)
    try:
        with os.scandir(dir_path) as it:
            entry = next((e for e in it if e.name == parts[-1]), None)
    except OSError as e:
        yield SkippedEntry(rel, f"unreadable: {e.strerror or e}")
        return
    if entry is None:
        return  # gone since it was given: a file the index had is then removed
    found = False
    for item in walker.visit(entry, rel, rules, seen):
        found = True
        yield item
    if not found:
        is_dir = os.path.isdir(entry.path)
        if not is_dir or is_ignored_dir(entry.path, entry.name) or rules.ignores(rel, True):
            yield SkippedEntry(rel, IGNORED_REASON)


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
