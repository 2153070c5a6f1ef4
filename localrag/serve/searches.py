"""Searches run side by side in worker threads, but boundedly: `SearchGate` lets at most
`running` compute at once, `waiting` more wait for a free thread, and refuses the rest at once
with BusyError (HTTP 503 with Retry-After; an MCP tool error), so a flood of searches cannot
pile up unbounded threads, memory or latency in the server.

Why bound the running ones: past a couple per core, threads only fight over the GIL and the
CPUs, and a waiting request is cheaper queued here. (bench_serve, docs/ index, 32 clients, 2
busy cores, runs alternated: 65 and 49 req/s with FastAPI's 40 threads, 98 and 84 with 4; 8
clients: about the same.)

The counter needs no lock: it is only touched on the event loop. A search whose client went
away still finishes its thread (anyio waits for it) before its place is given back, so the
count is never below the threads really at work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio

from localrag.config import ServeSettings
from localrag.cpu import physical_cores
from localrag.errors import BusyError

T = TypeVar("T")
SEARCH_THREADS_PER_CORE = 2


class SearchGate:
    """`await gate.run(fn)`: `fn()` in a worker thread, within the bounds above."""

    def __init__(self, running: int, waiting: int) -> None:
        self.running, self.waiting = running, waiting
        self._limiter = anyio.CapacityLimiter(running)
        self._admitted = 0  # searches running or waiting

    @classmethod
    def from_settings(cls, cfg: ServeSettings) -> "SearchGate":
        running = cfg.max_concurrent_searches or SEARCH_THREADS_PER_CORE * physical_cores()
        return cls(running, cfg.max_waiting_searches)

    @property
    def admitted(self) -> int:
        return self._admitted

    async def run(self, fn: Callable[[], T]) -> T:
        if self._admitted >= self.running + self.waiting:
            raise BusyError(
                f"the server is busy: {self._admitted} searches are running or waiting "
                f"(serve.max_concurrent_searches = {self.running}, serve.max_waiting_searches = "
                f"{self.waiting}); retry shortly"
            )
        self._admitted += 1
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
        finally:
            self._admitted -= 1
