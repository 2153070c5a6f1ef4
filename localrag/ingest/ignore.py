"""What walk() leaves out silently: hidden entries, tool and build folders, .localragignore.

Ignored entries are not reported; skipped ones (unsupported, too large, ...) are, because
a user may expect them in the index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pathspec

IGNORE_FILE = ".localragignore"

IGNORED_DIR_NAMES = frozenset({"node_modules", "__pycache__", "site-packages", "bower_components", "venv", "env"})
# A folder holding one of these files is a tool's folder, not the user's documents:
# virtualenvs, conda envs, caches (Rust target/, ...), and localrag's own index.
IGNORED_DIR_MARKERS = ("pyvenv.cfg", "conda-meta", "CACHEDIR.TAG", "catalog.sqlite3")
IGNORED_DIR_SUFFIXES = (".egg-info", ".dist-info")
IGNORED_FILE_NAMES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Cargo.lock", "uv.lock", "Thumbs.db"}
)
IGNORED_FILE_SUFFIXES = (".pyc", ".pyo", ".o", ".obj", ".so", ".dylib", ".dll", ".class", ".swp", "~")


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def is_ignored_dir(path: str, name: str) -> bool:
    if is_hidden(name) or name.endswith(IGNORED_DIR_SUFFIXES):
        return True
    if name in IGNORED_DIR_NAMES and name in ("venv", "env"):
        return os.path.exists(os.path.join(path, "pyvenv.cfg"))
    if name in IGNORED_DIR_NAMES:
        return True
    return any(os.path.exists(os.path.join(path, marker)) for marker in IGNORED_DIR_MARKERS)


def is_ignored_file(name: str) -> bool:
    return is_hidden(name) or name in IGNORED_FILE_NAMES or name.endswith(IGNORED_FILE_SUFFIXES)


@dataclass(slots=True)
class IgnoreRules:
    """The .localragignore files met on the way down, innermost last (gitignore semantics:
    patterns are relative to the folder holding the file; a later file can re-include)."""

    specs: tuple[tuple[str, pathspec.PathSpec], ...] = ()

    def entering(self, dir_path: str, dir_rel: str) -> "IgnoreRules":
        """Rules for the inside of a folder: these plus the folder's own .localragignore."""
        ignore_file = os.path.join(dir_path, IGNORE_FILE)
        try:
            with open(ignore_file, encoding="utf-8", errors="replace") as f:
                spec = pathspec.GitIgnoreSpec.from_lines(f.read().splitlines())
        except OSError:
            return self
        return IgnoreRules((*self.specs, (dir_rel, spec)))

    def ignores(self, rel: str, is_dir: bool) -> bool:
        ignored = False
        for base, spec in self.specs:
            if base:
                if not rel.startswith(base + "/"):
                    continue
                sub = rel[len(base) + 1 :]
            else:
                sub = rel
            result = spec.check_file(sub + "/" if is_dir else sub)
            if result.include is not None:
                ignored = result.include
        return ignored
