"""The ASGI application of `localrag serve`: localrag's API, the OpenAI-compatible API and MCP at
/mcp, behind the bearer-token check, the per-client rate limit (when set) and the body-size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from localrag import __version__
from localrag.errors import BusyError, ConfigError, LocalragError, SourceAccessError
from localrag.serve import openai_api, routes
from localrag.serve.auth import BearerAuth, BodyLimit
from localrag.serve.engine import Engine
from localrag.serve.mcp_tools import build_mcp
from localrag.serve.queue import GenerationQueue
from localrag.serve.ratelimit import RateLimit, TokenBuckets
from localrag.serve.schemas import RequestError, error_body
from localrag.serve.searches import SearchGate

RETRY_AFTER_S = "2"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
    return "; ".join(parts)


def _install_error_handlers(api: FastAPI) -> None:
    """Every error in the OpenAI shape {"error": {"message", "type"}} (OpenAI clients read it)."""

    @api.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail), "invalid_request_error"), exc.status_code, exc.headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_validation_message(exc), "invalid_request_error"), 422)

    @api.exception_handler(RequestError)
    async def over_limit(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "invalid_request_error"), 422)

    @api.exception_handler(BusyError)
    async def busy(_: Request, exc: BusyError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "server_busy"), 503, {"Retry-After": RETRY_AFTER_S})

    @api.exception_handler(LocalragError)
    async def failed(_: Request, exc: LocalragError) -> JSONResponse:
        status = 400 if isinstance(exc, ConfigError | SourceAccessError) else 500
        return JSONResponse(error_body(str(exc), "server_error" if status == 500 else "invalid_request_error"), status)


def create_app(engine: Engine, token: str | None = None, host: str = "127.0.0.1") -> ASGIApp:
    """The whole server for `engine`'s index; `token` (when set) is required on every request
    but /healthz. `host` is the address it will be bound to (MCP's Host-header guard follows it)."""
    cfg = engine.settings.serve
    queue = GenerationQueue(cfg.max_queue)
    searches = SearchGate.from_settings(cfg)  # shared by /v1/search and MCP's search
    mcp = build_mcp(engine, queue, searches, host=host)
    mcp_app = mcp.streamable_http_app()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    # no /docs page: its scripts come from a CDN, and this server is for offline networks
    api = FastAPI(title="localrag", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    api.state.queue = queue
    api.state.searches = searches
    _install_error_handlers(api)
    api.include_router(routes.build_router(engine, queue, searches))
    api.include_router(openai_api.build_router(engine, queue))
    api.router.routes.extend(mcp_app.routes)  # POST/GET/DELETE /mcp, exactly (no mount, no redirect)
    app: ASGIApp = BodyLimit(api, cfg.max_body_bytes)
    buckets = TokenBuckets.from_settings(cfg)
    if buckets is not None:  # inside the token check: only requests with the right token count
        app = RateLimit(app, buckets, by_token=token is not None)
    return BearerAuth(app, token)
