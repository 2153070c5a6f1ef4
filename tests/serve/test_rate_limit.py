"""The per-client rate limit (serve.rate_limit_per_minute): the token bucket on a fake clock, then
a real server on a loopback port hit by two clients from two loopback addresses."""

from __future__ import annotations

import time

import httpx
import pytest
from tests.serve.serve_support import start_server

from localrag.config import ServeSettings
from localrag.serve.ratelimit import PRUNE_EVERY_S, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_the_rate():
    clock = Clock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)  # one a second, three at once
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)  # a second until the next one
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    clock.now += 100
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # refilled to the burst, no more


def test_refilled_buckets_are_forgotten():
    clock = Clock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)
    for i in range(100):
        buckets.take(f"10.0.0.{i}")
    assert len(buckets) == 100
    clock.now += PRUNE_EVERY_S + 3  # every bucket full again (3 requests at one a second)
    buckets.take("10.0.0.200")
    assert len(buckets) == 1


def test_settings_turn_it_on():
    assert TokenBuckets.from_settings(ServeSettings()) is None  # off by default
    buckets = TokenBuckets.from_settings(ServeSettings(rate_limit_per_minute=120))
    assert buckets is not None and buckets.rate == 2.0 and buckets.burst == 120.0
    buckets = TokenBuckets.from_settings(ServeSettings(rate_limit_per_minute=120, rate_limit_burst=5))
    assert buckets is not None and buckets.burst == 5.0


def _from(address: str, url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z is this machine's loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, headers=headers or {}, timeout=120, trust_env=False)


def test_a_client_over_its_rate_gets_429_and_others_do_not(notes_index, models_dir, smollm2_path, tmp_path):
    """60 a minute, 3 at once: a client's 4th quick request gets 429 with Retry-After and the JSON
    error shape; a client at another address is served meanwhile; /healthz is never limited; the
    first client is served again once Retry-After has passed."""
    _, index = notes_index
    server = start_server(
        index, models_dir, smollm2_path, tmp_path / "serve.log",
        LOCALRAG_SERVE__RATE_LIMIT_PER_MINUTE="60", LOCALRAG_SERVE__RATE_LIMIT_BURST="3",
    )  # fmt: skip
    body = {"query": "boiler pressure", "k": 3}
    try:
        with _from("127.0.0.1", server.url) as first, _from("127.0.0.2", server.url) as second:
            assert [first.post("/v1/search", json=body).status_code for _ in range(3)] == [200] * 3
            refused = first.post("/v1/search", json=body)
            assert refused.status_code == 429, refused.text
            wait = int(refused.headers["Retry-After"])
            assert 1 <= wait <= 2
            error = refused.json()["error"]
            assert error["type"] == "rate_limited" and "serve.rate_limit_per_minute" in error["message"]
            assert first.get("/v1/status").status_code == 429  # every endpoint counts...
            assert all(first.get("/healthz").status_code == 200 for _ in range(5))  # ...but /healthz

            assert second.post("/v1/search", json=body).status_code == 200  # another client is unaffected

            time.sleep(wait)
            assert first.post("/v1/search", json=body).status_code == 200  # recovered
    finally:
        server.stop()


def test_with_a_token_the_token_is_the_client(notes_index, models_dir, smollm2_path, tmp_path):
    """Holders of the token share one bucket, from whatever address; a request without the token
    gets 401 and does not use the bucket up."""
    _, index = notes_index
    server = start_server(
        index, models_dir, smollm2_path, tmp_path / "serve.log", token="s3cret-token",
        LOCALRAG_SERVE__RATE_LIMIT_PER_MINUTE="60", LOCALRAG_SERVE__RATE_LIMIT_BURST="2",
    )  # fmt: skip
    try:
        with _from("127.0.0.3", server.url) as stranger:
            assert [stranger.get("/v1/status").status_code for _ in range(4)] == [401] * 4
        with _from("127.0.0.1", server.url, server.headers) as a, _from("127.0.0.2", server.url, server.headers) as b:
            assert a.get("/v1/status").status_code == 200
            assert b.get("/v1/status").status_code == 200
            refused = a.get("/v1/status")
            assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
            assert b.get("/v1/status").status_code == 429
    finally:
        server.stop()
