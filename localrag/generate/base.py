"""What every answer backend provides, and how the configured one is chosen."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from localrag.config import Settings
from localrag.cpu import physical_cores
from localrag.errors import ConfigError

Message = dict[str, str]


@runtime_checkable
class LLM(Protocol):
    """A chat model. `stream` yields text pieces and stops soon after `cancel` is set."""

    name: str
    n_ctx: int
    generative: bool  # False for backends that cannot follow free-form instructions
    continues_replies: bool  # `stream` can begin the reply with a given `opening`

    def count_tokens(self, text: str) -> int: ...

    def count_messages(self, messages: list[Message]) -> int: ...

    def opening_probability(
        self, messages: list[Message], opening: str, cancel: threading.Event | None = None
    ) -> float | None: ...

    def stream(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str] | None = None,
        cancel: threading.Event | None = None,
        opening: str = "",
    ) -> Iterator[str]: ...


# Chat templates wrap each message in a few tokens (role markers, separators); backends that
# cannot render their template are charged this much per message, plus a generation prompt.
APPROX_TOKENS_PER_MESSAGE = 8
APPROX_TOKENS_REPLY_PRIMER = 8


def approximate_prompt_tokens(llm: LLM, messages: list[Message]) -> int:
    """The content tokens of `messages` plus a per-message allowance for the template."""
    return APPROX_TOKENS_REPLY_PRIMER + sum(
        llm.count_tokens(m["content"]) + APPROX_TOKENS_PER_MESSAGE for m in messages
    )


class BaseLLM(ABC):
    """An LLM backend with the defaults of what a backend may leave out; backends derive from it.

    `generative`: False for backends that cannot follow free-form instructions (the extractive
    one); `count_messages`: tokens of the rendered chat prompt (approximate here, exact where the
    backend renders its template); `opening_probability`: the probability that the reply opens
    with `opening` (None: the backend cannot tell); `continues_replies`: `stream` can be given
    the reply's `opening`, which it yields first and the model continues (only such backends
    are passed one).
    """

    name: str = ""
    n_ctx: int = 0
    generative: bool = True
    continues_replies: bool = False

    @abstractmethod
    def count_tokens(self, text: str) -> int: ...

    @abstractmethod
    def stream(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str] | None = None,
        cancel: threading.Event | None = None,
        opening: str = "",
    ) -> Iterator[str]: ...

    def count_messages(self, messages: list[Message]) -> int:
        return approximate_prompt_tokens(self, messages)

    def opening_probability(
        self, messages: list[Message], opening: str, cancel: threading.Event | None = None
    ) -> float | None:
        return None


def load_llm(settings: Settings) -> LLM:
    """The backend `settings.llm.backend` names, ready to generate (llama.cpp models stay loaded)."""
    cfg = settings.llm
    if cfg.backend == "none":
        from localrag.generate.extractive import ExtractiveLLM

        return ExtractiveLLM()
    if cfg.backend == "openai":
        if not cfg.base_url:
            raise ConfigError("llm.backend = 'openai' needs llm.base_url (e.g. http://127.0.0.1:8080/v1)")
        from localrag.generate.openai_compat import OpenAICompatLLM

        return OpenAICompatLLM(
            base_url=cfg.base_url,
            model=cfg.api_model,
            n_ctx=cfg.n_ctx,
            temperature=cfg.temperature,
        )
    from localrag.generate.llama import gpu_request, load_llama
    from localrag.models import resolve_model_path

    path = resolve_model_path(settings, "llm", cfg.model)
    return load_llama(
        path,
        n_ctx=cfg.n_ctx,
        n_threads=cfg.n_threads or physical_cores(),
        temperature=cfg.temperature,
        probe=cfg.probe,
        gpu=gpu_request(cfg),
    )
