"""Answer-evaluation scoring on fixed inputs (no models)."""

from __future__ import annotations

import json

import pytest

from localrag.errors import ConfigError
from localrag.eval.answers import (
    CitedSource,
    Outcome,
    Question,
    abstention_table,
    cites_expected,
    gold_matches,
    grade,
    is_correct,
    lacks_fact,
    load_questions,
    summarize,
    tokens_per_second,
    verdict_of,
)

MODELS_Q = Question("a1", "How do I add a model?", True, "models.md", "Using your own GGUF model")
LINES_Q = Question("a2", "Where are exit codes?", True, "commands.md", expected_lines=(40, 50))
NONE_Q = Question("u1", "Does it do speech?", False)


def test_citation_must_name_the_expected_file_and_heading():
    right = CitedSource("models.md", ("Models", "Using your own GGUF model"), 10, 20)
    wrong_heading = CitedSource("models.md", ("Models", "The default LLM"), 30, 40)
    wrong_file = CitedSource("tui.md", ("Using your own GGUF model",), 1, 2)
    assert cites_expected(MODELS_Q, [wrong_file, right])
    assert not cites_expected(MODELS_Q, [wrong_heading, wrong_file])
    assert cites_expected(MODELS_Q, [wrong_heading], file_only=True)
    assert not cites_expected(MODELS_Q, [])


def test_heading_match_ignores_case_and_spacing_but_not_words():
    assert cites_expected(MODELS_Q, [CitedSource("models.md", ("using  your own gguf MODEL",))])
    assert not cites_expected(MODELS_Q, [CitedSource("models.md", ("Using your own GGUF models",))])


def test_an_answer_written_in_two_sections_accepts_either(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": "How do I open a source?", "answerable": true, '
        '"expected_path": "tui.md", "expected_heading": ["Previewing and opening sources", "Key bindings"]}\n'
    )
    (q,) = load_questions(path)
    assert q.expected_heading == ("Previewing and opening sources", "Key bindings")
    assert cites_expected(q, [CitedSource("tui.md", ("The chat app", "Key bindings"))])
    assert cites_expected(q, [CitedSource("tui.md", ("The chat app", "previewing and opening SOURCES"))])
    assert not cites_expected(q, [CitedSource("tui.md", ("The chat app", "Where chats are saved"))])


def test_expected_lines_need_an_overlapping_citation():
    assert cites_expected(LINES_Q, [CitedSource("commands.md", (), 45, 60)])
    assert cites_expected(LINES_Q, [CitedSource("commands.md", (), 50, None)])
    assert not cites_expected(LINES_Q, [CitedSource("commands.md", (), 51, 70)])
    assert not cites_expected(LINES_Q, [CitedSource("commands.md", (), None, None)])  # PDF page, no lines


def test_correctness_answerable_vs_unanswerable():
    cited = [CitedSource("models.md", ("Using your own GGUF model",))]
    assert is_correct(MODELS_Q, Outcome("a1", abstained=False, cited=cited))
    # an abstention is wrong for an answerable question even if it lists the right source
    assert not is_correct(MODELS_Q, Outcome("a1", abstained=True, cited=cited))
    assert is_correct(NONE_Q, Outcome("u1", abstained=True))
    assert not is_correct(NONE_Q, Outcome("u1", abstained=False, cited=cited))


def test_summarize_counts_shares_and_medians():
    questions = [MODELS_Q, LINES_Q, NONE_Q, Question("u2", "Gmail?", False)]
    outcomes = [
        Outcome(
            "a1",
            False,
            [CitedSource("models.md", ("Using your own GGUF model",))],
            ["models.md"],
            generated=True,
            sources_ms=100,
            first_token_ms=2000,
            total_ms=4000,
            completion_tokens=41,
            prompt_tokens=950,
        ),
        Outcome(
            "a2",
            False,
            [CitedSource("commands.md", (), 1, 5)],
            ["commands.md", "tui.md"],
            generated=True,
            sources_ms=300,
            first_token_ms=6000,
            total_ms=8000,
            completion_tokens=21,
            prompt_tokens=1140,
        ),
        Outcome("u1", True, [], ["index.md"], generated=False, sources_ms=200, first_token_ms=210, total_ms=220),
        Outcome(
            "u2",
            False,
            [CitedSource("index.md")],
            ["index.md"],
            generated=True,
            sources_ms=50,
            first_token_ms=4000,
            total_ms=5000,
            completion_tokens=11,
            prompt_tokens=1000,
        ),
    ]
    m = summarize(questions, outcomes)
    assert m["questions"] == 4 and m["answerable"] == 2 and m["unanswerable"] == 2
    assert m["citation_accuracy"] == 0.5  # a2 cites the right file, wrong lines
    assert m["citation_file_accuracy"] == 1.0
    assert m["expected_file_in_sources"] == 1.0
    assert m["false_abstention_rate"] == 0.0
    assert m["abstention_accuracy"] == 0.5
    assert m["overall_accuracy"] == 0.5
    assert m["generated"] == 3
    assert m["median_sources_ms"] == 150.0
    assert m["sources_before_first_token"] == 1.0
    assert m["median_first_token_ms"] == 4000.0  # the early abstention (210 ms) is not counted
    # (40 + 20 + 10) tokens after the first, over (2 + 2 + 1) s of generation
    assert m["tokens_per_s"] == 14.0
    assert m["median_prompt_tokens"] == 1000.0
    # (950 + 1140 + 1000) prompt tokens over (1.9 + 5.7 + 3.95) s from sources to first token
    assert m["prompt_tokens_per_s"] == round(3090 / 11.55, 1)


