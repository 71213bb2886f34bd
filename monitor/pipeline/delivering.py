"""The delivery half: read the ledger, decide (:mod:`monitor.deliver.ledger`, pure), write ``queued``,
send through a channel (:mod:`monitor.deliver`, handed an Edition, never the store), write the outcome.

::

    Monitor.deliver(...) -> deliver_editions(config, store, now=...)
                                                     the service after each publish pass (catch-up
                                                     included) and on retry ticks; `monitor deliver`
      store.digests(), store.deliveries(), store.delivery_starts()
      ledger.missing_starts -> store.add_delivery_starts   a new recipient starts at the newest due week
      ledger.due_deliveries                                 what is due now
      edition_for(...)                                      one Edition per week with something due
      for each due (week, channel, recipient), one at a time:
        store.put_delivery(queued)     committed BEFORE the message leaves
        channel.send(...)              DeliveryError: temporary (backoff) or permanent
        store.put_delivery(sent | failed)

A kill at any moment leaves each row ``sent`` (never sent again), ``queued`` (sent again with
the same Message-ID: see :mod:`monitor.deliver.ledger`) or absent (sent). Only one process delivers from a
database at a time: ``monitor run`` holds the database lock, and ``monitor deliver`` takes it too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import digest as dg
from ..config import Config
from ..deliver import ledger
from ..deliver.edition import Channel, Edition
from ..errors import DeliveryError, MonitorError
from ..models import Delivery
from ..storage import Storage

__all__ = ["DeliveryReport", "build_channels", "deliver_editions", "edition_for"]

log = logging.getLogger("monitor.deliver")
UTC = dt.UTC


@dataclass
class DeliveryReport:
    sent: list[tuple[dt.date, str, str]] = field(default_factory=list)  # (week, channel, recipient)
    failed: list[tuple[dt.date, str, str, str, bool]] = field(default_factory=list)  # ... reason, temporary
    previews: list[Path] = field(default_factory=list)  # --dry-run: the files written
    next_retry: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        out = [f"sent the week ending {w.isoformat()} by {c} to {r}" for w, c, r in self.sent]
        out += [f"{'will retry' if t else 'FAILED'}: the week ending {w.isoformat()} by {c} to {r}: {why}"
                for w, c, r, why, t in self.failed]
        out += [f"wrote {p}" for p in self.previews]
        if self.next_retry:
            out.append(f"next retry at {self.next_retry.isoformat(timespec='seconds')}")
        return out


def build_channels(config: Config) -> list[Channel]:
    """The channels configured under ``deliver:`` (none: nothing is delivered)."""
    channels: list[Channel] = []
    if config.deliver.email is not None:
        from ..deliver.mail import EmailChannel

        channels.append(EmailChannel(config.deliver.email))
    if config.deliver.notify:
        from ..deliver.notify import NotifyChannel

        channels.append(NotifyChannel(config.deliver.notify))
    return channels


def edition_for(config: Config, store: Storage, record: dict[str, Any]) -> Edition:
    """The Edition of a published week, rebuilt from the store as publish_digests recorded it (same lead)."""
    week = dt.date.fromisoformat(record["week_ending"])
    cal = config.calendar
    start, end = cal.window(week)
    d = dg.build_digest(week, store.posts_published_between(start, end, content=False),
                        store.changes_between(start, end, content=False), site_title=config.site_title,
                        tz=config.timezone, week_ends_on=cal.week_ends_on, lead_url=record.get("lead_url"),
                        empty_weeks=True)
    assert d is not None  # empty_weeks=True always builds
    view = dg.present(d, tz=config.timezone, group_by=config.digest.group_by)
    built = record["built_at"]
    return Edition(week_ending=week, title=view.title, view=view,
                   page_url=f"{config.site_url}digests/{week.isoformat()}.html", site_title=config.site_title,
                   site_url=config.site_url,
                   published_at=dt.datetime.fromisoformat(built) if built else dt.datetime.now(UTC))


def first_week(config: Config, now: dt.datetime) -> dt.date:
    """A new recipient's first week: the newest one whose publish time has come."""
    return config.calendar.last_due_week(now)


_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]+")


