"""Ingest: walk a folder, load each file into sections, chunk sections by token count.

for item in walk(root, settings.chunking):
    if isinstance(item, SkippedEntry): record(item.rel, item.reason); continue
    try:
        sections = load_sections(item.rel, read_file(item), settings.chunking)
    except SkipFile as e: record(item.rel, e.reason); continue
    chunks = chunk_sections(sections, embedder.count_tokens, size, overlap, max_tokens)
"""

from localrag.ingest.chunker import chunk_sections
from localrag.ingest.document import Document
from localrag.ingest.errors import FolderError, SkipFile
from localrag.ingest.formats import SUPPORTED_EXTENSIONS, format_of
from localrag.ingest.load import load_document, load_sections
from localrag.ingest.walk import FileEntry, SkippedEntry, read_file, walk

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "Document",
    "FileEntry",
    "FolderError",
    "SkipFile",
    "SkippedEntry",
    "chunk_sections",
    "format_of",
    "load_document",
    "load_sections",
    "read_file",
    "walk",
]
