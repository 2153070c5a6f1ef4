"""The typed JSON shapes (localrag/responses.py, the MCP tools' output schemas) name exactly the
keys the objects' to_json() writes: a key added to one and not the other fails here, not in a
client whose structured output silently lacks it."""

from __future__ import annotations

from typing import get_type_hints

from localrag.responses import AnswerJSON, CitationJSON, HitJSON, SentenceJSON, StageScoresJSON
from localrag.types import Answer, Citation, Hit, SentenceSupport


def _keys(typed: type) -> set[str]:
    return set(get_type_hints(typed))


def test_the_typed_shapes_match_to_json():
    hit = Hit(chunk_id=1, path="a.md", text="Roses are pruned in March.", rank=1, score=0.5, locator="slide 3")
    citation = Citation(n=1, path="a.md", locator="slide 3")
    sentence = SentenceSupport(text="Roses are pruned in March.", status="supported", source=1)
    answer = Answer("When are roses pruned?", "In March [1].", [hit], citations=[citation], sentences=[sentence])
    data = answer.to_json()
    assert _keys(AnswerJSON) == set(data)
    assert _keys(HitJSON) == set(data["sources"][0])
    assert _keys(StageScoresJSON) == set(data["sources"][0]["scores"])
    assert _keys(CitationJSON) == set(data["citations"][0])
    assert _keys(SentenceJSON) == set(data["sentences"][0])
