"""The BM25 tokenizer: stemming, stopwords, code identifiers, CJK."""

from __future__ import annotations

from localrag.store.tokenize import identifier_parts, tokenize


def test_lowercases_stems_and_drops_stopwords():
    assert tokenize("The Tomatoes are RUNNING and feeding") == ["tomato", "run", "feed"]


def test_query_and_document_meet_on_the_same_stem():
    assert set(tokenize("fertilising tomatoes", query=True)) <= set(tokenize("We fertilise the tomato plants"))


def test_snake_case_identifier_is_split_and_kept_whole():
    terms = tokenize("call parse_http_request()")
    assert terms == ["call", "pars", "http", "request", "parse_http_request"]


def test_camel_case_identifier_is_split_and_kept_whole():
    terms = tokenize("raise HTTPServerError")
    assert terms == ["rais", "http", "server", "error", "httpservererror"]


def test_identifier_parts_rules():
    assert identifier_parts("getUserID2Name") == ["get", "User", "ID", "2", "Name"]
    assert identifier_parts("__init__") == ["init"]
    assert identifier_parts("café") == ["café"]  # accented letters do not split a word


def test_a_part_of_an_identifier_finds_it():
    assert "server" in tokenize("HTTPServerError") and "server" in tokenize("server", query=True)


def test_cjk_runs_become_bigrams_and_documents_also_get_unigrams():
    assert tokenize("東京都", query=True) == ["東京", "京都"]
    doc = tokenize("東京都")
    assert {"東京", "京都", "東", "京", "都"} == set(doc)
    # a one-character query is a unigram, and documents carry unigrams, so it is found
    assert tokenize("猫", query=True) == ["猫"] and "猫" in tokenize("黒い猫がいる")


def test_hangul_and_kana_are_cjk():
    assert tokenize("한국어", query=True) == ["한국", "국어"]
    assert tokenize("カタカナ", query=True) == ["カタ", "タカ", "カナ"]


def test_mixed_latin_and_cjk_split_cleanly():
    assert tokenize("Python入門", query=True) == ["python", "入門"]


def test_punctuation_and_dots_separate_terms():
    assert tokenize("os.path.join(a, b)") == ["os", "path", "join", "b"]  # "a" is a stopword
