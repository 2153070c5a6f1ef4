"""`localrag watch`: the index follows the folder while files change."""

from __future__ import annotations

import threading
import time

from rich.console import Console

from localrag.index import Index
from localrag.reports import IndexReport
from localrag.watch import watch_folder


def test_watch_follows_edits_and_deletions(make_settings, notes, embedder):
    idx = Index.create(settings=make_settings(), embedder=embedder)
    stop = threading.Event()
    updates: list[IndexReport] = []
    seen = threading.Condition()

    def on_update(summary: IndexReport) -> None:
        with seen:
            updates.append(summary)
            seen.notify_all()

    def wait_for(pred, timeout: float = 60.0) -> IndexReport:
        deadline = time.monotonic() + timeout
        with seen:
            while not (updates and pred(updates[-1])):
                left = deadline - time.monotonic()
                assert left > 0, f"no matching re-index; got {updates}"
                seen.wait(left)
            return updates[-1]

    thread = threading.Thread(
        target=watch_folder, args=(idx, notes, Console(quiet=True)), kwargs={"stop": stop, "on_update": on_update}
    )
    thread.start()
    try:
        assert wait_for(lambda s: s.added == 6)
        (notes / "garden" / "bees.md").write_text("# Bees\n\nThe beehive sits behind the greenhouse.\n")
        wait_for(lambda s: s.added == 1)
        assert idx.search("where is the beehive", k=1)[0].path == "garden/bees.md"
        (notes / "travel.md").unlink()
        wait_for(lambda s: s.removed == 1)
        assert all(h.path != "travel.md" for h in idx.search("passports", k=5))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    idx.close()
