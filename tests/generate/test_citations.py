"""Citation markers: parsing, validation against the sources given, mapping to places."""

from __future__ import annotations

import pytest

from localrag.generate.citations import parse_citations, resolve, strip_invalid
from localrag.types import Hit


def _hits(n: int) -> list[Hit]:
    return [
        Hit(
            chunk_id=i,
            path=f"docs/f{i}.md",
            text="t",
            page=None if i % 2 else i,
            line_start=10 * i,
            line_end=10 * i + 5,
        )
        for i in range(1, n + 1)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tomatoes get seaweed [1].", [1]),
        ("A [1, 3] and B [2].", [1, 3, 2]),
        ("Range [2-4].", [2, 3, 4]),
        ("En dash [2–3].", [2, 3]),
        ("Adjacent [3][1] then [1] again.", [3, 1]),
        ("Word form [Source 2] and [sources 4, 5].", [2, 4, 5]),
        ("Mixed [1, 3-4].", [1, 3, 4]),
        ("No citations here, but a list [a] and array[i].", []),
        ("Huge range [1-1000] is not expanded.", [1, 1000]),
    ],
)
def test_parse_citations(text, expected):
    assert parse_citations(text) == expected


def test_resolve_maps_numbers_to_sources_and_lists_invalid():
    hits = _hits(3)
    citations, invalid = resolve("Fact [2]. Other [1, 7]. Bogus [0].", hits)
    assert [c.n for c in citations] == [2, 1]
    assert citations[0].path == "docs/f2.md"
    assert (citations[0].page, citations[0].line_start, citations[0].line_end) == (2, 20, 25)
    assert citations[1].page is None and citations[1].line_start == 10
    assert invalid == [7, 0]


def test_strip_invalid_keeps_valid_numbers_and_removes_empty_markers():
    text = "Fact [2]. Other [1, 7]. Bogus [9]. Range [2-5]."
    assert strip_invalid(text, 3) == "Fact [2]. Other [1]. Bogus. Range [2, 3]."


def test_strip_invalid_leaves_text_alone_when_all_valid():
    text = "Spacing  kept [1] ."
    assert strip_invalid(text, 1) == text
