"""``monitor run``: the background service — a thin scheduling shell around the pipeline.

"When is each source due" is data in SQLite (``sources.next_due_at``, ``failures``,
``retry_after_until``, written by the pipeline after every source run, jitter and backoff
included), read once at start and then kept in memory from each run's result. A restart resumes
the schedule instead of re-fetching everything, and a missed run is harmless::

    run_service(config, once=False)
      DatabaseLock(<database>.lock)        one instance per database (flock; gone on kill -9)
      Monitor.open(config, fetcher, pool)  the application (monitor.pipeline): database opened
                                           (WAL), sources registered once; one Fetcher and one
                                           ParsePool for the life of the service
      SiteServer(output_dir, /healthz)     when ``serve:`` is configured (daemon thread)
      AsyncIOScheduler(timezone=config.timezone), both jobs with misfire_grace_time=None,
      coalesce=True, max_instances=1 (nothing is silently skipped, nothing runs twice):
        "tick"     IntervalTrigger(TICK_SECONDS = 1 s; O(1) while nothing is due)
                     -> start_due(): ONE batch of every due source not already running,
                        Monitor.fetch(names, due_only=True) — the path `monitor fetch` takes
        "publish"  CronTrigger(day_of_week, hour, minute, timezone=tz)   (never from_crontab)
                     -> request_publish() -> publish_due():
                        1. final fetch: every source not fetched since the newest due week's
                           publish moment (waits for a run already in flight)
                        2. every week that is due (config.calendar), not recorded and not found
                           empty by this process -> Monitor.publish(week_ending=week), oldest
                           first, in a one-thread executor with its own connection
                        3. deliver_due(): Monitor.deliver -> monitor.deliver.deliver_editions:
                           each published week to every recipient once (the ledger); temporary
                           failures retried by a later tick at their next_attempt_at
      on start: start_due() and request_publish() — the catch-up of weeks missed while stopped.
      SIGTERM / SIGINT: the scheduler stops; fetches in flight are cancelled (a source's writes
      are one transaction applied without an await: stored whole or not at all); a publish
      stops after the week it is writing (files are temp + rename); the server is shut; exit 0.
      A second signal exits at once (still safe: WAL + renames).

Why :class:`~apscheduler.schedulers.asyncio.AsyncIOScheduler`: the pipeline is async, so
one event loop in the main thread runs the jobs, the fetches and the signal handlers. A
fetch in flight is cancelled with ``Task.cancel()`` — no cross-thread cancellation, no event
loop per tick, one long-lived :class:`~monitor.fetch.Fetcher` (its robots.txt cache and
per-host limits hold across ticks). The jobs return at once (they only start tasks), so they
never overlap themselves and never hit APScheduler's "maximum number of running instances"
skip; one slow site never holds back the others, and a source never runs twice at once.
SQLite work on the loop is short (one transaction per source run); the long, synchronous part
(rendering a catch-up of many weeks) runs in the publish thread.

``--once`` (for cron) does one fetch of the due sources and the same catch-up, then exits:
0, or 1 when a source or a digest failed.

Testing hook: when the environment variable ``MONITOR_FAKE_NOW`` holds an ISO 8601 instant
with an offset (``2020-10-31T07:00:00+00:00``), the service's clock starts there and runs
at real speed. Only the service reads it; it is logged as a warning. The APScheduler jobs
keep real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .banner import RunTotals, once_summary, start_banner
from .config import Config
from .errors import AlreadyRunning, MonitorError
from .lock import DatabaseLock
from .models import PublishingState, SourceResult, SourceState
from .schedule import backoff_delay
from .web import SiteServer, health_report

__all__ = [
    "FAKE_NOW_ENV",
    "TICK_SECONDS",
    "Service",
    "build_scheduler",
    "clock_from_env",
    "run_service",
]

log = logging.getLogger("monitor.service")

UTC = dt.UTC
Clock = Callable[[], dt.datetime]
FAKE_NOW_ENV = "MONITOR_FAKE_NOW"
#: Posts added to the search index per idle tick (a short pause of the loop, never a long one).
SEARCH_PER_IDLE_TICK = 200
#: A source never run is due at once.
_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)
#: A source whose batch ended without its result (the database was locked, say) is tried again then.
RETRY_UNREPORTED = 60.0
#: A failed publish is retried after 1 min, then 2, 4, ... up to 1 h (schedule.backoff_delay).
PUBLISH_RETRY_FIRST = 60.0
PUBLISH_RETRY_MAX = 3600.0
#: How long a stop waits for a publish that is writing a week before giving up on it.
STOP_GRACE = 4.0
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


# -- pure helpers ------------------------------------------------------------------------------


#: How often the scheduler looks for due sources. A tick costs nothing while nothing is due (the
#: schedule is in memory: one comparison), so every source starts within about a second of its due
#: time, whatever its interval.
TICK_SECONDS = 1.0


def clock_from_env(env: dict[str, str] | os._Environ[str] | None = None) -> Clock | None:
    """The ``MONITOR_FAKE_NOW`` testing hook: a clock starting at that instant, or None."""
    value = (env if env is not None else os.environ).get(FAKE_NOW_ENV)
    if not value:
        return None
    start = dt.datetime.fromisoformat(value)
    if start.tzinfo is None:
        raise ValueError(f"{FAKE_NOW_ENV} needs a UTC offset, got {value!r}")
    t0 = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - t0)


def build_scheduler(config: Config, tick: Callable[[], Any], publish: Callable[[], Any]) -> AsyncIOScheduler:
    """The two jobs, not started. Explicit settings on each job (APScheduler 3 defaults bite:
    a 1 s misfire grace silently skips a late weekly run)."""
    scheduler = AsyncIOScheduler(timezone=config.timezone)
    scheduler.add_job(tick, IntervalTrigger(seconds=TICK_SECONDS, timezone=config.timezone), id="tick",
                      name=f"fetch due sources (every {TICK_SECONDS:g} s)",
                      misfire_grace_time=None, coalesce=True, max_instances=1)
    t = config.publish_time
    # Not CronTrigger.from_crontab(): it ignores the time zone.
    scheduler.add_job(publish, CronTrigger(day_of_week=_CRON_DAYS[config.publish_weekday], hour=t.hour,
                                           minute=t.minute, timezone=config.timezone),
                      id="publish", name=f"publish the weekly digest ({config.digest.publish_at})",
                      misfire_grace_time=None, coalesce=True, max_instances=1)
    return scheduler


# -- the service ------------------------------------------------------------------------------


class App(Protocol):
    """What the service needs of the application (:class:`monitor.pipeline.Monitor`)."""

    async def fetch(self, names: Sequence[str] | None = None, *, due_only: bool = False,
                    on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]: ...

    def states(self, names: Sequence[str] | None = None) -> dict[str, SourceState]: ...
    def unpublished_weeks(self, now: dt.datetime) -> list[dt.date]: ...
    def is_published(self, week: dt.date) -> bool: ...
    def record_publishing(self, state: PublishingState) -> None: ...
    def update_search(self, limit: int | None = None, batch: int = 500) -> int: ...
    async def deliver(self, *, now: dt.datetime | None = None, stopping: Callable[[], bool] = ...) -> Any: ...


class Publisher(Protocol):
    """What the publish thread uses, through its own connection (a :class:`monitor.pipeline.Monitor`)."""

    def is_published(self, week: dt.date) -> bool: ...
    def week_has_content(self, week: dt.date) -> bool: ...
    def publish(self, *, week_ending: dt.date | None = None, now: dt.datetime | None = None) -> Any: ...
    def close(self) -> None: ...


class Service:
    """All the work of ``monitor run``; :func:`run_service` wires it to a process.

    The schedule is kept in memory (each source's next due time, read from the database once at
    start, then taken from each run's result), so a tick costs nothing when nothing is due and a
    batch costs what its sources cost, never what the whole configuration costs. Every due source
    of a tick runs in one batch through the same code as ``monitor fetch``
    (:meth:`monitor.pipeline.Monitor.fetch`); a source finished in one batch can run again in the
    next tick while a slow one of the same batch is still going.

    App, publisher and clock are injectable for tests. Everything except the publish thread runs
    on one event loop; the publish thread and ``/healthz`` each read through their own connection
    (WAL: a consistent snapshot, never the inside of a source's transaction).
    """

    def __init__(self, config: Config, app: App, *, clock: Clock = utcnow,
                 open_publisher: Callable[[], Publisher] | None = None):
        self.config = config
        self.app = app
        self.clock = clock
        self.open_publisher = open_publisher or self._open_publisher
        #: weeks the publisher was asked about and built nothing for (no posts): not asked again
        self.checked: set[dt.date] = set()
        self.failed_sources = 0
        self.failed_publishes = 0
        self.totals = RunTotals()  # for run --once's summary line
        self.last_publish_error: str | None = None
        self.scheduler: AsyncIOScheduler | None = None
        #: each source's next due time (never run: the earliest time), and a heap of the same
        #: (time, config index, name) with stale entries skipped when popped
        self._due: dict[str, dt.datetime] | None = None
        self._heap: list[tuple[dt.datetime, int, str]] = []
        self._order = {s.name: i for i, s in enumerate(config.sources)}
        self._inflight: dict[str, asyncio.Task[list[SourceResult]]] = {}
        self._batches: set[asyncio.Task[list[SourceResult]]] = set()
        self._publishing: asyncio.Task[bool] | None = None
        self._publish_again = False
        self._publish_retry_at: dt.datetime | None = None
        self._publish_failures = 0  # failed publish passes in a row
        self._newest_seen: dt.date | None = None  # the newest due week when publish_due last ran
        self._stopping = threading.Event()  # also read by the publish thread between weeks
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-publish")
        self._deliver_retry_at: dt.datetime | None = None  # the ledger's earliest temporary failure

    def _open_publisher(self) -> Publisher:
        """The publish thread's own connection to the database (WAL: a consistent snapshot)."""
        from .pipeline import Monitor

        return Monitor.open(self.config, register=False)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- fetching -----------------------------------------------------------------------

    def _load_schedule(self) -> dict[str, dt.datetime]:
        if self._due is None:
            states = self.app.states()
            self._due = {}
            for s in self.config.sources:
                st = states.get(s.name)
                times = [t for t in (st.next_due_at, st.retry_after_until) if t is not None] if st else []
                self._set_due(s.name, max(times, default=_NEVER))
        return self._due

    def _set_due(self, name: str, when: dt.datetime) -> None:
        assert self._due is not None
        self._due[name] = when
        heapq.heappush(self._heap, (when, self._order[name], name))

    def due_now(self, now: dt.datetime) -> list[str]:
        """Sources due at ``now`` and not running, in config order: O(1) while nothing is due,
        O(k log n) for k due sources (a source's entry leaves the heap while it runs and comes
        back with its result's next due time)."""
        due = self._load_schedule()
        heap, names = self._heap, []
        while heap and heap[0][0] <= now:
            when, _, name = heapq.heappop(heap)
            if due.get(name) == when and name not in self._inflight:
                names.append(name)
        return sorted(names, key=self._order.__getitem__)

    def start_due(self) -> list[asyncio.Task[list[SourceResult]]]:
        """Start one batch of every due source that is not already running; don't wait for it."""
        if self.stopping:
            return []
        names = self.due_now(self.clock())
        return [self._start(names, due_only=True)] if names else []

    def _start(self, names: Sequence[str], *, due_only: bool) -> asyncio.Task[list[SourceResult]]:
        """One batch of sources (those not already running); their tasks are tracked per name."""
        names = [n for n in names if n not in self._inflight]
        task = asyncio.create_task(self._run_batch(names, due_only), name=f"batch of {len(names)}")
        for n in names:
            self._inflight[n] = task
        self._batches.add(task)

        def done(t: asyncio.Task[list[SourceResult]]) -> None:
            self._batches.discard(t)
            for n in names:
                if self._inflight.get(n) is t:  # a source that did not report (cancelled, crashed)
                    del self._inflight[n]
                    if self._due is not None and not self.stopping:
                        self._set_due(n, self.clock() + dt.timedelta(seconds=RETRY_UNREPORTED))

        task.add_done_callback(done)
        return task

    async def _run_batch(self, names: list[str], due_only: bool) -> list[SourceResult]:
        if not names or self.stopping:
            return []
        try:
            return await self.app.fetch(names, due_only=due_only, on_result=self._on_result)
        except MonitorError as e:  # the run could not be stored (database locked, disk full)
            self.failed_sources += 1
            log.error("%d source(s) not run: %s", len(names), e.reason)
        except Exception as e:  # noqa: BLE001 -- a bug must not stop the service
            self.failed_sources += 1
            log.error("internal error %s: %s\n%s", type(e).__name__, e, traceback.format_exc())
        return []

    async def fetch_due(self) -> list[SourceResult]:
        """Run every due source and wait for them all (``--once``, and the start)."""
        results: list[SourceResult] = []
        for r in await asyncio.gather(*self.start_due()):
            results.extend(r)
        return results

    def _on_result(self, r: SourceResult) -> None:
        self._inflight.pop(r.source, None)
        self.totals.add(r)
        if self._due is not None and r.source in self._due:
            self._set_due(r.source, r.next_due_at or self.clock())
        if r.status != "error":
            return
        self.failed_sources += 1
        when = f"; next try at {r.next_due_at.isoformat(timespec='seconds')}" if r.next_due_at else ""
        failures = f" ({r.failures} in a row)" if r.failures > 1 else ""
        log.warning("%s failed%s: %s%s", r.source, failures, r.error, when)

    # -- publishing ------------------------------------------------------------------------

    async def publish_due(self) -> bool:
        """Publish every due week not yet recorded (the catch-up); False on failure.

        Before the newest due week is published, each source not fetched since that week's
        publish moment is fetched once more (the "final fetch"); ``last_run_at`` makes this
        happen once, across restarts and cron runs too.
        """
        config, cal = self.config, self.config.calendar
        now = self.clock()
        newest = cal.last_due_week(now)
        self._newest_seen = newest
        # Never-fetched sources (new in the config) may hold posts of any past week: wait for them.
        since = dt.datetime.min.replace(tzinfo=UTC)
        if newest not in self.checked and not self.app.is_published(newest):
            since = cal.publish_moment(newest)
        states = self.app.states()
        stale = [s.name for s in config.sources
                 if (st := states.get(s.name)) is None or st.last_run_at is None or st.last_run_at < since]
        if stale and not self.stopping:
            log.info("final fetch before publishing: %d source(s) not fetched since %s",
                     len(stale), since.isoformat(timespec="minutes") if since.year > 1 else "they were added")
            running = {self._inflight[n] for n in stale if n in self._inflight}
            batch = self._start(stale, due_only=False)  # those not already running
            await asyncio.gather(batch, *running, return_exceptions=True)
        todo = [w for w in self.app.unpublished_weeks(now) if w not in self.checked]
        if not todo or self.stopping:
            self._publish_retry_at = None
            self.last_publish_error = None
            return True
        log.debug("due week(s) not yet published: %s", ", ".join(w.isoformat() for w in todo))
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._executor, self._publish_weeks, todo, self.clock())
        try:
            ok = await asyncio.shield(fut)
        except asyncio.CancelledError:
            # A thread cannot be interrupted; it stops after the week it is writing.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(fut), STOP_GRACE)
            raise
        if ok:
            self._publish_retry_at = None
            self._publish_failures = 0
            self.last_publish_error = None
        else:
            self._schedule_retry()
        self._record_publishing(ok)
        return ok

    def _record_publishing(self, ok: bool) -> None:
        """Remember this pass in the database, so `monitor status` shows a failing publish too."""
        try:
            self.app.record_publishing(PublishingState(self.clock(), ok, self.last_publish_error,
                                                       self._publish_retry_at))
        except MonitorError as e:
            log.error("could not record the publishing state: %s", e.reason)

    def _schedule_retry(self) -> None:
        """A failed publish is tried again by a later tick: 1 min, 2, 4, … up to 1 h."""
        self.failed_publishes += 1
        delay = backoff_delay(PUBLISH_RETRY_FIRST, self._publish_failures, PUBLISH_RETRY_MAX)
        self._publish_failures += 1
        self._publish_retry_at = self.clock() + dt.timedelta(seconds=delay)
        log.warning("publishing will be retried at %s", self._publish_retry_at.isoformat(timespec="seconds"))

    def _publish_weeks(self, weeks: list[dt.date], now: dt.datetime) -> bool:
        """In the publish thread, with its own connection: each week, oldest first, once."""
        try:
            publisher = self.open_publisher()
        except MonitorError as e:
            log.error("could not publish: %s", e.reason)
            self.last_publish_error = e.reason
            return False
        try:
            return self._publish_weeks_with(publisher, weeks, now)
        finally:
            publisher.close()

    def _publish_weeks_with(self, publisher: Publisher, weeks: list[dt.date], now: dt.datetime) -> bool:
        for week in weeks:
            if self.stopping:
                return True
            try:
                if publisher.is_published(week):
                    continue  # never publish a week twice
                if not self.config.digest.empty_weeks and not publisher.week_has_content(week):
                    self.checked.add(week)
                    continue
                log.info("publishing the week ending %s", week.isoformat())  # only a week with content
                report = publisher.publish(week_ending=week, now=now)
            except MonitorError as e:
                log.error("could not publish the week ending %s: %s", week.isoformat(), e.reason)
                self.last_publish_error = f"the week ending {week.isoformat()}: {e.reason}"
                return False
            except Exception as e:  # noqa: BLE001 -- logged with its traceback; retried
                log.error("could not publish the week ending %s: internal error %s: %s\n%s",
                          week.isoformat(), type(e).__name__, e, traceback.format_exc())
                self.last_publish_error = f"the week ending {week.isoformat()}: internal error {type(e).__name__}: {e}"
                return False
            built = list(getattr(report, "weeks_built", None) or [])
            if week in built:
                self.totals.weeks_published.append(week)
                files = len(getattr(report, "files_written", None) or [])
                log.info("published the digest of the week ending %s (%d file(s) written)",
                         week.isoformat(), files)
            for day, why in getattr(report, "skipped", None) or []:
                log.info("week ending %s: nothing to publish (%s)", day.isoformat(), why)
                self.checked.add(day)
            if week not in built:
                self.checked.add(week)
        return True

    def request_publish(self) -> asyncio.Task[bool] | None:
        """Start a publish (final fetch + catch-up) unless one runs; then it runs once more after."""
        if self.stopping:
            return None
        if self._publishing is not None and not self._publishing.done():
            self._publish_again = True
            return self._publishing
        self._publishing = asyncio.create_task(self._publish_loop(), name="publish")
        return self._publishing

    async def _publish_loop(self) -> bool:
        ok = True
        while True:
            self._publish_again = False
            try:
                ok = await self.publish_due()
            except MonitorError as e:
                log.error("error while publishing: %s", e.reason)
                self.last_publish_error = e.reason
                ok = False
                self._schedule_retry()
                self._record_publishing(ok)
            except Exception as e:  # noqa: BLE001 -- logged with its traceback; retried
                log.error("internal error while publishing: %s: %s\n%s", type(e).__name__, e,
                          traceback.format_exc())
                self.last_publish_error = f"internal error {type(e).__name__}: {e}"
                ok = False
                self._schedule_retry()
                self._record_publishing(ok)
            await self.deliver_due()  # right after publishing (the catch-up too); weeks published before also
            if not self._publish_again or self.stopping:
                return ok

    # -- delivering -------------------------------------------------------------------------

    async def deliver_due(self) -> bool:
        """Deliver every published week due to a recipient (monitor.deliver); False if a message failed.

        Runs on the event loop through the service's application (each ledger write is one short
        transaction; the mail itself goes out in a worker thread). Temporary failures are retried
        by a later tick at the ledger's ``next_attempt_at``.
        """
        if self.stopping or (self.config.deliver.email is None and not self.config.deliver.notify):
            return True
        try:
            report = await self.app.deliver(now=self.clock(), stopping=lambda: self.stopping)
        except MonitorError as e:
            log.error("could not deliver: %s", e.reason)
            self._deliver_retry_at = self.clock() + dt.timedelta(seconds=60)
            return False
        except Exception as e:  # noqa: BLE001 -- logged with its traceback; retried
            log.error("internal error while delivering: %s: %s\n%s", type(e).__name__, e, traceback.format_exc())
            self._deliver_retry_at = self.clock() + dt.timedelta(seconds=60)
            return False
        self._deliver_retry_at = report.next_retry
        return bool(report.ok)

    # -- modes ----------------------------------------------------------------------------

    async def run_once(self) -> int:
        """``--once``: fetch what is due, publish what is due; 0, or 1 if anything failed."""
        try:
            await self.fetch_due()
            published = await self.publish_due()
            delivered = await self.deliver_due()
        except MonitorError as e:
            log.error("%s", e.reason)
            return 1
        return 1 if self.failed_sources or not published or not delivered else 0

    async def _tick_job(self) -> None:
        """Every tick: start the due sources; retry a failed publish when its time has come.

        Also a safety net for the cron job: when a new week has become due since the last
        publish pass (a cron firing early or late around a DST change, a suspended machine),
        publish it now.
        """
        try:
            self.start_due()
        except MonitorError as e:  # e.g. the database is locked for longer than busy_timeout
            log.error("cannot read the schedule: %s (next tick retries)", e.reason)
            return
        if not self._batches:  # idle: the search index catches up a little (it is off the fetch path)
            try:
                self.app.update_search(limit=SEARCH_PER_IDLE_TICK)
            except MonitorError as e:
                log.warning("search index not updated: %s", e.reason)
        now = self.clock()
        if self._deliver_retry_at is not None and now >= self._deliver_retry_at:
            self._deliver_retry_at = None
            self.request_publish()  # publishes nothing new, then delivers what is due again
        if self._publish_retry_at is not None:
            if now >= self._publish_retry_at:
                self._publish_retry_at = None
                self.request_publish()
        elif self._newest_seen is not None and self.config.calendar.last_due_week(now) != self._newest_seen:
            self.request_publish()

    async def _publish_job(self) -> None:
        log.debug("publish time (%s, %s)", self.config.digest.publish_at, self.config.timezone.key)
        self.request_publish()

    async def serve_forever(self, stop: asyncio.Event) -> int:
        """Run the scheduler until ``stop`` is set; 0 on a clean stop."""
        self.scheduler = build_scheduler(self.config, self._tick_job, self._publish_job)
        self.scheduler.start()
        log.info("scheduler started: due sources checked every %g s, digests published %s (%s)",
                 TICK_SECONDS, self.config.digest.publish_at, self.config.timezone.key)
        # On start: whatever is due, and the catch-up. The catch-up waits only for the fetches
        # it needs (sources not fetched since the newest due week's publish moment).
        self.start_due()
        self.request_publish()
        try:
            await stop.wait()
        finally:
            await self.stop()
        return 0

    async def stop(self) -> None:
        """No new work; cancel the fetches in flight; let a publish finish the week it writes."""
        self._stopping.set()
        # stop() runs twice on a signal (serve_forever's finally and the process's); APScheduler's
        # shutdown only takes effect on the loop's next turn, so ``running`` is still true then:
        # forget the scheduler before shutting it down, so the second call has nothing to stop.
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        tasks: list[asyncio.Task[Any]] = [*self._batches]
        if self._publishing is not None and not self._publishing.done():
            tasks.append(self._publishing)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        self._stopping.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    # -- health -----------------------------------------------------------------------------

    def next_runs(self) -> dict[str, dt.datetime | None]:
        """When the scheduler jobs fire next, and when the next source is due."""
        out: dict[str, dt.datetime | None] = {}
        if self.scheduler is not None:
            for job in self.scheduler.get_jobs():
                out[job.id] = getattr(job, "next_run_time", None)
        dues = [t for t in (self._due or {}).values() if t is not _NEVER]
        out["next_source_due"] = min(dues) if dues else None
        return out


# -- the process ------------------------------------------------------------------------------


def _quiet_libraries() -> None:
    """At INFO the service logs one line per source run; keep library chatter (APScheduler's
    "Running job" every tick) for --log-level debug."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    for name in ("apscheduler", "aiohttp"):
        lg = logging.getLogger(name)
        if lg.level == logging.NOTSET:
            lg.setLevel(logging.WARNING)


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)  # noqa: T201 -- before logging is set up


def _say(text: str) -> None:
    """The start banner and --once's summary: shown at the default log level, not with --log-level error."""
    if logging.getLogger().getEffectiveLevel() <= logging.WARNING:
        print(text, file=sys.stderr, flush=True)  # noqa: T201 -- for the user, not a log record


def run_service(config: Config, *, once: bool = False, clock: Clock | None = None) -> int:
    """``monitor run [--once]``: the exit code (0 ok, 1 failure or another instance running)."""
    _quiet_libraries()
    if clock is None:
        try:
            clock = clock_from_env()
        except ValueError as e:
            _error(str(e))
            return 2
        if clock is not None:
            log.warning("%s is set: the clock starts at %s (testing hook)", FAKE_NOW_ENV,
                        clock().isoformat(timespec="seconds"))
    clock = clock or utcnow
    lock = DatabaseLock(config.database)
    try:
        lock.acquire()
    except AlreadyRunning as e:
        _error(e.reason)
        return 1
    except OSError as e:
        _error(f"cannot create the lock file {lock.path}: {e}")
        return 1
    try:
        return asyncio.run(_main(config, once=once, clock=clock))
    finally:
        lock.release()


class _Health:
    """/healthz, called from the web server's threads: its own connection, opened on first use."""

    def __init__(self, config: Config, service: Service):
        self.config, self.service = config, service
        self._app: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, Any]:
        from .pipeline import Monitor

        with self._lock:
            if self._app is None:
                self._app = Monitor.open(self.config, register=False)
            # the publishing state as the service recorded it: what `monitor status` reads too
            return health_report(self.config, self._app.status_inputs(next_runs=self.service.next_runs()))

    def close(self) -> None:
        with self._lock:
            if self._app is not None:
                self._app.close()
                self._app = None


