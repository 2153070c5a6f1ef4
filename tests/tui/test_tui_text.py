"""The TUI's pure pieces: citation links, highlighting, input history, how files are opened."""

from __future__ import annotations

import pytest

from localrag.tui.citation_links import StreamingLinkifier, cited_number, linkify
from localrag.tui.highlight import cited_spans, snippet, term_spans
from localrag.tui.opener import OpenError, open_command, source_file, user_editor
from localrag.tui.past_chats import answers_from_messages
from localrag.tui.widgets.question_input import InputHistory
from localrag.types import Answer, Citation, Hit


def test_linkify_turns_each_cited_number_into_a_cite_link():
    out = linkify("Seaweed [1]. Both [1, 3] and [2][3].")
    assert out == (
        "Seaweed [\\[1\\]](cite:1). Both [\\[1\\]](cite:1)[\\[3\\]](cite:3) and [\\[2\\]](cite:2)[\\[3\\]](cite:3)."
    )


@pytest.mark.parametrize("text", ["arr[1] = 2", "see [the docs](http://x) [note]", "`x[2]`", "[1](http://x)"])
def test_linkify_leaves_non_citations_alone(text):
    assert linkify(text) == text


def test_only_cite_links_name_a_source():
    assert cited_number("cite:12") == 12
    assert cited_number("https://example.com") is None
    assert cited_number("cite:x") is None


@pytest.mark.parametrize(
    "pieces",
    [
        ["The feed ", "[", "1", "]", " and ", "[2", ", 3]", "."],
        list("a[1][2] arr[3] b [source 4] c [5"),
        ["[1]", "[2]"],
    ],
)
def test_streaming_gives_the_same_markdown_as_linkifying_the_whole(pieces):
    s = StreamingLinkifier()
    out = "".join(s.feed(p) for p in pieces) + s.flush()
    assert out == linkify("".join(pieces))


def test_streaming_holds_back_an_open_marker_only():
    s = StreamingLinkifier()
    assert s.feed("Feed it [") == "Feed it "
    assert s.feed("1") == ""
    assert s.feed("] weekly") == "[\\[1\\]](cite:1) weekly"


def test_term_spans_match_words_through_the_bm25_stemmer():
    text = "Tomatoes get fertiliser; the tomato fertilised."
    words = [text[a:b] for a, b in term_spans(text, ["tomato", "fertilis"])]
    assert words == ["Tomatoes", "fertiliser", "tomato", "fertilised"]


def test_snippet_starts_near_the_first_match_and_keeps_spans_aligned():
    text = "filler " * 100 + "the seaweed fertiliser is used " + "tail " * 100
    excerpt, spans = snippet(text, ["seawe"], width=80)
    assert excerpt.startswith("…") and excerpt.endswith("…")
    assert [excerpt[a:b] for a, b in spans] == ["seaweed"]


CHUNK = (
    "The tomatoes get a liquid seaweed fertiliser every two weeks once the first flowers open. "
    "Before flowering I use a balanced 10-10-10 granular feed, one handful per plant. "
    "Water deeply twice a week."
)


def test_cited_spans_find_quotes_and_paraphrases_of_the_cited_source_only():
    answer = (
        "The tomatoes get a liquid seaweed fertiliser every two weeks [1]. "
        "A balanced granular feed is used before flowering, a handful per plant [1]. "
        "Water deeply twice a week [2]."
    )
    spans = [CHUNK[a:b] for a, b in cited_spans(CHUNK, answer, 1)]
    assert spans[0] == "The tomatoes get a liquid seaweed fertiliser every two weeks"
    assert spans[1].startswith("Before flowering")
    assert not any("Water" in s for s in spans)
    assert cited_spans(CHUNK, answer, 3) == []


def test_input_history_walks_back_and_returns_to_the_draft():
    h = InputHistory()
    for q in ["first", "second", "second"]:
        h.add(q)
    assert h.entries == ["first", "second"]
    assert h.older("draft") == "second"
    assert h.older("second") == "first"
    assert h.older("first") == "first"
    assert h.newer("first") == "second"
    assert h.newer("second") == "draft"
    assert h.newer("draft") == "draft"


