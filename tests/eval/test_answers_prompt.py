"""The answer prompt: a brief free answer, "I don't know" allowed, citing only on request."""

from __future__ import annotations

from localrag.generate.prompt import (
    CITE_INLINE_RULE,
    SYSTEM_PROMPT,
    answer_reminder,
    is_yes_no,
    parse_prompt,
    render_messages,
)
from localrag.types import Hit

HITS = [Hit(chunk_id=1, path="a.md", text="Tomatoes get seaweed."), Hit(chunk_id=2, path="b.md", text="Sun.")]


def test_the_model_is_asked_to_answer_not_to_cite_or_to_decline():
    system, user = (m["content"] for m in render_messages("What do tomatoes get?", HITS))
    assert system == SYSTEM_PROMPT and "[1]" not in system and CITE_INLINE_RULE not in user
    assert user.endswith(answer_reminder("What do tomatoes get?"))
    assert user.rindex("Question: What do tomatoes get?") < user.rindex(answer_reminder("What do tomatoes get?"))
    for text in (system, user):  # abstaining is decided from the evidence, not left to the model
        assert "don't know" not in text and "reply only" not in text.lower() and "not found" not in text.lower()


def test_inline_citing_is_asked_only_when_configured():
    user = render_messages("What do tomatoes get?", HITS, cite_inline=True)[1]["content"]
    assert CITE_INLINE_RULE in user and user.endswith(answer_reminder("What do tomatoes get?", cite_inline=True))


def test_parse_prompt_strips_the_reminder_even_from_multi_paragraph_questions():
    question = "First paragraph.\n\nSecond: what do tomatoes get?"
    parsed, sources = parse_prompt(render_messages(question, HITS)[1]["content"])
    assert parsed == question
    assert sources == [(1, "Tomatoes get seaweed."), (2, "Sun.")]


def test_yes_no_questions_are_asked_for_the_sources_verdict_and_others_are_not():
    for question in ("Is it true that statins lower cholesterol?", "Does localrag need a GPU?", "Can I use Ollama?"):
        user = render_messages(question, HITS)[1]["content"]
        assert is_yes_no(question) and "Yes or No" in user
        assert parse_prompt(user)[0] == question
    for question in ("How do I install it?", "What is RRF?", "Islands of text: how are they split?"):
        user = render_messages(question, HITS)[1]["content"]
        assert not is_yes_no(question) and "Yes or No" not in user
        assert parse_prompt(user)[0] == question


def test_question_first_puts_the_question_before_the_sources_as_well():
    question = "What do tomatoes get?"
    user = render_messages(question, HITS, question_first=True)[1]["content"]
    assert user.startswith(f"Question: {question}\n") and user.index("Tomatoes get seaweed.") < user.rindex(question)
    assert parse_prompt(user) == parse_prompt(render_messages(question, HITS)[1]["content"])
    assert not render_messages(question, HITS)[1]["content"].startswith("Question:")


def test_why_questions_are_asked_for_the_reason_the_source_states():
    for question in ("Why does it spin?", "In the chat app, why do digits not pick a source?"):
        user = render_messages(question, HITS)[1]["content"]
        assert "asks why" in user and "Do not repeat the question" in user
        assert parse_prompt(user)[0] == question
    assert "asks why" not in render_messages("How do I install it?", HITS)[1]["content"]
    assert "asks why" not in render_messages("Does it know why?", HITS)[1]["content"]  # a yes/no question
