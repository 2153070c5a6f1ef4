"""`localrag serve` on the Milvus engine (store.engine = "milvus"), real processes throughout:
a server over a Milvus Lite file queried with httpx and the `openai` client; and a server and a
writer sharing one Milvus (Milvus Lite's own gRPC server process), where the server picks up
the writer's new version without a restart and, while the writer is frozen in the middle of
publishing, keeps serving the old version whole."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import anyio
import pytest

pytest.importorskip("pymilvus", reason="the Milvus engine needs the [milvus] extra: pip install 'localrag[milvus]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite (milvus-lite) is not installed")

from tests.serve.serve_support import NOTES, child_env, localrag_command, start_milvus_lite_server, start_server

from localrag.config import load_settings
from localrag.index import Index
from localrag.serve.engine import Engine

pytestmark = pytest.mark.timeout(900)

QUERIES = ["boiler pressure", "tomato fertiliser", "wifi password", "compost bin", "sourdough loaf baking"]
RELOAD_WAIT_S = 60  # a bound on waiting for the server to notice a version, not a timing claim


def milvus_env(uri: str) -> dict[str, str]:
    """The settings of every process here, as environment (FLAT: exact search, stable ranks)."""
    return {
        "LOCALRAG_STORE__ENGINE": "milvus", "LOCALRAG_STORE__MILVUS__URI": uri,
        "LOCALRAG_STORE__MILVUS__DENSE_INDEX": "FLAT", "LOCALRAG_RETRIEVAL__RERANK": "false",
    }  # fmt: skip


def settings_for(index: Path, models_dir: Path, uri: str):
    overrides = {"index": str(index), "models_dir": str(models_dir), "store.engine": "milvus",
                 "store.milvus.uri": uri, "store.milvus.dense_index": "FLAT", "retrieval.rerank": False}  # fmt: skip
    return load_settings(overrides=overrides, environ={})


def hit_paths(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [h["path"] for h in response.json()["hits"]]


@pytest.fixture(scope="module")
def lite(tmp_path_factory, models_dir, embedder):
    """(folder, notes, Milvus Lite uri, generation): the notes indexed into a Milvus Lite file, which
    is closed again (a Milvus Lite file opens in one process at a time)."""
    root = tmp_path_factory.mktemp("lite")
    notes, uri = root / "notes", str(root / "milvus.db")
    shutil.copytree(NOTES, notes)
    with Index.create(settings=settings_for(root / "writer-index", models_dir, uri), embedder=embedder) as idx:
        idx.add(notes)
        generation = idx.status().generation
    return root, notes, uri, generation


def test_serve_over_a_milvus_lite_file(lite, tmp_path, models_dir, smollm2_path):
    """The Engine in-process on the file, then a server process with no index folder: the same
    hits over HTTP, filters, status, and an OpenAI chat completion citing a passage from Milvus."""
    from openai import OpenAI

    _, notes, uri, generation = lite
    engine = Engine(settings_for(tmp_path / "absent", models_dir, uri))  # no catalogue: Milvus only
    try:
        expected = {q: [h["path"] for h in engine.search(q, k=3)["hits"]] for q in QUERIES}
        assert expected["boiler pressure"][0] == "home/boiler.md"
        source = engine.source("garden/tomatoes.md", 1, 3)
        assert source["origin"] == "file" and source["line_start"] == 1
        assert source["text"] == "\n".join((notes / "garden/tomatoes.md").read_text().splitlines()[:3])
        assert engine.status()["keyword"]["engine"] == "milvus-bm25"
    finally:
        engine.close()

    server = start_server(tmp_path / "absent", models_dir, smollm2_path, tmp_path / "serve.log", **milvus_env(uri))
    try:
        with server.client() as http:
            assert http.get("/healthz").json() == {"status": "ok", "generation": generation}
            for q, paths in expected.items():
                assert hit_paths(http.post("/v1/search", json={"query": q, "k": 3})) == paths
            garden = hit_paths(http.post("/v1/search", json={"query": "feed", "k": 5, "path": "garden/*"}))
            assert garden and all(p.startswith("garden/") for p in garden)
            status = http.get("/v1/status").json()
            assert "Milvus collection" in status["index"] and status["generation"] == generation
        client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", timeout=300)
        assert [m.id for m in client.models.list()] == ["localrag"]
        reply = client.chat.completions.create(
            model="localrag", messages=[{"role": "user", "content": "what fertiliser do the tomatoes get?"}]
        )
        extra = reply.model_extra["localrag"]
        assert "garden/tomatoes.md" in [s["path"] for s in extra["sources"]]
    finally:
        server.stop()
    assert not (tmp_path / "absent").exists()  # the server made no index folder


@pytest.mark.slow
def test_mcp_on_stdio_over_a_milvus_lite_file(lite, tmp_path, models_dir, smollm2_path):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    _, notes, uri, _ = lite
    params = StdioServerParameters(
        command=localrag_command()[0],
        args=[*localrag_command()[1:], "mcp", "--index", str(tmp_path / "absent"), "--model", str(smollm2_path)],
        env=child_env(models_dir, **milvus_env(uri)),
        cwd=str(tmp_path),
    )

    async def calls():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            found = await session.call_tool("search", {"query": "wifi password", "k": 2})
            passage = await session.call_tool("get_source", {"path": "home/wifi.txt", "line_start": 1, "line_end": 2})
            return found, passage

    found, passage = anyio.run(calls)
    assert not found.isError and found.structuredContent["hits"][0]["path"] == "home/wifi.txt"
    assert not passage.isError
    assert passage.structuredContent["text"] == "\n".join((notes / "home/wifi.txt").read_text().splitlines()[:2])


def test_serve_sees_a_new_milvus_version_and_never_half_of_one(tmp_path, models_dir, embedder, smollm2_path):
    """A writer process frozen just before it flips the state row (new rows inserted, old ones
    retired, the new document list written) leaves the server on the old version, whole; once
    it goes on, the server serves the new version without a restart."""
    lite, uri = start_milvus_lite_server(tmp_path / "milvus-data", tmp_path / "milvus.log")
    server = None
    try:
        notes, writer_index = tmp_path / "notes", tmp_path / "writer-index"
        shutil.copytree(NOTES, notes)
        with Index.create(settings=settings_for(writer_index, models_dir, uri), embedder=embedder) as idx:
            idx.add(notes)
        server = start_server(tmp_path / "absent", models_dir, smollm2_path, tmp_path / "serve.log", **milvus_env(uri))
        with server.client() as http:
            before = http.get("/healthz").json()["generation"]
            old = {q: http.post("/v1/search", json={"query": q, "k": 5}).json()["hits"] for q in QUERIES}
            assert "zorblax" not in str(old)

            (notes / "peppers.md").write_text("# Peppers\n\nThe zorblax peppers need a warm greenhouse.\n")
            (notes / "home/boiler.md").write_text("# Boiler\n\nThe boiler was replaced by a zorblax heat pump.\n")
            (notes / "travel.md").unlink()
            writer = subprocess.Popen(
                localrag_command("index", str(notes), "--index", str(writer_index)),
                env=child_env(models_dir, LOCALRAG_CRASH_AT="milvus-publish", LOCALRAG_CRASH_SIGNAL="STOP", **milvus_env(uri)),
                stdout=open(tmp_path / "writer.log", "wb"), stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                _wait_until_stopped(writer)
                # the new version is all in Milvus but the state row: the server serves the old one
                for _ in range(3):
                    assert http.get("/healthz").json()["generation"] == before
                    for q in QUERIES:
                        assert [
                            h["path"] for h in http.post("/v1/search", json={"query": q, "k": 5}).json()["hits"]
                        ] == [h["path"] for h in old[q]]
                    zorblax = http.post("/v1/search", json={"query": "zorblax", "k": 10}).json()["hits"]
                    assert "zorblax" not in str(zorblax)
                    travel = http.post("/v1/search", json={"query": "train", "k": 5, "path": "travel.md"}).json()
                    assert [h["path"] for h in travel["hits"]][:1] == ["travel.md"]  # its document list too
                    time.sleep(0.3)  # past the server's check interval, so that it looks again
            finally:
                writer.send_signal(signal.SIGCONT)
                writer.wait(300)
            assert writer.returncode == 0, (tmp_path / "writer.log").read_text()[-3000:]

            deadline = time.monotonic() + RELOAD_WAIT_S
            while http.get("/healthz").json()["generation"] == before and time.monotonic() < deadline:
                time.sleep(0.2)
            assert http.get("/healthz").json()["generation"] == before + 1
            assert hit_paths(http.post("/v1/search", json={"query": "zorblax peppers", "k": 1})) == ["peppers.md"]
            boiler = http.post("/v1/search", json={"query": "boiler", "k": 10}).json()["hits"]
            assert any("heat pump" in h["text"] for h in boiler) and not any("pressure" in h["text"] for h in boiler)
            assert "travel.md" not in hit_paths(http.post("/v1/search", json={"query": "train to the coast", "k": 10}))
    finally:
        if server is not None:
            server.stop()
        lite.terminate()
        lite.wait(30)


def _wait_until_stopped(proc: subprocess.Popen, limit_s: float = 300) -> None:
    """Until `proc` is stopped (SIGSTOP at its crash point); fails if it exits instead."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the writer exited with {proc.returncode} before its crash point")
        if Path(f"/proc/{proc.pid}/stat").read_text().split(")")[-1].split()[0] == "T":
            return
        time.sleep(0.2)
    pytest.fail("the writer did not reach its crash point")
