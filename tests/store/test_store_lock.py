"""One writer per index: flock on DIR/write.lock."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from localrag.errors import IndexLockedError
from localrag.store.lock import WriteLock

HOLDER = """
import sys, time
from localrag.store.lock import WriteLock
lock = WriteLock(sys.argv[1]); lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_second_writer_waits_then_raises(tmp_path):
    with WriteLock(tmp_path):
        t = time.monotonic()
        with pytest.raises(IndexLockedError) as e:
            WriteLock(tmp_path, timeout=0.3).acquire()
        assert time.monotonic() - t >= 0.3
    msg = str(e.value)
    assert str(tmp_path) in msg and f"pid {os.getpid()}" in msg and "another localrag index is writing" in msg


def test_lock_is_free_again_after_release(tmp_path):
    first = WriteLock(tmp_path)
    first.acquire()
    first.release()
    with WriteLock(tmp_path, timeout=0.1) as second:
        assert second.held
    assert not second.held


def test_waiting_writer_gets_the_lock_when_it_is_released(tmp_path):
    import threading

    holder = WriteLock(tmp_path)
    holder.acquire()
    threading.Timer(0.2, holder.release).start()
    with WriteLock(tmp_path, timeout=5) as waiter:
        assert waiter.held


def test_lock_held_by_another_process_and_freed_when_it_dies(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(IndexLockedError, match=f"pid {proc.pid}"):
            WriteLock(tmp_path, timeout=0.2).acquire()
    finally:
        proc.kill()
        proc.wait()
    # a killed writer leaves no stale lock behind
    with WriteLock(tmp_path, timeout=2) as lock:
        assert lock.held
