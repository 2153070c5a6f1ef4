"""The support check (localrag/generate/grounding.py) on fixed questions, answers and sources."""

from __future__ import annotations

import pytest

from localrag.generate.grounding import check_support, question_terms

SOURCES = [
    "The command localrag ask QUESTION answers from your documents. localrag search shows the hits.",
    "Set [llm] backend = \"none\" to answer without a language model.",
]


def test_question_terms_drop_framing_words_and_stem():
    assert list(question_terms("How do I generate images with localrag?")) == ["generat", "imag", "localrag"]
    assert list(question_terms("Is it true that my tomatoes need seaweed?")) == ["tomato", "seawe"]
    assert question_terms("What does it do?") == {}


def test_question_terms_keep_the_question_spelling():
    assert question_terms("Which Slack commands?") == {"slack": "Slack", "command": "commands"}


def test_restating_an_unanswerable_question_as_fact_is_unsupported():
    s = check_support(
        "Which Slack commands does localrag provide?",
        "The Slack commands provided by localrag are localrag ask and localrag search [1, 2].",
        SOURCES,
    )
    assert s.terms == ["slack", "command", "localrag", "provid"]
    assert s.unsupported == ["slack", "provid"] and s.words == ["Slack", "provide"]
    assert s.unsupported_share == 0.5


def test_a_question_term_the_answer_does_not_repeat_is_not_counted():
    # "Slack" is in no source, but the answer does not claim anything about it
    s = check_support("Which Slack commands does localrag provide?", "localrag ask answers questions [1].", SOURCES)
    assert s.unsupported == [] and s.unsupported_share == 0.0


def test_terms_match_across_inflections_and_ignore_citation_markers():
    s = check_support("Can I answer without language models?", "Yes: set backend to none [2].", SOURCES)
    assert s.unsupported == []
    # a term only inside a bracketed marker is not asserted
    s = check_support("Which answers are generated?", "Answers [1] [generated].", ["An answer."])
    assert s.unsupported == []
    s = check_support("Which answers are generated?", "Answers are generated [1].", ["An answer."])
    assert s.unsupported == ["generat"] and s.unsupported_share == 0.5


@pytest.mark.parametrize("question", ["", "How do I do it?"])
def test_a_question_without_content_terms_is_never_unsupported(question):
    assert check_support(question, "Anything at all [1].", SOURCES).unsupported_share == 0.0
