"""The Milvus engine against a real Milvus 2.3.5 server (PyPI `milvus`, "Embedded Milvus": the
server binary, run on a loopback port). 2.3 has dense search but no BM25 function: localrag says
so and runs dense only. Skipped, with the reason, where the server cannot start here."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the Milvus engine needs the [milvus] extra: pip install 'localrag[milvus]'")
milvus = pytest.importorskip("milvus", reason="the Milvus 2.3.5 server package (`milvus`) is not installed")

from localrag.index import Index  # noqa: E402
from localrag.store.milvus import _query_all  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_uri(tmp_path_factory):
    server = milvus.MilvusServer(wait_for_started=False)
    server.set_base_dir(str(tmp_path_factory.mktemp("milvus-server")))
    server.listen_port = _free_port()
    try:
        server.start()
        server.wait_started(timeout=120_000)
    except Exception as e:  # noqa: BLE001 - any failure to start means: cannot test against it here
        server.stop()
        pytest.skip(f"the Milvus 2.3.5 server did not start here: {type(e).__name__}: {e}")
    # the package picks the next free port when the one asked for is taken
    yield f"http://127.0.0.1:{server.listen_port}"
    server.stop()


def test_dense_path_on_a_real_server(server_uri, make_settings, tmp_path, notes, embedder):
    common = {"retrieval__rerank": False}
    local = Index.create(settings=make_settings(**common, index=str(tmp_path / "local")), embedder=embedder)
    remote = Index.create(
        settings=make_settings(**common, index=str(tmp_path / "writer"), store__engine="milvus",
                               store__milvus__uri=server_uri, store__milvus__collection="notes_23"),
        embedder=embedder,
    )  # fmt: skip
    local.add(notes)
    summary = remote.add(notes)
    assert summary.chunks == local.status().chunks
    status = remote.status()
    assert status.dense["server"].startswith("v2.3")
    assert status.keyword == {"engine": "none", "count": 0}
    for idx in (local, remote):
        idx.settings.retrieval.bm25_weight = 0.0
    for query in ("tomato fertiliser", "boiler pressure", "sourdough loaf baking"):
        want = [(h.path, h.text) for h in local.search(query, k=4)]
        assert [(h.path, h.text) for h in remote.search(query, k=4)] == want, query
    # hybrid asked for on a server without BM25: dense alone, said in the notices, no crash
    remote.settings.retrieval.bm25_weight = 1.0
    result = remote.search_result("tomato fertiliser", k=3)
    assert result.hits[0].path == "garden/tomatoes.md"
    assert any("no BM25" in n for n in result.notices)

    # incremental on the server: a rename and a delete publish as one new version
    (notes / "garden" / "tomatoes.md").rename(notes / "garden" / "tomato-notes.md")
    gone = next(p for p in notes.rglob("*") if p.is_file() and p.suffix == ".txt")
    gone.unlink()
    again = remote.add(notes)
    assert (again.renamed, again.removed) == (1, 1)
    store = remote.store
    rows = _query_all(store.client, store.name, store.visible(), ["id", "path"])
    assert {r["id"]: r["path"] for r in rows} == store.catalog.chunk_paths()
    remote.close()

    # a query-only process view: no catalogue, only the server
    reader = Index.open(
        settings=make_settings(**common, index=str(tmp_path / "nothing-here"), store__engine="milvus",
                               store__milvus__uri=server_uri, store__milvus__collection="notes_23"),
        embedder=embedder,
    )  # fmt: skip
    assert reader.store.catalog is None
    assert reader.search("tomato fertiliser", k=1)[0].path == "garden/tomato-notes.md"
    assert not Path(tmp_path / "nothing-here").exists()
    reader.close()
    local.close()
