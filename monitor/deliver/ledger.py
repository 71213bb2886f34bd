"""Exactly once, as pure decisions over the delivery ledger (no I/O: the store writes what these return).

A (week, channel, recipient) row is written ``queued`` *before* its message is sent and
``sent`` after. So after any crash:

* ``sent``: it was delivered; it is never sent again (but ``--resend``, as a new generation
  with its own Message-ID);
* ``queued``: the process died while sending, before or after the server took it. It is sent
  again, with the same Message-ID (the recipient's mail client sees one message twice at worst,
  and may merge them; skipping it could lose the week for that recipient);
* no row: never tried; due when the week is at or after the recipient's first week.

A new recipient (or channel) starts with the newest week due at the time it is first seen, so
adding a subscriber never mails the back catalogue. Temporary failures (SMTP 4xx, timeouts,
refused connections) are retried with exponential backoff, up to :data:`MAX_ATTEMPTS`;
permanent ones (SMTP 5xx) are recorded and shown, not retried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..models import Delivery

__all__ = [
    "BACKOFF_FIRST",
    "BACKOFF_MAX",
    "MAX_ATTEMPTS",
    "Due",
    "backoff",
    "deliveries_report",
    "due_deliveries",
    "failed",
    "missing_starts",
    "next_retry",
    "queued",
    "sent",
]

BACKOFF_FIRST = 60.0  # seconds before the first retry; doubled each time
BACKOFF_MAX = 6 * 3600.0
MAX_ATTEMPTS = 10  # about a day of retries (1, 2, 4 … 256 min, then 6 h)


@dataclass(frozen=True)
class Due:
    """One message to send now."""

    week_ending: dt.date
    channel: str
    recipient: str
    why: Literal["new", "retry", "unfinished", "resend"]
    previous: Delivery | None  # its ledger row, if any

    @property
    def generation(self) -> int:
        if self.previous is None:
            return 0
        return self.previous.generation + (1 if self.why == "resend" and self.previous.state == "sent" else 0)


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failed attempt: 1 min, 2, 4 … at most 6 h."""
    return dt.timedelta(seconds=min(BACKOFF_FIRST * 2 ** max(0, attempts - 1), BACKOFF_MAX))


def missing_starts(recipients: Mapping[str, Sequence[str]], starts: Mapping[tuple[str, str], dt.date],
                   first_week: dt.date) -> list[tuple[str, str, dt.date]]:
    """The (channel, recipient, first week) of every recipient not seen before."""
    return [(ch, r, first_week) for ch, rs in recipients.items() for r in rs if (ch, r) not in starts]


def due_deliveries(weeks: Iterable[dt.date], recipients: Mapping[str, Sequence[str]],
                   ledger: Iterable[Delivery], starts: Mapping[tuple[str, str], dt.date], *, now: dt.datetime,
                   resend: bool = False, explicit: bool = False) -> list[Due]:
    """What to send now, oldest week first, in the order of the channels and recipients given.

    ``weeks``: the published weeks to consider. ``explicit``: these weeks were asked for by
    name (``monitor deliver --week-ending``), so a recipient's first week does not hold them
    back. ``resend``: recipients that have the week (or refused it) get it again.
    """
    rows = {(d.week_ending, d.channel, d.recipient): d for d in ledger}
    out: list[Due] = []
    for week in sorted(set(weeks)):
        for ch, rs in recipients.items():
            for r in rs:
                row = rows.get((week, ch, r))
                if row is None:
                    start = starts.get((ch, r))
                    if explicit or resend or (start is not None and week >= start):
                        out.append(Due(week, ch, r, "new", None))
                elif row.state == "queued":
                    out.append(Due(week, ch, r, "unfinished", row))
                elif resend:
                    out.append(Due(week, ch, r, "resend", row))
                elif row.state == "failed" and not row.permanent and (
                        row.next_attempt_at is None or row.next_attempt_at <= now):
                    out.append(Due(week, ch, r, "retry", row))
    return out