async def _main(config: Config, *, once: bool, clock: Clock) -> int:
    from .fetch import Fetcher
    from .pipeline import Monitor, user_agent, wants_pool
    from .workers import ParsePool

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main_task = asyncio.current_task()
    signals_seen: list[int] = []

    def on_signal(signum: int) -> None:
        signals_seen.append(signum)
        name = signal.Signals(signum).name
        if len(signals_seen) > 1:
            log.warning("%s again: exiting at once", name)
            os._exit(1)  # the database (WAL) and the published files (renames) stay consistent
        log.info("%s: stopping", name)
        stop.set()
        if once and main_task is not None:
            main_task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)

    # One fetcher (its robots.txt cache and per-host limits hold across ticks) and one parse pool
    # for the life of the service; sources registered once, here.
    fetcher = Fetcher(config.fetch, user_agent=user_agent(config))
    workers = wants_pool(len(config.sources))
    pool = ParsePool(workers) if workers else None
    app: Monitor | None = None
    service: Service | None = None
    health: _Health | None = None
    server: SiteServer | None = None
    try:
        try:
            app = Monitor.open(config, fetcher=fetcher, pool=pool, clock=clock)
        except MonitorError as e:
            _error(e.reason)
            return 1
        service = Service(config, app, clock=clock)
        if once:
            try:
                code = await service.run_once()
                _say(once_summary(service.totals, publish_ok=not service.failed_publishes
                                  and service.last_publish_error is None,
                                  sources_configured=len(config.sources)))
                return code
            except asyncio.CancelledError:
                log.info("stopped before finishing; the next run picks up what is left")
                return 0
        if config.serve is not None:
            health = _Health(config, service)
            server = SiteServer(config.output_dir, config.serve.host, config.serve.port, health=health)
            try:
                server.start()
            except OSError as e:
                from .paths import path_problem

                _error(path_problem(config.output_dir, folder=True, what="cannot serve output_dir")
                       or f"cannot serve on {config.serve.host}:{config.serve.port}: {e.strerror or e}")
                server = None
                return 1
        _say(start_banner(config, now=clock(), served_at=server.url if server is not None else None))
        code = await service.serve_forever(stop)
        log.info("stopped")
        return code
    finally:
        if server is not None:
            server.shutdown()
        if service is not None:
            await service.stop()
            await service.aclose()
        if health is not None:
            health.close()
        if pool is not None:
            await pool.aclose()
        await fetcher.aclose()
        if app is not None:
            app.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
