"""``monitor run``: the background service — a thin scheduling shell around the pipeline.

"When is each source due" is data in SQLite (``sources.next_due_at``, ``failures``,
``retry_after_until``, written by the pipeline after every source run, jitter and backoff
included). The scheduler holds no state worth keeping, so a restart resumes the schedule
instead of re-fetching everything, and a missed run is harmless::

    run_service(config, once=False)
      DatabaseLock(<database>.lock)        one instance per database (flock; gone on kill -9)
      Store.open(database)                 WAL: a kill at any moment leaves a consistent file
      SiteServer(output_dir, /healthz)     when ``serve:`` is configured (daemon thread)
      AsyncIOScheduler(timezone=config.timezone), both jobs with misfire_grace_time=None,
      coalesce=True, max_instances=1 (nothing is silently skipped, nothing runs twice):
        "tick"     IntervalTrigger(min(every)/2, bounded to [1 s, 60 s])
                     -> start_due(): one task per due source not already running
                        (Pipeline.run([name], due_only=True); at most fetch.concurrency at once)
        "publish"  CronTrigger(day_of_week, hour, minute, timezone=tz)   (never from_crontab)
                     -> request_publish() -> publish_due():
                        1. final fetch: every source not fetched since the newest due week's
                           publish moment (waits for a run already in flight)
                        2. every week that is due (its end + the publish_at offset has passed),
                           not in ``digests`` and not found empty by this process
                           -> publish_digests(week_ending=week), oldest first, in a one-thread
                           executor with its own connection
                        3. deliver_due(): monitor.deliver.deliver_editions — each published
                           week to every recipient once (the ledger), temporary failures
                           retried by a later tick at their next_attempt_at
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
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from . import digest as dg
from .config import Config
from .errors import AlreadyRunning, MonitorError
from .lock import DatabaseLock
from .models import SourceResult
from .web import SiteServer, health_report
from .store import Store

if TYPE_CHECKING:
    from .fetch import Fetcher

__all__ = [
    "FAKE_NOW_ENV",
    "Service",
    "build_scheduler",
    "clock_from_env",
    "due_weeks",
    "last_due_week",
    "publish_moment",
    "run_service",
    "tick_seconds",
]

log = logging.getLogger("monitor.service")

UTC = dt.timezone.utc
Clock = Callable[[], dt.datetime]
FAKE_NOW_ENV = "MONITOR_FAKE_NOW"
#: How long a stop waits for a publish that is writing a week before giving up on it.
STOP_GRACE = 4.0
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


# -- pure helpers: ticks and weeks ---------------------------------------------------------


def tick_seconds(config: Config) -> float:
    """How often the scheduler looks for due sources: half the shortest interval, in [1, 60] s."""
    return max(1.0, min(60.0, min(s.every for s in config.sources) / 2))


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


def publish_moment(week_ending: dt.date, config: Config) -> dt.datetime:
    """When the week ending on ``week_ending`` is published: the first ``digest.publish_at``
    (weekday and time, in ``config.timezone``) at or after the end of the week."""
    first_day = week_ending + dt.timedelta(days=1)
    day = first_day + dt.timedelta(days=(config.publish_weekday - first_day.weekday()) % 7)
    return dt.datetime.combine(day, config.publish_time, tzinfo=config.timezone)


def last_due_week(now: dt.datetime, config: Config) -> dt.date:
    """The newest week whose publish moment has come by ``now``."""
    week = dg.last_complete_week_ending(now, config.digest.week_ends_on, config.timezone)
    return week if publish_moment(week, config) <= now else week - dt.timedelta(days=7)


def due_weeks(now: dt.datetime, config: Config, first_published: dt.datetime | None) -> list[dt.date]:
    """Every week from the one holding the first post to the newest due one, oldest first."""
    if first_published is None:
        return []
    first = dg.week_ending_for(first_published, config.digest.week_ends_on, config.timezone)
    last = last_due_week(now, config)
    weeks = []
    while first <= last:
        weeks.append(first)
        first += dt.timedelta(days=7)
    return weeks


def build_scheduler(config: Config, tick: Callable[[], Any], publish: Callable[[], Any]) -> AsyncIOScheduler:
    """The two jobs, not started. Explicit settings on each job (APScheduler 3 defaults bite:
    a 1 s misfire grace silently skips a late weekly run)."""
    scheduler = AsyncIOScheduler(timezone=config.timezone)
    every = tick_seconds(config)
    scheduler.add_job(tick, IntervalTrigger(seconds=every, timezone=config.timezone), id="tick",
                      name=f"fetch due sources (every {every:g} s)",
                      misfire_grace_time=None, coalesce=True, max_instances=1)
    t = config.publish_time
    # Not CronTrigger.from_crontab(): it ignores the time zone.
    scheduler.add_job(publish, CronTrigger(day_of_week=_CRON_DAYS[config.publish_weekday], hour=t.hour,
                                           minute=t.minute, timezone=config.timezone),
                      id="publish", name=f"publish the weekly digest ({config.digest.publish_at})",
                      misfire_grace_time=None, coalesce=True, max_instances=1)
    return scheduler


# -- the service ------------------------------------------------------------------------------


class PipelineLike(Protocol):
    def due_sources(self, now: dt.datetime | None = None) -> list[str]: ...

    async def run(self, names: Sequence[str] | None = None, *, due_only: bool = False,
                  on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]: ...


Publisher = Callable[..., Any]  # publish_digests(config, store, *, week_ending, now) -> BuildReport


def _default_publisher(config: Config, store: Store, *, week_ending: dt.date, now: dt.datetime) -> Any:
    from .publish import publish_digests

    return publish_digests(config, store, week_ending=week_ending, now=now)


class Service:
    """All the work of ``monitor run``; :func:`run_service` wires it to a process.

    Pipeline, publisher and clock are injectable for tests. Everything except the publish
    thread runs on one event loop; ``store`` is used from that loop only. The publish thread
    and ``/healthz`` each read through their own connection (WAL: a consistent snapshot,
    never the inside of a source's transaction).
    """

    def __init__(self, config: Config, store: Store, *, clock: Clock = utcnow,
                 pipeline: PipelineLike | None = None, publisher: Publisher | None = None,
                 fetcher: Fetcher | None = None):
        self.config = config
        self.store = store
        self.clock = clock
        self._own_fetcher = False
        if pipeline is None:
            from .fetch import Fetcher
            from .pipeline import Pipeline, user_agent

            if fetcher is None:
                fetcher = Fetcher(config.fetch, user_agent=user_agent(config))
                self._own_fetcher = True
            pipeline = Pipeline(config, store, fetcher=fetcher, clock=clock)
        self.fetcher = fetcher
        self.pipeline = pipeline
        self.publisher = publisher or _default_publisher
        #: weeks the publisher was asked about and built nothing for (no posts): not asked again
        self.checked: set[dt.date] = set()
        self.failed_sources = 0
        self.failed_publishes = 0
        self.scheduler: AsyncIOScheduler | None = None
        self._inflight: dict[str, asyncio.Task[SourceResult | None]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._publishing: asyncio.Task[bool] | None = None
        self._publish_again = False
        self._publish_retry_at: dt.datetime | None = None
        self._publish_retry_delay = 60.0
        self._newest_seen: dt.date | None = None  # the newest due week when publish_due last ran
        self._stopping = threading.Event()  # also read by the publish thread between weeks
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-publish")
        self._health_store: Store | None = None
        self._health_lock = threading.Lock()
        self._deliver_retry_at: dt.datetime | None = None  # the ledger's earliest temporary failure
        self.failed_deliveries = 0

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- fetching -----------------------------------------------------------------------

    def start_due(self) -> list[asyncio.Task[SourceResult | None]]:
        """Start a run of every due source that is not already running; don't wait for them.

        Each source is its own task (at most ``fetch.concurrency`` at once), so one slow site
        never holds back the others, and a source never runs twice at the same time.
        """
        if self.stopping:
            return []
        due = [n for n in self.pipeline.due_sources(self.clock()) if n not in self._inflight]
        return [self._start(n, due_only=True) for n in due]

    def _start(self, name: str, *, due_only: bool) -> asyncio.Task[SourceResult | None]:
        running = self._inflight.get(name)
        if running is not None:
            return running
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.fetch.concurrency)
        task = asyncio.create_task(self._run_source(name, due_only), name=f"source:{name}")
        self._inflight[name] = task

        def done(t: asyncio.Task[SourceResult | None], name: str = name) -> None:
            if self._inflight.get(name) is t:
                del self._inflight[name]

        task.add_done_callback(done)
        return task

    async def _run_source(self, name: str, due_only: bool) -> SourceResult | None:
        assert self._slots is not None
        try:
            async with self._slots:
                if self.stopping:
                    return None
                results = await self.pipeline.run([name], due_only=due_only, on_result=self._on_result)
        except MonitorError as e:  # the run could not be stored (database locked, disk full)
            self.failed_sources += 1
            log.error("%s: %s", name, e.reason)
            return None
        except Exception as e:  # noqa: BLE001 -- a bug must not stop the service
            self.failed_sources += 1
            log.error("%s: internal error %s: %s\n%s", name, type(e).__name__, e, traceback.format_exc())
            return None
        return results[0] if results else None

    async def fetch_due(self) -> list[SourceResult]:
        """Run every due source and wait for them all (``--once``, and the start)."""
        results = await asyncio.gather(*self.start_due())
        return [r for r in results if r is not None]

    def _on_result(self, r: SourceResult) -> None:
        if r.status != "error":
            return
        self.failed_sources += 1
        st = self.store.source_state(r.source)
        when = ""
        if st and st.next_due_at:
            when = f"; next try at {st.next_due_at.isoformat(timespec='seconds')}"
        failures = f" ({st.failures} in a row)" if st and st.failures > 1 else ""
        log.warning("%s failed%s: %s%s", r.source, failures, r.error, when)

    # -- publishing ------------------------------------------------------------------------

    async def publish_due(self) -> bool:
        """Publish every due week not yet in ``digests`` (the catch-up); False on failure.

        Before the newest due week is published, each source not fetched since that week's
        publish moment is fetched once more (the "final fetch"); ``last_run_at`` makes this
        happen once, across restarts and cron runs too.
        """
        config, store = self.config, self.store
        now = self.clock()
        newest = last_due_week(now, config)
        self._newest_seen = newest
        # Never-fetched sources (new in the config) may hold posts of any past week: wait for them.
        states = store.source_states()
        since = dt.datetime.min.replace(tzinfo=UTC)
        if newest not in self.checked and store.digest_record(newest) is None:
            since = publish_moment(newest, config)
        stale = [s.name for s in config.sources
                 if (st := states.get(s.name)) is None or st.last_run_at is None or st.last_run_at < since]
        if stale and not self.stopping:
            log.info("final fetch of %d source(s) before publishing the week ending %s",
                     len(stale), newest.isoformat())
            await asyncio.gather(*(self._start(n, due_only=False) for n in stale))
        weeks = [w for w in due_weeks(now, config, store.first_published()) if w not in self.checked]
        recorded = {r["week_ending"] for r in store.digests()}
        todo = [w for w in weeks if w.isoformat() not in recorded]
        if not todo or self.stopping:
            self._publish_retry_at = None
            return True
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
            self._publish_retry_delay = 60.0
        else:
            self._schedule_retry()
        return ok

    def _schedule_retry(self) -> None:
        """A failed publish is tried again by a later tick: 1 min, 2, 4, … up to 1 h."""
        self.failed_publishes += 1
        self._publish_retry_at = self.clock() + dt.timedelta(seconds=self._publish_retry_delay)
        log.warning("publishing will be retried at %s", self._publish_retry_at.isoformat(timespec="seconds"))
        self._publish_retry_delay = min(self._publish_retry_delay * 2, 3600.0)

    def _publish_weeks(self, weeks: list[dt.date], now: dt.datetime) -> bool:
        """In the publish thread, with its own connection: each week, oldest first, once."""
        try:
            store = Store.open(self.config.database, busy_timeout=self.store.busy_timeout)
        except MonitorError as e:
            log.error("could not publish: %s", e.reason)
            return False
        with store:
            return self._publish_weeks_with(store, weeks, now)

    def _publish_weeks_with(self, store: Store, weeks: list[dt.date], now: dt.datetime) -> bool:
        config = self.config
        for week in weeks:
            if self.stopping:
                return True
            try:
                if store.digest_record(week) is not None:
                    continue  # never publish a week twice
                if not config.digest.empty_weeks and not self._has_content(store, week):
                    self.checked.add(week)
                    continue
                report = self.publisher(config, store, week_ending=week, now=now)
            except MonitorError as e:
                log.error("could not publish the week ending %s: %s", week.isoformat(), e.reason)
                return False
            except Exception as e:  # noqa: BLE001 -- logged with its traceback; retried
                log.error("could not publish the week ending %s: internal error %s: %s\n%s",
                          week.isoformat(), type(e).__name__, e, traceback.format_exc())
                return False
            built = list(getattr(report, "weeks_built", None) or [])
            if week in built:
                files = len(getattr(report, "files_written", None) or [])
                log.info("published the digest of the week ending %s (%d file(s) written)",
                         week.isoformat(), files)
            for day, why in getattr(report, "skipped", None) or []:
                log.info("week ending %s: nothing to publish (%s)", day.isoformat(), why)
                self.checked.add(day)
            if week not in built:
                self.checked.add(week)
        return True

    def _has_content(self, store: Store, week: dt.date) -> bool:
        start, end = dg.week_window(week, self.config.digest.week_ends_on, self.config.timezone)
        return (bool(store.posts_published_between(start, end, content=False))
                or bool(store.changes_between(start, end, content=False)))

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
                ok = False
                self._schedule_retry()
            except Exception as e:  # noqa: BLE001 -- logged with its traceback; retried
                log.error("internal error while publishing: %s: %s\n%s", type(e).__name__, e,
                          traceback.format_exc())
                ok = False
                self._schedule_retry()
            await self.deliver_due()  # right after publishing (the catch-up too); weeks published before also
            if not self._publish_again or self.stopping:
                return ok

    # -- delivering -------------------------------------------------------------------------

    async def deliver_due(self) -> bool:
        """Deliver every published week due to a recipient (monitor.deliver); False if a message failed.

        Runs on the event loop with the service's connection (each ledger write is one short
        transaction; the mail itself goes out in a worker thread). Temporary failures are retried
        by a later tick at the ledger's ``next_attempt_at``.
        """
        if self.stopping or (self.config.deliver.email is None and not self.config.deliver.notify):
            return True
        from .deliver import deliver_editions

        try:
            report = await deliver_editions(self.config, self.store, now=self.clock(), clock=self.clock,
                                            stopping=lambda: self.stopping)
        except MonitorError as e:
            log.error("could not deliver: %s", e.reason)
            self.failed_deliveries += 1
            self._deliver_retry_at = self.clock() + dt.timedelta(seconds=60)
            return False
        except Exception as e:  # noqa: BLE001 -- logged with its traceback; retried
            log.error("internal error while delivering: %s: %s\n%s", type(e).__name__, e, traceback.format_exc())
            self.failed_deliveries += 1
            self._deliver_retry_at = self.clock() + dt.timedelta(seconds=60)
            return False
        self._deliver_retry_at = report.next_retry
        self.failed_deliveries += len(report.failed)
        return report.ok

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
        now = self.clock()
        if self._deliver_retry_at is not None and now >= self._deliver_retry_at:
            self._deliver_retry_at = None
            self.request_publish()  # publishes nothing new, then delivers what is due again
        if self._publish_retry_at is not None:
            if now >= self._publish_retry_at:
                self._publish_retry_at = None
                self.request_publish()
        elif self._newest_seen is not None and last_due_week(now, self.config) != self._newest_seen:
            self.request_publish()

    async def _publish_job(self) -> None:
        log.info("publish time (%s, %s)", self.config.digest.publish_at, self.config.timezone.key)
        self.request_publish()

    async def serve_forever(self, stop: asyncio.Event) -> int:
        """Run the scheduler until ``stop`` is set; 0 on a clean stop."""
        self.scheduler = build_scheduler(self.config, self._tick_job, self._publish_job)
        self.scheduler.start()
        log.info("scheduler started: due sources checked every %g s, digests published %s (%s)",
                 tick_seconds(self.config), self.config.digest.publish_at, self.config.timezone.key)
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
        tasks: list[asyncio.Task[Any]] = [*self._inflight.values()]
        if self._publishing is not None and not self._publishing.done():
            tasks.append(self._publishing)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        self._stopping.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._own_fetcher and self.fetcher is not None:
            with contextlib.suppress(Exception):
                await self.fetcher.aclose()
        with self._health_lock:
            if self._health_store is not None:
                self._health_store.close()
                self._health_store = None

    # -- health -----------------------------------------------------------------------------

    def next_runs(self, store: Store | None = None) -> dict[str, dt.datetime | None]:
        """When the scheduler jobs fire next, and when the next source is due."""
        out: dict[str, dt.datetime | None] = {}
        if self.scheduler is not None:
            for job in self.scheduler.get_jobs():
                out[job.id] = getattr(job, "next_run_time", None)
        states = (store or self.store).source_states()
        dues = [st.next_due_at for st in states.values() if st.next_due_at]
        out["next_source_due"] = min(dues) if dues else None
        return out

    def health(self) -> dict[str, Any]:
        """The /healthz document. Called from the HTTP server's threads: its own connection."""
        with self._health_lock:
            if self._health_store is None:
                self._health_store = Store.open(self.config.database)
            store = self._health_store
            return health_report(self.config, store, next_runs=self.next_runs(store))


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
    print(f"error: {message}", file=sys.stderr, flush=True)


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
        try:
            store = Store.open(config.database)
        except MonitorError as e:
            _error(e.reason)
            return 1
        with store:
            return asyncio.run(_main(config, store, once=once, clock=clock))
    finally:
        lock.release()


async def _main(config: Config, store: Store, *, once: bool, clock: Clock) -> int:
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

    service = Service(config, store, clock=clock)
    server: SiteServer | None = None
    try:
        if once:
            try:
                return await service.run_once()
            except asyncio.CancelledError:
                log.info("stopped before finishing; the next run picks up what is left")
                return 0
        if config.serve is not None:
            server = SiteServer(config.output_dir, config.serve.host, config.serve.port,
                                health=service.health)
            try:
                server.start()
            except OSError as e:
                _error(f"cannot serve on {config.serve.host}:{config.serve.port}: {e.strerror or e}")
                server = None
                return 1
        code = await service.serve_forever(stop)
        log.info("stopped")
        return code
    finally:
        if server is not None:
            server.shutdown()
        await service.stop()
        await service.aclose()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
