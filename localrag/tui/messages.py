"""Messages that widgets and screens send up to the app."""

from __future__ import annotations

from textual.message import Message

from localrag.types import Hit


class OpenSource(Message):
    """Open this source's file in the user's editor (or the system opener)."""

    def __init__(self, hit: Hit) -> None:
        super().__init__()
        self.hit = hit


class PreviewSource(Message):
    """Show source `n` of the selected answer in full."""

    def __init__(self, hit: Hit, n: int) -> None:
        super().__init__()
        self.hit = hit
        self.n = n
