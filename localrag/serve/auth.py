"""Who may call the server, and how much they may send.

* A token is required to bind anything but a loopback address (`require_token_for`); with a
  token set, every request but `GET /healthz` must carry `Authorization: Bearer <token>`,
  the MCP endpoint included, else 401. /healthz stays open so that a load balancer or a
  supervisor can probe it; it tells only that the server is up and its index generation.
* Request bodies are bounded (413), whether they announce their length or stream it chunked.

Both are plain ASGI middleware, so they wrap the mounted MCP app as well as the API routes.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localrag.config import ServeSettings
from localrag.errors import ConfigError

OPEN_PATHS = frozenset({"/healthz"})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def resolve_token(cfg: ServeSettings) -> str | None:
    """The token from serve.token_file (first line) or serve.token; None when neither is set."""
    if cfg.token_file is not None:
        path = Path(cfg.token_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"serve.token_file: cannot read {path}: {e}") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise ConfigError(f"serve.token_file: {path} is empty")
        return token
    if cfg.token is not None:
        token = cfg.token.get_secret_value().strip()
        if not token:
            raise ConfigError("serve.token is empty")
        return token
    return None


def require_token_for(host: str, token: str | None) -> None:
    """Refuse to serve a non-loopback address without a token (ConfigError, exit 2)."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without a token: anyone who can reach it could read your "
            "documents. Pass --token-file FILE or set LOCALRAG_SERVE__TOKEN (or bind 127.0.0.1)"
        )


async def send_error(send: Send, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
    """An error in the OpenAI error shape: {"error": {"message", "type"}}."""
    body = json.dumps({"error": {"message": message, "type": kind}}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """401 for a request without the right `Authorization: Bearer` token (when one is set)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = None if token is None else f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if not hmac.compare_digest(given, self.expected):
            await send_error(
                send, 401, "missing or wrong bearer token (Authorization: Bearer <token>)", "unauthorized",
                {"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a request body over `max_bytes`, announced (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and not length.isdigit():
            await send_error(send, 400, "Content-Length is not a number", "invalid_request_error")
            return
        if length is not None and int(length) > self.max_bytes:
            await send_error(send, 413, f"request body over {self.max_bytes} bytes (serve.max_body_bytes)", "too_large")
            return
        seen = 0

        async def limited_receive() -> Message:
            # raised inside the app, so its exception handlers answer 413 like any HTTP error
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes (serve.max_body_bytes)")
            return message

        await self.app(scope, limited_receive, send)
