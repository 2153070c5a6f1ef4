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
        ".py",
        ".pyi",
        ".js",
        ".jsx",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".go",
        ".rs",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".cxx",
        ".hpp",
        ".hh",
        ".cs",
        ".rb",
        ".php",
        ".swift",
        ".sh",
        ".bash",
        ".zsh",
        ".lua",
        ".sql",
        ".pl",
        ".r",
        ".css",
        ".scss",
        ".vue",
    }
)
DATA = frozenset({".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml"})
CSV = frozenset({".csv", ".tsv"})
XLSX = frozenset({".xlsx", ".xlsm"})
ODS = frozenset({".ods"})
ODT = frozenset({".odt"})
PPTX = frozenset({".pptx"})
EPUB = frozenset({".epub"})
EML = frozenset({".eml"})
MBOX = frozenset({".mbox"})
NOTEBOOK = frozenset({".ipynb"})
RTF = frozenset({".rtf"})
IMAGE = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})

_BY_EXTENSION: tuple[tuple[str, frozenset[str]], ...] = (
    ("markdown", MARKDOWN),
    ("plain", PLAIN),
    ("rst", RST),
    ("html", HTML),
    ("pdf", PDF),
    ("docx", DOCX),
    ("code", CODE),
    ("data", DATA),
    ("csv", CSV),
    ("xlsx", XLSX),
    ("ods", ODS),
    ("odt", ODT),
    ("pptx", PPTX),
    ("epub", EPUB),
    ("eml", EML),
    ("mbox", MBOX),
    ("notebook", NOTEBOOK),
    ("rtf", RTF),
    ("image", IMAGE),
)
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset().union(*(exts for _, exts in _BY_EXTENSION))

# Extensionless files worth indexing, by lower-cased name.
TEXT_FILENAMES = frozenset({"readme", "license", "licence", "copying", "changelog", "authors", "notice", "todo"})
CODE_FILENAMES = frozenset({"makefile", "dockerfile", "justfile", "rakefile", "gemfile"})
# Bytes read from an extensionless file to decide whether it is text.
HEAD_BYTES = 8192


def format_of(rel: str, head: bytes | None = None) -> str | None:
    """The loader for a file: 'markdown', 'plain', 'pdf', 'pptx', 'image'... or None (unsupported).

    A file without an extension and a known name is judged by `head` (its first bytes):
    an mbox mailbox (Thunderbird keeps them without extension) or text; None when `head`
    is not given or is binary.
    """
    name = PurePosixPath(rel).name.lower()
    suffix = PurePosixPath(name).suffix
    for fmt, exts in _BY_EXTENSION:
        if suffix in exts:
            return fmt
    if name in TEXT_FILENAMES:
        return "plain"
    if name in CODE_FILENAMES:
        return "code"
    if suffix or head is None:
        return None
    from localrag.ingest.encoding import looks_like_text

    if head.startswith(b"From ") and b"\n" in head:
        return "mbox"
    return "plain" if looks_like_text(head) else None
