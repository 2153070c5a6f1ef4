"""What a loader may need besides a file's bytes: settings, a token counter, an OCR page callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from localrag.config import ChunkingSettings, IngestSettings

# A MiniLM WordPiece token covers about 4 characters of English prose; numbers and codes in
# tables cost more tokens per character, so row groups are sized at 3 when no counter is given.
CHARS_PER_TOKEN_ESTIMATE = 3


@dataclass(slots=True)
class LoadOptions:
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    count_tokens: Callable[[str], int] | None = None  # the embedder's, to size table row groups
    on_ocr_page: Callable[[float], None] | None = None  # called after each page read by OCR, with its seconds

    def tokens(self, text: str) -> int:
        """Tokens of `text` by the embedder's count, else estimated from its length."""
        if self.count_tokens is None:
            return -(-len(text) // CHARS_PER_TOKEN_ESTIMATE)
        return self.count_tokens(text)
