"""The follow-up turn that asks a model for the sources of an uncited reply (chat.CITE_REQUEST)."""

from __future__ import annotations

import threading

from localrag.chat import CITE_REQUEST, UNCITED_NOTE, ChatSession, Token
from localrag.config import Settings
from localrag.generate.prompt import NOT_FOUND
from localrag.types import Hit, StageScores

HITS = [
    Hit(chunk_id=1, path="garden/tomatoes.md", text="Tomatoes get seaweed every two weeks.", score=0.03,
        scores=StageScores(dense=0.7)),
    Hit(chunk_id=2, path="home/boiler.md", text="The boiler should read 1.5 bar.", score=0.02,
        scores=StageScores(dense=0.5)),
]


class _Searcher:
    def search(self, query, k=None):
        class Result:
            hits = list(HITS)
            timings = {"retrieve": 1.0}

        return Result()


class _Replies:
    """A generative model that replies with fixed texts in turn and records what it was sent."""

    name = "replies"
    n_ctx = 4096

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.calls: list[tuple[list[dict], int]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages, max_tokens, stop=None, cancel: threading.Event | None = None):
        self.calls.append((messages, max_tokens))
        yield self.replies.pop(0)


def _ask(llm):
    events = list(ChatSession(_Searcher(), llm, Settings()).ask_stream("What fertiliser do the tomatoes get?"))
    return events, events[-1].answer


def test_uncited_reply_gets_the_sources_the_model_names():
    llm = _Replies("Tomatoes get seaweed every two weeks.", "[1, 7]")
    events, answer = _ask(llm)
    assert not answer.abstained
    assert answer.text == "Tomatoes get seaweed every two weeks. [1]"  # 7 names no source: dropped
    assert [c.path for c in answer.citations] == ["garden/tomatoes.md"]
    # the follow-up continues the same conversation, so the model sees its reply and the sources
    messages, max_tokens = llm.calls[1]
    assert messages[:2] == llm.calls[0][0]
    assert messages[2] == {"role": "assistant", "content": "Tomatoes get seaweed every two weeks."}
    assert messages[3] == {"role": "user", "content": CITE_REQUEST}
    assert max_tokens <= 16
    # the appended marker is streamed too, so a UI shows what the answer says
    assert "".join(e.text for e in events if isinstance(e, Token)).strip() == answer.text


def test_naming_no_source_leaves_the_reply_unverified():
    _, answer = _ask(_Replies("Tomatoes like seaweed.", "[0]"))
    assert answer.abstained and answer.text.startswith(NOT_FOUND) and UNCITED_NOTE in answer.text
    assert answer.citations == []


def test_cited_and_not_found_replies_are_not_asked_again():
    llm = _Replies("Seaweed [1].")
    assert not _ask(llm)[1].abstained and len(llm.calls) == 1
    llm = _Replies(NOT_FOUND)
    assert _ask(llm)[1].abstained and len(llm.calls) == 1
