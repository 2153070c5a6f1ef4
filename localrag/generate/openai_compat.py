"""Any OpenAI-compatible chat server (llama-server, llama-cpp-python's server, vLLM, Ollama).

Tokens stream over server-sent events. Token counts come from the server when it offers a
tokenize endpoint (llama-server: POST /tokenize; llama-cpp-python: POST /extras/tokenize);
otherwise they are estimated from UTF-8 bytes (`APPROX_BYTES_PER_TOKEN`), which over-counts
English a little, so budgets stay on the safe side. `count_is_exact` says which one is in use.

The not-found estimate (`opening_probability`) asks for one token with `logprobs`; servers cache
the prompt (llama-server, llama-cpp-python, vLLM's prefix cache), so the answer that follows
does not pay for the prompt twice. A server without logprobs gives no estimate (None).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from localrag.errors import LLMError
from localrag.generate.base import BaseLLM

APPROX_BYTES_PER_TOKEN = 3.0
TOP_LOGPROBS = 20  # the most the OpenAI API (and vLLM) allow
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0


class OpenAICompatLLM(BaseLLM):
    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        n_ctx: int = 4096,
        temperature: float = 0.1,
        api_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model or "default"
        self.name = f"{self.model} @ {self.base_url}"
        self.n_ctx = n_ctx
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            trust_env=False,  # never route a local server through a proxy from the environment
        )
        self._tokenize: tuple[str, str] | None | bool = False  # False: not yet detected

    @property
    def _root(self) -> str:
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    def _detect_tokenizer(self) -> tuple[str, str] | None:
        """(url, json key for the text) of a tokenize endpoint, or None."""
        candidates = [
            (f"{self._root}/tokenize", "content"),  # llama-server
            (f"{self._root}/extras/tokenize", "input"),  # llama-cpp-python server
        ]
        for url, key in candidates:
            try:
                r = self._client.post(url, json={key: "hello world"}, timeout=CONNECT_TIMEOUT_S)
            except httpx.HTTPError:
                continue
            if r.status_code == 200 and isinstance(r.json().get("tokens"), list):
                return url, key
        return None

    @property
    def count_is_exact(self) -> bool:
        if self._tokenize is False:
            self._tokenize = self._detect_tokenizer()
        return self._tokenize is not None

    def count_tokens(self, text: str) -> int:
        if self.count_is_exact:
            url, key = self._tokenize  # type: ignore[misc]
            try:
                r = self._client.post(url, json={key: text})
                r.raise_for_status()
                return len(r.json()["tokens"])
            except (httpx.HTTPError, KeyError, ValueError):
                pass
        return math.ceil(len(text.encode("utf-8")) / APPROX_BYTES_PER_TOKEN)

    def opening_probability(
        self, messages: list[dict[str, str]], opening: str, cancel: threading.Event | None = None
    ) -> float | None:
        """The probability that the reply to `messages` starts with `opening`'s first token, from
        the server's top log-probabilities for the first token (tokens that begin `opening`).
        None when the server does not return log-probabilities or the request fails."""
        if cancel is not None and cancel.is_set():
            return None
        payload = {**self._payload(messages, 1, None), "stream": False, "logprobs": True, "top_logprobs": TOP_LOGPROBS}
        try:
            r = self._client.post(f"{self.base_url}/chat/completions", json=payload)
            r.raise_for_status()
            first = r.json()["choices"][0]["logprobs"]["content"][0]
            candidates = first.get("top_logprobs") or [first]
            return sum(
                math.exp(c["logprob"])
                for c in candidates
                if c["token"].lstrip() and opening.startswith(c["token"].lstrip())
            )
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
            return None

    def _payload(self, messages: list[dict[str, str]], max_tokens: int, stop: list[str] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": True,
        }
        if stop:
            payload["stop"] = stop
        return payload

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        stop: list[str] | None = None,
        cancel: threading.Event | None = None,
        opening: str = "",
    ) -> Iterator[str]:
        if opening:
            raise ValueError(f"{type(self).__name__} cannot continue a reply (continues_replies is False)")
        url = f"{self.base_url}/chat/completions"
        try:
            with self._client.stream("POST", url, json=self._payload(messages, max_tokens, stop)) as r:
                if r.status_code != 200:
                    body = r.read().decode("utf-8", "replace")[:300]
                    raise LLMError(f"{url} answered {r.status_code}: {body}")
                for line in r.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return  # leaving the block closes the connection; the server stops
                    piece = parse_sse_line(line)
                    if piece is None:
                        return
                    if piece:
                        yield piece
        except httpx.ConnectError:
            raise LLMError(f"cannot reach the OpenAI-compatible server at {self.base_url}") from None
        except httpx.HTTPError as e:
            raise LLMError(f"{self.base_url}: {type(e).__name__}: {e}") from None


def parse_sse_line(line: str) -> str | None:
    """Text carried by one SSE line: '' for keep-alives/other fields, None at the end marker."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        event = json.loads(data)
    except ValueError:
        return ""
    if "error" in event:
        raise LLMError(f"server error: {event['error']}")
    choices = event.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or ""
