"""Starting the servers: `localrag serve` (uvicorn, HTTP) and `localrag mcp` (stdio)."""

from __future__ import annotations

import logging
import sys

from localrag.config import Settings
from localrag.serve.auth import require_token_for, resolve_token

log = logging.getLogger("localrag")


def run_http(settings: Settings, log_level: str = "info") -> None:
    """Serve the index over HTTP until interrupted. A non-loopback host without a token is a
    ConfigError before anything loads."""
    import uvicorn

    from localrag.serve.app import create_app
    from localrag.serve.engine import Engine

    cfg = settings.serve
    token = resolve_token(cfg)
    require_token_for(cfg.host, token)
    engine = Engine(settings)
    engine.load_models()
    app = create_app(engine, token=token, host=cfg.host)
    print(
        f"localrag: serving {engine.status()['index']} (generation {engine.generation}) on "
        f"http://{cfg.host}:{cfg.port}" + (" (token required)" if token else ""),
        file=sys.stderr,
        flush=True,
    )
    # uvicorn's access log has method, path and status: no document text, no request bodies
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=log_level, timeout_graceful_shutdown=5)


def run_stdio(settings: Settings) -> None:
    """Serve the MCP tools on stdin/stdout until the client closes them. Models load on the first
    tool call, so the client's handshake is answered at once."""
    import anyio

    from localrag.serve.engine import Engine
    from localrag.serve.mcp_tools import build_mcp, serve_stdio
    from localrag.serve.queue import GenerationQueue
    from localrag.serve.searches import SearchGate

    engine = Engine(settings)
    mcp = build_mcp(engine, GenerationQueue(settings.serve.max_queue), SearchGate.from_settings(settings.serve))
    anyio.run(serve_stdio, mcp)
