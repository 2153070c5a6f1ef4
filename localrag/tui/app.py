"""The chat app: a transcript with streamed, cited answers beside the sources they came from.

All model work (loading, retrieval, generation, indexing) runs in thread workers; the UI thread
only lays out what they report through `call_from_thread`.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Literal

from textual import on, work
from textual.worker import get_current_worker
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Input

from localrag.chat import ChatSession, Done, Sources, Token
from localrag.config import Settings
from localrag.errors import LocalragError
from localrag.index import Index
from localrag.index_events import IndexEvent
from localrag.reports import IndexReport, IndexStatus
from localrag.tui.messages import OpenSource, PreviewSource
from localrag.tui.opener import OPENER_HINT, OpenError, open_command, source_file
from localrag.tui.past_chats import answers_from_messages
from localrag.tui.screens.choice import ChoiceScreen
from localrag.tui.screens.help import HelpScreen
from localrag.tui.screens.index_folder import IndexFolderScreen
from localrag.tui.screens.preview import PreviewScreen
from localrag.tui.screens.skipped import SkippedScreen
from localrag.tui.widgets.index_progress import IndexProgress
from localrag.tui.widgets.question_input import QuestionInput
from localrag.tui.widgets.sources import SourcesPane
from localrag.tui.widgets.status_bar import StatusBar
from localrag.tui.widgets.transcript import AnswerView, Transcript
from localrag.types import Answer

K_CHOICES = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)
ModelChoice = tuple[Literal["llama-cpp", "none"], str | None]  # (llm.backend, llm.model)


class Busy(Enum):
    """What the app is doing; its value is what the status bar says meanwhile."""

    IDLE = ""
    LOADING = "loading models…"
    ANSWERING = "answering… (Esc stops)"
    STOPPING = "stopping…"
    INDEXING = "indexing…"
    QUITTING = "quitting"  # final: the workers report nothing more


# What each state refuses (action names; "ask" is submitting a question) and the notice it gives
# when asked anyway by something other than a key (a key binding is greyed out in the footer instead).
Notice = tuple[str, SeverityLevel] | None
STILL_ANSWERING: Notice = ("Still answering: press Esc to stop it first.", "warning")
REFUSED: dict[Busy, dict[str, Notice]] = {
    Busy.ANSWERING: {"ask": STILL_ANSWERING, "new_chat": STILL_ANSWERING, "open_chat": STILL_ANSWERING,
                     "reindex": STILL_ANSWERING, "switch_model": None},
    Busy.INDEXING: {"ask": ("Indexing is running: ask again when it is done.", "warning"),
                    "reindex": ("Indexing is already running.", "information")},
}  # fmt: skip
REFUSED[Busy.STOPPING] = REFUSED[Busy.ANSWERING]


class LocalragApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "localrag"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        # Short descriptions: the footer shows all of these within 80 columns.
        Binding("ctrl+n", "new_chat", "New chat"),
        Binding("escape", "stop", "Stop"),
        # alt, not bare digits: a question may start with a digit. Terminals with the kitty keyboard
        # protocol report alt+1; legacy ones send ESC 1, which Textual reads as macOS Option+1 ("¡").
        Binding("alt+1", "source(1)", "Source", key_display="alt+1-9"),
        *(Binding(f"alt+{n}", f"source({n})", show=False) for n in range(2, 10)),
        Binding("ctrl+y", "copy_answer", "Copy"),
        Binding("ctrl+r", "reindex", "Reindex"),
        Binding("f1", "help", "Help"),
    ]

    def __init__(self, settings: Settings, folder: Path | None = None, index: Index | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.folder = folder
        self.index = index or Index.open(None, settings, create=True)
        self.session: ChatSession | None = None
        self.busy = Busy.IDLE
        self.generating: AnswerView | None = None  # the answer being written while ANSWERING / STOPPING
        self.selected_view: AnswerView | None = None
        self._models_lock = threading.Lock()  # Index loads models lazily; one thread at a time

    # ---------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield IndexProgress(id="index-progress")
        with Container(id="main"):
            with Vertical(id="chat"):
                yield Transcript(id="transcript")
                yield QuestionInput(id="question")
            yield SourcesPane(id="sources")
        yield StatusBar(id="status")
        yield Footer()

    # ---------------------------------------------------------------- what the app is doing
    @property
    def indexing(self) -> bool:
        return self.busy is Busy.INDEXING

    @property
    def stop_requested(self) -> bool:
        return self.busy is Busy.STOPPING

    def set_busy(self, busy: Busy, only_from: Busy | None = None) -> None:
        """Enter `busy` (when `only_from` is given, only from that state), show it in the status bar and
        footer. QUITTING is final."""
        if self.busy is Busy.QUITTING or (only_from is not None and self.busy is not only_from):
            return
        self.busy = busy
        if busy is not Busy.QUITTING:
            self.status_bar.busy = busy.value
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Bindings the current state refuses are shown greyed out in the footer and do nothing."""
        return None if action in REFUSED.get(self.busy, {}) else True

    def refused(self, action: str) -> bool:
        """True, after saying why, when the current state refuses `action` (for callers that are not
        bindings: the question box, the command palette, dialogs' callbacks)."""
        refusals = REFUSED.get(self.busy, {})
        if action not in refusals:
            return False
        notice = refusals[action]
        if notice is not None:
            self.notify(notice[0], severity=notice[1])
        return True

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def sources(self) -> SourcesPane:
        return self.query_one(SourcesPane)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.query_one(IndexProgress).display = False
        self.status_bar.model = self.model_label()
        self.show_rerank()
        info = self.refresh_status()
        self.query_one(QuestionInput).focus()
        if info.documents == 0:
            message = (
                f"This index is empty. Index {self.folder} now?"
                if self.folder
                else "This index is empty. Which folder should it index?"
            )
            self.push_screen(IndexFolderScreen(self.folder, message), self.start_indexing)
        else:
            self.load_models()

    def model_label(self) -> str:
        llm = self.settings.llm
        if llm.backend == "none":
            return "extractive"
        if llm.backend == "openai":
            return f"{llm.api_model or 'server'} @ {llm.base_url}"
        return Path(llm.model).stem if llm.model.endswith(".gguf") else llm.model

    def index_root(self) -> str | None:
        return self.index.status().root or (str(self.folder) if self.folder else None)

    def refresh_status(self) -> IndexStatus:
        info = self.index.status()
        self.status_bar.set_index(info, info.root or self.folder)
        return info

    def _ui(self, callback: Callable, *args) -> bool:
        """Run `callback` on the UI thread from a worker; False (and nothing run) once the app is
        closing, so a worker finishing late never touches widgets that are being torn down."""
        if self.busy is Busy.QUITTING or get_current_worker().is_cancelled:
            return False
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:  # the event loop has already stopped
            return False
        return True

    # ---------------------------------------------------------------- models
    def chat_session(self):
        """The current ChatSession, created (and the models loaded) on first use. Worker threads only."""
        with self._models_lock:
            if self.session is None:
                self.session = self.index.chat()
            return self.session

    @work(thread=True, group="models", exclusive=True)
    def load_models(self, chat_id: int | None = None) -> None:
        """Load the embedder, reranker and LLM ahead of the first question."""
        self._ui(self.set_busy, Busy.LOADING, Busy.IDLE)
        try:
            with self._models_lock:
                if chat_id is not None:
                    self.session = self.index.chat(chat_id)
                elif self.session is None:
                    self.session = self.index.chat()
                rerank = self.settings.retrieval.rerank and self.index.searcher.reranker is not None
                name = self.session.llm.name or self.model_label()
            self._ui(self.models_loaded, rerank, name if self.settings.llm.backend != "none" else self.model_label())
            self._ui(setattr, self.status_bar, "device", self.llm_device())
        except LocalragError as e:
            self._ui(self.report_error, str(e))

    def models_loaded(self, rerank: bool, name: str) -> None:
        self.set_busy(Busy.IDLE, only_from=Busy.LOADING)
        self.show_rerank(rerank)
        self.status_bar.model = name

    def llm_device(self) -> str:
        """CPU or GPU: where the in-process LLM runs now ("" for the extractive and server backends)."""
        llm = self.session.llm if self.session is not None else None
        return str(getattr(llm, "device", ""))

    def show_rerank(self, loaded: bool | None = None) -> None:
        """Reranking as it will happen: on, off, or on but no cross-encoder installed. `loaded`:
        whether the searcher holds one (known once models are loaded); before that, whether one resolves."""
        wanted = self.settings.retrieval.rerank
        if loaded is None and wanted:
            from localrag.models import resolve_model_path

            try:
                resolve_model_path(self.settings, "reranker", self.settings.retrieval.reranker)
                loaded = True
            except LocalragError:
                loaded = False
        self.status_bar.rerank = "on" if wanted and loaded else "missing" if wanted else "off"

    def report_error(self, message: str) -> None:
        self.set_busy(Busy.IDLE, only_from=Busy.LOADING)
        self.notify(message, title="localrag", severity="error", timeout=10)

    def forget_models(self, *names: str) -> None:
        """Drop models the Index loaded lazily (cached properties) so the next use reloads them
        with the current settings; the session is rebuilt around them, keeping its chat."""
        with self._models_lock:
            self.index.reload_models(*names)
            chat_id = self.session.chat_id if self.session is not None else None
            self.session = None
        self.load_models(chat_id)

    # ---------------------------------------------------------------- asking
    @on(Input.Submitted, "#question")
    async def submit_question(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        if self.refused("ask"):
            return
        assert isinstance(event.input, QuestionInput)  # the handler is for #question
        event.input.history.add(question)
        event.input.value = ""
        await self.transcript.add_question(question)
        view = await self.transcript.add_answer(question)
        self.generating = view
        self.set_busy(Busy.ANSWERING)
        self.ask(question, view)

    @work(thread=True, group="ask")
    def ask(self, question: str, view: AnswerView) -> None:
        try:
            session = self.chat_session()
            for event in session.ask_stream(question):
                ok = True
                if isinstance(event, Token):
                    ok = self._ui(view.write, event.text)
                elif isinstance(event, Sources):
                    ok = self._ui(self.sources_found, view, event)
                elif isinstance(event, Done):
                    ok = self._ui(self.answer_done, view, event.answer)
                if not ok:
                    session.cancel()
                    return
        except LocalragError as e:
            self._ui(self.answer_failed, view, str(e))
        except Exception as e:  # an unexpected failure still ends the answer, with its name
            self._ui(self.answer_failed, view, f"unexpected error: {type(e).__name__}: {e}")
            raise

    async def sources_found(self, view: AnswerView, event: Sources) -> None:
        view.set_sources(event.hits, event.query, event.notices)
        await self.select_answer(view)

    async def answer_done(self, view: AnswerView, answer: Answer) -> None:
        await view.finish(answer, stopped=self.stop_requested)
        self.generating = None
        self.set_busy(Busy.IDLE)
        self.status_bar.set_answer(
            answer.tokens.prompt + answer.tokens.completion,
            answer.tokens.context_window,
            answer.timings_ms.retrieve,
            answer.timings_ms.first_token,
        )
        await self.select_answer(view, force=True)

    def answer_failed(self, view: AnswerView, message: str) -> None:
        view.fail(message)
        self.generating = None
        self.set_busy(Busy.IDLE)
        self.status_bar.device = self.llm_device()  # a GPU failure moves the model to the CPU

    def action_stop(self) -> None:
        if self.generating is not None and self.session is not None:
            self.session.cancel()
            self.set_busy(Busy.STOPPING)

    # ---------------------------------------------------------------- answers and sources
    async def select_answer(self, view: AnswerView, force: bool = False) -> None:
        if view is self.selected_view and not force:
            return
        for other in self.transcript.answers:
            other.set_class(other is view, "-selected")
        self.selected_view = view
        answer = view.answer
        await self.sources.show(
            view.hits,
            cited={c.n for c in answer.citations} if answer else set(),
            notices=view.notices,
            query=view.search_query if view.search_query != view.question else None,
            abstained=bool(answer and answer.abstained),
        )

    async def on_answer_view_selected(self, message: AnswerView.Selected) -> None:
        await self.select_answer(message.view)

    async def on_answer_view_citation_clicked(self, message: AnswerView.CitationClicked) -> None:
        await self.select_answer(message.view)
        self.sources.action_select(message.n)
        self.sources.focus()

    def action_source(self, n: int) -> None:
        """alt+n, wherever the focus is: select source n of the shown answer; again: preview it."""
        if self.screen is not self.screen_stack[0]:
            return  # a dialog is open
        if n == self.sources.selected:
            self.sources.action_preview()
        else:
            self.sources.action_select(n)

    def on_preview_source(self, message: PreviewSource) -> None:
        text = self.selected_view.text if self.selected_view else ""

        # closing it hands the keyboard back to the question box: what is typed next is not lost
        def refocus(_: None) -> None:
            self.query_one(QuestionInput).focus()

        self.push_screen(PreviewScreen(message.hit, message.n, text), refocus)

    def on_open_source(self, message: OpenSource) -> None:
        try:
            path = source_file(self.index_root(), message.hit.path)
        except OpenError as e:
            self.notify(str(e), severity="error")
            return
        try:
            command = open_command(path, message.hit.line_start)
        except OpenError as e:
            self.notify(str(e), severity="error", timeout=10)
            return
        try:
            if command.terminal:
                with self.suspend():
                    subprocess.run(command.argv, check=False)
            else:
                subprocess.Popen(
                    command.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
        except FileNotFoundError:
            self.notify(
                f"could not open {path}: {command.argv[0]} not found; {OPENER_HINT}", severity="error", timeout=10
            )
        except (OSError, SuspendNotSupported) as e:
            self.notify(f"could not open {path}: {e}", severity="error")

    def action_copy_answer(self) -> None:
        done = [v.answer for v in self.transcript.answers if v.answer is not None]
        if not done:
            self.notify("No answer to copy yet.", severity="warning")
            return
        answer = done[-1]
        lines = [answer.text, "", "Sources:"]
        lines += [f"[{n}] {h.path}" + (f", {h.place()}" if h.place() else "") for n, h in enumerate(answer.sources, 1)]
        self.copy_to_clipboard("\n".join(lines))
        self.notify("Answer copied to the clipboard.")

    # ---------------------------------------------------------------- chats
    async def action_new_chat(self) -> None:
        if self.refused("new_chat"):
            return
        with self._models_lock:
            if self.session is not None and self.session.chat_id is not None:
                self.session = self.index.chat()  # models are loaded: cheap
        self.selected_view = None
        await self.transcript.clear()
        await self.sources.show([])
        self.status_bar.set_answer(0, 0, None, None)
        self.query_one(QuestionInput).focus()

    def action_past_chats(self) -> None:
        catalog = self.index.store.catalog  # None in a query-only Milvus process: chats are not kept
        chats = catalog.chats() if catalog is not None else []
        choices = [(f"{c['title']}  ({c['messages'] // 2} answers)", c["id"]) for c in chats]
        current = self.session.chat_id if self.session is not None else None
        self.push_screen(ChoiceScreen("Open a past chat", choices, "No past chats yet.", current), self.open_chat)

    async def open_chat(self, chat_id: int | None) -> None:
        if chat_id is None or self.refused("open_chat"):
            return
        await self.transcript.clear()
        self.selected_view = None
        last: AnswerView | None = None
        for answer in answers_from_messages(self.index.store.catalog.messages(chat_id)):
            await self.transcript.add_question(answer.question)
            last = await self.transcript.add_answer(answer.question)
            last.set_sources(answer.sources, answer.query or answer.question, [])
            await last.finish(answer)
        if last is not None:
            await self.select_answer(last)
        with self._models_lock:
            self.session = None
        self.load_models(chat_id)

    # ---------------------------------------------------------------- indexing
    def action_reindex(self) -> None:
        if self.refused("reindex"):
            return
        sources = self.index.sources()  # the folder, or the files and folders selected in it
        root = self.index_root()
        if sources:
            self.start_indexing(sources[0] if len(sources) == 1 else sources)
        elif root:
            self.start_indexing(Path(root))
        else:
            self.push_screen(IndexFolderScreen(None, "Which folder should this index hold?"), self.start_indexing)

    def start_indexing(self, folder: Path | list[Path] | None) -> None:
        if folder is None:
            self.load_models()
            return
        self.set_busy(Busy.INDEXING)
        self.query_one(IndexProgress).start(
            folder.name if isinstance(folder, Path) else f"{len(folder)} selected paths"
        )
        self.run_indexer(folder)

    @work(thread=True, group="index", exclusive=True)
    def run_indexer(self, folder: Path | list[Path]) -> None:
        progress = self.query_one(IndexProgress)

        def report(event: IndexEvent) -> None:
            self._ui(progress.apply_event, event)

        try:
            with self._models_lock:
                summary = self.index.add(folder, progress=report)
        except LocalragError as e:
            self._ui(self.indexing_done, None, str(e))
            return
        self._ui(self.indexing_done, summary, None)

    def indexing_done(self, summary: IndexReport | None, error: str | None) -> None:
        self.set_busy(Busy.IDLE)
        self.query_one(IndexProgress).stop()
        self.refresh_status()
        if error:
            self.notify(error, title="indexing failed", severity="error", timeout=10)
            return
        assert summary is not None
        hint = " (ctrl+p: show skipped files)" if summary.skipped else ""
        self.notify(summary.describe() + hint, title="indexed")
        self.load_models()

    def action_skipped(self) -> None:
        self.push_screen(SkippedScreen(self.index.status().skipped))

    # ---------------------------------------------------------------- settings
    def action_toggle_rerank(self) -> None:
        self.settings.retrieval.rerank = not self.settings.retrieval.rerank
        self.show_rerank()
        if self.status_bar.rerank == "missing":
            self.notify(
                "no cross-encoder is installed, so nothing is reranked: run `localrag models fetch reranker`",
                severity="warning",
            )
        else:
            self.notify(f"reranking {self.status_bar.rerank}")
        self.forget_models("reranker")

    def action_set_k(self) -> None:
        def chosen(k: int | None) -> None:
            if k is not None:
                self.settings.retrieval.k = k
                self.notify(f"answers now use up to {k} sources")

        choices = [(f"{k} sources", k) for k in K_CHOICES]
        self.push_screen(ChoiceScreen("Sources per answer (k)", choices, current=self.settings.retrieval.k), chosen)

    def action_switch_model(self) -> None:
        from localrag.models import list_models

        choices: list[tuple[str, ModelChoice]] = [("extractive: quote the sources, no LLM", ("none", None))]
        for row in list_models(self.settings):
            if row.role == "llm" and row.present:
                choices.append((f"{row.name}  ({row.size / 1e6:.0f} MB)", ("llama-cpp", row.name)))
        llm = self.settings.llm
        current = ("none", None) if llm.backend == "none" else (llm.backend, llm.model)
        self.push_screen(ChoiceScreen("Switch model", choices, "No models installed.", current), self.switch_model)

    def switch_model(self, choice: ModelChoice | None) -> None:
        if choice is None or self.refused("switch_model"):
            return
        backend, name = choice
        self.settings.llm.backend = backend
        if name:
            self.settings.llm.model = name
        self.status_bar.model = self.model_label()
        self.forget_models("llm")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New chat", "Start a new conversation (ctrl+n)", self.action_new_chat)
        yield SystemCommand("Open a past chat", "Reopen an earlier conversation", self.action_past_chats)
        yield SystemCommand(
            "Toggle reranking", "Cross-encoder reranking of the candidates on/off", self.action_toggle_rerank
        )
        yield SystemCommand("Set k", "How many sources each answer is given", self.action_set_k)
        yield SystemCommand(
            "Switch model", "Answer with another installed LLM, or extractively", self.action_switch_model
        )
        yield SystemCommand("Show skipped files", "Files indexing left out, with reasons", self.action_skipped)
        yield SystemCommand("Re-index", "Index the folder again (ctrl+r)", self.action_reindex)

    def action_help(self) -> None:
        self.push_screen(
            HelpScreen(
                [
                    ("Chat", self.BINDINGS + QuestionInput.BINDINGS),
                    ("Sources pane (Tab to focus)", SourcesPane.BINDINGS),
                ]
            )
        )

    # ---------------------------------------------------------------- quitting
    async def action_quit(self) -> None:
        """Quit, also mid-answer: the generation is cancelled (it ends within a token) and the
        stream into the transcript is closed first, so nothing is drawn during shutdown."""
        self.set_busy(Busy.QUITTING)
        if self.session is not None:
            self.session.cancel()
        if self.generating is not None:
            self.generating.close_stream()
        self.exit()


def run_app(settings: Settings, folder: Path | None = None) -> None:
    """Open the chat app on `settings.index`; offer to index `folder` when the index is empty."""
    LocalragApp(settings, folder=folder).run()
