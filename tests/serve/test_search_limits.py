"""Searches are bounded: at most serve.max_concurrent_searches run, serve.max_waiting_searches
wait, the rest get 503 with Retry-After at once. The gate with real worker threads held open (so
the bound is exact, not a race), then a real server flooded by real concurrent clients."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from tests.serve.serve_support import start_server

from localrag.errors import BusyError
from localrag.serve.searches import SearchGate


def test_the_gate_runs_at_most_running_and_queues_at_most_waiting():
    async def main() -> None:
        gate = SearchGate(running=2, waiting=3)
        release = threading.Event()
        lock = threading.Lock()
        state = {"now": 0, "most": 0}

        def held() -> str:
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            release.wait(60)
            with lock:
                state["now"] -= 1
            return "done"

        tasks = [asyncio.create_task(gate.run(held)) for _ in range(5)]
        while gate.admitted < 5:  # all five admitted: two in threads, three waiting
            await asyncio.sleep(0.01)
        with pytest.raises(BusyError, match="max_concurrent_searches = 2.*max_waiting_searches = 3"):
            await gate.run(held)
        release.set()
        assert await asyncio.gather(*tasks) == ["done"] * 5
        assert state["most"] == 2 and gate.admitted == 0
        assert await gate.run(lambda: "again") == "again"  # places are given back

    asyncio.run(main())


def test_a_flood_of_searches_gets_answers_or_clear_503s(notes_index, models_dir, smollm2_path, tmp_path):
    """64 clients at once against one running and two waiting places: every reply is either the
    right result or a 503 with Retry-After, never another error; the server answers afterwards."""
    _, index = notes_index
    server = start_server(
        index, models_dir, smollm2_path, tmp_path / "serve.log",
        LOCALRAG_SERVE__MAX_CONCURRENT_SEARCHES="1", LOCALRAG_SERVE__MAX_WAITING_SEARCHES="2",
    )  # fmt: skip
    body = {"query": "boiler pressure", "k": 3}
    try:
        with server.client() as http:
            expected = http.post("/v1/search", json=body).json()

        async def flood() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=64)
            async with httpx.AsyncClient(base_url=server.url, timeout=120, trust_env=False, limits=limits) as client:
                return await asyncio.gather(*(client.post("/v1/search", json=body) for _ in range(64)))

        busy: list[httpx.Response] = []
        for _ in range(10):  # until a burst overlaps enough to fill the queue (the first one does, in practice)
            replies = asyncio.run(flood())
            for r in replies:
                assert r.status_code in (200, 503), r.text
                if r.status_code == 200:
                    assert r.json() == expected
            busy = [r for r in replies if r.status_code == 503]
            if busy:
                break
        assert busy, "64 concurrent searches never filled 1 running + 2 waiting places"
        for r in busy:
            assert r.headers["Retry-After"].isdigit()
            error = r.json()["error"]
            assert error["type"] == "server_busy" and "serve.max_waiting_searches = 2" in error["message"]
        with server.client() as http:
            assert http.post("/v1/search", json=body).json() == expected
    finally:
        server.stop()
