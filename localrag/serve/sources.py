"""A passage of an indexed file by path and lines, for `get_source`: never a path outside the
indexed folder.

A path is served only when it is an indexed document (so files the indexer ignored, such as
dotfiles or `.localragignore`d ones, stay unreadable even inside the folder) and when the file,
symbolic links resolved, still lies inside the indexed folder. Formats with lines (text, Markdown,
code) are read from the file as it is now; the others (PDF, DOCX) give the text the index holds.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from typing_extensions import TypedDict  # see localrag/responses.py

from localrag.errors import SourceAccessError
from localrag.ingest.encoding import detect_and_decode
from localrag.ingest.errors import SkipFile

if TYPE_CHECKING:
    from localrag.store import Store


class SourceJSON(TypedDict):
    path: str
    line_start: int
    line_end: int
    total_lines: int
    text: str
    origin: Literal["file", "index"]


def _relative(path: str) -> str:
    """The catalogue's form of `path` (relative POSIX), or SourceAccessError for any way out."""
    if not path or "\x00" in path or "\\" in path:
        raise SourceAccessError(f"not a document path: {path!r}")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise SourceAccessError(f"{path!r}: give a path relative to the indexed folder, without '..'")
    return pure.as_posix()


def read_source(
    store: Store, path: str, line_start: int = 1, line_end: int | None = None, max_lines: int = 400
) -> SourceJSON:
    """{"path", "line_start", "line_end", "total_lines", "text", "origin"} for lines
    `line_start`..`line_end` (1-based, inclusive; at most `max_lines`) of an indexed document."""
    rel = _relative(path)
    chunks = store.document_passages(rel)
    if chunks is None:
        raise SourceAccessError(f"{rel!r} is not an indexed document (paths are as search hits show them)")
    root_meta = store.root()
    if root_meta is None:
        raise SourceAccessError("the index records no folder")
    if any(c.line_start is not None for c in chunks):
        lines, origin = _file_lines(Path(root_meta), rel), "file"
    else:  # PDF, DOCX...: the file's bytes have no lines; the extracted text does
        lines, origin = "\n".join(c.text for c in chunks).splitlines(), "index"
    start = max(1, line_start)
    end = len(lines) if line_end is None else min(line_end, len(lines))
    end = min(end, start + max_lines - 1)
    return {
        "path": rel,
        "line_start": start,
        "line_end": max(end, start - 1),
        "total_lines": len(lines),
        "text": "\n".join(lines[start - 1 : end]),
        "origin": origin,
    }


def _file_lines(root: Path, rel: str) -> list[str]:
    root = root.resolve()
    try:
        target = (root / rel).resolve(strict=True)
    except (OSError, RuntimeError):
        raise SourceAccessError(f"{rel!r} is indexed but no longer on disk") from None
    if not target.is_relative_to(root) or not target.is_file():
        raise SourceAccessError(f"{rel!r} leads outside the indexed folder")
    try:
        text, _ = detect_and_decode(target.read_bytes())
    except SkipFile:  # emptied, or no longer text, since it was indexed
        return []
    return text.splitlines()
