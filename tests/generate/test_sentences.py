"""Sentence scoring and query-focused excerpts (counted here in words, as a tokenizer would count)."""

from __future__ import annotations

from localrag.generate.sentences import GAP, excerpt, query_terms, score, sentence_spans, split_sentences


def words(text: str) -> int:
    return len(text.split())


ABSTRACT = (
    "Statins are widely prescribed. We followed 4,000 patients for ten years. "
    "Statin use lowered LDL cholesterol by a third. Muscle pain was reported by 5% of patients. "
    "Funding came from a public grant."
)


def test_spans_cover_each_sentence_exactly():
    text = "One.  Two!\n- three\n\n  four?  "
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["One.", "Two!", "- three", "four?"]
    assert split_sentences(text) == ["One.", "Two!", "- three", "four?"]
    assert sentence_spans("") == [] and sentence_spans(" \n ") == []


def test_a_full_stop_before_a_lowercase_word_does_not_end_the_sentence():
    text = "Infection with H.  pylori rose, e.g. in Leeds. Rates fell. 5 sites closed."
    assert split_sentences(text) == ["Infection with H.  pylori rose, e.g. in Leeds.", "Rates fell.", "5 sites closed."]


def test_a_list_items_number_starts_its_sentence():
    inline = "You need two steps: 1. Install the new version. 2. Drop the old cluster."
    assert split_sentences(inline) == ["You need two steps:", "1. Install the new version.", "2. Drop the old cluster."]
    lines = "Steps:\n1. Install it.\n(2) Run it."
    assert split_sentences(lines) == ["Steps:", "1. Install it.", "(2) Run it."]
    # a number ending an ordinary sentence stays where it is
    assert split_sentences("See section 2. It says so.") == ["See section 2.", "It says so."]


def test_sentences_sharing_more_query_terms_score_higher():
    wanted = query_terms("Do statins lower cholesterol?")
    assert "do" not in wanted and wanted  # question words are not terms
    assert score(wanted, "Statin use lowered LDL cholesterol by a third.") > score(
        wanted, "Statins are widely prescribed."
    )
    assert score(wanted, "Funding came from a public grant.") == 0


def test_a_text_that_fits_is_returned_unchanged():
    assert excerpt(ABSTRACT, "Do statins lower cholesterol?", words(ABSTRACT), words) == ABSTRACT


def test_keeps_the_best_matching_sentences_in_their_order_within_the_budget():
    cut = excerpt(ABSTRACT, "Do statins lower cholesterol?", 16, words)
    assert words(cut) <= 16
    assert "Statin use lowered LDL cholesterol by a third." in cut
    assert "Funding" not in cut
    # left-out stretches are marked, and what is kept reads in the source's order
    assert GAP in cut and cut.endswith(GAP.rstrip())
    kept = [s for s in split_sentences(ABSTRACT) if s in cut]
    assert [cut.index(s) for s in kept] == sorted(cut.index(s) for s in kept)


def test_room_left_is_filled_next_to_the_best_sentence():
    cut = excerpt(ABSTRACT, "Does muscle pain occur?", 22, words)
    # the matching sentence plus its neighbours, not the far-away opening
    assert "Muscle pain was reported" in cut and "lowered LDL" in cut
    assert "widely prescribed" not in cut


def test_a_sentence_longer_than_the_budget_is_cut_at_a_word():
    text = "Cholesterol " + "and more words " * 50 + "end. Short one."
    cut = excerpt(text, "cholesterol", 10, words)
    assert cut.startswith("Cholesterol and more") and cut.endswith(GAP.rstrip())
    assert words(cut) <= 10
