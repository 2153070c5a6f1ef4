"""A per-client request rate limit: a token bucket per client, 429 with Retry-After beyond it.

A client is its bearer token when the server has one (every request past `BearerAuth` carries
the same token, so everyone who holds it shares one bucket), else its address (`scope["client"]`:
behind a reverse proxy on the same machine, uvicorn puts the address the proxy forwards there).
Each bucket holds up to `burst` requests and refills at `per_minute / 60` a second; a request
that finds it empty gets 429, `Retry-After` (whole seconds until a request is free again) and
the server's usual JSON error. `/healthz` is never limited (supervisors probe it).

Plain ASGI middleware, like auth.py's, so it covers the API routes and MCP alike. A full bucket
is the same as none, so buckets that have refilled are dropped now and then: memory stays
bounded by the clients seen within a minute or so, not by every address ever seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from localrag.config import ServeSettings
from localrag.serve.auth import OPEN_PATHS, send_error

PRUNE_EVERY_S = 60.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when `tokens` was last brought up to date


class TokenBuckets:
    """`take(client)`: 0.0 when the client may make a request now (and it is counted), else the
    seconds until it may. Only called on the event loop, so it needs no lock."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst <= 0:
            raise ValueError("per_minute and burst must be positive")
        self.rate = per_minute / 60.0  # requests per second
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._pruned_at = clock()

    @classmethod
    def from_settings(cls, cfg: ServeSettings) -> "TokenBuckets | None":
        """The buckets serve.rate_limit_* ask for; None when the limit is off."""
        if not cfg.rate_limit_per_minute:
            return None
        return cls(cfg.rate_limit_per_minute, cfg.rate_limit_burst or cfg.rate_limit_per_minute)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        now = self.clock()
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._prune(now)
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        full_after = self.burst / self.rate  # an empty bucket is full again after this long
        self._buckets = {c: b for c, b in self._buckets.items() if now - b.at < full_after}


def client_of(scope: Scope, by_token: bool) -> str:
    """Who is asking: the Authorization header when the server has a token, else the address."""
    if by_token:
        return dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimit:
    """429 for a client over its rate (`buckets`); every request but /healthz counts."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, by_token: bool) -> None:
        self.app = app
        self.buckets = buckets
        self.by_token = by_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            wait = self.buckets.take(client_of(scope, self.by_token))
            if wait > 0:
                per_minute = round(self.buckets.rate * 60)
                await send_error(
                    send, 429,
                    f"too many requests: this client may make {per_minute} a minute "
                    f"(serve.rate_limit_per_minute); retry in {math.ceil(wait)} s",
                    "rate_limited", {"Retry-After": str(math.ceil(wait))},
                )  # fmt: skip
                return
        await self.app(scope, receive, send)
