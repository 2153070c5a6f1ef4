"""Citing after generation: each answer sentence attributed to the passage that states its facts."""

from __future__ import annotations

import numpy as np
import pytest

from localrag.generate.attribution import (
    UNSUPPORTED_MARK,
    Thresholds,
    attribute,
    measure,
    names,
    numbers,
    render,
    subject_names,
    support,
    unmentioned_names,
)

SHUTIL = "COPY_BUFSIZE = 1024 * 1024 if _WINDOWS else 64 * 1024. copyfileobj reads the file in chunks of that size."
SERVER = "The server listens on port 8000 unless --port is given. It serves the current directory."
PASSAGES = [SHUTIL, SERVER]


def _statuses(answer: str, question: str, passages=PASSAGES, **kw):
    return [(s.status, s.source) for s in attribute(answer, question, passages, **kw)]


def test_numbers_are_canonical_and_products_in_a_passage_count():
    assert numbers("65,536 bytes, 2.50 s, two runs, one of them") == {"65536", "2.5", "2"}
    got = attribute("copyfileobj reads chunks of 65536 bytes.", "How big are shutil's reads?", [SHUTIL])
    assert got[0].status == "supported" and got[0].source == 1


@pytest.mark.parametrize(
    "answer, missing",
    [
        ("It reads 16384 bytes at a time.", "16384"),  # a wrong number from the right file
        ("The server listens on port 8080.", "8080"),
        ("Pass --bind-address to choose the address.", "--bind-address"),  # an invented option
        ("It checks the file with SHA-1 first.", "sha-1"),
    ],
)
def test_a_number_or_name_no_passage_holds_makes_a_sentence_unsupported(answer, missing):
    (s,) = attribute(answer, "How does it copy and serve files?", PASSAGES)
    assert s.status == "unsupported" and s.source is None and missing in s.missing


def test_a_number_must_stand_near_the_sentences_other_words():
    changelog = (
        "v45.0.0. Dropped support for Python 2. "
        + " ".join(f"Fixed issue {i}." for i in range(10))
        + (" Removed easy_install command.")
    )
    half = Thresholds(min_coverage=0.5, min_similarity=2.0)
    got = attribute(
        "easy_install was removed in version 45.", "When was easy_install removed?", [changelog], thresholds=half
    )
    assert got[0].status == "unsupported"  # 45 and "removed" are sentences apart
    near = "v45.0.0. Removed the easy_install command. Dropped Python 2."
    got = attribute(
        "easy_install was removed in version 45.", "When was easy_install removed?", [near], thresholds=half
    )
    assert got[0].source == 1


def test_each_sentence_is_cited_to_its_own_passage():
    answer = "copyfileobj reads in chunks of 64 * 1024 bytes. The server listens on port 8000."
    assert _statuses(answer, "What are the defaults?") == [("supported", 1), ("supported", 2)]


def test_a_list_items_number_is_not_a_claim():
    answer = "Two steps: 1. It reads files in chunks of 64 * 1024 bytes. 2. The server listens on port 8000."
    got = attribute(answer, "What are the defaults?", PASSAGES)
    assert [(s.status, s.source) for s in got][1:] == [("supported", 1), ("supported", 2)]
    assert render(answer, got).endswith(
        "1. It reads files in chunks of 64 * 1024 bytes [1]. 2. The server listens on port 8000 [2]."
    )


def test_the_questions_own_words_are_not_evidence():
    # every key term of the answer beyond the question is missing from the passages
    (s,) = attribute("Tomatoes need potash and magnesium.", "What do tomatoes need?", ["Tomatoes are red."])
    assert s.status == "unsupported" and s.coverage == 0.0


def test_a_sentence_repeating_the_question_needs_a_passage_that_says_it_all():
    question = "Does the server listen on port 8000?"
    assert _statuses("Yes, the server listens on port 8000.", question) == [("supported", 2)]
    # a restated unanswerable question: its words are in no passage
    assert _statuses("Yes, the server listens on a Unix socket.", "Does the server listen on a Unix socket?") == [
        ("unsupported", None)
    ]
    assert _statuses("Yes.", question) == [("neutral", None)]


