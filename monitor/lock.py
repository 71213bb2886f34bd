"""One ``monitor run`` per database: an exclusive ``flock`` on ``<database>.lock``.

The lock is taken without waiting and held for the life of the process. The kernel
drops a ``flock`` when its file descriptor is closed, and it closes every descriptor
of a process that dies, so ``kill -9`` never leaves a stale lock behind: the next
start simply takes it. The file itself stays on disk (deleting it would race with a
starting instance); it holds the pid of the current holder, for the error message.

::

    with DatabaseLock(config.database):     # raises AlreadyRunning at once if held
        ...                                  # the service runs

POSIX only (``fcntl``); the monitor targets Linux and macOS servers.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from .errors import AlreadyRunning

__all__ = ["DatabaseLock", "lock_path"]


def lock_path(database: Path | str) -> Path:
    """The lock file beside ``database``: ``monitor.db`` -> ``monitor.db.lock``."""
    return Path(f"{database}.lock")


class DatabaseLock:
    """An exclusive, non-blocking, process-lifetime lock on one database."""

    def __init__(self, database: Path | str):
        self.database = Path(database)
        self.path = lock_path(database)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AlreadyRunning` naming the holder's pid."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC (Python's default): a child process never inherits the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "pid unknown"
            raise AlreadyRunning(f"another monitor run is already using {self.database} ({who})") from None
        except OSError:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # the pid is only for the message; the lock is what matters
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
