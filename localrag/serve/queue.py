"""Answers take turns at the LLM: one generates, at most `max_waiting` wait, the rest are refused.

A loaded llama.cpp model decodes one sequence at a time, so concurrent answers would only
interleave and all finish late. `GenerationQueue.admit()` is called before a response starts:
when the queue is full it raises BusyError (HTTP 503) at once, so a client learns it should
retry rather than wait behind an unbounded line. An admitted `Ticket` waits for its turn, then
runs the blocking answer in a worker thread (`stream_in_thread`) whose events come back to the
event loop one by one.

Cancelling the consumer (the client went away) sets the answer's cancel flag: the model stops
within a token. The turn is handed on when the worker thread has really finished, not when the
consumer stops listening, so two generations never overlap.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

from localrag.errors import BusyError

T = TypeVar("T")
_END = object()


class GenerationQueue:
    """One turn at a time; `max_waiting` more may wait (0: only the one running)."""

    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._turn = asyncio.Lock()
        # Weak: a ticket whose response never started (the client left first) is collected with
        # it and frees its place without any cleanup code having to run.
        self._admitted: weakref.WeakSet[Ticket] = weakref.WeakSet()

    @property
    def admitted(self) -> int:
        """Answers running or waiting."""
        return len(self._admitted)

    def admit(self) -> "Ticket":
        if len(self._admitted) > self.max_waiting:
            raise BusyError(
                f"the server is busy: {len(self._admitted)} answers are running or waiting "
                f"(serve.max_queue = {self.max_waiting}); retry shortly"
            )
        ticket = Ticket(self)
        self._admitted.add(ticket)
        return ticket


class Ticket:
    """A place in the queue; `stream` runs the answer when its turn comes."""

    def __init__(self, queue: GenerationQueue) -> None:
        self.queue = queue

    def _leave(self) -> None:
        self.queue._admitted.discard(self)

    async def stream(self, produce: Callable[[], Iterator[T]], cancel: Callable[[], None]) -> AsyncIterator[T]:
        """Wait for the turn, then yield what `produce()` yields, computed in a worker thread.
        `cancel` is called (from the event loop) when the consumer stops early."""
        try:
            await self.queue._turn.acquire()
        except BaseException:
            self._leave()
            raise
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()

        def post(item: object, error: BaseException | None = None) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, (item, error))
            except RuntimeError:  # the event loop is gone (server shutting down)
                pass

        def release() -> None:
            self.queue._turn.release()
            self._leave()

        def work() -> None:
            error: BaseException | None = None
            try:
                for item in produce():
                    post(item)
            except BaseException as e:  # handed to the consumer, raised there
                error = e
            finally:
                # the turn is handed on before the consumer hears the end (callbacks run in
                # order), so a finished answer has always left the queue
                try:
                    loop.call_soon_threadsafe(release)
                except RuntimeError:
                    pass
                post(_END, error)

        threading.Thread(target=work, name="localrag-answer", daemon=True).start()
        finished = False
        try:
            while True:
                item, error = await events.get()
                if item is _END:
                    finished = True
                    if error is not None:
                        raise error
                    return
                yield item  # type: ignore[misc]
        finally:
            if not finished:
                cancel()