def test_neutral_sentences_assert_nothing():
    got = attribute(
        "It serves the current directory. The sources do not say more.",
        "What does it serve?",
        PASSAGES,
        neutral=lambda s: "do not say" in s,
    )
    assert [(s.status, s.source) for s in got] == [("supported", 2), ("neutral", None)]


def test_the_models_own_citation_is_kept_only_when_its_passage_supports_the_sentence():
    both = ["The server listens on port 8000.", "Port 8000 is where the server listens."]
    assert _statuses("The server listens on port 8000 [2].", "Which port?", both) == [("supported", 2)]
    assert _statuses("The server listens on port 8000 [1].", "Which port?", both) == [("supported", 1)]
    # [1] does not hold the number: the citation moves to the passage that does
    assert _statuses("The server listens on port 8000 [1].", "Which port?") == [("supported", 2)]


def test_coverage_threshold_and_the_similarity_alternative():
    answer = "It serves files from the working folder."  # "working folder": not the passage's words
    question = "What does the server do?"
    strict = Thresholds(min_coverage=0.5, min_similarity=2.0)
    assert _statuses(answer, question, thresholds=strict)[0][0] == "unsupported"

    def embed(texts):  # the sentence and the passage's second window point the same way
        return np.array(
            [[1.0, 0.0] if ("working folder" in t or "current directory" in t) else [0.0, 1.0] for t in texts]
        )

    lenient = Thresholds(min_coverage=0.5, min_similarity=0.8)  # similarity, with half the coverage
    assert _statuses(answer, question, thresholds=lenient, embed=embed) == [("supported", 2)]
    too_little = Thresholds(min_coverage=0.9, min_similarity=0.8)  # 1 of 4 terms is under half of 0.9
    assert _statuses(answer, question, thresholds=too_little, embed=embed) == [("unsupported", None)]


def test_thresholds_apply_without_measuring_again():
    measured = measure("It serves files from the working folder.", "What does the server do?", PASSAGES)
    loose, strict = support(measured, Thresholds(0.2, 2.0)), support(measured, Thresholds(0.9, 2.0))
    assert loose[0].status == "supported" and strict[0].status == "unsupported"


def test_render_cites_supported_sentences_and_marks_the_rest():
    answer = "The server listens on port 8000 [1, 3].\nIt also speaks HTTP/3. Yes"
    got = attribute(answer, "Does the server listen on port 8000?", PASSAGES)
    assert render(answer, got) == (
        f"The server listens on port 8000 [2].\nIt also speaks HTTP/3 {UNSUPPORTED_MARK}. Yes"
    )


def test_names_are_identifiers_options_paths_and_acronyms():
    found = names("Use `git log` or --oneline with shutil.copyfile, COPY_BUFSIZE, /etc/hosts, SHA-1 and Linux.")
    assert {"--oneline", "shutil.copyfile", "copy_bufsize", "/etc/hosts", "sha-1"} <= found
    assert "git log" not in found  # a quoted command counts by its parts, not as one string
    assert "linux" not in found  # a plain capitalised word is a key term, not a required name


def test_subject_names_are_identifiers_and_capitalised_words_but_the_first():
    assert subject_names("How do I connect localrag to Slack?") == {"slack"}
    assert subject_names("Which release added RISC-V (riscv64) support?") == {"risc-v", "riscv64"}
    assert subject_names("What does lzma.open default to, i.e. which preset?") == {"lzma.open"}
    assert subject_names("Where are my notes kept?") == set()


def test_a_name_counts_as_mentioned_however_spaced_hyphenated_or_pluralised():
    passages = ["http/server.py\nclass SimpleHTTPRequestHandler serves index.html", "PDF files are read page by page."]
    assert unmentioned_names("Does http.server serve index.html?", passages) == []
    assert unmentioned_names("How are my PDFs read?", passages) == []
    assert unmentioned_names("Does SimpleHTTP-RequestHandler list folders?", passages) == []
    assert unmentioned_names("Can I install it with Homebrew or via http.client?", passages) == [
        "homebrew",
        "http.client",
    ]


