"""`localrag watch`: keep an index current while files change (debounced, incremental)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from localrag.reports import IndexReport

if TYPE_CHECKING:
    from localrag.index import Index

log = logging.getLogger("localrag")

DEBOUNCE_MS = 1500
CATCH_UP_MS = 1000


def watch_folder(
    index: Index,
    folder: Path,
    console: Console,
    stop: threading.Event | None = None,
    on_update: Callable[[IndexReport], None] | None = None,
) -> None:
    """Index `folder` now, then re-index incrementally after each burst of changes until `stop` is set
    (or Ctrl+C). A file written while it is being read is simply picked up again by the next burst:
    the indexer records the size and mtime it read, so a later write always looks changed."""
    from watchfiles import watch

    def run_once() -> None:
        summary = index.add(folder)
        if summary.changed or summary.skipped:
            console.print(f"indexed: {summary.describe()}")
        if on_update is not None:
            on_update(summary)

    run_once()
    console.print(f"watching {folder} (Ctrl+C to stop)")
    index_dir = Path(index.settings.index).resolve()
    # The watcher starts inside watch(): a file written between the first index and that moment
    # would be missed, so the first quiet spell (an empty yield) triggers one catch-up pass.
    caught_up = False
    for changes in watch(
        folder,
        debounce=DEBOUNCE_MS,
        stop_event=stop,
        raise_interrupt=False,
        yield_on_timeout=True,
        rust_timeout=CATCH_UP_MS,
    ):
        if not changes:
            if caught_up:
                continue
        # the index may live inside the watched folder: its own writes are not document changes
        elif all(Path(p).resolve().is_relative_to(index_dir) for _, p in changes):
            continue
        caught_up = True
        try:
            run_once()
        except Exception as e:  # keep watching; the next change retries
            log.warning("re-index failed, will retry on the next change: %s", e)
            console.print(f"[yellow]re-index failed ({e}); will retry on the next change[/]")
