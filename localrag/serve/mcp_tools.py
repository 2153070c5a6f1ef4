"""The MCP server (official `mcp` SDK, FastMCP): tools `search`, `ask` and `get_source` over one
index, for agents and editors. `localrag mcp` serves it on stdio; `localrag serve` at /mcp
(streamable HTTP), where `ask` shares the HTTP API's queue for the LLM."""

# no `from __future__ import annotations`: FastMCP reads the tools' annotations, which use locals

import io
import os
import sys
from typing import Annotated

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field

from localrag.chat import Done
from localrag.responses import AnswerJSON, SearchJSON, answer_response
from localrag.serve.answers import answer_events
from localrag.serve.auth import is_loopback
from localrag.serve.engine import Engine
from localrag.serve.queue import GenerationQueue
from localrag.serve.searches import SearchGate
from localrag.serve.sources import SourceJSON

INSTRUCTIONS = (
    "localrag searches the user's own documents (a folder indexed on this machine; nothing leaves it). "
    "Use `search` to find passages (each with its file path and line range), `get_source` to read more "
    "of a file around a passage, and `ask` for a short answer written by a small local model that cites "
    "the passages it used as [n] and says when the documents do not hold the answer."
)
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)


def build_mcp(engine: Engine, queue: GenerationQueue, searches: SearchGate, host: str = "127.0.0.1") -> FastMCP:
    cfg = engine.settings.serve
    default_k = engine.settings.retrieval.k
    # The SDK guards loopback servers against DNS rebinding by checking the Host header; a
    # server bound elsewhere is reached under other names, and its token guards it instead.
    security = None if is_loopback(host) else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    mcp = FastMCP(
        "localrag",
        instructions=INSTRUCTIONS,
        host=host,
        streamable_http_path="/mcp",
        stateless_http=True,
        transport_security=security,
        log_level="WARNING",
    )

    @mcp.tool(annotations=READ_ONLY)
    async def search(
        query: Annotated[
            str,
            Field(
                min_length=1, max_length=cfg.max_question_chars, description="what to look for, in words or keywords"
            ),
        ],
        k: Annotated[int, Field(ge=1, le=cfg.max_k, description="how many passages to return")] = default_k,
    ) -> SearchJSON:
        """Search the indexed documents (keywords and meaning, fused). Returns the best passages,
        ranked, each with its file `path`, `page` or `line_start`-`line_end`, `heading`, `text` and
        per-stage scores. Read around a passage with get_source(path, line_start, line_end)."""
        return await searches.run(lambda: engine.search(query, k=k))

    @mcp.tool(annotations=READ_ONLY)
    async def ask(
        question: Annotated[
            str,
            Field(min_length=1, max_length=cfg.max_question_chars, description="a question about the documents"),
        ],
    ) -> AnswerJSON:
        """Answer a question from the indexed documents with a small local language model. `answer`
        cites its sources as [n] (the n-th entry of `sources`; `citations` gives each one's file and
        lines); a sentence no source supports is marked [not in sources]. When the documents do not
        hold the answer, `abstained` is true and `abstain_reason` says why. Slower than search
        (seconds); answers queue for the model and a full queue is an error to retry later."""
        answer = None
        async for event in answer_events(engine, queue.admit(), question):
            if isinstance(event, Done):
                answer = event.answer
        assert answer is not None
        return answer_response(answer)

    @mcp.tool(annotations=READ_ONLY)
    async def get_source(
        path: Annotated[
            str,
            Field(
                min_length=1,
                max_length=1000,
                description="the file's path as search results give it, relative to the indexed folder",
            ),
        ],
        line_start: Annotated[int, Field(ge=1, description="first line, 1-based")] = 1,
        line_end: Annotated[
            int | None,
            Field(ge=1, description=f"last line, inclusive (default: the end; at most {cfg.max_source_lines} lines)"),
        ] = None,
    ) -> SourceJSON:
        """Read lines of an indexed document (only files in the index, inside the indexed folder).
        Returns `text` for lines `line_start`-`line_end` and the file's `total_lines`; PDF and Word
        documents give their extracted text (`origin` is "index"), other files their current text
        (`origin` is "file")."""
        return await anyio.to_thread.run_sync(lambda: engine.source(path, line_start, line_end))

    return mcp


async def serve_stdio(mcp: FastMCP) -> None:
    """Run `mcp` on stdin/stdout. stdout carries only the protocol: everything else that would
    print there (native libraries loading models included) goes to stderr instead."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    stdout = anyio.wrap_file(io.TextIOWrapper(protocol_out, encoding="utf-8", write_through=True))
    async with stdio_server(stdout=stdout) as (read_stream, write_stream):
        # FastMCP.run_stdio_async always writes to sys.stdout; its server object does the rest
        server = mcp._mcp_server
        await server.run(read_stream, write_stream, server.create_initialization_options())
