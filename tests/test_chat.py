"""ChatSession: event order, abstention, citations, follow-up condensation, history, cancel."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from localrag.chat import (
    ABSTAIN_REASONS,
    ChatSession,
    Done,
    Sources,
    Token,
    fallback_query,
    refers_back,
)
from localrag.config import Settings
from localrag.generate.base import BaseLLM
from localrag.generate.extractive import ExtractiveLLM
from localrag.generate.prompt import NOT_FOUND
from localrag.generate.replies import (
    declines,
    denies_for_lack_of_evidence,
    loop_start,
    says_not_found,
    starts_not_found,
)
from localrag.types import Hit, StageScores

HITS = [
    Hit(
        chunk_id=1,
        path="garden/tomatoes.md",
        text="The tomatoes get liquid seaweed fertiliser every two weeks.",
        rank=1,
        score=0.9,
        line_start=3,
        line_end=4,
    ),
    Hit(
        chunk_id=2,
        path="garden/roses.md",
        text="Roses are pruned in March.",
        rank=2,
        score=0.5,
        page=None,
        line_start=1,
        line_end=1,
    ),
]


@dataclass
class Result:
    hits: list[Hit]
    timings: dict = field(default_factory=lambda: {"retrieve": 12.5, "rerank": 3.0})
    notices: list[str] = field(default_factory=list)


class FixedSearcher:
    """Returns the same hits for every query and remembers the queries (retrieval is tested elsewhere)."""

    embedder = None  # the attribution then compares words only

    def __init__(self, hits: list[Hit]):
        self.hits = hits
        self.queries: list[str] = []

    def search(self, query: str, k: int | None = None) -> Result:
        self.queries.append(query)
        return Result(list(self.hits[:k]))


class ScriptedLLM(BaseLLM):
    """Replies with fixed text, word by word, optionally slowly; records the prompts it got."""

    name = "scripted"
    n_ctx = 4096

    def __init__(self, replies: list[str], delay: float = 0.0):
        self.replies = list(replies)
        self.delay = delay
        self.calls: list[list[dict]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages, max_tokens, stop=None, cancel=None):
        self.calls.append(messages)
        for word in self.replies.pop(0).split(" "):
            if cancel is not None and cancel.is_set():
                return
            time.sleep(self.delay)
            yield word + " "


def _events(session, question):
    return list(session.ask_stream(question))


def test_sources_come_first_then_tokens_then_done():
    events = _events(
        ChatSession(FixedSearcher(HITS), ExtractiveLLM(), Settings()), "What fertiliser do the tomatoes get?"
    )
    assert isinstance(events[0], Sources) and events[0].hits == HITS
    assert all(isinstance(e, Token) for e in events[1:-1]) and len(events) > 2
    assert isinstance(events[-1], Done)
    answer = events[-1].answer
    assert answer.draft == "".join(e.text for e in events[1:-1]).strip()
    assert answer.text == answer.draft  # the extractive reply quotes its source: the same [1]
    assert not answer.abstained
    assert [c.path for c in answer.citations] == ["garden/tomatoes.md"]
    assert answer.timings_ms.retrieve == 12.5 and answer.timings_ms.rerank == 3.0
    assert answer.timings_ms.first_token is not None and answer.timings_ms.total >= answer.timings_ms.first_token
    assert answer.tokens.prompt > 0 and answer.tokens.completion > 0


def test_weak_evidence_abstains_without_calling_the_model():
    llm = ScriptedLLM(["Tomatoes get seaweed [1]."])
    settings = Settings(retrieval={"min_score": 0.95})
    answer = ChatSession(FixedSearcher(HITS), llm, settings).ask("What fertiliser do the tomatoes get?")
    assert answer.abstained and answer.text.startswith(NOT_FOUND)
    assert answer.abstain_reason == "weak_retrieval" and ABSTAIN_REASONS["weak_retrieval"] in answer.text
    assert answer.sources == HITS  # the nearest sources are still listed
    assert llm.calls == []


def test_no_hits_abstains():
    answer = ChatSession(FixedSearcher([]), ExtractiveLLM(), Settings()).ask("anything at all?")
    assert answer.abstained and answer.text == NOT_FOUND and answer.sources == []


def test_citations_are_attributed_after_generation_and_the_models_own_are_replaced():
    llm = ScriptedLLM(["Seaweed every two weeks [1, 4]. Roses are pruned in March [7]."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("What fertiliser do the tomatoes get?")
    assert answer.text == "Seaweed every two weeks [1]. Roses are pruned in March [2]."
    assert [c.n for c in answer.citations] == [1, 2] and answer.invalid_citations == [4, 7]
    assert answer.draft == "Seaweed every two weeks [1, 4]. Roses are pruned in March [7]."
    assert [s.status for s in answer.sentences] == ["supported", "supported"]
    assert not answer.abstained


def test_an_uncited_reply_gets_its_citations_from_the_sources():
    llm = ScriptedLLM(["The tomatoes get liquid seaweed every two weeks."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("What fertiliser do the tomatoes get?")
    assert not answer.abstained
    assert answer.text == "The tomatoes get liquid seaweed every two weeks [1]."
    assert answer.to_json()["sentences"][0]["status"] == "supported"
    assert len(llm.calls) == 1  # no follow-up turn asking the model for its sources


def test_a_sentence_no_source_states_is_marked_and_never_cited():
    llm = ScriptedLLM(["Tomatoes get liquid seaweed every two weeks. They also get 40 g of bone meal per plant."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("What fertiliser do the tomatoes get?")
    assert not answer.abstained
    assert answer.text == (
        "Tomatoes get liquid seaweed every two weeks [1]. They also get 40 g of bone meal per plant [not in sources]."
    )
    assert [c.n for c in answer.citations] == [1]
    second = answer.to_json()["sentences"][1]
    assert second["status"] == "unsupported" and second["source"] is None and "40" in second["missing"]


def test_a_reply_no_source_supports_abstains_and_says_why():
    llm = ScriptedLLM(["The tomatoes get 40 g of blood meal from a dispenser on port 8080."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("What fertiliser do the tomatoes get?")
    assert answer.abstained and answer.abstain_reason == "unsupported"
    assert answer.text.startswith(NOT_FOUND) and ABSTAIN_REASONS["unsupported"] in answer.text
    assert answer.citations == [] and answer.sources == HITS
    assert answer.draft.startswith("The tomatoes get 40 g")  # kept for --json, not shown as an answer


def test_the_unsupported_gate_is_a_setting():
    llm = ScriptedLLM(["The tomatoes get 40 g of blood meal."])
    settings = Settings.model_validate({"answer": {"abstain_unsupported": False}})
    answer = ChatSession(FixedSearcher(HITS), llm, settings).ask("What fertiliser do the tomatoes get?")
    assert not answer.abstained and answer.text == "The tomatoes get 40 g of blood meal [not in sources]."


def test_model_saying_it_cannot_find_it_abstains():
    llm = ScriptedLLM(["The sources do not mention when the roses flower."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("When do the roses flower?")
    assert answer.abstained and answer.sources == HITS and answer.abstain_reason == "model_declined"


def test_a_question_naming_what_no_passage_mentions_abstains_without_generating():
    llm = ScriptedLLM(["Peru's capital is Lima."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("Do the tomatoes in Peru get seaweed?")
    assert answer.abstained and answer.abstain_reason == "unmentioned" and answer.sources == HITS
    assert answer.text.startswith(NOT_FOUND) and "“Peru”" in answer.text
    assert llm.calls == []  # decided before the model was asked
    # the same question with the gate off is answered
    settings = Settings.model_validate({"answer": {"abstain_unmentioned": False}})
    answer = ChatSession(FixedSearcher(HITS), ScriptedLLM(["They get liquid seaweed fertiliser."]), settings).ask(
        "Do the tomatoes in Peru get seaweed?"
    )
    assert not answer.abstained and answer.citations


@pytest.mark.parametrize(
    "reply", ["I don't know.", "I do not know [1].", "I couldn't find this in your documents. [1]"]
)
def test_a_reply_that_opens_by_declining_abstains(reply):
    answer = ChatSession(FixedSearcher(HITS), ScriptedLLM([reply]), Settings()).ask("Does the garden have a pond?")
    assert answer.abstained and answer.sources == HITS and answer.text.startswith(NOT_FOUND)
    assert answer.abstain_reason == "model_declined" and ABSTAIN_REASONS["model_declined"] in answer.text


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("I couldn't find this in your documents.", True),
        ('"I could not find the answer in the sources." [2]', True),
        ("I don't know.", True),
        ("Seaweed [1]. I couldn't find this in your documents for the dose.", False),
        ("The sources do not mention the dose. Seaweed every two weeks [1].", False),
        ("I found it: seaweed [1].", False),
    ],
)
def test_starts_not_found(reply, expected):
    assert starts_not_found(reply) is expected


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("I don't know.", True),
        ("The sources do not say. No information on doses.", True),
        ("No [1]. The sources do not mention Android phones.", True),
        ("Seaweed [1]. The sources do not mention the dose.", False),
        ("No. The trial found no effect on blood pressure.", False),
    ],
)
def test_declines(reply, expected):
    assert declines(reply) is expected


def test_partial_answer_with_a_not_covered_sentence_is_an_answer():
    llm = ScriptedLLM(["Liquid seaweed [1]. The sources do not mention the dose."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("What fertiliser and dose for tomatoes?")
    assert not answer.abstained
    assert [s.status for s in answer.sentences] == ["supported", "neutral"]


def _with_dense(hits, *scores):
    return [
        Hit(**{**{f: getattr(h, f) for f in Hit.__dataclass_fields__}, "scores": StageScores(dense=d)})
        for h, d in zip(hits, scores)
    ]


def test_facts_from_a_passage_about_something_else_abstain_as_off_topic():
    # "March" is in the roses passage, which is not about the question (dense 0.1). (Had the reply
    # wrapped the question's words around "March", it would be checked as a restatement.)
    hits = _with_dense(HITS, 0.5, 0.1)
    llm = ScriptedLLM(["Prune them in March."])
    settings = Settings.model_validate({"answer": {"min_subject": 0.3}})
    answer = ChatSession(FixedSearcher(hits), llm, settings).ask("How do I prune tomatoes with a laser robot?")
    assert answer.abstained and answer.abstain_reason == "off_topic"
    on_topic = Settings.model_validate({"answer": {"min_subject": 0.05}})
    llm = ScriptedLLM(["Prune them in March."])
    assert (
        not ChatSession(FixedSearcher(hits), llm, on_topic).ask("How do I prune tomatoes with a laser robot?").abstained
    )


def test_a_paraphrased_question_is_not_refused_for_its_own_words():
    # none of "feed", "toms", "plant food" is in the sources: the answer's facts are
    llm = ScriptedLLM(["They get liquid seaweed every two weeks."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("What plant food do I feed my toms?")
    assert not answer.abstained and [c.n for c in answer.citations] == [1]


def test_follow_up_without_an_llm_carries_previous_key_terms():
    searcher = FixedSearcher(HITS)
    session = ChatSession(searcher, ExtractiveLLM(), Settings())
    session.ask("What fertiliser do the tomatoes get?")
    answer = session.ask("and how often?")
    query = searcher.queries[-1]
    assert "fertiliser" in query and "tomatoes" in query and query.endswith("and how often?")
    assert "What" not in query.split()  # question words are not carried over
    assert answer.query == query


def test_slow_condenser_falls_back_within_its_time_bound():
    searcher = FixedSearcher(HITS)
    llm = ScriptedLLM(["Seaweed [1].", "How " * 200, "Every two weeks [1]."], delay=0.05)
    session = ChatSession(searcher, llm, Settings(), condense_timeout_s=0.3)
    session.ask("What fertiliser do the tomatoes get?")
    t = time.perf_counter()
    session.ask("how often is it given?")
    assert time.perf_counter() - t < 3
    assert searcher.queries[-1] == fallback_query("how often is it given?", session.history[0])


def test_llm_condensation_rewrites_the_follow_up():
    searcher = FixedSearcher(HITS)
    llm = ScriptedLLM(["Seaweed [1].", "How often do the tomatoes get seaweed fertiliser?", "Every two weeks [1]."])
    session = ChatSession(searcher, llm, Settings())
    session.ask("What fertiliser do the tomatoes get?")
    answer = session.ask("how often is it given?")
    assert searcher.queries[-1] == "How often do the tomatoes get seaweed fertiliser?"
    assert answer.query == searcher.queries[-1]
    condense_prompt = llm.calls[1][1]["content"]
    assert "What fertiliser do the tomatoes get?" in condense_prompt and "how often is it given?" in condense_prompt


def test_standalone_follow_up_is_not_rewritten():
    searcher = FixedSearcher(HITS)
    llm = ScriptedLLM(["Seaweed [1].", "March [2]."])
    session = ChatSession(searcher, llm, Settings())
    session.ask("What fertiliser do the tomatoes get?")
    session.ask("When are the roses in the garden pruned?")
    assert searcher.queries[-1] == "When are the roses in the garden pruned?"
    assert len(llm.calls) == 2  # no condensation call


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("and how often?", True),
        ("what about the roses?", True),
        ("Is it safe?", True),
        ("When are the roses in the garden pruned?", False),
    ],
)
def test_refers_back(question, expected):
    assert refers_back(question) is expected


def test_history_is_persisted_in_the_catalog(tmp_path):
    from localrag.store.catalog import Catalog

    catalog = Catalog.open(tmp_path / "catalog.sqlite3", create=True)
    session = ChatSession(FixedSearcher(HITS), ExtractiveLLM(), Settings(), catalog=catalog)
    session.ask("What fertiliser do the tomatoes get?")
    session.ask("and how often?")
    chat_id = session.chat_id
    assert chat_id is not None
    assert catalog.chats()[0]["title"] == "What fertiliser do the tomatoes get?"
    rows = catalog.messages(chat_id)
    assert [r["role"] for r in rows] == ["user", "assistant"] * 2
    assert rows[1]["payload"]["citations"][0]["path"] == "garden/tomatoes.md"

    resumed = ChatSession(FixedSearcher(HITS), ExtractiveLLM(), Settings(), catalog=catalog, chat_id=chat_id)
    assert [t.question for t in resumed.history] == ["What fertiliser do the tomatoes get?", "and how often?"]
    assert "fertiliser" in resumed.history[1].query


# ---- with the real SmolLM2 model ----------------------------------------------------------------


@pytest.fixture(scope="module")
def smol(smollm2_path):
    pytest.importorskip("llama_cpp")
    from localrag.generate.llama import load_llama

    return load_llama(smollm2_path, n_ctx=2048, n_threads=2, temperature=0.0)


def test_end_to_end_with_smollm2(smol):
    events = _events(ChatSession(FixedSearcher(HITS), smol, Settings()), "What fertiliser do the tomatoes get?")
    assert isinstance(events[0], Sources) and isinstance(events[-1], Done)
    assert any(isinstance(e, Token) and e.text for e in events)
    answer = events[-1].answer
    assert answer.tokens.context_window == 2048
    assert answer.tokens.prompt > 100 and answer.tokens.completion > 0
    assert answer.tokens.prompt + Settings().llm.max_tokens <= 2048
    assert answer.text
    # SmolLM2-135M is useless for answers; whichever way it went, the verdict follows the evidence
    assert answer.draft is not None
    if answer.abstained:
        assert answer.text.startswith(NOT_FOUND) and answer.abstain_reason in ABSTAIN_REASONS
    else:
        assert answer.citations and any(s.status == "supported" for s in answer.sentences)
    assert answer.sources == HITS


def test_cancel_stops_a_streaming_answer_within_half_a_second(smol):
    session = ChatSession(FixedSearcher(HITS), smol, Settings(llm={"max_tokens": 1500}))
    events: list = []
    got_token = threading.Event()
    finished = threading.Event()

    def consume():
        for e in session.ask_stream("Write a long essay about everything in these notes, at least a thousand words."):
            events.append(e)
            if isinstance(e, Token):
                got_token.set()
        finished.set()

    threading.Thread(target=consume, daemon=True).start()
    assert got_token.wait(60)
    time.sleep(0.2)
    t = time.perf_counter()
    session.cancel()
    assert finished.wait(5)
    assert time.perf_counter() - t < 0.5
    assert isinstance(events[-1], Done) and events[-1].answer.tokens.completion < 1500


def test_a_quoted_not_found_sentence_is_not_an_abstention():

    assert says_not_found("I couldn't find this in your documents.")
    assert not says_not_found('On weak evidence it says "I couldn\'t find this in your documents" [2].')


def test_sources_too_long_for_the_prompt_are_given_in_part_and_shown_whole():
    long_hits = [
        Hit(
            chunk_id=i,
            path=f"garden/long{i}.md",
            rank=i,
            score=1 / i,
            line_start=1,
            line_end=40,
            text=" ".join(f"Bed {j} of plot {i} gets compost in spring." for j in range(60)),
        )
        for i in (1, 2, 3)
    ]
    llm = ScriptedLLM(["Compost goes on in spring [1]."])
    settings = Settings.model_validate({"llm": {"max_prompt_tokens": 900}})
    answer = ChatSession(FixedSearcher(long_hits), llm, settings).ask("When do the beds get compost?")
    # the top source whole, the two below it in part
    assert answer.shortened_sources == 2 and answer.dropped_sources == 0
    assert answer.sources == long_hits  # the whole passages, for display and citations
    prompt = llm.calls[0][1]["content"]
    assert long_hits[0].text in prompt
    assert all(f"plot {i}" in prompt for i in (1, 2, 3)) and "…" in prompt
    assert answer.tokens.prompt <= 900
    as_json = answer.to_json()
    assert as_json["shortened_sources"] == 2 and as_json["dropped_sources"] == 0


class GaugedLLM(ScriptedLLM):
    """A scripted model that also reports how likely it is to open with the not-found reply."""

    def __init__(self, replies: list[str], p_not_found: float):
        super().__init__(replies)
        self.p_not_found = p_not_found
        self.gauged: list[str] = []

    def opening_probability(self, messages, opening, cancel=None):
        self.gauged.append(opening)
        return self.p_not_found


def test_the_not_found_gate_is_off_by_default():
    llm = GaugedLLM(["The tomatoes get seaweed fertiliser."], p_not_found=0.9)
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("What fertiliser do the tomatoes get?")
    assert llm.gauged == [] and not answer.abstained


def test_a_model_likely_to_say_not_found_abstains_before_generating():
    llm = GaugedLLM(["The tomatoes get seaweed [1]."], p_not_found=0.4)
    settings = Settings.model_validate({"llm": {"max_not_found": 0.1}})
    answer = ChatSession(FixedSearcher(HITS), llm, settings).ask("What fertiliser do the tomatoes get?")
    assert llm.gauged == [NOT_FOUND]
    assert llm.replies == ["The tomatoes get seaweed [1]."]  # never asked to generate
    assert answer.abstained and answer.text.startswith(NOT_FOUND) and answer.abstain_reason == "model_declined"
    assert answer.sources == HITS and answer.citations == []  # the nearest sources are still listed
    assert answer.not_found_probability == 0.4
    assert answer.to_json()["not_found_probability"] == 0.4
    assert answer.timings_ms.first_token is not None


def test_below_the_threshold_the_model_answers_and_off_it_is_not_asked():
    llm = GaugedLLM(["The tomatoes get liquid seaweed [1]."], p_not_found=0.05)
    settings = Settings.model_validate({"llm": {"max_not_found": 0.1}})
    answer = ChatSession(FixedSearcher(HITS), llm, settings).ask("What fertiliser do the tomatoes get?")
    assert not answer.abstained and [c.n for c in answer.citations] == [1]
    assert answer.not_found_probability == 0.05
    off = GaugedLLM(["The tomatoes get liquid seaweed [1]."], p_not_found=0.9)
    answer = ChatSession(FixedSearcher(HITS), off, Settings.model_validate({"llm": {"max_not_found": 1}})).ask(
        "What fertiliser do the tomatoes get?"
    )
    assert off.gauged == [] and not answer.abstained and answer.not_found_probability is None


@pytest.mark.parametrize(
    ("reply", "denies"),
    [
        ("No [2].", True),
        ("No [1]. The sources do not mention Android phones.", True),
        ("No, the sources do not report that statins raise cholesterol [1].", True),
        ("No [1]. The source states that statins lower cholesterol by a third.", False),
        # an abbreviated genus is not a sentence end: the whole reply is one "not found"
        ("No [1]. The sources do not report that H. pylori urease has two subunits, UreA and UreB.", True),
        ("No [1]. The sources do not report a rise. They report that rates declined in Finland.", False),
        ("No, roses are pruned in March, not in May [2].", False),
        ("Yes [1].", False),
        ("Notes are kept in the index [1].", False),
    ],
)
def test_a_no_that_only_says_nothing_was_found_is_a_not_found_reply(reply, denies):
    assert denies_for_lack_of_evidence(reply) is denies


def test_no_for_lack_of_evidence_abstains_and_cites_nothing():
    llm = ScriptedLLM(["No [1]. The sources do not mention a warranty."])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("Is there a warranty on the tomatoes?")
    assert answer.abstained and answer.text.startswith(NOT_FOUND)
    assert answer.citations == [] and answer.sources == HITS
    contradicted = ScriptedLLM(["No. Roses are pruned in March, not in May."])
    answer = ChatSession(FixedSearcher(HITS), contradicted, Settings()).ask("Are roses pruned in May?")
    assert not answer.abstained and [c.n for c in answer.citations] == [2]
    assert answer.text == "No. Roses are pruned in March, not in May [2]."


def test_attribution_reads_the_whole_passages_not_the_excerpts():
    filler = [f"Bed {i} gets compost and mulch in spring." for i in range(60)]
    far = "The plot that the family has rented from the town council since the spring the old glass greenhouse fell down is in Leeds."
    text = " ".join([*filler, far])
    hits = [
        Hit(chunk_id=1, path="garden/plot.md", rank=1, score=1.0, line_start=1, line_end=9, text=text),
        Hit(
            chunk_id=2,
            path="garden/roses.md",
            rank=2,
            score=0.5,
            line_start=1,
            line_end=1,
            text="Roses are pruned in March.",
        ),
    ]
    llm = ScriptedLLM(["The plot is in Leeds."])
    settings = Settings.model_validate({"llm": {"max_prompt_tokens": 200}})
    assert len(far.split()) > 20  # too long for the room the excerpt has left
    answer = ChatSession(FixedSearcher(hits), llm, settings).ask("When do the beds get compost and mulch?")
    assert "Leeds" not in llm.calls[0][1]["content"].split("Question:")[0]  # the single source was cut
    assert not answer.abstained and [c.n for c in answer.citations] == [1]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('The source says "threads' + " ." * 30, 'The source says "threads .'),
        ("Flags: " + "=" * 40, "Flags: ="),
        ("It repeats a word word word word word word word word word word word", "It repeats a word"),
        ("Steps [1] [2] [3] [4] [5] [6] [7] [8] [9] [10] [11]", None),
        ("indented" + " " * 40, None),
        ("Ends normally.", None),
        ("The mask is 0xFFFFFFFFFFFF", None),  # a short run is text, not a loop
    ],
)
def test_loop_start_finds_a_trailing_loop_and_nothing_else(text, kept):
    at = loop_start(text)
    assert (text[:at] if at is not None else None) == kept


def test_a_looping_reply_is_stopped_and_the_loop_left_out_of_the_answer():
    class LoopingLLM(ScriptedLLM):
        def stream(self, messages, max_tokens, stop=None, cancel=None):
            self.calls.append(messages)
            yield "The tomatoes get liquid seaweed every two weeks"
            for _ in range(500):
                self.pulled = getattr(self, "pulled", 0) + 1
                yield " ."

    llm = LoopingLLM([])
    answer = ChatSession(FixedSearcher(HITS), llm, Settings()).ask("What fertiliser do the tomatoes get?")
    assert llm.pulled < 20  # stopped as soon as the loop showed, not at max_tokens
    assert answer.draft == "The tomatoes get liquid seaweed every two weeks ."
    assert not answer.abstained and ". ." not in answer.text


class VerdictLLM(ScriptedLLM):
    """Continues the reply it is given and reports fixed opening probabilities for Yes and No."""

    continues_replies = True

    def __init__(self, replies, p_yes, p_no):
        super().__init__(replies)
        self.p = {"Yes": p_yes, "No": p_no}
        self.openings: list[str] = []

    def opening_probability(self, messages, opening, cancel=None):
        return self.p.get(opening, 0.0)

    def stream(self, messages, max_tokens, stop=None, cancel=None, opening=""):
        self.openings.append(opening)
        if opening:
            yield opening
        yield from super().stream(messages, max_tokens, stop, cancel)


@pytest.mark.parametrize(("p_yes", "p_no", "verdict"), [(0.7, 0.2, "Yes"), (0.3, 0.6, "No")])
def test_a_yes_no_reply_opens_with_the_likelier_verdict_and_goes_on_with_the_source(p_yes, p_no, verdict):
    llm = VerdictLLM([" that the tomatoes get liquid seaweed fertiliser every two weeks."], p_yes, p_no)
    settings = Settings(llm={"verdict_first": True})
    answer = ChatSession(FixedSearcher(HITS), llm, settings).ask("Do the tomatoes get seaweed?")
    assert llm.openings == [f"{verdict}. The source says"]
    assert (
        answer.draft == f"{verdict}. The source says that the tomatoes get liquid seaweed fertiliser every two weeks."
    )
    assert answer.text.endswith("[1].") and not answer.abstained


@pytest.mark.parametrize(
    ("question", "settings"),
    [
        ("What fertiliser do the tomatoes get?", Settings(llm={"verdict_first": True})),  # not yes/no
        ("Do the tomatoes get seaweed?", Settings()),  # off by default
    ],
)
def test_other_questions_and_the_setting_off_leave_the_reply_to_the_model(question, settings):
    llm = VerdictLLM(["The tomatoes get liquid seaweed fertiliser every two weeks."], 0.9, 0.1)
    ChatSession(FixedSearcher(HITS), llm, settings).ask(question)
    assert llm.openings == [""]
