"""GenerationQueue: one answer at a time, a bounded wait, 503 beyond it, and a consumer that
leaves cancels its answer, whose turn passes on only once its worker thread has stopped."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest

from localrag.errors import BusyError
from localrag.serve.queue import GenerationQueue


class SlowAnswer:
    """Stands in for a generation: yields pieces until it has yielded `n` or is cancelled."""

    def __init__(self, n: int = 1000, pause: float = 0.01):
        self.n, self.pause = n, pause
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self.running = 0
        self.overlap = False

    def produce(self, shared: "SlowAnswer | None" = None):
        track = shared or self
        track.running += 1
        track.overlap = track.overlap or track.running > 1
        try:
            for i in range(self.n):
                if self.cancelled.is_set():
                    return
                time.sleep(self.pause)
                yield i
        finally:
            track.running -= 1
            self.finished.set()


def run(coro):
    return asyncio.run(coro)


def test_admission_is_bounded():
    async def scenario():
        queue = GenerationQueue(max_waiting=1)
        first, second = queue.admit(), queue.admit()
        with pytest.raises(BusyError, match="serve.max_queue = 1"):
            queue.admit()
        assert queue.admitted == 2
        del first, second  # tickets whose responses never started free their places
        gc.collect()
        assert queue.admitted == 0
        queue.admit()

    run(scenario())


def test_answers_take_turns_and_all_finish():
    async def scenario():
        queue = GenerationQueue(max_waiting=3)
        counter = SlowAnswer()
        answers = [SlowAnswer(n=5) for _ in range(4)]

        async def consume(answer):
            return [x async for x in queue.admit().stream(lambda: answer.produce(counter), answer.cancelled.set)]

        results = await asyncio.gather(*(consume(a) for a in answers))
        assert results == [list(range(5))] * 4
        assert not counter.overlap  # never two generations at once
        assert queue.admitted == 0

    run(scenario())


def test_a_consumer_that_leaves_cancels_its_answer_and_the_turn_waits_for_the_worker():
    async def scenario():
        queue = GenerationQueue(max_waiting=1)
        slow = SlowAnswer(pause=0.05)
        stream = queue.admit().stream(slow.produce, slow.cancelled.set)
        assert await stream.__anext__() == 0
        await stream.aclose()  # the client went away
        assert slow.cancelled.is_set()
        # the turn is not handed on before the worker has really stopped
        nxt = SlowAnswer(n=1)
        got = [x async for x in queue.admit().stream(nxt.produce, nxt.cancelled.set)]
        assert slow.finished.is_set() and got == [0]

    run(scenario())


def test_errors_in_the_worker_reach_the_consumer_and_free_the_turn():
    def broken():
        yield 1
        raise RuntimeError("model crashed")

    async def scenario():
        queue = GenerationQueue(max_waiting=0)
        with pytest.raises(RuntimeError, match="model crashed"):
            async for _ in queue.admit().stream(broken, lambda: None):
                pass
        await asyncio.sleep(0.05)  # the release is scheduled from the worker thread
        assert queue.admitted == 0
        assert [x async for x in queue.admit().stream(lambda: iter([7]), lambda: None)] == [7]

    run(scenario())
