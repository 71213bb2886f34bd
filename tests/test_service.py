"""The background service: scheduling as data, catch-up publishing, one instance, clean stops.

Three layers: pure week arithmetic and the scheduler's job settings; the Service with a fake
pipeline and publisher (in-process, fast); then ``monitor run`` as a real subprocess against
the sample WordPress site (second-scale intervals, bounded polling).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from service_helpers import ServiceProcess, query, sample_sources, scalar, wait_for, write_config

from monitor.config import parse_config
from monitor.detect import decide, post_write
from monitor.errors import AlreadyRunning, PublishError
from monitor.lock import DatabaseLock
from monitor.models import PostData, RunWrites, SourceResult
from monitor.pipeline import Monitor
from monitor.service import (
    FAKE_NOW_ENV,
    TICK_SECONDS,
    Service,
    build_scheduler,
    clock_from_env,
)
from monitor.store import Store

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
D = dt.date


def make_config(tmp_path: Path, *, every: str | list[str] = "1h", **extra):
    everies = every if isinstance(every, list) else [every]
    data = {
        "site": {"title": "Iran Interlink"},
        "timezone": "Europe/London",
        "sources": [{"name": f"s{i}", "url": f"http://127.0.0.1:9/s{i}", "every": e}
                    for i, e in enumerate(everies)],
    }
    data.update(extra)
    return parse_config(data, base_dir=tmp_path)


# -- pure: ticks, weeks, the scheduler's jobs ------------------------------------------------


def test_publish_moment_and_last_due_week(tmp_path):
    config = make_config(tmp_path)  # week ends friday, published saturday 06:00 Europe/London
    # 2020-10-31 is a Saturday; London is on GMT again since Oct 25
    assert config.calendar.publish_moment(D(2020, 10, 30)) == dt.datetime(2020, 10, 31, 6, tzinfo=UTC)
    # BST: 06:00 local is 05:00 UTC
    assert config.calendar.publish_moment(D(2020, 10, 23)) == dt.datetime(2020, 10, 24, 5, tzinfo=UTC)
    assert config.calendar.last_due_week(dt.datetime(2020, 10, 31, 5, 59, tzinfo=UTC)) == D(2020, 10, 23)
    assert config.calendar.last_due_week(dt.datetime(2020, 10, 31, 6, 0, tzinfo=UTC)) == D(2020, 10, 30)
    assert config.calendar.last_due_week(dt.datetime(2020, 11, 6, 23, 0, tzinfo=UTC)) == D(2020, 10, 30)
    # published on the week's last day, before it ends: the moment is a week later
    late = make_config(tmp_path, digest={"publish_at": "friday 18:00"})
    assert late.calendar.publish_moment(D(2020, 10, 30)) == dt.datetime(2020, 11, 6, 18, tzinfo=UTC)
    first = dt.datetime(2020, 10, 14, 12, tzinfo=UTC)
    assert config.calendar.due_weeks(dt.datetime(2020, 10, 31, 7, tzinfo=UTC), first) == [
        D(2020, 10, 16), D(2020, 10, 23), D(2020, 10, 30)]
    assert config.calendar.due_weeks(dt.datetime(2020, 10, 31, 7, tzinfo=UTC), None) == []


async def _noop() -> None:
    return None


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York", "Australia/Sydney"])
def test_publish_job_is_a_tz_aware_cron_that_never_skips(tmp_path, tz):
    config = make_config(tmp_path, every=["2s"], timezone=tz)
    scheduler = build_scheduler(config, _noop, _noop)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"tick", "publish"}
    for job in jobs.values():
        assert job.misfire_grace_time is None and job.coalesce is True and job.max_instances == 1
    assert jobs["tick"].trigger.interval == dt.timedelta(seconds=TICK_SECONDS) == dt.timedelta(seconds=1)
    trigger = jobs["publish"].trigger
    assert str(trigger.timezone) == tz
    # over a year (both DST changes), every firing is a publish moment of the week it makes due
    t = dt.datetime(2021, 1, 1, tzinfo=UTC)
    for _ in range(60):
        fire = trigger.get_next_fire_time(None, t)
        week = config.calendar.last_due_week(fire)
        assert config.calendar.publish_moment(week) == fire
        assert fire.astimezone(ZoneInfo(tz)).strftime("%a %H:%M") == "Sat 06:00"
        assert config.calendar.last_due_week(fire - dt.timedelta(microseconds=1)) == week - dt.timedelta(days=7)
        t = fire + dt.timedelta(seconds=1)


def test_fake_now_hook():
    assert clock_from_env({}) is None
    clock = clock_from_env({FAKE_NOW_ENV: "2020-10-31T07:00:00+00:00"})
    assert clock is not None
    assert dt.timedelta(0) <= clock() - dt.datetime(2020, 10, 31, 7, tzinfo=UTC) < dt.timedelta(seconds=5)
    with pytest.raises(ValueError):
        clock_from_env({FAKE_NOW_ENV: "2020-10-31T07:00:00"})


# -- the lock ------------------------------------------------------------------------------------


def test_lock_is_exclusive_and_names_the_holder(tmp_path):
    db = tmp_path / "m.db"
    with DatabaseLock(db) as first:
        assert first.held and (tmp_path / "m.db.lock").read_text().strip() == str(os.getpid())
        message = rf"another monitor run is already using {db} \(pid {os.getpid()}\)"
        with pytest.raises(AlreadyRunning, match=message):
            DatabaseLock(db).acquire()
    with DatabaseLock(db):  # released: can be taken again
        pass


def test_lock_is_released_by_kill_9(tmp_path):
    db = tmp_path / "m.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import sys, time\nfrom monitor.lock import DatabaseLock\n"
                                f"DatabaseLock({str(db)!r}).acquire()\n"
                                "print('held', flush=True)\ntime.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}"):
            DatabaseLock(db).acquire()
    finally:
        holder.kill()
        holder.wait(10)
    with DatabaseLock(db) as lock:
        assert lock.held


# -- the Service with a fake pipeline and publisher (in-process) ----------------------------------------


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class FakeApp(Monitor):
    """The real application over a real store, with a fake fetch: it writes a run per source like
    the pipeline (next_due_at, last_run_at) after a delay, and records each batch it is asked for."""

    def __init__(self, config, store: Store, clock: Clock, delays: dict[str, float] | None = None):
        super().__init__(config, store, clock=clock)
        self.delays = delays or {}
        self.calls: list[tuple[tuple[str, ...], bool]] = []
        self.running: set[str] = set()
        self.overlaps = 0
        store.sync_sources(config.sources, clock())

    async def fetch(self, names=None, *, due_only=False, on_result=None):
        names = tuple(names or [s.name for s in self.config.sources])
        self.calls.append((names, due_only))

        async def one(name):
            if name in self.running:
                self.overlaps += 1
            self.running.add(name)
            try:
                await asyncio.sleep(self.delays.get(name, 0))
            finally:
                self.running.discard(name)
            now = self.clock()
            due = now + dt.timedelta(seconds=self.config.source(name).every)
            res = SourceResult(name, "ok", next_due_at=due)
            self.store.apply_run(RunWrites(name, now, now, res, next_due_at=due, last_ok_at=now))
            if on_result:
                on_result(res)
            return res

        return list(await asyncio.gather(*(one(n) for n in names)))

    def runs_of(self, name: str) -> int:
        return sum(name in names for names, _ in self.calls)


@dataclass
class Report:
    weeks_built: list[dt.date]
    files_written: list[Path]
    skipped: list[tuple[dt.date, str]] = field(default_factory=list)


class FakePublisher(Monitor):
    """The publish thread's application with a fake build: records the week, or fails."""

    def __init__(self, config, store: Store, empty: set[dt.date] = frozenset(), fail: set[dt.date] = frozenset()):
        super().__init__(config, store)
        self.calls: list[dt.date] = []
        self.empty, self.fail = set(empty), set(fail)

    def publish(self, *, week_ending=None, all_weeks=False, lead_url=None, now=None):
        self.calls.append(week_ending)
        if week_ending in self.fail:
            raise PublishError("disk full")
        if week_ending in self.empty:
            return Report([], [], [(week_ending, "no posts")])
        self.store.record_digest(week_ending, f"digest {week_ending}", None, [1], [], now, "h")
        return Report([week_ending], [Path("feed.xml")])

    def close(self) -> None:
        pass  # the test's store stays open


