"""The answer prompt's reminder after the question (added after measuring Qwen2.5-Coder-1.5B's
uncited answers with scripts/eval_answers.py)."""

from __future__ import annotations

from localrag.generate.prompt import (
    ANSWER_REMINDER,
    NOT_FOUND,
    SYSTEM_PROMPT,
    YES_NO_REMINDER,
    answer_reminder,
    parse_prompt,
    render_messages,
)
from localrag.types import Hit

HITS = [Hit(chunk_id=1, path="a.md", text="Tomatoes get seaweed."), Hit(chunk_id=2, path="b.md", text="Sun.")]


def test_citation_and_not_found_instructions_come_last():
    user = render_messages("What do tomatoes get?", HITS)[1]["content"]
    assert user.endswith(ANSWER_REMINDER)
    assert user.rindex("Question: What do tomatoes get?") < user.rindex(ANSWER_REMINDER)
    assert "[1]" in ANSWER_REMINDER and NOT_FOUND in ANSWER_REMINDER
    assert "[1]" in SYSTEM_PROMPT and NOT_FOUND in SYSTEM_PROMPT


def test_parse_prompt_strips_the_reminder_even_from_multi_paragraph_questions():
    question = "First paragraph.\n\nSecond: what do tomatoes get?"
    parsed, sources = parse_prompt(render_messages(question, HITS)[1]["content"])
    assert parsed == question
    assert sources == [(1, "Tomatoes get seaweed."), (2, "Sun.")]


def test_yes_no_questions_get_the_yes_no_reminder_and_others_do_not():
    for question in ("Is it true that statins lower cholesterol?", "Does localrag need a GPU?", "Can I use Ollama?"):
        user = render_messages(question, HITS)[1]["content"]
        assert user.endswith(YES_NO_REMINDER) and answer_reminder(question) == YES_NO_REMINDER
        assert parse_prompt(user)[0] == question
    for question in ("How do I install it?", "What is RRF?", "Islands of text: how are they split?"):
        user = render_messages(question, HITS)[1]["content"]
        assert user.endswith(ANSWER_REMINDER) and "Yes or No" not in user
        assert parse_prompt(user)[0] == question
    assert NOT_FOUND in YES_NO_REMINDER and YES_NO_REMINDER.endswith(ANSWER_REMINDER[-60:])
