"""One writer per index: an exclusive flock on DIR/write.lock.

flock locks belong to the open file and vanish when the process dies, so a crashed writer
never leaves a stale lock behind. The holder writes its pid into the file so that a second
writer can say who is in the way. Readers take no lock: they rely on SQLite transactions and
on derived files being replaced atomically.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from localrag.errors import IndexLockedError

LOCK_FILE = "write.lock"


class WriteLock:
    """`with WriteLock(dir, timeout):` waits up to `timeout` seconds, then raises IndexLockedError."""

    def __init__(self, index_dir: Path, timeout: float = 10.0, poll: float = 0.1):
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LOCK_FILE
        self.timeout = timeout
        self.poll = poll
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now; True when taken."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                holder = self.holder_pid()
                who = f" (pid {holder})" if holder else ""
                raise IndexLockedError(
                    f"another localrag index is writing to {self.index_dir}{who}; "
                    "wait for it to finish or stop it, then try again"
                )
            time.sleep(self.poll)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)  # the file names no writer once none holds it (also after Ctrl+C)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def __enter__(self) -> "WriteLock":
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