def seed_posts(store: Store, source: str, days: list[dt.date], when: dt.datetime) -> None:
    obs = []
    for i, day in enumerate(days):
        p = PostData(url=f"http://site/{source}/{i}/", title=f"Post {i}", wp_id=i + 1, date_only=True,
                     published=dt.datetime.combine(day, dt.time(), tzinfo=LONDON), excerpt="x")
        d = decide(None, p, tz=LONDON)
        obs.append(post_write(p, f"wp:{source}:{i}", p.url, d, None))
    store.apply_run(RunWrites(source, when, when, SourceResult(source, "ok", new=len(obs)), obs,
                              next_due_at=when + dt.timedelta(hours=1)))


@pytest.fixture
def world(tmp_path):
    config = make_config(tmp_path, every=["1h", "1h"], database=str(tmp_path / "m.db"))
    clock = Clock(dt.datetime(2020, 10, 24, 4, tzinfo=UTC))
    store = Store.open(config.database)
    app = FakeApp(config, store, clock)
    seed_posts(store, "s0", [D(2020, 10, 7), D(2020, 10, 21)], clock())
    yield config, store, clock, app
    store.close()


def run(coro):
    return asyncio.run(coro)


def service_for(world, publisher: FakePublisher) -> Service:
    config, _store, clock, app = world
    return Service(config, app, clock=clock, open_publisher=lambda: publisher)


