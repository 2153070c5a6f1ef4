"""The typed JSON shapes (localrag/responses.py, the MCP tools' output schemas) name exactly the
keys the objects' to_json() writes: a key added to one and not the other fails here, not in a
client whose structured output silently lacks it."""

from __future__ import annotations

from typing import get_type_hints

from localrag.reports import IndexStatus
from localrag.responses import (
    AnswerJSON,
    CitationJSON,
    EmbedderJSON,
    HitJSON,
    KeywordJSON,
    SentenceJSON,
    StageScoresJSON,
    StatusJSON,
)
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


def test_the_status_shape_matches_to_json():
    status = IndexStatus(
        index="idx", root="/notes", paths=["a.md"], documents=1, chunks=2, skipped=[], notes=[], generation=1,
        embedder={"name": "all-MiniLM-L6-v2", "dim": 384}, vector_dtype="float16", dense={}, keyword={"engine": "bm25s", "count": 2},
        indexed_at=None, disk_bytes=0, health={"fresh": True},
    )  # fmt: skip
    data = status.to_json()
    assert _keys(StatusJSON) == set(data)
    assert StatusJSON.__optional_keys__ == {"paths"}
    assert _keys(EmbedderJSON) == set(data["embedder"])
    assert _keys(KeywordJSON) == set(data["keyword"])
