"""The OpenAI-compatible backend against a real local server (llama-cpp-python's, serving SmolLM2)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from localrag.config import Settings
from localrag.errors import LLMError
from localrag.generate.base import load_llm
from localrag.generate.openai_compat import OpenAICompatLLM, parse_sse_line
from localrag.generate.prompt import NOT_FOUND, build_messages
from localrag.types import Hit


def test_parse_sse_line():
    assert parse_sse_line('data: {"choices":[{"delta":{"content":"Hi"}}]}') == "Hi"
    assert parse_sse_line('data: {"choices":[{"delta":{"role":"assistant"}}]}') == ""
    assert parse_sse_line(": keep-alive") == ""
    assert parse_sse_line("data: [DONE]") is None
    with pytest.raises(LLMError, match="server error"):
        parse_sse_line('data: {"error": {"message": "boom"}}')


def test_unreachable_server_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    llm = OpenAICompatLLM(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(LLMError, match="cannot reach"):
        list(llm.stream([{"role": "user", "content": "hi"}], 8))
    assert llm.count_tokens("x" * 30) == 10  # no tokenize endpoint: byte estimate


def test_openai_backend_needs_a_base_url():
    from localrag.errors import ConfigError

    with pytest.raises(ConfigError, match="base_url"):
        load_llm(Settings(llm={"backend": "openai"}))


@pytest.fixture(scope="module")
def server(smollm2_path):
    pytest.importorskip("llama_cpp.server.app")
    pytest.importorskip("uvicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--model_alias", "smol", "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stderr.read().decode()[-500:]}")
        try:
            if httpx.get(f"{base}/v1/models", timeout=1, trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("server did not start in 120 s")
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.slow
def test_streams_an_answer_and_counts_with_the_server_tokenizer(server, smol):
    llm = load_llm(Settings(llm={"backend": "openai", "base_url": f"{server}/v1", "api_model": "smol", "n_ctx": 2048}))
    assert llm.count_is_exact  # llama-cpp-python's /extras/tokenize was found
    text = "The tomatoes get liquid seaweed fertiliser every two weeks."
    assert llm.count_tokens(text) == smol.count_tokens(text)  # same tokenizer as in-process
    hits = [Hit(chunk_id=1, path="garden/tomatoes.md", text=text)]
    plan = build_messages("What fertiliser do the tomatoes get?", hits, llm, Settings())
    pieces = list(llm.stream(plan.messages, 32))
    assert len(pieces) > 1  # streamed, not one blob
    assert "".join(pieces).strip()


@pytest.mark.slow
def test_cancel_closes_the_stream(server):
    llm = OpenAICompatLLM(f"{server}/v1", model="smol")
    cancel = threading.Event()
    pieces = []
    t = None
    for piece in llm.stream(
        [{"role": "user", "content": "Write a very long story about a garden."}], 1000, cancel=cancel
    ):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
            t = time.perf_counter()
    assert t is not None and time.perf_counter() - t < 0.5
    assert len(pieces) == 3


@pytest.mark.slow
def test_not_found_probability_from_the_servers_logprobs(server, smol):
    llm = OpenAICompatLLM(f"{server}/v1", model="smol", n_ctx=2048, temperature=0.0)
    hits = [
        Hit(chunk_id=1, path="garden/tomatoes.md", text="The tomatoes get liquid seaweed fertiliser every two weeks.")
    ]
    plan = build_messages("What fertiliser do the tomatoes get?", hits, llm, Settings())
    first_word = "".join(llm.stream(plan.messages, 4)).split()[0]
    for opening in (NOT_FOUND, first_word):
        remote = llm.opening_probability(plan.messages, opening)
        assert remote == pytest.approx(smol.opening_probability(plan.messages, opening), abs=0.02)
    assert llm.opening_probability(plan.messages, first_word) > 0.05  # what it says first is likely
    assert llm.opening_probability(plan.messages, "Zebra crossings") == 0.0
    cancelled = threading.Event()
    cancelled.set()
    assert llm.opening_probability(plan.messages, NOT_FOUND, cancel=cancelled) is None


def test_no_logprobs_from_the_server_means_no_estimate():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert (
        OpenAICompatLLM(f"http://127.0.0.1:{port}/v1").opening_probability([{"role": "user", "content": "hi"}], "I")
        is None
    )