def test_catch_up_publishes_each_due_week_once_after_a_final_fetch(world):
    config, store, clock, app = world
    publisher = FakePublisher(config, store)
    service = service_for(world, publisher)
    seed_posts(store, "s1", [D(2020, 10, 28)], clock())  # the week ending 10-30: not due yet at first
    clock.now = dt.datetime(2020, 10, 31, 5, tzinfo=UTC)

    assert run(service.publish_due()) is True
    # the newest due week (10-23, published 10-24 05:00 UTC) was not recorded and both sources
    # were last fetched before that moment: one final fetch of both, in one batch, then the weeks
    assert app.calls == [(("s0", "s1"), False)]
    assert publisher.calls == [D(2020, 10, 9), D(2020, 10, 23)]  # 10-16 has no posts: not asked
    assert {r["week_ending"] for r in store.digests()} == {"2020-10-09", "2020-10-23"}

    assert run(service.publish_due()) is True  # nothing new: no fetch, no publish
    assert len(app.calls) == 1 and len(publisher.calls) == 2

    clock.now = dt.datetime(2020, 10, 31, 6, 0, 1, tzinfo=UTC)  # 10-30 is due now
    assert run(service.publish_due()) is True
    assert app.calls[1:] == [(("s0", "s1"), False)]  # the final fetch for this week
    assert publisher.calls[2:] == [D(2020, 10, 30)]

    # a new process (restart): nothing is published twice
    again = FakePublisher(config, store)
    clock.now += dt.timedelta(hours=1)
    assert run(service_for(world, again).publish_due()) is True
    assert again.calls == [] and len(app.calls) == 2
    assert sorted(r["week_ending"] for r in store.digests()) == ["2020-10-09", "2020-10-23", "2020-10-30"]


