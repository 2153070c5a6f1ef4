"""Serving one index to many: an HTTP API (localrag's own and OpenAI-compatible) and MCP.

engine.py      the shared index snapshot and models; reloads new generations
queue.py       answers take turns at the LLM; a full queue is a 503
answers.py     an answer run in its turn, cancelled when the client leaves
routes.py      /healthz, /v1/status, /v1/search, /v1/ask (the CLI's JSON)
openai_api.py  /v1/models, /v1/chat/completions
mcp_tools.py   MCP tools search, ask, get_source (stdio and /mcp)
sources.py     get_source: a passage of an indexed file, never outside the folder
auth.py        bearer token, loopback rule, body-size limit
app.py         the ASGI app; server.py starts uvicorn or the stdio server
"""
