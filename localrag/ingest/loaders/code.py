"""Source code: one section per top-level definition, named by it.

A definition starts at a line in column 0 that the language's patterns recognise;
comments, decorators and attributes directly above it belong to it. Anything before
the first definition (imports, module docs) is a section of its own. A long class
(over LONG_CLASS_LINES) in Python, JS/TS or Rust is split further at its methods,
headed (class, method). Large sections are split by the chunker at blank lines, then lines.
"""

from __future__ import annotations

import re

from localrag.ingest.document import Document, LineIndex, line_section
from localrag.types import Section

_MODS = r"(?:(?:public|private|protected|internal|abstract|final|sealed|static|data|open|inline|export|default|async|override)\s+)*"
_PATTERNS: dict[str, tuple[str, ...]] = {
    "python": (r"(?:async\s+)?(?:def|class)\s+(\w+)",),
    "js": (
        r"(?:export\s+(?:default\s+)?)?(?:async\s+)?function\*?\s*([\w$]+)",
        r"(?:export\s+(?:default\s+)?)?(?:abstract\s+)?class\s+([\w$]+)",
        r"(?:export\s+)?(?:interface|type|enum)\s+([\w$]+)",
        r"(?:export\s+)?(?:const|let|var)\s+([\w$]+)\s*(?::[^=]*)?=\s*(?:async\s*)?(?:function|\([^)]*\)\s*=>|[\w$]+\s*=>)",
    ),
    "go": (r"func\s+(?:\([^)]*\)\s*)?(\w+)", r"type\s+(\w+)"),
    "rust": (
        r"(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|const|unsafe|extern\s+\"[^\"]*\")\s+)*(?:fn|struct|enum|trait|mod|union)\s+(\w+)",
        r"(?:unsafe\s+)?(impl\b[^{]*?)\s*\{?\s*$",
    ),
    "jvm": (_MODS + r"(?:class|interface|enum|record|object|trait|fun|struct|namespace)\s+(\w+)",),
    "c": (
        r"(?:struct|class|namespace|enum|union)\s+(\w+)[^;]*$",
        r"(?!(?:if|for|while|switch|return|else)\b)[A-Za-z_][\w:<>,\s\*&]*?[\s\*&]\**(~?[A-Za-z_][\w:]*)\s*\([^;]*$",
    ),
    "ruby": (r"(?:def|class|module)\s+([\w.:?!]+)",),
    "php": (r"(?:(?:abstract|final)\s+)?(?:function|class|interface|trait)\s+(\w+)",),
    "shell": (r"function\s+([\w-]+)", r"([\w-]+)\s*\(\)\s*\{?\s*$"),
    "lua": (r"(?:local\s+)?function\s+([\w.:]+)",),
    "sql": (
        r"(?i:create\s+(?:or\s+replace\s+)?(?:table|view|function|procedure|index|trigger)\s+(?:if\s+not\s+exists\s+)?([\w.\"`]+))",
    ),
    "swift": (_MODS + r"(?:func|class|struct|enum|protocol|extension)\s+(\w+)",),
    "perl": (r"sub\s+(\w+)",),
    "r": (r"([\w.]+)\s*(?:<-|=)\s*function",),
    "make": (r"([\w./-]+)\s*:(?!=)",),
}
_LANGUAGE = {
    ".py": "python",
    ".pyi": "python",
    ".js": "js",
    ".jsx": "js",
    ".mjs": "js",
    ".cjs": "js",
    ".ts": "js",
    ".tsx": "js",
    ".vue": "js",
    ".go": "go",
    ".rs": "rust",
    ".java": "jvm",
    ".kt": "jvm",
    ".kts": "jvm",
    ".scala": "jvm",
    ".cs": "jvm",
    ".c": "c",
    ".h": "c",
    ".cc": "c",
    ".cpp": "c",
    ".cxx": "c",
    ".hpp": "c",
    ".hh": "c",
    ".rb": "ruby",
    ".php": "php",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".lua": "lua",
    ".sql": "sql",
    ".swift": "swift",
    ".pl": "perl",
    ".r": "r",
    "makefile": "make",
}
_COMPILED = {lang: [re.compile(p) for p in pats] for lang, pats in _PATTERNS.items()}
# Methods one indentation level inside a class/impl, for the languages where that is reliable.
_NOT_METHODS = r"(?!(?:if|for|while|switch|catch|return|function|else|do|try|with|new|await|yield)\b)"
_METHOD_PATTERNS: dict[str, re.Pattern[str]] = {
    "python": re.compile(r"(?:async\s+)?def\s+(\w+)"),
    "js": re.compile(
        r"(?:(?:public|private|protected|static|async|get|set|readonly|override|abstract)\s+)*\*?"
        + _NOT_METHODS
        + r"([\w$#]+)\s*(?:<[^>]*>)?\([^;]*$"
    ),
    "rust": re.compile(r"(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|const|unsafe)\s+)*fn\s+(\w+)"),
}
LONG_CLASS_LINES = 60
# Lines directly above a definition that belong to it.
_ATTACHED = re.compile(r"^(?:#|//|/\*|\*|\s+\*|@|--|;|\[|\"\"\"|''')")


