"""The text a chunk is searched by: its heading path, then its own text.

Both retrievers see the section context: "Garden > Tomatoes\\nFeed weekly with..." lets a
query about tomato feeding find a chunk whose body never says "tomato".
"""

from __future__ import annotations

from collections.abc import Sequence

HEADING_SEPARATOR = " > "


def passage_text(heading: Sequence[str], text: str) -> str:
    """Heading path + newline + text; just the text when there is no heading."""
    if not heading:
        return text
    return HEADING_SEPARATOR.join(heading) + "\n" + text
