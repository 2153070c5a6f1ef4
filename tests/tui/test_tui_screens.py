"""Each modal and pane of the chat app on its own: mounted in a bare host App (the app's stylesheet,
nothing else of LocalragApp) and driven through Pilot, with real Textual widgets throughout."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterable
from typing import Any, TypeVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Markdown, OptionList, ProgressBar, Static

import localrag.tui
from localrag import index_events as ev
from localrag.reports import IndexStatus
from localrag.tui.messages import OpenSource, PreviewSource
from localrag.tui.screens.choice import ChoiceScreen
from localrag.tui.screens.help import HelpScreen
from localrag.tui.screens.index_folder import IndexFolderScreen
from localrag.tui.screens.preview import PreviewScreen
from localrag.tui.screens.skipped import SkippedScreen
from localrag.tui.widgets.index_progress import IndexProgress
from localrag.tui.widgets.question_input import QuestionInput
from localrag.tui.widgets.sources import SourceCard, SourcesPane
from localrag.tui.widgets.status_bar import StatusBar
from localrag.types import Hit

pytestmark = pytest.mark.anyio

SIZE = (100, 30)
TOMATOES = Hit(
    chunk_id=7, path="garden/tomatoes.md", line_start=3, line_end=5, heading=("Garden", "Tomatoes"),
    text="Tomatoes get seaweed fertiliser every two weeks.\nWater them in the morning.", matched_terms=["fertiliser"],
)  # fmt: skip
PEPPERS = Hit(chunk_id=8, path="garden/peppers.md", line_start=1, line_end=2, text="Peppers like warmth.")


class Host(App[None]):
    """A bare app: one input that holds the focus, the chat app's stylesheet, and a record of what
    the mounted components sent up (messages) and what the modals returned (results)."""

    CSS_PATH = str(Path(localrag.tui.__file__).parent / "app.tcss")

    def __init__(self, *widgets: Any) -> None:
        super().__init__()
        self.widgets = widgets
        self.results: list[Any] = []
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield Input(id="behind")
        yield from self.widgets

    def on_mount(self) -> None:
        self.query_one("#behind").focus()

    def open(self, screen: ModalScreen[Any]) -> None:
        self.push_screen(screen, self.results.append)

    def on_open_source(self, message: OpenSource) -> None:
        self.messages.append(message)

    def on_preview_source(self, message: PreviewSource) -> None:
        self.messages.append(message)


def text_of(widget: Static) -> str:
    return str(widget.content)


Shown = TypeVar("Shown", bound=ModalScreen[Any])


async def opened(pilot: Any, screen: Shown) -> Shown:
    """Push `screen` over the host and wait until it is the one shown."""
    pilot.app.open(screen)
    await pilot.pause()
    assert pilot.app.screen is screen
    return screen


# ---------------------------------------------------------------- modals


async def test_preview_shows_path_lines_heading_and_passage_and_escape_gives_the_focus_back():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        answer = "The tomatoes get seaweed fertiliser every two weeks [1]."
        screen = await opened(pilot, PreviewScreen(TOMATOES, 1, answer))
        box = screen.query_one("#preview-box")
        assert box.border_title == "[1] garden/tomatoes.md" and box.border_subtitle == "lines 3-5"
        assert text_of(screen.query_one("#preview-heading", Static)) == "Garden > Tomatoes"
        assert text_of(screen.query_one("#preview-text", Static)) == TOMATOES.text
        assert text_of(screen.query_one("#preview-note", Static)).startswith("highlighted")
        a, b = screen.spans[0]
        assert "seaweed fertiliser every two weeks" in TOMATOES.text[a:b]

        await pilot.press("o")
        [message] = app.messages
        assert isinstance(message, OpenSource) and message.hit is TOMATOES
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and app.results == [None]
        assert app.focused is app.query_one("#behind")


async def test_preview_of_a_source_the_answer_does_not_quote_and_q_closes_it():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, PreviewScreen(PEPPERS, 2))
        assert screen.spans == [] and not screen.query("#preview-heading")  # no heading in this chunk
        assert text_of(screen.query_one("#preview-note", Static)) == "the answer quotes no exact passage of this source"
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, PreviewScreen) and app.results == [None]


async def test_help_lists_the_described_bindings_and_closes_on_f1_escape_or_q():
    sections: list[tuple[str, Iterable[BindingType]]] = [("Chat", [Binding("ctrl+n", "new", "New chat"), Binding("ctrl+z", "hidden", ""),
                          Binding("1", "pick", "Source", key_display="1-9")])]  # fmt: skip
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        for key in ("f1", "escape", "q"):
            screen = await opened(pilot, HelpScreen(sections))
            source = screen.query_one(Markdown).source
            assert "# localrag chat" in source and "## Chat" in source
            assert "| `ctrl+n` | New chat |" in source and "| `1-9` | Source |" in source
            assert "ctrl+z" not in source  # a binding without a description is not listed
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen), key
        assert app.results == [None, None, None]


async def test_choice_starts_on_the_current_value_and_enter_returns_the_highlighted_one():
    choices = [("one", 1), ("two", 2), ("three", 3)]
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, ChoiceScreen[int]("Pick k", choices, current=2))
        options = screen.query_one(OptionList)
        assert screen.query_one("#choice-box").border_title == "Pick k"
        assert app.focused is options and options.highlighted == 1
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.results == [3]

        await opened(pilot, ChoiceScreen("Pick k", choices))
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [3, None] and app.focused is app.query_one("#behind")


async def test_choice_with_nothing_to_choose_says_so():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, ChoiceScreen[int]("Past chats", [], empty="No past chats yet."))
        assert text_of(screen.query_one("#choice-empty", Static)) == "No past chats yet."
        assert screen.query_one(OptionList).option_count == 0
        await pilot.press("enter", "escape")
        await pilot.pause()
        assert app.results == [None]


async def test_index_folder_refuses_what_is_not_a_folder_and_returns_the_one_typed(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, IndexFolderScreen(message="Index a folder now?"))
        field = screen.query_one("#folder-input", Input)
        error = screen.query_one("#folder-error", Static)
        assert app.focused is field and text_of(screen.query_one("#folder-message", Static)) == "Index a folder now?"
        await pilot.press("enter")
        assert text_of(error) == "type a folder path" and app.screen is screen
        field.value = str(tmp_path / "nope")
        await pilot.press("enter")
        assert text_of(error) == f"not a folder: {tmp_path / 'nope'}" and app.screen is screen
        field.value = str(folder)
        await pilot.click("#folder-index")
        await pilot.pause()
        assert app.results == [folder.resolve()] and app.screen is app.screen_stack[0]


async def test_index_folder_not_now_and_escape_return_none(tmp_path):
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, IndexFolderScreen(tmp_path))
        assert screen.query_one("#folder-input", Input).value == str(tmp_path)  # offered, not yet chosen
        assert isinstance(screen.query_one("#folder-cancel"), Button)
        await pilot.click("#folder-cancel")
        await pilot.pause()
        await opened(pilot, IndexFolderScreen())
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None, None]


async def test_skipped_lists_each_file_with_its_reason():
    skipped = [{"path": "photo.png", "reason": "image: needs OCR"}, {"path": "big.bin", "reason": "binary"}]
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot, SkippedScreen(skipped))
        table = screen.query_one(DataTable)
        assert screen.query_one("#skipped-box").border_title == "Skipped files (2)"
        assert [table.get_row_at(i) for i in range(table.row_count)] == [
            ["photo.png", "image: needs OCR"],
            ["big.bin", "binary"],
        ]
        assert not screen.query("#skipped-empty")
        await pilot.press("q")
        await pilot.pause()
        screen = await opened(pilot, SkippedScreen([]))
        assert text_of(screen.query_one("#skipped-empty", Static)) == "No files were skipped."
        assert screen.query_one(DataTable).row_count == 0
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None, None]


# ---------------------------------------------------------------- panes


async def test_sources_pane_numbers_marks_selects_previews_and_opens():
    pane = SourcesPane(id="sources")
    app = Host(pane)
    async with app.run_test(size=SIZE) as pilot:
        await pane.show([TOMATOES, PEPPERS], cited={1}, query="tomato feed")
        cards = list(app.query(SourceCard))
        assert [(c.n, c.hit, c.has_class("-cited")) for c in cards] == [(1, TOMATOES, True), (2, PEPPERS, False)]
        assert pane.border_subtitle == "searched: tomato feed" and pane.selected == 0
        first = str(cards[0].content).splitlines()
        assert first[0] == "[1] garden/tomatoes.md" and first[1].startswith("lines 3-5 · score")

        pane.focus()
        await pilot.press("2")
        assert pane.selected == 2 and pane.selected_hit is PEPPERS
        assert [c.n for c in cards if c.has_class("-selected")] == [2]
        await pilot.press("9")  # there is no source 9: the selection stays
        await pilot.press("up")
        assert pane.selected == 1
        await pilot.press("enter", "o")
        await pilot.pause()
        preview, open_ = app.messages
        assert isinstance(preview, PreviewSource) and (preview.hit, preview.n) == (TOMATOES, 1)
        assert isinstance(open_, OpenSource) and open_.hit is TOMATOES

        await pilot.click(cards[1])  # a click selects; a second click on the selected card previews
        assert pane.selected == 2 and len(app.messages) == 2
        await pilot.click(cards[1])
        await pilot.pause()
        assert isinstance(app.messages[-1], PreviewSource) and app.messages[-1].n == 2


async def test_sources_pane_and_preview_name_the_place_in_the_format_s_own_terms():
    """A scanned page, a slide's notes and a sheet's rows are shown as 'page 3 (OCR)', 'slide 2,
    notes' and 'sheet Budget, rows 2-40' (the chunk's locator), not as line numbers."""
    scan = Hit(chunk_id=9, path="scans/rules.pdf", page=3, locator="page 3 (OCR)", text="Bonfires are banned.")
    notes = Hit(chunk_id=10, path="deck.pptx", locator="slide 2, notes", heading=("Glass budget",), text="Ask Leeds.")
    rows = Hit(chunk_id=11, path="budget.xlsx", locator="sheet Budget, rows 2-40", text="Item | Cost\nSeeds | 7.25")
    pane = SourcesPane(id="sources")
    app = Host(pane)
    async with app.run_test(size=SIZE) as pilot:
        await pane.show([scan, notes, rows], cited={1})
        seconds = [str(c.content).splitlines()[1] for c in app.query(SourceCard)]
        assert seconds[0].startswith("page 3 (OCR) · score")
        assert seconds[1].startswith("slide 2, notes · score") and seconds[1].endswith("· Glass budget")
        assert seconds[2].startswith("sheet Budget, rows 2-40 · score")
        screen = await opened(pilot, PreviewScreen(scan, 1))
        assert "page 3 (OCR)" in str(screen.query_one("#preview-box").border_subtitle)


async def test_sources_pane_without_sources_and_for_an_abstained_answer():
    pane = SourcesPane()
    app = Host(pane)
    async with app.run_test(size=SIZE) as pilot:
        await pane.show([])
        notes = [text_of(s) for s in pane.query(".sources-note").results(Static)]
        assert notes == ["No sources."] and pane.border_subtitle == ""
        await pane.show([PEPPERS], abstained=True, notices=["reranking is off"])
        assert [text_of(s) for s in pane.query(".sources-note").results(Static)] == [
            "No answer in your documents; the nearest passages:"
        ]
        assert [text_of(s) for s in pane.query(".sources-notice").results(Static)] == ["reranking is off"]
        pane.focus()
        await pilot.press("enter")  # nothing selected: Enter previews the first source
        await pilot.pause()
        assert pane.selected == 1 and isinstance(app.messages[-1], PreviewSource) and app.messages[-1].hit is PEPPERS


async def test_index_progress_follows_the_indexer_events():
    progress = IndexProgress()
    app = Host(progress)
    async with app.run_test(size=SIZE) as pilot:
        bar = progress.query_one(ProgressBar)
        label = progress.query_one("#index-label", Static)
        chunks = progress.query_one("#index-chunks", Static)
        progress.start("notes")
        assert progress.display and text_of(label) == "indexing notes"
        progress.apply_event(ev.Scan(files=4, skipped=1))
        assert bar.total == 4 and bar.progress == 0
        path = "a/very/long/path/to/some/deeply/nested/file.md"
        progress.apply_event(ev.File(path=path, action="added", done=2, total=4))
        assert bar.progress == 2 and text_of(label) == "…" + path[-27:]  # long paths keep their end
        progress.apply_event(ev.Embed(done=10, batch=16))
        assert text_of(chunks) == "10 chunks embedded" and progress.chunks == 10
        progress.apply_event(ev.Ocr(path="scan.pdf", done=3, seconds=6.0))
        assert text_of(chunks) == "3 pages read by OCR, 0.50 pages/s"
        progress.apply_event(ev.Build(chunks=10))
        assert text_of(label) == "building search indexes"
        progress.stop()
        await pilot.pause()
        assert not progress.display


async def test_status_bar_shows_the_index_the_context_and_the_timings():
    bar = StatusBar()
    app = Host(bar)
    async with app.run_test(size=(160, 10)):
        status = IndexStatus(
            index="idx", root="/home/me/notes", documents=6, chunks=12, skipped=[{"path": "photo.png", "reason": "image"}],
            notes=[], generation=1, embedder={}, vector_dtype=None, dense={}, keyword={}, indexed_at=None,
            disk_bytes=0, health={},
        )  # fmt: skip
        bar.set_index(status, "/home/me/notes")
        bar.model, bar.device = "smollm2", "CPU"
        line = str(bar.render())
        assert line.startswith("▣ notes 6 docs · 12 chunks · 1 skipped │ smollm2 on CPU · rerank off"), line
        bar.set_answer(tokens_used=1200, context_window=32768, retrieve_ms=35.0, first_token_ms=1500.0)
        bar.busy = "answering"
        line = str(bar.render())
        assert "ctx 1,200/33k" in line and "retrieve 35 ms · 1st token 1.5 s" in line and line.endswith("answering")
        bar.set_index(status, None)
        assert bar.folder == "no folder"


async def test_question_input_recalls_earlier_questions_and_returns_to_the_draft():
    box = QuestionInput(id="question")
    app = Host(box)
    async with app.run_test(size=SIZE) as pilot:
        box.history.add("first?")
        box.history.add("second?")
        box.focus()
        await pilot.press("d", "r")
        await pilot.press("up")
        assert box.value == "second?" and box.cursor_position == len("second?")
        await pilot.press("up", "up")
        assert box.value == "first?"
        await pilot.press("down", "down")
        assert box.value == "dr"