def test_a_week_that_publishes_nothing_is_asked_once(world):
    config, store, clock, _app = world
    publisher = FakePublisher(config, store, empty={D(2020, 10, 9)})
    service = service_for(world, publisher)
    clock.now = dt.datetime(2020, 10, 31, 7, tzinfo=UTC)
    run(service.publish_due())
    run(service.publish_due())
    assert publisher.calls.count(D(2020, 10, 9)) == 1
    assert D(2020, 10, 9) in service.checked


def test_publish_failure_is_retried_later_and_shows_until_then(world):
    config, store, clock, _app = world
    publisher = FakePublisher(config, store, fail={D(2020, 10, 23)})
    service = service_for(world, publisher)
    clock.now = dt.datetime(2020, 10, 31, 7, tzinfo=UTC)
    assert run(service.publish_due()) is False
    assert service._publish_retry_at == clock.now + dt.timedelta(seconds=60)
    recorded = store.publishing()  # what /healthz and `monitor status` (another process) read
    assert recorded is not None and recorded.ok is False
    assert "2020-10-23" in recorded.last_error and "disk full" in recorded.last_error
    assert recorded.retry_at == clock.now + dt.timedelta(seconds=60)
    publisher.fail.clear()
    assert run(service.publish_due()) is True
    assert publisher.calls == [D(2020, 10, 9), D(2020, 10, 23), D(2020, 10, 23)]
    assert service._publish_retry_at is None
    assert store.publishing().ok is True and store.publishing().last_error is None
    assert store.publishing().retry_at is None


def test_a_tick_publishes_a_week_that_became_due_even_without_the_cron_job(world):
    config, store, clock, _app = world
    publisher = FakePublisher(config, store)
    service = service_for(world, publisher)
    seed_posts(store, "s1", [D(2020, 10, 28)], clock())

    async def scenario():
        clock.now = dt.datetime(2020, 10, 31, 5, tzinfo=UTC)
        await service.publish_due()
        await service._tick_job()  # same week still: no publish
        assert service._publishing is None
        clock.now = dt.datetime(2020, 10, 31, 6, 0, 1, tzinfo=UTC)
        await service._tick_job()
        assert service._publishing is not None
        await service._publishing
        await service.stop()
        await service.aclose()

    run(scenario())
    assert publisher.calls[-1] == D(2020, 10, 30)


def test_a_never_fetched_source_is_fetched_before_any_catch_up(world):
    config, store, clock, app = world
    clock.now = dt.datetime(2020, 10, 31, 7, tzinfo=UTC)
    store.record_digest(D(2020, 10, 30), "t", None, [1], [], clock.now, "h")  # the newest week is done
    store.apply_run(RunWrites("s0", clock.now, clock.now, SourceResult("s0", "ok")))
    publisher = FakePublisher(config, store)
    run(service_for(world, publisher).publish_due())
    assert app.calls == [(("s1",), False)]  # s1 is new: its posts may belong to any past week
    assert publisher.calls == [D(2020, 10, 9), D(2020, 10, 23)]


def test_serve_forever_ticks_and_stops_promptly(tmp_path):
    config = make_config(tmp_path, every=["1s", "1h"], database=str(tmp_path / "m.db"))

    async def scenario():
        with Store.open(config.database) as store:
            clock = Clock(dt.datetime.now(UTC))
            app = FakeApp(config, store, clock)
            service = Service(config, app, clock=lambda: dt.datetime.now(UTC),
                              open_publisher=lambda: FakePublisher(config, store))
            app.clock = service.clock
            stop = asyncio.Event()
            task = asyncio.create_task(service.serve_forever(stop))
            for _ in range(100):  # the start-up run, then at least one run started by a tick
                await asyncio.sleep(0.05)
                if app.runs_of("s0") >= 2:
                    break
            jobs = {j.id: j.next_run_time for j in service.scheduler.get_jobs()}
            stop.set()
            t0 = time.monotonic()
            code = await task
            took = time.monotonic() - t0
            await service.aclose()
            return code, took, app, jobs

    code, took, app, jobs = run(scenario())
    assert code == 0 and took < 10  # a hang guard: stopping waits for nothing
    assert app.runs_of("s0") >= 2 and app.runs_of("s1") == 1
    assert app.calls[0] == (("s0", "s1"), True)  # the first tick's due sources: one batch
    assert jobs["publish"].strftime("%a %H:%M") == "Sat 06:00"


