"""`--llm none`: answers quote the best-matching sentences and cite the source they came from."""

from __future__ import annotations

from localrag.config import Settings
from localrag.generate.base import load_llm
from localrag.generate.citations import resolve
from localrag.generate.extractive import ExtractiveLLM, extract_answer
from localrag.generate.sentences import split_sentences
from localrag.generate.prompt import NOT_FOUND, build_messages
from localrag.types import Hit

HITS = [
    Hit(chunk_id=1, path="garden/roses.md", text="Roses are pruned in March. They like full sun."),
    Hit(
        chunk_id=2,
        path="garden/tomatoes.md",
        text="Water the beds daily.\nThe tomatoes get liquid seaweed fertiliser every two weeks.",
    ),
    Hit(chunk_id=3, path="code/app.py", text="def parse_http_request(raw):\n    return raw.split()"),
]


def _answer(question: str, hits=HITS) -> str:
    llm = ExtractiveLLM()
    plan = build_messages(question, hits, llm, Settings())
    return "".join(llm.stream(plan.messages, plan.max_tokens))


def test_cites_the_source_the_sentence_came_from():
    text = _answer("What fertiliser do the tomatoes get?")
    assert text == "The tomatoes get liquid seaweed fertiliser every two weeks [2]."
    citations, invalid = resolve(text, HITS)
    assert [c.path for c in citations] == ["garden/tomatoes.md"] and invalid == []


def test_code_identifiers_match_their_parts():
    text = _answer("where is the http request parsed?")
    assert "[3]" in text and "parse_http_request" in text


def test_several_sources_keep_retrieval_order():
    text = _answer("when are roses pruned and what fertiliser for tomatoes?")
    assert text.index("[1]") < text.index("[2]")


def test_nothing_matching_says_not_found():
    assert _answer("What is the capital of Peru?") == NOT_FOUND
    assert extract_answer("anything", []) == NOT_FOUND


def test_sentence_split_handles_lines_and_punctuation():
    assert split_sentences("One. Two!\n- three\n\nfour?") == ["One.", "Two!", "- three", "four?"]


def test_load_llm_none_needs_no_model(tmp_path):
    llm = load_llm(Settings(models_dir=tmp_path, llm={"backend": "none"}))
    assert isinstance(llm, ExtractiveLLM)
