"""localrag's own API: /healthz, /v1/status, /v1/search, /v1/ask — each answering exactly the JSON
of the matching CLI command (localrag/responses.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from localrag.chat import Done, Event, Sources, Token
from localrag.errors import LocalragError
from localrag.responses import answer_response, sources_response
from localrag.serve.answers import ClientGone, answer_events, final_answer, unless_disconnected
from localrag.serve.engine import Engine
from localrag.serve.queue import GenerationQueue
from localrag.serve.searches import SearchGate
from localrag.serve.schemas import AskRequest, SearchRequest, check_request, error_body

SSE_PING_S = 15  # keeps proxies from closing a stream while the model reads a long prompt
CLIENT_CLOSED_REQUEST = 499  # nginx's status for it; nobody is there to read it


def sse_json(event: str, data: object) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(data, ensure_ascii=False), event=event)


async def ask_events(events: AsyncIterator[Event]) -> AsyncIterator[ServerSentEvent]:
    """`sources`, then `token`s, then `done` (the whole answer); `error` if it fails."""
    try:
        async for event in events:
            if isinstance(event, Sources):
                yield sse_json("sources", sources_response(event.hits, event.query, event.notices))
            elif isinstance(event, Token):
                yield sse_json("token", {"text": event.text})
            elif isinstance(event, Done):
                yield sse_json("done", answer_response(event.answer))
    except LocalragError as e:
        yield sse_json("error", error_body(str(e), "server_error"))


def build_router(engine: Engine, queue: GenerationQueue, searches: SearchGate) -> APIRouter:
    router = APIRouter()
    cfg = engine.settings.serve

    @router.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "generation": engine.generation}

    @router.get("/v1/status")
    def status() -> dict:
        return engine.status()

    @router.post("/v1/search")
    async def search(body: SearchRequest) -> JSONResponse:
        check_request(cfg, [body.query], body.k)
        result = await searches.run(lambda: engine.search(body.query, k=body.k, path_glob=body.path, types=body.type))
        return JSONResponse(result)

    @router.post("/v1/ask", response_model=None)
    async def ask(body: AskRequest, request: Request) -> dict | Response:
        check_request(cfg, [body.question], body.k)
        ticket = queue.admit()  # BusyError (503) now, before any response has started
        events = answer_events(engine, ticket, body.question, k=body.k, path_glob=body.path, types=body.type)
        if body.stream:
            return EventSourceResponse(ask_events(events), ping=SSE_PING_S, sep="\n")
        try:
            answer = await unless_disconnected(final_answer(events), request.is_disconnected)
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        return dict(answer_response(answer))

    return router