def test_what_a_sentence_repeats_from_the_question_must_hold_where_its_facts_do():
    releases = "Node.js 18 LTS is codenamed Hydrogen. Node.js 4 LTS was codenamed Argon."
    question = "What is the codename of the Node.js 20 LTS release line?"
    (s,) = attribute("The codename of the Node.js 20 LTS release line is Hydrogen.", question, [releases])
    assert s.status == "unsupported" and "20" in s.missing  # Hydrogen is 18's name, not 20's
    (s,) = attribute(
        "The codename of the Node.js 18 LTS release line is Hydrogen.", question.replace("20", "18"), [releases]
    )
    assert s.status == "supported"
    gzip = "def open(filename, mode='rb', compresslevel=9): open a gzip-compressed file."
    (s,) = attribute("The default compression preset of lzma.open is 9.", "What preset does lzma.open use?", [gzip])
    assert s.status == "unsupported" and "lzma.open" in s.missing  # the 9 is gzip's
    # a count the question asks for ("which two") is not a number the passage must spell
    diary = "Against codling moth: grease bands and pheromone traps."
    (s,) = attribute("It lists two: grease bands and pheromone traps.", "Which two defences does it list?", [diary])
    assert s.status == "supported"


def test_a_sentence_that_adds_one_word_to_the_question_is_checked_as_a_restatement():
    albumin = "Albumin and saline gave similar outcomes in the ICU. There is no evidence of harm from albumin."
    question = "Does hydroxyethyl starch increase kidney injury compared with saline?"
    (s,) = attribute(
        "There is no evidence that hydroxyethyl starch increases kidney injury compared with saline.",
        question,
        [albumin],
    )
    assert s.status == "unsupported"  # its one own word, "evidence", is in the passage; the claim is not
    (s,) = attribute(
        "Starch increases kidney injury: it doubled dialysis in the trial.",
        question,
        ["Starch doubled dialysis in the trial, a kidney injury."],
    )
    assert s.status == "supported"  # two words of its own: an answer, checked as one


def test_a_repeated_name_may_stand_in_the_passages_path_or_headings():
    # a chunk of shutil.py never says "shutil": its path does
    question = "What chunk size does shutil.copyfileobj use?"
    answer = "shutil.copyfileobj reads chunks of 65536."
    (s,) = attribute(answer, question, [SHUTIL])
    assert s.status == "unsupported" and "shutil.copyfileobj" in s.missing
    (s,) = support(measure(answer, question, [SHUTIL], titles=["shutil.py\n"]))
    assert s.status == "supported" and s.source == 1


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("Does IL-1beta rise after surgery?", "Levels of IL-1β rose after surgery."),
        ("Does TNF-α fall?", "tnf-alpha fell in both arms"),
        ("Are free histones degraded by a Rad53-dependent mechanism?", "Histone degradation needs the Rad53 kinase."),
        ("Do 1/2000 people carry it?", "About one in 2,000 people carry it."),  # a number: attribution checks it
    ],
)
def test_a_name_is_mentioned_however_its_greek_letters_qualifier_or_number_are_written(question, passage):
    assert unmentioned_names(question, [passage]) == []


def test_a_qualified_name_still_needs_its_own_part_somewhere():
    assert unmentioned_names("Is the Rad53-dependent pathway needed?", ["The Mec1 kinase acts."]) == ["rad53-dependent"]


def test_an_abbreviation_the_question_defines_is_not_required_of_the_passages():
    passage = "The N348I mutation in reverse transcriptase confers resistance to zidovudine."
    assert unmentioned_names("Do N348I mutations cause resistance to zidovudine (AZT)?", [passage]) == []
    # a parenthesised phrase is not an abbreviation, and the long form's own names still count
    assert unmentioned_names("Is there a Windows installer (.msi or .exe)?", ["Linux and macOS only."]) == ["windows"]
    assert unmentioned_names("Does K417N escape (RBD-AB)?", [passage]) == ["k417n"]


def test_a_name_made_of_a_plain_question_word_must_stand_where_the_facts_do():
    """A question "How do I change the timeout?" answered with "set the `timeout` parameter in localrag.toml":
    the name comes from the question's plain words, but a passage that never says it cannot back it."""
    from localrag.generate.attribution import measure, support

    question = "How do I change the timeout for answers?"
    reply = "You can set the `timeout` parameter in the `localrag.toml` file."
    without = ["Settings live in localrag.toml; each section names its model and its threads."]
    with_it = ["Settings live in localrag.toml; the timeout parameter sets how long an answer may take."]
    assert support(measure(reply, question, without))[0].status != "supported"
    assert support(measure(reply, question, with_it))[0].status == "supported"
