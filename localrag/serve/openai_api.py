"""The OpenAI-compatible face: GET /v1/models and POST /v1/chat/completions (model `localrag`).

The reply's content is the cited answer, [n] markers included, and a top-level `localrag` object
carries its citations, sources and whether it abstained. Earlier messages are the chat history:
a follow-up is condensed into a standalone question as in the chat app.

Streaming sends the OpenAI chunk format, `data: [DONE]` last. The content arrives when the answer
is decided, not token by token: the [n] markers and any abstention are known only once the whole
reply has been checked against the sources, and an OpenAI client cannot take back text it was
already sent. (`POST /v1/ask` with `"stream": true` streams the model's draft tokens as written.)
The `localrag` object rides on the final chunk.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from localrag.errors import LocalragError
from localrag.responses import citations_response
from localrag.serve.answers import ClientGone, answer_events, final_answer, unless_disconnected
from localrag.serve.engine import Engine
from localrag.serve.queue import GenerationQueue
from localrag.serve.routes import CLIENT_CLOSED_REQUEST, SSE_PING_S
from localrag.serve.schemas import ChatCompletionRequest, check_request, error_body
from localrag.types import Answer

MODEL_ID = "localrag"
STARTED = int(time.time())


def _usage(answer: Answer) -> dict:
    prompt, completion = answer.tokens.prompt, answer.tokens.completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(answer: Answer, completion_id: str, created: int) -> dict:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(answer),
        "localrag": citations_response(answer),
    }


def _chunk(
    completion_id: str, created: int, delta: dict, finish_reason: str | None = None, **extra: object
) -> ServerSentEvent:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        **extra,
    }
    return ServerSentEvent(data=json.dumps(body, ensure_ascii=False))


async def completion_chunks(
    answer: AsyncIterator[Answer], completion_id: str, created: int
) -> AsyncIterator[ServerSentEvent]:
    yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
    try:
        async for done in answer:
            yield _chunk(completion_id, created, {"content": done.text})
            yield _chunk(
                completion_id, created, {}, "stop", usage=_usage(done), localrag=citations_response(done)
            )  # fmt: skip
    except LocalragError as e:
        yield ServerSentEvent(data=json.dumps(error_body(str(e), "server_error")))
    yield ServerSentEvent(data="[DONE]")


def build_router(engine: Engine, queue: GenerationQueue) -> APIRouter:
    router = APIRouter()
    cfg = engine.settings.serve

    @router.get("/v1/models")
    def models() -> dict:
        return {
            "object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": STARTED, "owned_by": "localrag"}],
        }

    @router.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> dict | Response:
        if body.model != MODEL_ID:
            raise HTTPException(404, f"model {body.model!r} does not exist; this server answers as {MODEL_ID!r}")
        question, history = body.question_and_history()
        check_request(cfg, [m.text() for m in body.messages], body.k, messages=len(body.messages))
        ticket = queue.admit()
        events = answer_events(engine, ticket, question, history=history, k=body.k)
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:

            async def answers() -> AsyncIterator[Answer]:
                yield await final_answer(events)

            return EventSourceResponse(completion_chunks(answers(), completion_id, created), ping=SSE_PING_S, sep="\n")
        try:
            answer = await unless_disconnected(final_answer(events), request.is_disconnected)
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        return completion(answer, completion_id, created)

    return router
