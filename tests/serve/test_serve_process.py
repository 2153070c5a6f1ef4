"""The server processes themselves: refusing to start unsafely, a SIGKILL in the middle of an
answer, and `localrag mcp` on stdio driven by the MCP SDK's own client."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import anyio
import httpx
import pytest
from tests.serve.serve_support import child_env, free_port, localrag_command, sse_events, start_server

from localrag.cli import main

QUESTION = "what fertiliser do the tomatoes get?"


def run_cli(models_dir, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        localrag_command(*args), env=child_env(models_dir, **env), capture_output=True, text=True, timeout=120
    )


def test_a_non_loopback_host_without_a_token_refuses_to_start(notes_index, models_dir, tmp_path):
    _, index = notes_index
    port = str(free_port())
    refused = run_cli(models_dir, "serve", "--index", str(index), "--host", "0.0.0.0", "--port", port)
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in refused.stderr
    assert "--token-file" in refused.stderr and "LOCALRAG_SERVE__TOKEN" in refused.stderr

    empty = tmp_path / "token"
    empty.write_text("\n")
    no_token = run_cli(
        models_dir, "serve", "--index", str(index), "--host", "0.0.0.0", "--port", port, "--token-file", str(empty)
    )
    assert no_token.returncode == 2 and "serve.token_file" in no_token.stderr and "is empty" in no_token.stderr


def test_a_bad_serve_setting_names_its_field(notes_index, models_dir):
    _, index = notes_index
    bad = run_cli(models_dir, "serve", "--index", str(index), LOCALRAG_SERVE__MAX_QUEUE="-1")
    assert bad.returncode == 2
    assert "'serve.max_queue'" in bad.stderr and "env:LOCALRAG_SERVE__MAX_QUEUE" in bad.stderr


LONG_QUESTION = "explain in detail how the boiler, the wifi and the tomatoes are looked after, step by step"


@pytest.fixture(scope="module")
def long_answers(notes_index, models_dir, smollm2_path, tmp_path_factory):
    """A server whose answers run long (up to 400 tokens) and may not queue (max_queue 0)."""
    _, index = notes_index
    server = start_server(
        index, models_dir, smollm2_path, tmp_path_factory.mktemp("long") / "serve.log",
        LOCALRAG_LLM__MAX_TOKENS="400", LOCALRAG_SERVE__MAX_QUEUE="0",
    )  # fmt: skip
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ask", "chat", "ask-stream"])
def test_a_client_that_leaves_cancels_its_answer(long_answers, how):
    """With no room to queue, the next answer is refused while one runs: it is admitted soon after
    the first client leaves only if that answer was stopped."""
    if how == "ask-stream":
        with long_answers.client() as client:
            with client.stream("POST", "/v1/ask", json={"question": LONG_QUESTION, "stream": True}) as r:
                kinds = (e.event for e in sse_events(r.iter_lines()))
                assert next(k for k in kinds if k != "sources") == "token"
            # leaving the block closed the connection after the first token
    else:
        path, body = ("/v1/ask", {"question": LONG_QUESTION})
        if how == "chat":
            path, body = (
                "/v1/chat/completions",
                {"model": "localrag", "messages": [{"role": "user", "content": LONG_QUESTION}]},
            )
        with long_answers.client(timeout=1.0) as impatient, pytest.raises(httpx.ReadTimeout):
            impatient.post(path, json=body)  # still generating after 1 s: the client gives up
    time.sleep(0.8)
    with long_answers.client() as client:
        assert client.post("/v1/ask", json={"question": "boiler?"}).status_code == 200


@pytest.mark.slow
def test_sigkill_in_the_middle_of_an_answer_leaves_the_index_intact(
    long_answers, notes_index, models_dir, capsys, monkeypatch
):
    _, index = notes_index
    monkeypatch.setenv("LOCALRAG_MODELS", str(models_dir))

    def cli(*argv: str) -> dict:
        capsys.readouterr()
        assert main([*argv, "--index", str(index), "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    status_before = cli("status")
    search_before = cli("search", "boiler pressure")
    server = long_answers
    with (
        server.client() as client,
        client.stream("POST", "/v1/ask", json={"question": LONG_QUESTION, "stream": True}) as r,
    ):
        for event in sse_events(r.iter_lines()):
            if event.event == "token":
                server.proc.kill()  # SIGKILL while the model writes
                break
        else:
            pytest.fail("the answer ended before a token arrived")
    assert server.proc.wait(10) == -9
    assert cli("status") == status_before
    assert cli("search", "boiler pressure") == search_before
    with sqlite3.connect(index / "catalog.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.slow
def test_mcp_on_stdio_with_the_sdk_client(notes_index, models_dir, smollm2_path):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    _, index = notes_index
    params = StdioServerParameters(
        command=localrag_command()[0],
        args=[*localrag_command()[1:], "mcp", "--index", str(index), "--model", str(smollm2_path)],
        env=child_env(models_dir),
        cwd=str(index.parent),
    )

    async def calls():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            tools = (await session.list_tools()).tools
            found = await session.call_tool("search", {"query": "wifi password", "k": 2})
            passage = await session.call_tool("get_source", {"path": "home/wifi.txt", "line_start": 1, "line_end": 2})
            escape = await session.call_tool("get_source", {"path": "/etc/passwd"})
            answer = await session.call_tool("ask", {"question": QUESTION})
            return init, tools, found, passage, escape, answer

    init, tools, found, passage, escape, answer = anyio.run(calls)
    assert init.serverInfo.name == "localrag" and "search" in (init.instructions or "")
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"search", "ask", "get_source"}
    for tool in tools:
        assert tool.description and tool.inputSchema["properties"] and tool.outputSchema
        assert tool.annotations.readOnlyHint is True
    assert by_name["search"].inputSchema["required"] == ["query"]
    assert by_name["ask"].inputSchema["required"] == ["question"]
    assert by_name["get_source"].inputSchema["properties"]["line_start"]["minimum"] == 1

    assert not found.isError and found.structuredContent["hits"][0]["path"] == "home/wifi.txt"
    assert json.loads(found.content[0].text) == found.structuredContent  # output schema matches the JSON
    assert passage.structuredContent["path"] == "home/wifi.txt" and passage.structuredContent["line_end"] == 2
    assert escape.isError and "relative" in escape.content[0].text
    assert not answer.isError
    body = answer.structuredContent
    assert json.loads(answer.content[0].text) == body
    assert body["question"] == QUESTION and body["sources"][0]["path"] == "garden/tomatoes.md"
