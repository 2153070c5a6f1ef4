"""Request bodies the server accepts. The hard bounds here are the widest any configuration
allows; `serve` settings tighten them per server (`check_request`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from localrag.chat import Turn
from localrag.config import ServeSettings

MAX_TEXT = 100_000
Text = Field(min_length=1, max_length=MAX_TEXT)
K = Field(None, ge=1, le=100, description="number of hits / sources (at most serve.max_k)")
PathGlob = Field(None, max_length=1000, description="only files matching this glob, e.g. 'notes/*'")
Types = Field(None, max_length=200, description="only these file types, e.g. 'pdf,md'")


class RequestError(ValueError):
    """A request within the schema but over this server's limits (HTTP 422)."""


class _Scoped(BaseModel):
    """How many hits, and which files they may come from (as `search`/`ask` --k/--path/--type)."""

    model_config = ConfigDict(extra="forbid")

    k: int | None = K
    path: str | None = PathGlob
    type: str | None = Types


class SearchRequest(_Scoped):
    query: str = Text


class AskRequest(_Scoped):
    question: str = Text
    stream: bool = False


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id...: accepted, not used

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    # OpenAI clients send temperature, max_tokens, user...: accepted and ignored (the answer's
    # settings are the server's)
    model_config = ConfigDict(extra="allow")

    model: str = "localrag"
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    k: int | None = K  # not OpenAI's: pass it with the client's extra_body

    def question_and_history(self) -> tuple[str, list[Turn]]:
        """The last user message, and the user/assistant exchanges before it as chat history
        (system messages are ignored: the server's prompt is fixed)."""
        talk = [m for m in self.messages if m.role in ("user", "assistant")]
        if not talk or talk[-1].role != "user" or not talk[-1].text().strip():
            raise RequestError("messages must end with a user message that has text")
        history: list[Turn] = []
        question: str | None = None
        for m in talk[:-1]:
            if m.role == "user":
                question = m.text()
            elif question is not None:
                history.append(Turn(question=question, answer=m.text(), query=question))
                question = None
        return talk[-1].text(), history


def check_request(cfg: ServeSettings, texts: list[str], k: int | None, messages: int = 0) -> None:
    """RequestError when a request is over the server's limits."""
    if k is not None and k > cfg.max_k:
        raise RequestError(f"k = {k} is over this server's limit of {cfg.max_k} (serve.max_k)")
    for text in texts:
        if len(text) > cfg.max_question_chars:
            raise RequestError(
                f"text of {len(text)} characters is over this server's limit of {cfg.max_question_chars} "
                "(serve.max_question_chars)"
            )
    if messages > cfg.max_messages:
        raise RequestError(
            f"{messages} messages are over this server's limit of {cfg.max_messages} (serve.max_messages)"
        )


def error_body(message: str, kind: str, **extra: Any) -> dict:
    """The OpenAI error shape every error response uses."""
    return {"error": {"message": message, "type": kind, **extra}}