async def deliver_editions(config: Config, store: Storage, *, now: dt.datetime, week_ending: dt.date | None = None,
                           resend: bool = False, dry_run: Path | None = None,
                           channels: Sequence[Channel] | None = None,
                           clock: Callable[[], dt.datetime] | None = None,
                           stopping: Callable[[], bool] = lambda: False) -> DeliveryReport:
    """Send every due (week, channel, recipient), each once; see the module docstring.

    ``week_ending`` (any day of the week): only that published week, to every recipient that
    does not have it yet (``resend``: to every recipient). ``resend`` without a week: the newest
    published week. ``dry_run``: write each message that would be sent under that directory
    and change nothing. ``stopping`` is asked between messages (the service is stopping).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if clock is None:  # the ledger's times run from ``now`` (a test's or the service's clock), at real speed
        t0 = time.monotonic()

        def from_now() -> dt.datetime:
            return now + dt.timedelta(seconds=time.monotonic() - t0)

        clock = from_now
    channels = list(build_channels(config) if channels is None else channels)
    report = DeliveryReport()
    if not channels:
        return report
    records = {dt.date.fromisoformat(r["week_ending"]): r for r in store.digests()}
    explicit = week_ending is not None or resend
    if week_ending is not None:
        week = dg.week_ending_of(week_ending, config.calendar.week_ends_on)
        if week not in records:
            raise MonitorError(f"no digest of the week ending {week.isoformat()} has been published "
                               "(monitor digest --week-ending builds it)")
        weeks = [week]
    elif resend:
        if not records:
            raise MonitorError("no digest has been published yet: nothing to resend")
        weeks = [max(records)]
    else:
        newest_due = first_week(config, now)
        weeks = sorted(w for w in records if w <= newest_due)  # a week is delivered once its publish time came
    recipients = {ch.name: ch.recipients() for ch in channels}
    by_name = {ch.name: ch for ch in channels}
    starts = store.delivery_starts()
    new = ledger.missing_starts(recipients, starts, first_week(config, now))  # no back catalogue
    if new and dry_run is None:
        store.add_delivery_starts(new, now)
    starts = {**starts, **{(c, r): w for c, r, w in new}}
    rows = store.deliveries()
    due = ledger.due_deliveries(weeks, recipients, rows, starts, now=now, resend=resend, explicit=explicit)

    editions: dict[dt.date, Edition] = {}
    for item in due:
        if stopping():
            break
        edition = editions.get(item.week_ending)
        if edition is None:
            edition = editions[item.week_ending] = edition_for(config, store, records[item.week_ending])
        channel = by_name[item.channel]
        prev = item.previous
        if prev is not None and prev.generation == item.generation and prev.message_id:
            msg_id = prev.message_id  # every attempt of a generation: the same Message-ID
        else:
            msg_id = channel.message_id(edition, item.recipient, item.generation)
        if dry_run is not None:
            suffix, data = channel.preview(edition, item.recipient, msg_id)
            path = dry_run / item.week_ending.isoformat() / f"{item.channel}-{_UNSAFE.sub('_', item.recipient)}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            report.previews.append(path)
            continue
        row = ledger.queued(item, msg_id, clock())
        store.put_delivery(row)  # before the message leaves: a crash from here on is "queued"
        try:
            stopped = await _send_finishing_on_cancel(channel.send(edition, item.recipient, msg_id))
        except DeliveryError as e:
            _failed(store, report, row, e.reason, e.temporary, clock())
            continue
        except Exception as e:  # noqa: BLE001 -- a bug in a channel must not stop the others; retried
            log.error("internal error delivering the week ending %s by %s to %s: %s: %s\n%s",
                      item.week_ending.isoformat(), item.channel, item.recipient, type(e).__name__, e,
                      traceback.format_exc())
            _failed(store, report, row, f"internal error: {type(e).__name__}", True, clock())
            continue
        store.put_delivery(ledger.sent(row, clock()))
        report.sent.append((item.week_ending, item.channel, item.recipient))
        log.info("delivered the week ending %s by %s to %s%s", item.week_ending.isoformat(), item.channel,
                 item.recipient, " (again: unfinished before)" if item.why == "unfinished" else "")
        if stopped:
            raise asyncio.CancelledError  # recorded; now the stop goes on
    report.next_retry = ledger.next_retry(store.deliveries()) if dry_run is None else None
    return report


#: How long a stop (SIGTERM) waits for the message being sent, so that its outcome is recorded instead
#: of leaving the row "queued" (which a restart sends again).
STOP_GRACE = 4.0


async def _send_finishing_on_cancel(send: Awaitable[None]) -> bool:
    """Await ``send``; if the caller is cancelled meanwhile, give the message :data:`STOP_GRACE` seconds
    to finish. True: it was sent after a cancellation (the caller records it, then re-raises)."""
    task = asyncio.ensure_future(send)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE)
        if task in done and not task.cancelled() and task.exception() is None:
            return True
        task.cancel()
        raise
    return False


def _failed(store: Storage, report: DeliveryReport, row: Delivery, reason: str, temporary: bool,
            now: dt.datetime) -> None:
    out = ledger.failed(row, reason, temporary=temporary, now=now)
    store.put_delivery(out)
    report.failed.append((row.week_ending, row.channel, row.recipient, reason, not out.permanent))
    if out.permanent:
        log.error("could not deliver the week ending %s by %s to %s: %s", row.week_ending.isoformat(), row.channel,
                  row.recipient, out.last_error)
    else:
        log.warning("could not deliver the week ending %s by %s to %s: %s; next try at %s",
                    row.week_ending.isoformat(), row.channel, row.recipient, reason,
                    out.next_attempt_at.isoformat(timespec="seconds") if out.next_attempt_at else "-")