def test_verdict_is_the_opening_yes_or_no():
    assert verdict_of("Yes [1]. Statins lower LDL [1].") == "yes"
    assert verdict_of("No, the trial found no effect [2].") == "no"
    assert verdict_of("  **No** [3].") == "no"
    assert verdict_of("Nothing in the trial [1].") is None  # a word that only starts with "no"
    assert verdict_of("Statins lower LDL [1].") is None


def test_verdict_accuracy_needs_the_right_word_and_the_right_citation():
    cited = [CitedSource("s.md")]
    questions = [
        Question("y1", "Is it true that A?", True, "s.md", expected_verdict="yes"),
        Question("n1", "Is it true that B?", True, "s.md", expected_verdict="no"),
        Question("n2", "Is it true that C?", True, "s.md", expected_verdict="no"),
        Question("n3", "Is it true that D?", True, "s.md", expected_verdict="no"),
        Question("x1", "How is E?", True, "s.md"),  # no verdict expected: not counted
    ]
    outcomes = [
        Outcome("y1", False, cited, verdict="yes"),  # right
        Outcome("n1", False, cited, verdict="yes"),  # cited right, said the opposite
        Outcome("n2", False, [CitedSource("other.md")], verdict="no"),  # right word, wrong source
        Outcome("n3", False, cited, verdict=None),  # no yes/no given
        Outcome("x1", False, cited),
    ]
    m = summarize(questions, outcomes)
    assert m["verdict_accuracy"] == 0.25
    assert m["citation_accuracy"] == 0.8
    assert summarize(questions[-1:], outcomes[-1:])["verdict_accuracy"] is None


def test_summarize_subset_and_empty_groups():
    m = summarize([MODELS_Q, NONE_Q], [Outcome("u1", True)])
    assert m["sources_before_first_token"] == 0.0  # no Sources event was recorded
    assert m["questions"] == 1 and m["citation_accuracy"] is None and m["abstention_accuracy"] == 1.0
    assert m["median_first_token_ms"] is None and m["tokens_per_s"] is None
    assert m["prompt_tokens_per_s"] is None


def test_tokens_per_second_ignores_answers_not_generated():
    outcomes = [
        Outcome("x", False, generated=False, first_token_ms=0, total_ms=1000, completion_tokens=100),
        Outcome("y", False, generated=True, first_token_ms=1000, total_ms=3000, completion_tokens=11),
    ]
    assert tokens_per_second(outcomes) == 5.0


def test_abstention_table():
    samples = [(True, 0.7), (True, 0.5), (True, 0.35), (False, 0.3), (False, 0.4), (False, 0.6)]
    rows = abstention_table(samples, [0.3, 0.36, 0.45])
    assert rows == [
        {"threshold": 0.3, "correct_abstain": 0.0, "false_abstain": 0.0},
        {"threshold": 0.36, "correct_abstain": 0.3333, "false_abstain": 0.3333},
        {"threshold": 0.45, "correct_abstain": 0.6667, "false_abstain": 0.3333},
    ]


GOLD_Q = Question(
    "g1",
    "How big is shutil's copy buffer?",
    True,
    "shutil.py",
    gold=(r"64 ?\* ?1024|65,?536|64 ?KiB", r"windows|1 ?MiB|1024 ?\* ?1024"),
    also_paths=("os.py",),
)


def _answer(text: str, *paths: str, abstained: bool = False) -> Outcome:
    return Outcome("g1", abstained, [CitedSource(p) for p in paths], text=text)


@pytest.mark.parametrize(
    "outcome, expected",
    [
        (_answer("64 * 1024 bytes [1], 1 MiB on Windows [1].", "shutil.py"), "correct"),
        (_answer("65536 bytes, or 1024*1024 on Windows [2].", "os.py"), "correct"),  # also_paths count
        (_answer("64 KiB [1].", "shutil.py"), "partly"),  # one of two facts
        (_answer("16384 bytes [1].", "shutil.py"), "partly"),  # the right file, the wrong number
        (_answer("64 KiB, 1 MiB on Windows [1].", "tempfile.py"), "partly"),  # the facts, the wrong file
        (_answer("16384 bytes [1].", "tempfile.py"), "wrong"),
        (_answer("I couldn't find this.", abstained=True), "false_abstention"),
    ],
)
def test_grade_needs_the_expected_file_and_every_gold_pattern(outcome, expected):
    assert grade(GOLD_Q, outcome) == expected