def language_of(suffix_or_name: str) -> str | None:
    return _LANGUAGE.get(suffix_or_name.lower())


def _definition(line: str, patterns: list[re.Pattern[str]]) -> str | None:
    if not line or line[0].isspace():
        return None
    for pattern in patterns:
        if m := pattern.match(line):
            return " ".join(m.group(1).split())
    return None


def _definitions(lines: list[str], patterns: list[re.Pattern[str]], indent: str = "") -> list[tuple[int, str]]:
    """(0-based first line, name) of each definition at exactly `indent`, comments attached."""
    starts: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        if not line.startswith(indent):
            continue
        name = _definition(line[len(indent) :], patterns)
        if name is None:
            continue
        first = i
        while first > 0 and lines[first - 1].strip() and _ATTACHED.match(lines[first - 1][len(indent) :]):
            first -= 1
        if starts and first <= starts[-1][0]:
            continue  # e.g. a C declaration split over lines: keep the first
        starts.append((first, name))
    return starts


def _methods(lines: list[str], first: int, last: int, lang: str) -> list[tuple[int, str]]:
    """Method starts inside lines[first:last] (a class body), at its first indentation."""
    body = lines[first + 1 : last]
    indent = next((ln[: len(ln) - len(ln.lstrip())] for ln in body if ln.strip()), "")
    if not indent:
        return []
    return [(first + 1 + i, name) for i, name in _definitions(body, [_METHOD_PATTERNS[lang]], indent)]


def load_code(text: str, suffix_or_name: str) -> Document:
    index = LineIndex(text)
    lang = language_of(suffix_or_name)
    lines = text.split("\n")
    # (first line 0-based, heading) of each section, in order
    bounds: list[tuple[int, tuple[str, ...]]] = [(0, ())]
    if lang is not None:
        tops = _definitions(lines, _COMPILED[lang])
        for k, (first, name) in enumerate(tops):
            bounds.append((first, (name,)))
            last = tops[k + 1][0] if k + 1 < len(tops) else len(lines)
            if lang in _METHOD_PATTERNS and last - first > LONG_CLASS_LINES:
                bounds.extend((m, (name, method)) for m, method in _methods(lines, first, last, lang))
    sections: list[Section] = []
    for k, (first, heading) in enumerate(bounds):
        start = index.line_start(first + 1)
        end = index.line_start(bounds[k + 1][0] + 1) if k + 1 < len(bounds) else len(text)
        section = line_section(text, index, start, end, heading, "code")
        if section is not None:
            sections.append(section)
    return Document(text=text, sections=sections)
