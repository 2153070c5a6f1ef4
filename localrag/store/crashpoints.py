"""Named crash points for the crash-safety tests (tests/robustness/test_kill.py).

`LOCALRAG_CRASH_AT=<name>[:<n>]` makes the n-th call (default: the first) of `crash_point(name)`
kill this process with SIGKILL, at exactly that step of indexing: no cleanup handler, no
`finally`, no flush runs, as in a power cut. `LOCALRAG_CRASH_SIGNAL=STOP` sends SIGSTOP instead,
so a test can freeze a writer mid-run (holding the write lock) and resume it with SIGCONT.

The variable is read at each call (not at import) so that a process forked after import can
still be given a crash point. Unset, a call costs one environment lookup; points are placed per
file, batch or file write, never per chunk.

Points (see where each is called): walk, plan, embedded (a batch embedded, not yet staged),
stage-commit / staged (just before / after a batch's staging transaction commits), sqlite-write
(per file applied in the publishing transaction), sqlite-commit / sqlite-committed (just before /
after any other catalogue transaction commits: the schema, the embedder, the run's one publish,
the closing meta write), dense-save, replace-<file name> (temporary file written and synced, not
yet renamed into place), bm25-arrays, bm25-cleanup; with store.engine = "milvus" (localrag/store/
milvus.py, tests/robustness/test_kill_milvus.py): milvus-sync, milvus-insert (per batch of rows),
milvus-publish / milvus-published (just before / after the state row switches version).
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "LOCALRAG_CRASH_AT"
SIGNAL_ENV = "LOCALRAG_CRASH_SIGNAL"

_calls: dict[str, int] = {}


def parse_spec(spec: str) -> tuple[str, int]:
    """'sqlite-commit:2' -> ('sqlite-commit', 2); 'walk' -> ('walk', 1)."""
    name, sep, count = spec.rpartition(":")
    if sep and count.isdigit():
        return name, int(count)
    return spec, 1


def crash_point(name: str) -> None:
    """Kill (or stop) this process here when LOCALRAG_CRASH_AT names this point and call count."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    target, count = parse_spec(spec)
    if name != target:
        return
    _calls[name] = _calls.get(name, 0) + 1
    if _calls[name] == count:
        sig = signal.SIGSTOP if os.environ.get(SIGNAL_ENV, "").upper() == "STOP" else signal.SIGKILL
        os.kill(os.getpid(), sig)
