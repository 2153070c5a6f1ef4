"""The question box, with shell-like recall of earlier questions (up/down)."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input


class InputHistory:
    """Earlier entries and a cursor; `older`/`newer` walk it like a shell does.

    The text being typed when recall starts is kept, so walking back down returns to it.
    """

    def __init__(self, entries: list[str] | None = None, limit: int = 200) -> None:
        self.entries: list[str] = list(entries or [])
        self.limit = limit
        self._pos = len(self.entries)
        self._draft = ""

    def add(self, entry: str) -> None:
        if entry and (not self.entries or self.entries[-1] != entry):
            self.entries.append(entry)
            del self.entries[: -self.limit]
        self._pos = len(self.entries)
        self._draft = ""

    def older(self, current: str) -> str:
        if self._pos == len(self.entries):
            self._draft = current
        if self._pos > 0:
            self._pos -= 1
        return self.entries[self._pos] if self.entries else current

    def newer(self, current: str) -> str:
        if self._pos >= len(self.entries):
            return current
        self._pos += 1
        return self._draft if self._pos == len(self.entries) else self.entries[self._pos]


class QuestionInput(Input):
    BINDINGS = [
        Binding("up", "recall_older", "Previous question", show=False),
        Binding("down", "recall_newer", "Next question", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="Ask about your documents…  (F1 help)", **kwargs)
        self.history = InputHistory()

    def _recall(self, text: str) -> None:
        self.value = text
        self.cursor_position = len(text)

    def action_recall_older(self) -> None:
        self._recall(self.history.older(self.value))

    def action_recall_newer(self) -> None:
        self._recall(self.history.newer(self.value))
