"""The chat app driven through Pilot over a real index (MiniLM, FAISS, BM25, SQLite) and the
extractive backend; the stop test uses the real SmolLM2 through llama.cpp."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import DataTable, ProgressBar
from tests.tui.tui_support import answered, ask, link_cells, make_settings, smollm2_path, wait_for

from localrag.tui.app import LocalragApp
from localrag.tui.screens.index_folder import IndexFolderScreen
from localrag.tui.screens.preview import PreviewScreen
from localrag.tui.screens.skipped import SkippedScreen
from localrag.tui.widgets.sources import SourceCard

pytestmark = pytest.mark.anyio

QUESTION = "what fertiliser do the tomatoes get?"


async def test_question_gets_a_cited_answer_with_its_sources(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        view = await ask(pilot, QUESTION)
        assert "seaweed fertiliser" in view.answer.text
        assert not view.answer.abstained and not view.has_class("-abstained")
        cards = list(app.query(SourceCard))
        assert [c.n for c in cards] == list(range(1, len(view.answer.sources) + 1))
        assert cards[0].hit.path == "garden/tomatoes.md"
        cited = {c.n for c in view.answer.citations}
        assert cited and {c.n for c in cards if c.has_class("-cited")} == cited
        # each [n] in the answer is a link to source n
        assert set(link_cells(app, view)) == cited
        status = app.status_bar
        assert status.documents == 6 and status.skipped == 1 and status.retrieve_ms is not None
        assert 0 < status.tokens_used <= status.context_window


async def test_number_keys_and_citation_clicks_select_sources_and_enter_previews(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        view = await ask(pilot, QUESTION)
        await pilot.press("tab")
        assert app.focused is app.sources
        await pilot.press("2")
        assert app.sources.selected == 2
        assert [c.n for c in app.query(SourceCard) if c.has_class("-selected")] == [2]
        await pilot.press("9")  # fewer sources than 9: selection stays
        assert app.sources.selected == 2

        n, (x, y) = sorted(link_cells(app, view).items())[-1]
        await pilot.click(offset=(x, y))
        await wait_for(pilot, lambda: app.sources.selected == n, 10, f"source {n} selected by its citation")
        assert app.focused is app.sources

        await pilot.press("1", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PreviewScreen), 10, "the preview")
        preview = app.screen
        assert preview.hit is view.answer.sources[0]
        assert preview.spans, "the quoted sentence is highlighted in the chunk"
        a, b = preview.spans[0]
        assert preview.hit.text[a:b] in view.answer.text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, PreviewScreen), 10, "the preview to close")


async def test_alt_digit_selects_a_source_from_the_question_box_and_digits_still_type(app_factory):
    from textual._xterm_parser import XTermParser

    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await ask(pilot, QUESTION)
        question = app.query_one("#question")
        assert app.focused is question and len(app.sources.hits) >= 2
        await pilot.press("1", "2")  # a question may start with digits: they are typed
        assert question.value == "12" and app.sources.selected == 0
        # alt+2 as a terminal with the kitty keyboard protocol sends it (Textual asks for it)
        for key in XTermParser().feed("\x1b[50;3u"):
            app.post_message(key)
        await wait_for(pilot, lambda: app.sources.selected == 2, 10, "source 2 selected by alt+2")
        assert question.value == "12" and app.focused is question
        assert [c.n for c in app.query(SourceCard) if c.has_class("-selected")] == [2]
        await pilot.press("alt+1")
        assert app.sources.selected == 1 and app.focused is question
        await pilot.press("alt+1")  # again: the preview
        await wait_for(pilot, lambda: isinstance(app.screen, PreviewScreen), 10, "the preview")
        assert app.screen.hit is app.sources.hits[0]
        await pilot.press("alt+2")  # ignored while a dialog is open
        assert app.sources.selected == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, PreviewScreen), 10, "the preview to close")
        assert app.focused is question and question.value == "12"


async def test_an_answer_not_in_the_documents_is_marked_and_keeps_its_sources(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        view = await ask(pilot, "zebra quasar xylophone?")
        assert view.answer.abstained
        assert view.has_class("-abstained") and view.border_title == "No answer"
        assert view.answer.sources and len(list(app.query(SourceCard))) == len(view.answer.sources)
        assert app.sources.query(".sources-note")


async def test_new_chat_history_recall_and_reopening_a_past_chat(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await ask(pilot, "how often is the compost turned?")
        chat_id = app.session.chat_id
        assert chat_id is not None
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: not app.transcript.answers, 10, "an empty transcript")
        assert not app.sources.hits

        await pilot.press("up")
        assert app.query_one("#question").value == "how often is the compost turned?"
        await pilot.press("down")
        assert app.query_one("#question").value == ""

        await app.open_chat(chat_id)
        await wait_for(pilot, lambda: len(app.transcript.answers) == 1, 10, "the past chat")
        assert "Sunday" in app.transcript.answers[0].answer.text
        assert app.sources.hits
        await wait_for(pilot, lambda: app.session is not None and app.session.chat_id == chat_id, 60, "the session")


async def test_copy_last_answer(app_factory):
    app = app_factory()
    copied: list[str] = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(120, 36)) as pilot:
        view = await ask(pilot, QUESTION)
        await pilot.press("ctrl+y")
        assert copied and copied[0].startswith(view.answer.text)
        assert "[1] garden/tomatoes.md" in copied[0]


async def test_skipped_files_screen_from_the_command_palette(app_factory):
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"skipped files")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SkippedScreen), 10, "the skipped files screen")
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        assert table.get_row_at(0)[0] == "photo.png"
        assert table.get_row_at(0)[1]  # a reason is given


async def test_empty_index_first_run_then_reindex_with_progress(tmp_path, folder):
    app = LocalragApp(make_settings(tmp_path / "index"), folder=folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, IndexFolderScreen), 10, "the offer to index")
        assert app.screen.query_one("#folder-input").value == str(folder)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.indexing and app.status_bar.documents, 180, "indexing to finish")
        bar = app.query_one("#index-bar", ProgressBar)
        assert bar.total == 7 and bar.progress == 7  # 6 notes + the skipped image
        assert app.status_bar.documents == 6 and app.status_bar.skipped == 1

        (folder / "bikes.md").write_text("# Bikes\n\nThe bike chain is oiled every month with dry lube.\n")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not app.indexing and app.status_bar.documents == 7, 180, "re-indexing to finish")
        assert bar.total == 8 and bar.progress == 8
        assert not app.query_one("#index-progress").display
        assert app.status_bar.documents == 7
        view = await ask(pilot, "how often is the bike chain oiled?")
        assert view.answer.sources[0].path == "bikes.md"


LONG_QUESTION = "Describe everything about the tomatoes, the compost and the boiler in detail."


@pytest.mark.slow
async def test_escape_stops_a_generation_and_quitting_mid_answer_is_clean(indexed):
    gguf = smollm2_path()
    if gguf is None:
        pytest.skip("SmolLM2 GGUF not installed")
    pytest.importorskip("llama_cpp")
    settings = make_settings(
        indexed[0],
        **{
            "llm.backend": "llama-cpp",
            "llm.model": str(gguf),
            "llm.max_tokens": 400,
            "llm.n_ctx": 2048,
            "llm.temperature": 0.0,
        },
    )
    app = LocalragApp(settings)
    async with app.run_test(size=(120, 36)) as pilot:
        app.query_one("#question").value = LONG_QUESTION
        await pilot.press("enter")
        view = app.transcript.answers[-1]
        await wait_for(pilot, lambda: len(view.markdown.source) > 0, 240, "the first tokens")
        await pilot.press("escape")
        await wait_for(pilot, lambda: answered(app), 30, "the stopped answer")
        assert view.stopped and view.has_class("-stopped")
        assert view.answer.tokens.completion < 400

        await pilot.press("ctrl+n")  # a fresh chat: the same long question, no follow-up rewriting
        app.query_one("#question").value = LONG_QUESTION
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.generating is not None and len(app.generating.markdown.source) > 0,
            240,
            "the second answer to stream",
        )
        await pilot.press("ctrl+q")
    assert app.return_code == 0
    assert app.session._cancel.is_set()


async def test_o_opens_the_selected_source_in_the_editor_at_its_line(app_factory, tmp_path, monkeypatch):
    # a stand-in for VS Code ("code -g PATH:LINE", no terminal needed) that records its arguments
    editor = tmp_path / "code"
    record = tmp_path / "args.txt"
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)  # it would take precedence
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        view = await ask(pilot, QUESTION)
        await pilot.press("tab", "1", "o")
        hit = view.answer.sources[0]
        await wait_for(pilot, lambda: record.is_file() and record.read_text(), 20, "the editor to run")
    root = app.index.status().root
    assert record.read_text().split("\n")[:2] == ["-g", f"{Path(root).resolve() / hit.path}:{hit.line_start}"]


async def test_closing_a_preview_gives_the_keyboard_back_to_the_question(app_factory):
    from localrag.tui.widgets.question_input import QuestionInput

    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await ask(pilot, QUESTION)
        await pilot.press("tab", "1", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PreviewScreen), 10, "the preview")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, PreviewScreen), 10, "the preview to close")
        question = app.query_one(QuestionInput)
        assert app.focused is question
        await pilot.press("w", "h", "y")  # typed text lands in the question box, not in the sources pane
        assert question.value == "why"


async def test_o_without_an_editor_or_opener_says_what_to_set(app_factory, tmp_path, monkeypatch):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no xdg-open to be found
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await ask(pilot, QUESTION)
        await pilot.press("tab", "1", "o")
        await wait_for(pilot, lambda: list(app._notifications), 10, "a notification")
        messages = [n.message for n in app._notifications]
        assert any("set $VISUAL or $EDITOR" in m for m in messages), messages
        assert not any("Errno" in m for m in messages), messages


async def test_status_bar_says_rerank_off_when_no_cross_encoder_is_installed(app_factory):
    app = app_factory(**{"retrieval.rerank": True, "retrieval.reranker": "ms-marco-MiniLM-L-6-v2"})
    async with app.run_test(size=(160, 36)) as pilot:
        assert app.status_bar.rerank == "missing"
        await ask(pilot, QUESTION)  # models loaded: still none
        assert app.status_bar.rerank == "missing"
        text = str(app.status_bar.render())
        assert "rerank on" not in text and "no cross-encoder installed" in text


async def test_status_bar_says_rerank_on_with_a_cross_encoder(app_factory, tiny_reranker):
    app = app_factory(
        **{
            "retrieval.rerank": True,
            "retrieval.reranker": str(tiny_reranker),
            "retrieval.rerank_backend": "torch",
            "retrieval.rerank_precision": "fp32",
        }
    )
    async with app.run_test(size=(160, 36)) as pilot:
        assert app.status_bar.rerank == "on"
        await ask(pilot, QUESTION)
        assert app.status_bar.rerank == "on" and "rerank on" in str(app.status_bar.render())


async def test_status_bar_says_whether_the_llm_runs_on_the_cpu_or_the_gpu(app_factory):
    path = smollm2_path()
    if path is None:
        pytest.skip("no SmolLM2 GGUF")
    from localrag.generate.llama import gpu_offload_supported

    app = app_factory(**{"llm.backend": "llama-cpp", "llm.model": str(path), "llm.n_ctx": 1024})
    async with app.run_test(size=(160, 36)) as pilot:
        await wait_for(pilot, lambda: app.status_bar.device != "", 120, "the LLM to load")
        where = "GPU" if gpu_offload_supported() else "CPU"
        assert app.status_bar.device == where
        assert f"{path.stem} on {where}" in str(app.status_bar.render())


async def test_status_bar_names_no_device_for_extractive_answers(app_factory):
    app = app_factory()
    async with app.run_test(size=(160, 36)) as pilot:
        await wait_for(pilot, lambda: app.session is not None and app.status_bar.busy == "", 120, "the models")
        assert app.status_bar.device == "" and " on CPU" not in str(app.status_bar.render())


async def test_bindings_are_greyed_out_and_refused_while_answering(app_factory, monkeypatch):
    """One busy state: while an answer streams, ctrl+n and ctrl+r are shown disabled and do nothing
    (the chat is kept), Esc stays live; the command palette's "New chat" is refused with a notice."""
    from textual.widgets._footer import FooterKey

    from localrag.tui.app import Busy

    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await ask(pilot, QUESTION)
        release = threading.Event()
        session = app.session
        real = session.ask_stream

        def held(question, **filters):  # the next answer waits until the test lets it go
            release.wait(60)
            yield from real(question, **filters)

        monkeypatch.setattr(session, "ask_stream", held)
        notices: list[str] = []
        monkeypatch.setattr(app, "notify", lambda message, **kw: notices.append(message))
        app.query_one("#question").value = "how often is the bike chain oiled?"
        await pilot.press("enter")
        await pilot.pause()
        try:
            assert app.busy is Busy.ANSWERING and app.status_bar.busy == "answering… (Esc stops)"
            assert app.check_action("new_chat", ()) is None and app.check_action("reindex", ()) is None
            assert app.check_action("stop", ()) is True
            keys = {k.action: k for k in app.query(FooterKey)}
            assert keys["new_chat"].has_class("-disabled") and keys["reindex"].has_class("-disabled")
            assert not keys["stop"].has_class("-disabled")
            await pilot.press("ctrl+n")
            await pilot.pause()
            assert len(app.transcript.answers) == 2  # not cleared
            await app.action_new_chat()  # as the command palette calls it
            assert len(app.transcript.answers) == 2
            assert notices == ["Still answering: press Esc to stop it first."]
        finally:
            release.set()
        await wait_for(pilot, lambda: answered(app), 60, "the held answer")
        assert app.busy is Busy.IDLE and app.status_bar.busy == ""
        keys = {k.action: k for k in app.query(FooterKey)}
        assert not keys["new_chat"].has_class("-disabled")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: not app.transcript.answers, 10, "the new chat")
