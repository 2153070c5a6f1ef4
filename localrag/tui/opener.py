"""How to open a source file at a line: the user's $VISUAL or $EDITOR, else the system opener.

Only ever runs the user's own editor or the platform opener on a path inside the indexed
folder, as an argument list (no shell): nothing a document says is executed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from localrag.errors import LocalragError

# Terminal editors that take "+LINE PATH"; VS Code and its forks take "-g PATH:LINE" and need no terminal.
_PLUS_LINE = {"vi", "vim", "nvim", "nano", "emacs", "emacsclient", "micro", "kak", "hx", "helix"}
_GOTO = {"code", "codium", "code-insiders", "cursor"}  # -g path:line


class OpenError(LocalragError):
    """The source file cannot be opened (outside the index folder, missing, no opener)."""


@dataclass(frozen=True, slots=True)
class OpenCommand:
    argv: list[str]
    terminal: bool  # needs the terminal: run it with the app suspended


def source_file(root: str | Path | None, rel: str) -> Path:
    """Absolute path of an indexed document, refusing anything outside the indexed folder."""
    if not root:
        raise OpenError("the index does not record its folder: re-index it to open files from here")
    base = Path(root).resolve()
    path = (base / rel).resolve()
    if path != base and base not in path.parents:
        raise OpenError(f"{rel} is outside the indexed folder {base}")
    if not path.is_file():
        raise OpenError(f"{path} no longer exists")
    return path


OPENER_HINT = "set $VISUAL or $EDITOR to your editor (e.g. export EDITOR=nano) to open sources from the chat"


def user_editor(environ: Mapping[str, str] = os.environ) -> str:
    """The editor command the user chose: $VISUAL, then $EDITOR (as Unix tools read them); "" if neither."""
    return environ.get("VISUAL", "").strip() or environ.get("EDITOR", "").strip()


def open_command(
    path: Path,
    line: int | None,
    editor: str | None = None,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> OpenCommand:
    """The command that opens `path` (at `line` when the editor supports it).

    `editor` defaults to `user_editor()`; without one the platform opener (xdg-open / open) is used,
    and OpenError says what to set when that is not installed either (`which` finds programs on PATH).
    """
    if editor is None:
        editor = user_editor()
    argv = shlex.split(editor)
    target = str(path)
    if not argv:
        opener = "open" if platform == "darwin" else "xdg-open"
        if which(opener) is None:
            raise OpenError(f"no editor set and no {opener} on this system: {OPENER_HINT}")
        return OpenCommand([opener, target], terminal=False)
    name = Path(argv[0]).name
    if line and name in _PLUS_LINE:
        return OpenCommand([*argv, f"+{line}", target], terminal=True)
    if line and name in _GOTO:
        return OpenCommand([*argv, "-g", f"{target}:{line}"], terminal=False)
    return OpenCommand([*argv, target], terminal=name not in _GOTO)
