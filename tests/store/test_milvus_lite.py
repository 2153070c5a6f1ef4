"""The Milvus store engine against a real Milvus Lite file and the real MiniLM embedder:
the same hits as the local engine, a query-only process with nothing but localrag.toml,
incremental updates (edit, delete, rename), filters, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the Milvus engine needs the [milvus] extra: pip install 'localrag[milvus]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite (milvus-lite) is not installed")

from localrag.cli import main
from localrag.doctor import index_report
from localrag.errors import ConfigError, IndexNotFoundError, StoreUnavailableError
from localrag.index import Index
from localrag.store.milvus import MilvusStore, _query_all

REPO = Path(__file__).resolve().parents[2]
QUERIES = ["tomato fertiliser", "boiler pressure", "sourdough loaf baking", "how often to water"]


def _settings(make_settings, tmp_path: Path, engine: str, **extra):
    overrides = {"retrieval__rerank": False, "store__engine": engine, "index": str(tmp_path / f"index-{engine}")}
    if engine == "milvus":
        overrides["store__milvus__uri"] = str(tmp_path / "milvus.db")
    return make_settings(**overrides, **extra)


def _hit_view(hits) -> list[tuple]:
    return [(h.path, h.text, h.heading, h.page, h.line_start, h.line_end, h.char_start, h.char_end) for h in hits]


def _live_rows(store: MilvusStore) -> dict[int, str]:
    rows = _query_all(store.client, store.name, store.visible(), ["id", "path"])
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "a chunk is visible twice"
    return {r["id"]: r["path"] for r in rows}


@pytest.fixture
def both(make_settings, tmp_path, notes, embedder):
    """The notes indexed by the local engine and by Milvus Lite."""
    local = Index.create(settings=_settings(make_settings, tmp_path, "local"), embedder=embedder)
    milvus = Index.create(settings=_settings(make_settings, tmp_path, "milvus"), embedder=embedder)
    summaries = local.add(notes), milvus.add(notes)
    yield local, milvus, summaries
    local.close()
    milvus.close()


def test_bad_milvus_settings_name_the_field(make_settings):
    for key, value, field in [
        ("store__engine", "milvs", "store.engine"),
        ("store__milvus__uri", "index.sqlite", "store.milvus.uri"),
        ("store__milvus__collection", "my-docs", "store.milvus.collection"),
        ("store__milvus__bm25_terms", "porter", "store.milvus.bm25_terms"),
    ]:
        with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
            make_settings(**{key: value})


def test_same_hits_and_json_shape_as_the_local_engine(both):
    local, milvus, (s_local, s_milvus) = both
    s_local.seconds = s_milvus.seconds = 0.0
    assert s_local.to_json() == s_milvus.to_json()
    for query in QUERIES:
        # dense alone: the same vectors and the same inner product, so the same ranking
        for idx in (local, milvus):
            idx.settings.retrieval.bm25_weight = 0.0
        assert _hit_view(milvus.search(query, k=5)) == _hit_view(local.search(query, k=5)), query
        # BM25 alone: Milvus's BM25 over localrag's terms, with the local k1 and b
        for idx in (local, milvus):
            idx.settings.retrieval.bm25_weight, idx.settings.retrieval.dense_weight = 1.0, 0.0
        lk, mk = local.search_result(query, k=3), milvus.search_result(query, k=3)
        assert [h.path for h in mk.hits][:1] == [h.path for h in lk.hits][:1], query
        for idx in (local, milvus):
            idx.settings.retrieval.dense_weight = 1.0
        lh, mh = local.search_result(query, k=5), milvus.search_result(query, k=5)
        assert mh.hits[0].path == lh.hits[0].path, query
        assert set(mh.to_json(explain=True)) == set(lh.to_json(explain=True))
        assert set(mh.hits[0].to_json(explain=True)) == set(lh.hits[0].to_json(explain=True))
        assert mh.hits[0].scores.bm25 is not None and mh.hits[0].matched_terms == lh.hits[0].matched_terms
    ls, ms = local.status(), milvus.status()
    assert set(ms.to_json()) == set(ls.to_json())
    assert (ms.documents, ms.chunks, ms.skipped, ms.generation) == (ls.documents, ls.chunks, ls.skipped, ls.generation)
    assert ms.keyword == {"engine": "milvus-bm25", "count": ls.chunks} and ms.health["fresh"]


def test_filters_by_path_and_type(both):
    local, milvus, _ = both
    for filters in ({"path_glob": "garden/*"}, {"types": "txt"}, {"path_glob": "nothing/*"}):
        want = [h.path for h in local.search("water", k=5, **filters)]
        got = [h.path for h in milvus.search("water", k=5, **filters)]
        assert got == want, filters
    assert milvus.search("water", k=5, path_glob="nothing/*") == []
    report = index_report(milvus.settings)  # `localrag doctor` opens the Milvus index too
    assert report.ok and report.chunks == local.status().chunks, report


def test_incremental_edit_delete_rename(both, notes):
    local, milvus, _ = both
    store = milvus.store
    version = store.version
    (notes / "garden" / "tomatoes.md").rename(notes / "garden" / "tomato-notes.md")
    deleted = next(p for p in notes.rglob("*") if p.is_file() and "recipe" in p.name)
    deleted_rel = deleted.relative_to(notes).as_posix()
    deleted.unlink()
    edited = next(p for p in notes.rglob("*.md") if p.name != "tomato-notes.md")
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\nThe zebra crossing lights were repaired on Tuesday.\n")
    s_local, s_milvus = local.add(notes), milvus.add(notes)
    assert (s_milvus.renamed, s_milvus.removed, s_milvus.updated) == (1, 1, 1)
    assert s_milvus.embedded == s_local.embedded  # the rename re-embeds nothing
    assert store.version == version + 1
    live = _live_rows(store)
    assert live == store.catalog.chunk_paths()  # exactly the catalogue: no deleted file, new paths
    assert deleted_rel not in live.values() and "garden/tomatoes.md" not in live.values()
    hits = milvus.search("zebra crossing lights repaired", k=3)
    assert hits[0].path == edited.relative_to(notes).as_posix() and "zebra" in hits[0].text
    assert milvus.search("tomato fertiliser", k=1)[0].path == "garden/tomato-notes.md"
    assert all(h.path != deleted_rel for q in QUERIES for h in milvus.search(q, k=5))
    # nothing changed: no new version; rows retired by the last run are gone after the next sync
    again = milvus.add(notes)
    assert (again.added, again.updated, again.removed) == (0, 0, 0) and store.version == version + 1
    store.sync()
    total = len(_query_all(store.client, store.name, "id >= 0", ["id"]))
    assert total == len(live)


def _query_server(milvus: Index, server: Path, settings_toml: str) -> tuple[Path, dict[str, str]]:
    """A folder holding only a localrag.toml that points at `milvus`'s collection (closed first: a
    Milvus Lite file opens in one process at a time), and the environment of a process run in it."""
    uri = milvus.settings.store.milvus.uri
    milvus.close()
    server.mkdir()
    (server / "localrag.toml").write_text(
        f'{settings_toml}[store]\nengine = "milvus"\n[store.milvus]\nuri = "{uri}"\n', encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALRAG_")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    return server, env


def test_query_only_process_with_just_the_config(both, tmp_path, models_dir, capsys, monkeypatch):
    """A fresh folder holding only localrag.toml: search (a real `python -m localrag` process)
    and status read everything from Milvus; no index files appear."""
    local, milvus, _ = both
    want = [h.path for h in milvus.search("boiler pressure", k=3)]
    server, env = _query_server(
        milvus, tmp_path / "query-server", f'models_dir = "{models_dir}"\n[retrieval]\nrerank = false\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "localrag", "search", "boiler pressure", "--k", "3", "--json"],
        cwd=server, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [h["path"] for h in json.loads(proc.stdout)["hits"]] == want
    monkeypatch.chdir(server)
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["chunks"] == local.status().chunks and status["health"]["catalog"].startswith("not used")
    assert sorted(p.name for p in server.iterdir()) == ["localrag.toml"]


@pytest.mark.slow
def test_query_only_process_can_ask(both, tmp_path, models_dir, smollm2_path):
    _, milvus, _ = both
    server, env = _query_server(
        milvus,
        tmp_path / "ask-server",
        f'models_dir = "{models_dir}"\n[llm]\nmodel = "{smollm2_path}"\nmax_tokens = 48\n',
    )
    proc = subprocess.run(
        [sys.executable, "-m", "localrag", "ask", "what fertiliser do the tomatoes get?", "--json"],
        cwd=server, env=env, capture_output=True, text=True, timeout=500,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert "garden/tomatoes.md" in [s["path"] for s in answer["sources"]]


def test_no_index_and_unreachable_server_are_clear_errors(make_settings, tmp_path):
    settings = _settings(make_settings, tmp_path, "milvus")
    with pytest.raises(IndexNotFoundError, match="milvus.db"):
        Index.open(settings=settings)
    server = make_settings(store__engine="milvus", store__milvus__uri="http://127.0.0.1:9", store__milvus__timeout=2)
    with pytest.raises(StoreUnavailableError, match=r"http://127\.0\.0\.1:9.*start the server"):
        Index.open(settings=server)


def test_rebuild_starts_the_collections_over(both, notes, embedder):
    _, milvus, _ = both
    settings = milvus.settings
    chunks = milvus.status().chunks
    milvus.close()
    with Index.open(settings=settings, rebuild=True, embedder=embedder) as idx:
        summary = idx.add(notes, rebuild=True)
        assert summary.embedded == chunks and idx.store.version == 1
        assert _live_rows(idx.store) == idx.store.catalog.chunk_paths()
        assert idx.search("boiler pressure", k=1)[0].path == "home/boiler.md"
