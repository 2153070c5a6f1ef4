"""The typed records of indexing and status: the JSON they write (unchanged from the dicts they
replaced, keys in the same order), the one summary line, and read access by attribute only."""

from __future__ import annotations

import pytest

from localrag.reports import IndexReport, IndexStatus

REPORT_KEYS = [
    "added", "updated", "removed", "unchanged", "renamed", "skipped", "notes",
    "chunks", "embedded", "ocr_pages", "generation", "seconds",
]  # fmt: skip
STATUS_KEYS = [
    "index", "root", "documents", "chunks", "skipped", "notes", "generation", "embedder",
    "vector_dtype", "dense", "keyword", "indexed_at", "disk_bytes", "health",
]  # fmt: skip


def _status(**changes) -> IndexStatus:
    fields = dict(
        index="idx", root="/notes", documents=2, chunks=5, skipped=[], notes=[], generation=3,
        embedder={"name": "all-MiniLM-L6-v2", "dim": 384}, vector_dtype="float16", dense={"kind": "flat"},
        keyword={"engine": "bm25s", "count": 5}, indexed_at=1.5, disk_bytes=100, health={"fresh": True},
    )  # fmt: skip
    return IndexStatus(**{**fields, **changes})


def test_the_report_describes_itself_in_one_line():
    report = IndexReport(added=3, updated=1, renamed=2, removed=1, unchanged=12, chunks=410, seconds=4.23,
                         skipped=[{"path": "a.bin", "reason": "binary"}])  # fmt: skip
    assert report.describe() == "3 added, 1 updated, 2 renamed, 1 removed, 12 unchanged, 1 skipped; 410 chunks in 4.2 s"
    assert report.changed == 7
    assert IndexReport(unchanged=4).changed == 0


def test_the_json_keeps_the_keys_and_their_order():
    assert list(IndexReport().to_json()) == REPORT_KEYS
    assert list(_status().to_json()) == STATUS_KEYS
    selected = list(_status(paths=["a.md"]).to_json())
    assert selected == STATUS_KEYS[:2] + ["paths"] + STATUS_KEYS[2:]


def test_records_are_read_by_attribute_not_by_key():
    report = IndexReport(added=2, skipped=[{"path": "x", "reason": "empty"}])
    assert report.added == 2 and report.skipped == [{"path": "x", "reason": "empty"}]
    status = _status()
    assert status.chunks == 5 and status.paths is None
    for record in (report, status):
        with pytest.raises(TypeError):
            record["added"]  # type: ignore[index]
        assert not hasattr(record, "get")
