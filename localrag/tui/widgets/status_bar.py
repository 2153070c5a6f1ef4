"""One line of facts: the index, the model and where it runs (CPU or GPU), the context used and how
long the last answer took."""

from __future__ import annotations

from pathlib import Path

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from localrag.reports import IndexStatus


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _count(n: int) -> str:
    """4,096 / 32k / 1M: a context window at a glance."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:,}"


class StatusBar(Static):
    folder: reactive[str] = reactive("")
    documents: reactive[int] = reactive(0)
    chunks: reactive[int] = reactive(0)
    skipped: reactive[int] = reactive(0)
    model: reactive[str] = reactive("")
    rerank: reactive[str] = reactive("off")  # on | off | missing (wanted, but no cross-encoder installed)
    device: reactive[str] = reactive("")  # CPU | GPU for an in-process LLM; "" when none runs here
    tokens_used: reactive[int] = reactive(0)
    context_window: reactive[int] = reactive(0)
    retrieve_ms: reactive[float | None] = reactive(None)
    first_token_ms: reactive[float | None] = reactive(None)
    busy: reactive[str] = reactive("")

    def set_index(self, info: IndexStatus, folder: str | Path | None) -> None:
        self.folder = Path(folder).name if folder else "no folder"
        self.documents = info.documents
        self.chunks = info.chunks
        self.skipped = len(info.skipped)

    def set_answer(
        self, tokens_used: int, context_window: int, retrieve_ms: float | None, first_token_ms: float | None
    ) -> None:
        self.tokens_used, self.context_window = tokens_used, context_window
        self.retrieve_ms, self.first_token_ms = retrieve_ms, first_token_ms

    def render(self) -> Content:
        sep = (" │ ", "$text-muted")
        parts: list = [
            ("▣ ", "$accent"),
            (self.folder, "bold"),
            f" {self.documents} docs · {self.chunks} chunks",
        ]
        if self.skipped:
            parts.append((f" · {self.skipped} skipped", "$warning"))
        rerank = {"on": " · rerank on", "missing": " · rerank off (no cross-encoder installed)"}.get(
            self.rerank, " · rerank off"
        )
        parts += [sep, (self.model, "bold")]
        if self.device:
            parts.append((f" on {self.device}", "$warning" if self.device == "CPU" else "$success"))
        parts.append((rerank, "$text-muted"))
        if self.context_window:
            parts += [sep, f"ctx {self.tokens_used:,}/{_count(self.context_window)}"]
        if self.retrieve_ms is not None:
            parts += [sep, f"retrieve {_ms(self.retrieve_ms)} · 1st token {_ms(self.first_token_ms)}"]
        if self.busy:
            parts += [sep, (self.busy, "bold $warning")]
        return Content.assemble(*parts)
