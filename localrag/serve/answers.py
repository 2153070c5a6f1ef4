"""Answers for the HTTP routes and the MCP tools: a ChatSession run in its turn at the LLM, its
events brought back to the event loop, stopped when the client goes away."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from localrag.chat import ChatSession, Done, Event, Turn
from localrag.serve.engine import Engine
from localrag.serve.queue import Ticket
from localrag.types import Answer

DISCONNECT_POLL_S = 0.25


def answer_events(
    engine: Engine,
    ticket: Ticket,
    question: str,
    history: list[Turn] | None = None,
    k: int | None = None,
    **filters: Any,
) -> AsyncIterator[Event]:
    """Sources, Token..., Done for `question`, generated when `ticket`'s turn comes."""
    stop = threading.Event()
    sessions: list[ChatSession] = []

    def produce() -> Iterator[Event]:
        session = engine.session(history, k)  # in the worker: the first use may load models
        sessions.append(session)
        for event in session.ask_stream(question, **filters):
            if stop.is_set():  # cancelled before the session had a cancel flag to set
                session.cancel()
            yield event

    def cancel() -> None:
        stop.set()
        for session in sessions:
            session.cancel()

    return ticket.stream(produce, cancel)


async def final_answer(events: AsyncIterator[Event]) -> Answer:
    answer = None
    async for event in events:  # to the end: the turn passes on when the worker has finished
        if isinstance(event, Done):
            answer = event.answer
    if answer is None:  # pragma: no cover - ask_stream always ends with Done
        raise RuntimeError("the answer stream ended without an answer")
    return answer


class ClientGone(Exception):
    """The client disconnected before its answer was ready (the answer was cancelled)."""


async def unless_disconnected(work: Awaitable[Answer], is_disconnected: Callable[[], Awaitable[bool]]) -> Answer:
    """`work`'s result; cancels it (and so the generation) if the client disconnects first.
    A streamed response notices a disconnect when it writes; a plain one has to look."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while not await is_disconnected():
            await asyncio.sleep(DISCONNECT_POLL_S)

    watcher = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        watcher.cancel()
        raise
    if task in done:
        watcher.cancel()
        return task.result()
    task.cancel()
    raise ClientGone()