def test_a_slow_source_does_not_hold_back_the_others(tmp_path):
    config = make_config(tmp_path, every=["1s", "1s"], database=str(tmp_path / "m.db"))
    clock = Clock(dt.datetime(2020, 10, 24, 4, tzinfo=UTC))

    async def scenario():
        with Store.open(config.database) as store:
            app = FakeApp(config, store, clock, delays={"s0": 30})
            service = Service(config, app, clock=clock, open_publisher=lambda: FakePublisher(config, store))
            service.start_due()
            for _ in range(3):
                await asyncio.sleep(0.05)
                clock.now += dt.timedelta(seconds=2)
                service.start_due()  # a tick: s0 is still running (its batch too), s1 is due again
            await asyncio.sleep(0.05)
            t0 = time.monotonic()
            await service.stop()  # cancels the slow run
            stopped_in = time.monotonic() - t0
            await service.aclose()
            return app, store.fetch_log("s0"), stopped_in

    app, s0_log, stopped_in = run(scenario())
    assert app.runs_of("s0") == 1 and app.runs_of("s1") == 4
    assert app.calls[1:] == [(("s1",), True)] * 3  # later ticks run only what is due and not running
    assert app.overlaps == 0
    assert s0_log == [] and stopped_in < 10  # cancelled, not waited for (it sleeps 30 s)


def test_the_schedule_is_read_once_and_a_tick_with_nothing_due_reads_nothing(world, monkeypatch):
    config, store, clock, app = world
    service = service_for(world, FakePublisher(config, store))
    reads: list[object] = []
    real = app.states
    monkeypatch.setattr(app, "states", lambda names=None: reads.append(names) or real(names))

    async def scenario():
        clock.now = dt.datetime(2020, 10, 24, 6, tzinfo=UTC)  # both sources are due (seeded at 04:00 + 1 h)
        await asyncio.gather(*service.start_due())
        assert reads == [None]  # the schedule, read once
        for _ in range(5):  # ticks with nothing due: no reads, no batches
            clock.now += dt.timedelta(minutes=5)
            assert service.start_due() == []
        clock.now += dt.timedelta(minutes=40)  # an hour after the last run: both due again
        await asyncio.gather(*service.start_due())
        await service.stop()
        await service.aclose()

    run(scenario())
    assert reads == [None]
    assert app.calls == [(("s0", "s1"), True), (("s0", "s1"), True)]


# -- `monitor run` as a subprocess against the sample site --------------------------------------------


@pytest.fixture
def sample():
    from sample_site.server import serve
    from sample_site.site import SampleSite

    site = SampleSite.from_seeds()
    with serve(site) as server:
        yield site, server


