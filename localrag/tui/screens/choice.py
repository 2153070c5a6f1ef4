"""Pick one of a few values (a past chat, a model, k): a titled list, Enter to choose."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option


Value = TypeVar("Value", bound=Hashable)


class ChoiceScreen(ModalScreen[Value | None], Generic[Value]):
    """Dismisses with the chosen value, or None on Escape."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        title: str,
        choices: Sequence[tuple[str, Value]],
        empty: str = "Nothing to choose from.",
        current: Hashable | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.empty = empty
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="choice-box") as box:
            box.border_title = self.title_text
            if not self.choices:
                yield Static(self.empty, id="choice-empty")
            yield OptionList(*(Option(label, id=str(i)) for i, (label, _) in enumerate(self.choices)), id="choice-list")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for i, (_, value) in enumerate(self.choices):
            if value == self.current:
                options.highlighted = i
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None  # every option is given its index as id
        self.dismiss(self.choices[int(event.option.id)][1])
