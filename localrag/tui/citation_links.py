"""Turn [n] citation markers in an answer into Markdown links the transcript can catch.

`[2]` becomes `[[2]](cite:2)`; a multi-source marker such as `[1, 3]` becomes one link per
source. The grammar of a marker is the generation package's (`parse_citations`); here we only
find bracketed candidates. A bracket glued to a word (`arr[1]`) or already a link (`[1](...)`)
is left alone.
"""

from __future__ import annotations

import re

from localrag.generate.citations import parse_citations

CITE_SCHEME = "cite:"
_CANDIDATE = re.compile(r"(?<![\w\]`])\[[^\[\]\n]{1,40}\](?!\()|(?<=\])\[[^\[\]\n]{1,40}\](?!\()")
# A tail that may still grow into a marker while tokens stream in: "[", "[1", "[1, 2", "[source 1".
_OPEN_TAIL = re.compile(r"\[[^\[\]\n]{0,40}$")


def cite_link(n: int) -> str:
    return f"[\\[{n}\\]]({CITE_SCHEME}{n})"


def linkify(text: str) -> str:
    """Every citation marker in `text` as Markdown links with `cite:n` targets."""

    def replace(m: re.Match[str]) -> str:
        numbers = parse_citations(m.group(0))
        return "".join(cite_link(n) for n in numbers) if numbers else m.group(0)

    return _CANDIDATE.sub(replace, text)


def cited_number(href: str) -> int | None:
    """n for a `cite:n` link, None for anything else (links from documents are never followed)."""
    if href.startswith(CITE_SCHEME) and href[len(CITE_SCHEME) :].isdigit():
        return int(href[len(CITE_SCHEME) :])
    return None


class StreamingLinkifier:
    """`linkify` for text that arrives in pieces: a marker split across tokens ("[", "1", "]")
    is held back until it is complete, so what was written never needs rewriting."""

    def __init__(self) -> None:
        self._pending = ""
        self._before = ""  # the character before the pending text: decides whether "[" starts a marker

    def _linkify(self, text: str) -> str:
        return linkify(self._before + text)[len(self._before) :]

    def feed(self, piece: str) -> str:
        """Markdown that is safe to append now."""
        text = self._pending + piece
        tail = _OPEN_TAIL.search(text)
        cut = tail.start() if tail else len(text)
        out = self._linkify(text[:cut])
        if cut:
            self._before = text[cut - 1]
        self._pending = text[cut:]
        return out

    def flush(self) -> str:
        """The rest, at the end of the stream."""
        out = self._linkify(self._pending)
        self._pending = self._before = ""
        return out
