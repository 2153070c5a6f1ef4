"""`localrag serve` as a client sees it: one real server process on a loopback port over a tiny
index (MiniLM + SmolLM2), with a token, a queue of 0 and k capped at 20, driven over HTTP, with
the official `openai` client and with the MCP SDK's streamable HTTP client."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import pytest
from tests.serve.serve_support import child_env, localrag_command, sse_events, start_server

from localrag.cli import main

pytestmark = pytest.mark.slow

TOKEN = "test-token-5f1c"
MAX_K = 20
QUESTION = "what fertiliser do the tomatoes get?"
ANSWER_KEYS = {
    "question", "query", "answer", "abstained", "abstain_reason", "sentences", "draft", "citations",
    "invalid_citations", "sources", "dropped_sources", "shortened_sources", "not_found_probability",
    "tokens", "timings_ms",
}  # fmt: skip


@pytest.fixture(scope="module")
def server(notes_index, models_dir, smollm2_path, tmp_path_factory):
    _, index = notes_index
    srv = start_server(
        index, models_dir, smollm2_path, tmp_path_factory.mktemp("log") / "serve.log", token=TOKEN,
        LOCALRAG_SERVE__MAX_QUEUE="0", LOCALRAG_SERVE__MAX_K=str(MAX_K),
    )  # fmt: skip
    yield srv
    srv.stop()


@pytest.fixture
def http(server):
    with server.client() as client:
        yield client


def cli_json(capsys, monkeypatch, models_dir, *argv: str):
    monkeypatch.setenv("LOCALRAG_MODELS", str(models_dir))
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


# ---------------------------------------------------------------- auth
def test_token_is_required_on_every_endpoint_but_healthz(server):
    with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as anonymous:
        health = anonymous.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "generation": 1}
        for method, path, body in [
            ("GET", "/v1/status", None),
            ("POST", "/v1/search", {"query": "boiler"}),
            ("POST", "/v1/ask", {"question": "boiler?"}),
            ("GET", "/v1/models", None),
            ("POST", "/v1/chat/completions", {"model": "localrag", "messages": [{"role": "user", "content": "hi"}]}),
            ("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        ]:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                r = anonymous.request(method, path, json=body, headers=headers)
                assert r.status_code == 401, (path, headers, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                assert r.json()["error"]["type"] == "unauthorized"
        authorised = anonymous.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert authorised.status_code == 200


# ---------------------------------------------------------------- one serializer
def test_search_and_status_are_the_cli_json(http, notes_index, capsys, monkeypatch, models_dir):
    _, index = notes_index
    served = http.post("/v1/search", json={"query": "boiler pressure", "k": 3})
    assert served.status_code == 200
    assert served.json() == cli_json(
        capsys, monkeypatch, models_dir, "search", "boiler pressure", "--k", "3", "--index", str(index), "--json"
    )
    assert served.json()["hits"][0]["path"] == "home/boiler.md"

    status = http.get("/v1/status").json()
    assert status == cli_json(capsys, monkeypatch, models_dir, "status", "--index", str(index), "--json")
    assert status["documents"] == 6 and status["health"]["fresh"] is True


def test_search_filters(http):
    only_garden = http.post("/v1/search", json={"query": "water", "path": "garden/*", "k": 10}).json()
    assert only_garden["hits"] and all(h["path"].startswith("garden/") for h in only_garden["hits"])
    only_txt = http.post("/v1/search", json={"query": "password", "type": "txt"}).json()
    assert [h["path"] for h in only_txt["hits"]] == ["home/wifi.txt"]


# ---------------------------------------------------------------- limits
def test_requests_over_the_limits_are_refused(http):
    def error(r: httpx.Response, status: int) -> str:
        assert r.status_code == status, r.text
        return r.json()["error"]["message"]

    assert "serve.max_k" in error(http.post("/v1/search", json={"query": "boiler", "k": MAX_K + 1}), 422)
    assert "k" in error(http.post("/v1/search", json={"query": "boiler", "k": 0}), 422)
    assert "serve.max_k" in error(http.post("/v1/ask", json={"question": "boiler?", "k": MAX_K + 1}), 422)
    assert "serve.max_question_chars" in error(http.post("/v1/search", json={"query": "x" * 5000}), 422)
    assert "serve.max_body_bytes" in error(http.post("/v1/search", json={"query": "x" * 70_000}), 413)

    def chunked():  # no Content-Length: the limit must hold for a streamed body too
        yield b'{"query": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}'

    assert "serve.max_body_bytes" in error(
        http.post("/v1/search", content=chunked(), headers={"content-type": "application/json"}), 413
    )
    assert "bogus" in error(http.post("/v1/search", json={"query": "boiler", "bogus": 1}), 422)
    assert "query" in error(http.post("/v1/search", json={"query": ""}), 422)
    assert "gpt-4o" in error(
        http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
        404,
    )
    assert "user message" in error(
        http.post(
            "/v1/chat/completions", json={"model": "localrag", "messages": [{"role": "system", "content": "hi"}]}
        ),
        422,
    )


# ---------------------------------------------------------------- ask
def test_ask_streams_sources_then_tokens_then_the_answer(http):
    with http.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(r.iter_lines()))
    kinds = [e.event for e in events]
    assert kinds[0] == "sources" and kinds[-1] == "done", kinds
    assert set(kinds[1:-1]) == {"token"}, kinds
    sources = events[0].json()
    answer = events[-1].json()
    assert set(answer) == ANSWER_KEYS
    assert [h["path"] for h in sources["sources"]][: len(answer["sources"])] == [h["path"] for h in answer["sources"]]
    assert sources["sources"][0]["path"] == "garden/tomatoes.md"
    streamed = "".join(e.json()["text"] for e in events[1:-1])
    assert streamed.strip() == (answer["draft"] or answer["answer"]).strip()


def test_ask_json_is_the_cli_shape(http):
    answer = http.post("/v1/ask", json={"question": QUESTION, "k": 2}).json()
    assert set(answer) == ANSWER_KEYS
    assert len(answer["sources"]) <= 2
    assert answer["question"] == QUESTION
    assert markers(answer["answer"]) == {c["n"] for c in answer["citations"]}


def test_a_full_queue_answers_503(http):
    """serve.max_queue = 0: while one answer is being generated, any other is refused at once."""

    def ask(_):
        r = http.post("/v1/ask", json={"question": QUESTION})
        return r.status_code, r

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(ask, range(6)))
    statuses = sorted(s for s, _ in results)
    assert set(statuses) == {200, 503}, statuses
    busy = next(r for s, r in results if s == 503)
    assert busy.headers["retry-after"]
    assert busy.json()["error"]["type"] == "server_busy"
    assert "serve.max_queue" in busy.json()["error"]["message"]
    # the turn is handed on: the next answer runs
    assert http.post("/v1/ask", json={"question": QUESTION}).status_code == 200


# ---------------------------------------------------------------- OpenAI-compatible
@pytest.fixture
def openai_client(server):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0, timeout=120)


def test_openai_client_chat_completion(openai_client):
    assert [m.id for m in openai_client.models.list()] == ["localrag"]
    reply = openai_client.chat.completions.create(model="localrag", messages=[{"role": "user", "content": QUESTION}])
    content = reply.choices[0].message.content
    extra = reply.model_extra["localrag"]
    assert content and reply.choices[0].finish_reason == "stop"
    assert set(extra) == {"citations", "sources", "abstained", "query"}
    assert extra["sources"][0]["path"] == "garden/tomatoes.md"
    assert markers(content) == {c["n"] for c in extra["citations"]}  # the content keeps its [n]
    assert extra["abstained"] == (not extra["citations"])
    assert reply.usage.prompt_tokens > 0


def test_openai_client_follow_up_uses_the_history(openai_client):
    follow_up = "how often is it watered?"
    reply = openai_client.chat.completions.create(
        model="localrag",
        messages=[
            {"role": "system", "content": "ignored: the server's prompt is fixed"},
            {"role": "user", "content": "what do I grow in the raised bed?"},
            {"role": "assistant", "content": "San Marzano tomatoes [1]."},
            {"role": "user", "content": follow_up},
        ],
    )
    query = reply.model_extra["localrag"]["query"]
    assert query != follow_up  # condensed with the conversation before retrieval


def test_openai_client_streaming(openai_client):
    chunks = list(
        openai_client.chat.completions.create(
            model="localrag", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.model == "localrag" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    extra = final.model_extra["localrag"]
    assert set(extra) == {"citations", "sources", "abstained", "query"}
    assert all("localrag" not in (c.model_extra or {}) for c in chunks[:-1])
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content
    assert markers(content) == {c["n"] for c in extra["citations"]}


def test_streams_end_with_done_marker(http):
    body = {"model": "localrag", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as r:
        events = list(sse_events(r.iter_lines()))
    assert events[-1].data == "[DONE]"
    assert "localrag" in events[-2].json()


# ---------------------------------------------------------------- MCP over HTTP
def test_mcp_at_slash_mcp_with_the_sdk_client(server):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def session_calls():
        async with (
            httpx.AsyncClient(
                headers=server.headers, timeout=httpx.Timeout(30, read=300), trust_env=False
            ) as http_client,
            streamable_http_client(f"{server.url}/mcp", http_client=http_client) as (read, write, _),
        ):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}
                found = await session.call_tool("search", {"query": "boiler pressure", "k": 2})
                passage = await session.call_tool(
                    "get_source", {"path": "home/boiler.md", "line_start": 6, "line_end": 7}
                )
                outside = await session.call_tool("get_source", {"path": "../../etc/passwd"})
                too_many = await session.call_tool("search", {"query": "boiler", "k": MAX_K + 1})
                return tools, found, passage, outside, too_many

    tools, found, passage, outside, too_many = anyio.run(session_calls)
    assert set(tools) == {"search", "ask", "get_source"}
    assert tools["search"].inputSchema["properties"]["k"]["maximum"] == MAX_K
    assert tools["search"].outputSchema is not None and tools["search"].description
    assert not found.isError and found.structuredContent["hits"][0]["path"] == "home/boiler.md"
    assert passage.structuredContent["text"].startswith("## Pressure")
    assert passage.structuredContent["line_end"] == 7
    assert outside.isError and "indexed folder" in outside.content[0].text
    assert too_many.isError


# ---------------------------------------------------------------- a new generation
def test_a_new_generation_is_served_without_restart(server, http, notes_index, models_dir):
    """`localrag index` in another process adds a file; searches running meanwhile keep working,
    and the server moves to the new generation by itself."""
    notes, index = notes_index
    before = http.get("/healthz").json()["generation"]
    (notes / "garden" / "peppers.md").write_text(
        "# Peppers\n\nThe zorblax peppers grow in the greenhouse and need a warm night above 15 degrees.\n"
    )
    statuses: list[int] = []
    paths: set[str] = set()
    done = threading.Event()

    def hammer():
        with server.client() as client:
            while not done.is_set():
                r = client.post("/v1/search", json={"query": "zorblax peppers greenhouse", "k": 5})
                statuses.append(r.status_code)
                paths.update(h["path"] for h in r.json().get("hits", []))

    searcher = threading.Thread(target=hammer)
    searcher.start()
    try:
        subprocess.run(
            localrag_command("index", str(notes), "--index", str(index), "--json"),
            env=child_env(models_dir), check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while http.get("/healthz").json()["generation"] == before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert http.get("/healthz").json()["generation"] == before + 1
    finally:
        done.set()
        searcher.join()
    hits = http.post("/v1/search", json={"query": "zorblax peppers", "k": 1}).json()["hits"]
    assert hits[0]["path"] == "garden/peppers.md"
    assert statuses and set(statuses) == {200}
    known = {p.relative_to(notes).as_posix() for p in notes.rglob("*") if p.is_file()}
    assert paths <= known
