"""``monitor deliver``: the command's work, away from click (the CLI only prints and exits)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from ..config import Config
from ..errors import AlreadyRunning, MonitorError
from ..lock import DatabaseLock
from ..store import Store
from .run import deliver_editions

__all__ = ["run_deliver"]


def run_deliver(config: Config, *, week_ending: dt.date | None, resend: bool, dry_run: Path | None,
                now: dt.datetime | None = None) -> tuple[int, list[str]]:
    """(exit code, lines to print). Sending takes the database lock, as ``monitor run`` holds it: two
    processes delivering from one ledger could both send a row before either records it."""
    if config.deliver.email is None and not config.deliver.notify:
        return 2, ["error: nothing to deliver to: add deliver.email or deliver.notify to the config"]
    now = now or dt.datetime.now(dt.UTC)
    lock = DatabaseLock(config.database)
    try:
        if dry_run is None:
            lock.acquire()
    except AlreadyRunning as e:
        return 1, [f"error: {e.reason}: it delivers each week itself (stop it to deliver by hand)"]
    except OSError as e:
        return 1, [f"error: cannot create the lock file {lock.path}: {e}"]
    try:
        with Store.open(config.database) as store:
            report = asyncio.run(deliver_editions(config, store, now=now, week_ending=week_ending, resend=resend,
                                                  dry_run=dry_run))
    except MonitorError as e:
        return 1, [f"error: {e.reason}"]
    finally:
        if lock.held:
            lock.release()
    lines = report.lines()
    if not lines:
        lines = ["nothing to deliver: every recipient has every due week"]
    return (0 if report.ok else 1), lines
