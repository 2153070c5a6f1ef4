"""Snapshots of the main screen with a real answer and its sources (extractive backend, real index).

Timings are the only values that vary between runs; they are pinned before the picture is taken.
Update after an intended change with `pytest tests/tui/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from tests.tui.tui_support import ask, make_settings, wait_for

from localrag.tui.app import LocalragApp

QUESTION = "what fertiliser do the tomatoes get?"


def _run_before(theme: str | None = None):
    async def run_before(pilot) -> None:
        app = pilot.app
        if theme:
            app.theme = theme
        await wait_for(pilot, lambda: app.status_bar.busy == "" and app.session is not None, 120, "the models")
        await ask(pilot, QUESTION)
        status = app.status_bar
        status.set_answer(status.tokens_used, status.context_window, 12.0, 34.0)  # no clock in snapshots
        app.query_one("#question").cursor_blink = False
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
def test_main_screen_with_an_answer(snap_compare, indexed, size):
    app = LocalragApp(make_settings(indexed[0]))
    assert snap_compare(app, terminal_size=size, run_before=_run_before())


def test_main_screen_light_theme(snap_compare, indexed):
    app = LocalragApp(make_settings(indexed[0]))
    assert snap_compare(app, terminal_size=(120, 36), run_before=_run_before("textual-light"))