def test_open_command_per_editor(tmp_path):
    p = tmp_path / "a b.md"
    assert open_command(p, 12, "vim").argv == ["vim", "+12", str(p)]
    assert open_command(p, 12, "nvim").terminal
    assert open_command(p, 12, "/usr/bin/nano -w").argv == ["/usr/bin/nano", "-w", "+12", str(p)]
    code = open_command(p, 12, "code --wait")
    assert code.argv == ["code", "--wait", "-g", f"{p}:12"] and not code.terminal
    assert open_command(p, None, "vim").argv == ["vim", str(p)]
    assert open_command(p, 3, "", platform="linux", which=lambda name: f"/usr/bin/{name}").argv == ["xdg-open", str(p)]
    assert open_command(p, 3, "", platform="darwin", which=lambda name: f"/usr/bin/{name}").argv == ["open", str(p)]


def test_no_editor_and_no_system_opener_says_what_to_set(tmp_path):
    with pytest.raises(OpenError) as e:
        open_command(tmp_path / "a.md", 3, "", platform="linux", which=lambda name: None)
    assert "no xdg-open" in str(e.value) and "set $VISUAL or $EDITOR" in str(e.value)
    assert "Errno" not in str(e.value)


def test_answer_facts_say_sources_were_shortened_in_words():
    from localrag.tui.widgets.transcript import answer_facts

    hit = Hit(chunk_id=1, path="a.md", text="t", rank=1, score=0.5)
    assert "2 sources shortened to fit the context" in answer_facts(
        Answer(question="q", text="t", sources=[hit], shortened_sources=2)
    )
    assert "1 source shortened to fit the context" in answer_facts(
        Answer(question="q", text="t", sources=[hit], shortened_sources=1)
    )
    assert "given in part" not in answer_facts(Answer(question="q", text="t", sources=[hit], shortened_sources=3))


def test_editor_is_visual_then_editor_then_the_system_opener(tmp_path, monkeypatch):
    assert user_editor({"VISUAL": "code --wait", "EDITOR": "vim"}) == "code --wait"
    assert user_editor({"VISUAL": "", "EDITOR": "vim"}) == "vim"
    assert user_editor({"EDITOR": "nano -w"}) == "nano -w"
    assert user_editor({}) == ""
    p = tmp_path / "notes.md"
    monkeypatch.setenv("VISUAL", "nvim")
    monkeypatch.setenv("EDITOR", "nano")
    assert open_command(p, 7).argv == ["nvim", "+7", str(p)]  # $VISUAL wins
    monkeypatch.delenv("VISUAL")
    assert open_command(p, 7).argv == ["nano", "+7", str(p)]
    monkeypatch.setenv("VISUAL", "codium")
    assert open_command(p, 7).argv == ["codium", "-g", f"{p}:7"]
    monkeypatch.delenv("VISUAL")
    monkeypatch.delenv("EDITOR")
    assert open_command(p, 7, platform="linux", which=lambda name: "/usr/bin/xdg-open").argv == ["xdg-open", str(p)]


def test_source_file_stays_inside_the_indexed_folder(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "x.md").write_text("x")
    (tmp_path / "secret.txt").write_text("s")
    assert source_file(root, "sub/x.md") == (root / "sub" / "x.md").resolve()
    with pytest.raises(OpenError, match="outside"):
        source_file(root, "../secret.txt")
    with pytest.raises(OpenError, match="no longer exists"):
        source_file(root, "gone.md")
    with pytest.raises(OpenError, match="re-index"):
        source_file(None, "sub/x.md")


def test_past_answers_round_trip_through_the_stored_json():
    hit = Hit(
        chunk_id=3,
        path="garden/tomatoes.md",
        text="seaweed",
        rank=1,
        score=0.5,
        heading=("Tomatoes", "Feeding"),
        line_start=7,
        line_end=10,
    )
    answer = Answer(
        question="q?",
        text="seaweed [1]",
        sources=[hit],
        citations=[Citation(1, "garden/tomatoes.md", None, 7, 10)],
        query="q rewritten",
    )
    messages = [
        {"role": "user", "content": "q?"},
        {"role": "assistant", "content": answer.text, "payload": answer.to_json()},
        {"role": "user", "content": "unanswered"},
    ]
    (back,) = answers_from_messages(messages)
    assert back.question == "q?" and back.text == "seaweed [1]" and back.query == "q rewritten"
    assert back.sources[0].heading == ("Tomatoes", "Feeding") and back.sources[0].line_start == 7
    assert back.citations == answer.citations