def test_gold_patterns_ignore_case_markers_and_line_breaks():
    assert gold_matches(GOLD_Q, "It is 64 *\n  1024 [1] bytes; on WINDOWS [not in sources].") == 2
    assert gold_matches(GOLD_Q, "It is 64 [1]* 1024 bytes.") == 1  # the marker goes, the spaces stay
    assert gold_matches(GOLD_Q, "Sixty-four kibibytes, as on Linux.") == 0
    unanswerable = Question("u", "Does it do speech?", False)
    assert grade(unanswerable, _answer("", abstained=True)) == "correct_abstention"
    assert grade(unanswerable, _answer("Yes, it speaks [1].", "x.md")) == "answered"


def test_summarize_reports_correct_partly_wrong_and_supported_sentences_lacking_facts():
    outcomes = [
        _answer("64 * 1024 bytes, 1 MiB on Windows [1].", "shutil.py"),
        _answer("64 KiB [1].", "shutil.py"),
        _answer("16384 [1].", "tempfile.py"),
        _answer("", abstained=True),
    ]
    outcomes[0].supported_sentences, outcomes[2].supported_lacking_fact = 2, 1
    questions = [GOLD_Q]
    m = summarize(questions, outcomes)
    assert (m["correct"], m["partly_correct"], m["wrong"], m["false_abstention_rate"]) == (0.25, 0.25, 0.25, 0.25)
    assert m["supported_sentences"] == 2 and m["supported_lacking_fact"] == 1


@pytest.mark.parametrize(
    "sentence, passage, lacks",
    [
        ("The buffer is 65,536 bytes [1].", "COPY_BUFSIZE = 65536", False),
        ("The buffer is 16384 bytes [1].", "COPY_BUFSIZE = 64 * 1024", True),
        ("Run it with `--leak-check=full` [2].", "Use --leak-check=full to see details.", False),
        ("Set LOCALRAG_LLM__MODEL or pass --model-path [1].", "Set LOCALRAG_LLM__MODEL.", True),
        ("It uses shutil.copyfileobj [1].", "shutil.copyfile copies a file.", True),
        ("Tomatoes get seaweed [1].", "The tomatoes get seaweed.", False),
        ("2. Build a wheel for a package [1].", "Build a wheel for a package from source.", False),  # its place
        ("2. Build 3 wheels [1].", "Build wheels.", True),
        ("Set `separators` to `(',', ':')` [1].", "specify ``(',', ':')`` to eliminate whitespace; separators", False),
        ("Set `separators` to `(';', ':')` [1].", "specify ``(',', ':')`` to eliminate whitespace; separators", True),
    ],
)
def test_lacks_fact(sentence, passage, lacks):
    assert lacks_fact(sentence, passage) is lacks


def test_load_questions(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "a1", "question": "Q?", "answerable": True, "expected_path": "x.md", "expected_lines": [3, 9]},
        {"id": "u1", "question": "R?", "answerable": False, "claim": "extra fields are ignored"},
        {
            "id": "c1",
            "question": "Is it true that S?",
            "answerable": True,
            "expected_path": "s.md",
            "expected_verdict": "no",
        },
        {
            "id": "g1",
            "question": "T?",
            "answerable": True,
            "expected_path": "t.md",
            "gold": ["4[02]"],
            "also_paths": ["u.md"],
            "kind": "number",
            "split": "test",
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    qs = load_questions(path)
    assert qs == [
        Question("a1", "Q?", True, "x.md", None, (3, 9)),
        Question("u1", "R?", False),
        Question("c1", "Is it true that S?", True, "s.md", expected_verdict="no"),
        Question("g1", "T?", True, "t.md", gold=("4[02]",), also_paths=("u.md",), kind="number", split="test"),
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": "a", "question": "Q?", "answerable": true}', "has no expected_path"),
        ('{"id": "a", "answerable": false}', ":1: not a valid question"),
        ("not json", "not a valid question"),
        (
            '{"id": "a", "question": "Q?", "answerable": true, "expected_path": "x", "expected_verdict": "maybe"}',
            "expected_verdict must be",
        ),
        (
            '{"id": "a", "question": "Q?", "answerable": true, "expected_path": "x", "gold": ["(unclosed"]}',
            "not a valid question",
        ),
        ('{"id": "a", "question": "Q?", "answerable": false, "split": "train"}', "split must be"),
    ],
)
def test_load_questions_rejects_bad_rows(tmp_path, line, message):
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_questions(path)


def test_missing_question_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read question set"):
        load_questions(tmp_path / "absent.jsonl")
