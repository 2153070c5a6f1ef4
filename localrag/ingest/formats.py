"""Which file types are indexed, and how each is recognised."""

from __future__ import annotations

from pathlib import PurePosixPath

MARKDOWN = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mdx"})
PLAIN = frozenset({".txt", ".text", ".log", ".org", ".adoc", ".asciidoc", ".tex"})
RST = frozenset({".rst", ".rest"})
HTML = frozenset({".html", ".htm", ".xhtml"})
PDF = frozenset({".pdf"})
DOCX = frozenset({".docx"})
CODE = frozenset(
    {
        ".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".java", ".kt",
        ".kts", ".scala", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".rb", ".php",
        ".swift", ".sh", ".bash", ".zsh", ".lua", ".sql", ".pl", ".r", ".css", ".scss", ".vue",
    }
)
DATA = frozenset({".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml"})

SUPPORTED_EXTENSIONS: frozenset[str] = MARKDOWN | PLAIN | RST | HTML | PDF | DOCX | CODE | DATA

# Extensionless files worth indexing, by lower-cased name.
TEXT_FILENAMES = frozenset({"readme", "license", "licence", "copying", "changelog", "authors", "notice", "todo"})
CODE_FILENAMES = frozenset({"makefile", "dockerfile", "justfile", "rakefile", "gemfile"})


def format_of(rel: str) -> str | None:
    """'markdown', 'plain', 'rst', 'html', 'pdf', 'docx', 'code', 'data', or None (unsupported)."""
    name = PurePosixPath(rel).name.lower()
    suffix = PurePosixPath(name).suffix
    for fmt, exts in (
        ("markdown", MARKDOWN),
        ("plain", PLAIN),
        ("rst", RST),
        ("html", HTML),
        ("pdf", PDF),
        ("docx", DOCX),
        ("code", CODE),
        ("data", DATA),
    ):
        if suffix in exts:
            return fmt
    if name in TEXT_FILENAMES:
        return "plain"
    if name in CODE_FILENAMES:
        return "code"
    return None
