"""When is a source due again — pure functions, the clock passed in.

"When due" is data in our own database (``sources.next_due_at``), not state
inside APScheduler, so a restart or a missed run is harmless.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

__all__ = ["Clock", "backoff_delay", "is_due", "next_due", "utcnow"]

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    """The real clock (every clock is injectable: tests and the benchmarks pass their own)."""
    return dt.datetime.now(dt.UTC)


def backoff_delay(every: float, failures: int, backoff_max: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures (exponential, capped)."""
    if failures <= 0:
        return every
    return float(min(every * (2 ** min(failures, 20)), max(backoff_max, every)))


def next_due(now: dt.datetime, every: float, *, failures: int = 0, retry_after: float | None = None,
             backoff_max: float = 86400.0, jitter: float = 0.1,
             rand: Callable[[], float] = random.random) -> dt.datetime:
    """The next poll time: ``every`` (± jitter) after success, backed off after failures,
    never earlier than a server's Retry-After."""
    delay = backoff_delay(every, failures, backoff_max)
    if jitter:
        delay *= 1 + jitter * (2 * rand() - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + dt.timedelta(seconds=delay)


def is_due(now: dt.datetime, next_due_at: dt.datetime | None, retry_after_until: dt.datetime | None) -> bool:
    if retry_after_until is not None and now < retry_after_until:
        return False
    return next_due_at is None or next_due_at <= now
