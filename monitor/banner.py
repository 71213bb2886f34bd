"""What ``monitor run`` says at the default log level: a start banner and, for ``--once``, a summary.

Why: at the default level (warning) the service used to print nothing at all, not even where it
serves, so a user could not tell a working service from a hung one, nor find its feed. The banner
is a few lines on stderr, printed once when the service is ready; ``run --once`` (cron) ends with
one line of totals. Both are plain text built here from data (no I/O), printed by the service.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from . import __version__
from .config import Config
from .models import SourceResult

__all__ = ["RunTotals", "next_publish", "once_summary", "start_banner"]


@dataclass
class RunTotals:
    """Counts of what a service process did (constant size however long it runs)."""

    ok: int = 0
    failed: int = 0
    new: int = 0
    changed: int = 0
    weeks_published: list[dt.date] = field(default_factory=list)

    def add(self, r: SourceResult) -> None:
        if r.status == "error":
            self.failed += 1
        else:
            self.ok += 1
        self.new += r.new
        self.changed += r.changed


def next_publish(config: Config, now: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """The next week to be published after ``now`` and its publish moment (local time)."""
    cal = config.calendar
    week = cal.last_due_week(now) + dt.timedelta(days=7)
    return week, cal.publish_moment(week)


def start_banner(config: Config, *, now: dt.datetime, served_at: str | None) -> str:
    """The lines printed when ``monitor run`` is ready. ``served_at``: the web server's URL
    (its bound port), or None when ``serve:`` is not configured."""
    week, moment = next_publish(config, now)
    n = len(config.sources)
    lines = [
        f"monitor {__version__}: watching {n} source{'s' if n != 1 else ''}",
        f"  config    {config.path.resolve() if config.path else '(none)'}",
        f"  database  {config.database}",
    ]
    if served_at is not None:
        lines += [
            f"  site      {served_at}  (serving {config.output_dir})",
            f"  feed      {served_at}feed.xml",
            f"  health    {served_at}healthz",
        ]
    else:
        lines.append(f"  output    {config.output_dir}  (not served: no serve: section)")
    if config.site_url.rstrip("/") != (served_at or "").rstrip("/"):
        lines.append(f"  site_url  {config.site_url}  (the links in the digests)")
    lines.append(f"  next digest: the week ending {week.isoformat()}, published "
                 f"{moment:%a %Y-%m-%d %H:%M} {config.timezone.key}")
    return "\n".join(lines)


def once_summary(totals: RunTotals, *, publish_ok: bool, sources_configured: int) -> str:
    """The one line ``run --once`` ends with."""
    weeks = totals.weeks_published
    pub = (f"published the week(s) ending {', '.join(w.isoformat() for w in sorted(weeks))}" if weeks
           else "no week published")
    ran = totals.ok + totals.failed
    due = f" (of {sources_configured}; the rest not due)" if ran < sources_configured else ""
    return (f"monitor run --once: {ran} source(s) run{due}: {totals.ok} ok, {totals.failed} failed; "
            f"{totals.new} new, {totals.changed} changed post(s); {pub}"
            + ("" if publish_ok else "; publishing FAILED (see the log above)"))