def queued(due: Due, message_id: str, now: dt.datetime) -> Delivery:
    """The row written just before sending (attempts counts this one)."""
    prev = due.previous
    attempts = 0 if prev is None or due.why == "resend" else prev.attempts
    return Delivery(
        week_ending=due.week_ending, channel=due.channel, recipient=due.recipient, state="queued",
        message_id=message_id, attempts=attempts + 1, generation=due.generation, permanent=False,
        last_error=prev.last_error if prev and due.why != "resend" else None, next_attempt_at=None,
        created_at=prev.created_at if prev and prev.created_at else now, updated_at=now,
        sent_at=prev.sent_at if prev else None,
    )


def sent(row: Delivery, now: dt.datetime) -> Delivery:
    return replace(row, state="sent", last_error=None, next_attempt_at=None, permanent=False, updated_at=now,
                   sent_at=now)


def failed(row: Delivery, reason: str, *, temporary: bool, now: dt.datetime) -> Delivery:
    """A failed attempt: retried after :func:`backoff` if temporary and attempts are left."""
    if temporary and row.attempts < MAX_ATTEMPTS:
        return replace(row, state="failed", last_error=reason, permanent=False,
                       next_attempt_at=now + backoff(row.attempts), updated_at=now)
    if temporary:
        reason = f"{reason} (gave up after {row.attempts} attempts)"
    return replace(row, state="failed", last_error=reason, permanent=True, next_attempt_at=None, updated_at=now)


def next_retry(ledger: Iterable[Delivery]) -> dt.datetime | None:
    """When the earliest temporary failure is due again (None: nothing waits)."""
    times = [d.next_attempt_at for d in ledger
             if d.state == "failed" and not d.permanent and d.next_attempt_at is not None]
    return min(times) if times else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


def deliveries_report(channels: Sequence[str], ledger: Iterable[Delivery]) -> dict[str, Any]:
    """The "deliveries" block of ``monitor status`` and ``/healthz``: per channel, its last delivery.

    ``last``: the newest row written (week, recipient, state, when, error); counts of the
    newest week's rows by state; ``waiting``: temporary failures with their next try;
    ``failed``: permanent failures (not retried). No secrets: recipients are addresses or
    masked URLs, errors are the servers' replies.
    """
    by_channel: dict[str, list[Delivery]] = {c: [] for c in channels}
    for d in ledger:
        by_channel.setdefault(d.channel, []).append(d)
    out: dict[str, Any] = {}
    for ch, rows in by_channel.items():
        if not rows:
            out[ch] = {"last": None, "week_ending": None, "sent": 0, "queued": 0, "waiting": [], "failed": []}
            continue
        newest_week = max(d.week_ending for d in rows)
        week_rows = [d for d in rows if d.week_ending == newest_week]
        last = max(rows, key=lambda d: (d.updated_at or dt.datetime.min.replace(tzinfo=dt.UTC),
                                        d.week_ending))
        out[ch] = {
            "last": {"week_ending": last.week_ending.isoformat(), "recipient": last.recipient,
                     "state": last.state, "at": _iso(last.updated_at), "attempts": last.attempts,
                     "error": last.last_error},
            "week_ending": newest_week.isoformat(),
            "sent": sum(d.state == "sent" for d in week_rows),
            "queued": sum(d.state == "queued" for d in week_rows),
            "waiting": [{"week_ending": d.week_ending.isoformat(), "recipient": d.recipient,
                         "next_attempt": _iso(d.next_attempt_at), "attempts": d.attempts, "error": d.last_error}
                        for d in rows if d.state == "failed" and not d.permanent],
            "failed": [{"week_ending": d.week_ending.isoformat(), "recipient": d.recipient, "error": d.last_error}
                       for d in rows if d.state == "failed" and d.permanent],
        }
    return out