@pytest.fixture
def procs():
    started: list[ServiceProcess] = []
    yield started
    for p in started:
        p.cleanup()


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("GET", u.path or "/", headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def integrity(db: Path) -> str:
    return scalar(db, "PRAGMA integrity_check")


def test_service_fetches_publishes_serves_and_stops(tmp_path, sample, procs):
    site, server = sample
    site.fail("/failing/", 500)
    sources = sample_sources(site) + [{"name": "Broken", "url": server.url + "/failing/", "every": "2s"}]
    config = write_config(tmp_path, sources)
    db = tmp_path / "monitor.db"
    svc = ServiceProcess(config)
    procs.append(svc)
    url = svc.url()
    assert url.startswith("http://127.0.0.1:")

    # a second instance on the same database refuses at once
    second = subprocess.run([sys.executable, "-m", "monitor", "run", "--config", str(config)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert second.returncode == 1
    assert f"another monitor run is already using {db} (pid {svc.pid})" in second.stderr

    # the first fetch, then the catch-up publishes every past week that has posts
    wait_for(lambda: scalar(db, "SELECT count(*) FROM posts") >= 20, what="the first fetch")
    svc.wait_log(r"published the digest of the week ending 2021-10-29")
    assert (tmp_path / "site" / "feed.xml").exists()

    # a new post on the site shows up within a few cycles
    site.add_post("iran-interlink", "A brand new post about the service", dt.date.today(),
                  "Iran Interlink, today:… A new post, fetched by the running service.")
    wait_for(lambda: query(db, "SELECT id FROM posts WHERE title = 'A brand new post about the service'"),
             timeout=20, what="the new post in the database")

    # a feed reader revalidates feed.xml and gets 304 (ETag and Last-Modified)
    status, headers, body = http_get(url + "feed.xml")
    assert status == 200 and headers["content-type"] == "application/rss+xml"
    ET.fromstring(body)
    assert http_get(url + "feed.xml", {"If-None-Match": headers["etag"]})[0] == 304
    assert http_get(url + "feed.xml", {"If-Modified-Since": headers["last-modified"]})[0] == 304
    assert http_get(url + "atom.xml")[1]["content-type"] == "application/atom+xml"
    assert http_get(url)[1]["content-type"] == "text/html; charset=utf-8"
    assert http_get(url + "..%2fmonitor.db")[0] == 404

    # /healthz: the broken source fails with its reason, the others are fine
    def healthz() -> dict:
        doc = json.loads(http_get(url + "healthz")[2])
        return doc if doc["sources"][-1]["last_run"] else {}

    health = wait_for(healthz, what="a run of the broken source")
    assert health["status"] == "degraded"
    by = {s["name"]: s for s in health["sources"]}
    broken = by["Broken"]
    assert broken["ok"] is False and "500" in broken["last_error"] and broken["failures"] >= 1
    assert all(by[n]["ok"] for n in ("Iran Interlink", "Massoud Khodabandeh", "Ali Alavi"))
    assert health["last_digest"]["week_ending"] == "2021-10-29"
    assert set(health["next_runs"]) >= {"tick", "publish", "next_source_due"}

    code, took = svc.terminate()
    assert code == 0 and took < 5
    assert integrity(db) == "ok"
    log = svc.log()
    assert "Iran Interlink: ok new=10" in log  # one line per source run, with counts
    assert "Broken failed" in log and "500" in log  # every error, with its reason
    assert "Running job" not in log  # APScheduler's per-tick chatter stays at debug
    assert "Traceback" not in log and "SchedulerNotRunningError" not in log  # a clean stop
    # the lock is free again
    with DatabaseLock(db):
        pass


def _published(db: Path) -> list[tuple[str, str]]:
    return query(db, "SELECT week_ending, built_at FROM digests ORDER BY week_ending")


def test_weeks_that_ended_while_stopped_are_published_on_start_exactly_once(tmp_path, procs):
    from sample_site.server import serve
    from sample_site.site import SampleSite

    site = SampleSite()
    site.add_author("Test Author", "test-author", theme="classic", kind="feed")
    site.add_post("test-author", "Week one post", D(2020, 10, 14), "Test Author, October 14 2020:… First.")
    site.add_post("test-author", "Week three post", D(2020, 10, 28),
                  "Test Author, October 28 2020:… Third.")
    db = tmp_path / "monitor.db"
    with serve(site):
        config = write_config(tmp_path, sample_sources(site), serve=False)

        def start(now: str, *, once: bool) -> ServiceProcess:
            p = ServiceProcess(config, once=once, env={FAKE_NOW_ENV: now})
            procs.append(p)
            return p

        # Saturday 05:00 UTC: the week ending Oct 30 is over but its publish time (06:00) has not come
        first = start("2020-10-31T05:00:00+00:00", once=True)
        assert first.wait() == 0, first.log()
        assert [w for w, _ in _published(db)] == ["2020-10-16"]  # 10-23 had no posts: nothing

        # the service was down at 06:00; it starts at 07:00 and catches up at once
        second = start("2020-10-31T07:00:00+00:00", once=False)
        wait_for(lambda: len(_published(db)) == 2, what="the catch-up")
        assert second.terminate()[0] == 0
        rows = _published(db)
        assert [w for w, _ in rows] == ["2020-10-16", "2020-10-30"]

        # another restart publishes nothing again
        third = start("2020-10-31T07:05:00+00:00", once=True)
        assert third.wait() == 0
        assert _published(db) == rows
    for w, _ in rows:
        assert (tmp_path / "site" / "digests" / f"{w}.html").is_file()
    for p in (first, second, third):
        assert p.log().count("published the digest of the week ending 2020-10-30") == (p is second)
    ET.parse(tmp_path / "site" / "feed.xml")


def _posts_by_identity(db: Path) -> dict[tuple[str, str], tuple[str, int]]:
    rows = query(db, "SELECT p.source, p.identity, p.url, p.versions, count(v.id) FROM posts p "
                     "JOIN versions v ON v.post_id = p.id GROUP BY p.id")
    out = {}
    for source, identity, url, versions, n in rows:
        assert (source, identity) not in out
        assert versions == n == 1, (url, versions, n)
        out[(source, identity)] = (url, versions)
    return out


def test_sigterm_and_kill_9_during_a_slow_fetch_lose_and_duplicate_nothing(tmp_path, sample, procs):
    site, server = sample
    sources = sample_sources(site)
    slow = sources[0]["name"]
    site.delay(urlpath := sources[0]["url"].removeprefix(server.url), 30)
    config = write_config(tmp_path, sources, serve=False)
    db = tmp_path / "monitor.db"
    others = [s["name"] for s in sources[1:]]

    def fast_ones_stored() -> bool:
        done = {r[0] for r in query(db, "SELECT DISTINCT source FROM fetch_log")}
        return set(others) <= done

    # SIGTERM while the slow source is being fetched: exits 0 at once, writes nothing half
    svc = ServiceProcess(config)
    procs.append(svc)
    wait_for(fast_ones_stored, what="the fast sources")
    time.sleep(0.3)  # the slow request is in flight (it answers after 30 s)
    code, took = svc.terminate()
    assert code == 0 and took < 5
    assert integrity(db) == "ok"
    assert scalar(db, "SELECT count(*) FROM fetch_log WHERE source = ?", [slow]) == 0
    assert scalar(db, "SELECT count(*) FROM posts WHERE source = ?", [slow]) == 0

    # kill -9 in the middle of it
    runs_before = scalar(db, "SELECT count(*) FROM fetch_log")
    svc = ServiceProcess(config)
    procs.append(svc)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM fetch_log") > runs_before, what="a run")
    time.sleep(0.3)  # the slow request is in flight again
    assert svc.proc.poll() is None
    svc.kill9()
    assert integrity(db) == "ok"
    before = _posts_by_identity(db)

    # a restart with a healthy site: everything arrives, once
    site.clear_faults()
    svc = ServiceProcess(config)
    procs.append(svc)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM fetch_log WHERE source = ?", [slow]) >= 1,
             what="the slow source's run after the restart")
    assert svc.terminate()[0] == 0
    after = _posts_by_identity(db)
    assert set(before) <= set(after)

    # the reference: the same site fetched once, cleanly, into a fresh database
    ref = write_config(tmp_path, sources, serve=False, name="ref.yaml", database="ref.db",
                       output_dir="ref-site")
    r = subprocess.run([sys.executable, "-m", "monitor", "fetch", "--config", str(ref)], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    expected = _posts_by_identity(tmp_path / "ref.db")
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in expected.items()}
    assert integrity(db) == "ok"
    assert urlpath  # (the slow source's path, for the reader of a failure)


def test_kill_9_while_publishing_leaves_whole_files(tmp_path, sample, procs):
    site, _server = sample
    config = write_config(tmp_path, sample_sources(site), serve=False)
    db = tmp_path / "monitor.db"
    out = tmp_path / "site"
    for _ in range(3):
        p = ServiceProcess(config, once=True)
        procs.append(p)
        try:
            p.wait_log(r"published the digest of the week ending", timeout=20)
        except AssertionError:
            break  # it finished everything before we could kill it
        if p.proc.poll() is None:
            p.kill9()
        assert integrity(db) == "ok"
        _check_whole_files(out)
    p = ServiceProcess(config, once=True)
    procs.append(p)
    assert p.wait() == 0, p.log()
    weeks = [w for w, _ in _published(db)]
    assert len(weeks) == len(set(weeks)) >= 10
    for w in weeks:
        assert (out / "digests" / f"{w}.html").is_file()
    _check_whole_files(out)
    feed = ET.parse(out / "feed.xml").getroot()
    assert len(feed.findall("./channel/item")) == min(20, len(weeks))


def _check_whole_files(out: Path) -> None:
    for path in out.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue  # temp files of an interrupted atomic write are hidden (and never served)
        data = path.read_bytes()
        if path.suffix == ".xml":
            ET.fromstring(data)
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), path


def test_once_exits_1_when_a_source_fails(tmp_path, sample, procs):
    site, server = sample
    site.fail("/failing/", 500)
    sources = sample_sources(site) + [{"name": "Broken", "url": server.url + "/failing/", "every": "2s"}]
    config = write_config(tmp_path, sources, serve=False)
    p = ServiceProcess(config, once=True)
    procs.append(p)
    assert p.wait() == 1
    assert "Broken failed" in p.log()
    assert scalar(tmp_path / "monitor.db", "SELECT count(*) FROM posts") >= 20


def test_once_stops_cleanly_on_sigterm_during_a_slow_fetch(tmp_path, sample, procs):
    site, server = sample
    sources = sample_sources(site)
    site.delay(sources[0]["url"].removeprefix(server.url), 30)
    config = write_config(tmp_path, sources, serve=False)
    db = tmp_path / "monitor.db"
    p = ServiceProcess(config, once=True)
    procs.append(p)
    wait_for(lambda: scalar(db, "SELECT count(DISTINCT source) FROM fetch_log") == len(sources) - 1,
             what="the fast sources")
    code, took = p.terminate()
    assert code == 0 and took < 5
    assert integrity(db) == "ok"
    assert scalar(db, "SELECT count(*) FROM fetch_log WHERE source = ?", [sources[0]["name"]]) == 0


def test_sigint_stops_too(tmp_path, sample, procs):
    site, _server = sample
    config = write_config(tmp_path, sample_sources(site))
    svc = ServiceProcess(config)
    procs.append(svc)
    svc.url()
    t0 = time.monotonic()
    svc.proc.send_signal(signal.SIGINT)
    assert svc.wait(5) == 0 and time.monotonic() - t0 < 5
    log = svc.log()
    assert "stopping" in log and "Traceback" not in log and "SchedulerNotRunningError" not in log


def test_an_idle_tick_brings_the_search_index_up_to_date(world):
    config, store, clock, _app = world
    service = service_for(world, FakePublisher(config, store))
    assert store.posts_to_index(10)  # the seeded posts: written, not yet indexed

    async def scenario():
        clock.now = dt.datetime(2020, 10, 24, 4, 30, tzinfo=UTC)
        await asyncio.gather(*service.start_due())  # s1 has never run: its batch first
        assert service.due_now(clock.now) == [] and not service._batches
        await service._tick_job()  # an idle tick
        await service.stop()
        await service.aclose()

    run(scenario())
    assert store.posts_to_index(10) == []
    assert [p.title for p, _snippet, _rank in store.search("Post")] != []
