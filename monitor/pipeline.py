"""The one place where the stages are wired together.

::

    run_sources(config, store)                       one pass over the sources
      for each due source, concurrently (bounded):
        fetch.Fetcher.get(url, etag, last_modified)  -> Response (or 304: nothing to parse)
        extract.extract(body)                        -> Page (posts, next page, feed link)
        ... follow "Older posts" up to max_pages, stop at a page with nothing new
        extract.merge(page posts, feed posts)        (type: auto)
        detect.decide(stored, observed)              -> new / changed / unchanged
        store.apply_run(...)                         one transaction per source run
      -> [SourceResult]                              a failing source is a value, never an abort

    build_digests(config, store, ...)                digest.build_digest -> publish.publish

The CLI and the scheduler only call these functions.

Where the work happens: fetching and storing on the event loop; extract and decide (CPU work) in
up to MAX_PARSE_WORKERS worker processes (``python -m monitor._jobs``) when the machine has more
than one core and the run has at least POOL_MIN_SOURCES sources, else in a thread. A stored
source's posts are read only once one of its bodies has changed: a cycle of 304s reads no posts
and starts no workers. Each post is decided once per run, however many pages show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import __version__, _jobs
from .checking import CheckReport, Reading, judge, no_posts_reason
from .config import Config, SourceConfig
from .errors import MonitorError, NoPostsFound, RateLimited, SourceError
from .extract import extract, merge, post_identity
from .fetch import Fetcher
from .models import Decision, Page, PostData, Response, SourceResult
from .schedule import is_due, next_due
from .store import Observation, RunWrites, SourceState, Store, StoredPost

log = logging.getLogger("monitor")

UTC = dt.timezone.utc
Clock = Callable[[], dt.datetime]

#: How often a known source reads every page up to max_pages: between full sweeps a run stops at
#: the first page with nothing new (and a 304 on page 1 costs nothing), which cannot see an edit
#: of an old post on page 2 or later; a full sweep can.
FULL_SWEEP_EVERY = dt.timedelta(hours=24)

#: A first page with fewer than this share of the posts it had last time is an
#: extraction failure (a theme change, a block page), not mass deletion.
MIN_POST_SHARE = 0.3

#: ... unless that many runs in a row find the same smaller count: then the author really removed
#: posts, and the new count is accepted (with a warning) as what the page has.
SHRUNK_ACCEPT_RUNS = 3

#: Parsing (extract + decide) is CPU work. With more than one core it runs in up to this many
#: worker processes, so fetching (the event loop) and parsing overlap and every core is used.
MAX_PARSE_WORKERS = 2
#: Runs over fewer sources parse in a thread of this process: starting workers would cost more
#: than it saves. Workers start on the first body that needs parsing: a cycle of 304s starts none.
POOL_MIN_SOURCES = 8


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def default_parse_workers() -> int:
    """Worker processes for parsing: one per core, at most MAX_PARSE_WORKERS; 0 on one core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return min(cores, MAX_PARSE_WORKERS) if cores > 1 else 0


class _WorkerDied(Exception):
    pass


class _Worker:
    """One ``python -m monitor._jobs`` process: one job at a time over its stdin and stdout."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    @classmethod
    async def start(cls, spawned: list[asyncio.subprocess.Process] | None = None) -> _Worker:
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", _jobs.__name__, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
        )
        if spawned is not None:
            spawned.append(proc)  # reaped by the pool's aclose, whatever happens to this worker
        worker = cls(proc)
        try:
            assert proc.stdout is not None
            ready = await proc.stdout.readline()
        except BaseException:
            worker.kill()
            raise
        if ready != _jobs.READY:
            worker.kill()
            raise _WorkerDied(f"{sys.executable} -m {_jobs.__name__} did not start")
        return worker

    async def call(self, name: str, args: tuple[Any, ...]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(_jobs.frame((name, args)))
            await self.proc.stdin.drain()
            head = await self.proc.stdout.readexactly(8)
            data = await self.proc.stdout.readexactly(int.from_bytes(head, "little"))
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            raise _WorkerDied(str(e)) from e
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value

    def kill(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    async def aclose(self) -> None:
        """End of input ends the worker; it is killed if it has not gone within a second."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 1.0)
        except (TimeoutError, asyncio.CancelledError):
            self.kill()
            await self.proc.wait()


class _ParsePool:
    """Up to ``size`` worker processes for the jobs of :mod:`monitor._jobs`, started on first use.

    Workers are separate interpreters (``python -m monitor._jobs``), not multiprocessing: no fork
    of a threaded process, no re-import of the caller's ``__main__``. A worker that dies (killed,
    out of memory) is replaced and the job tried once more; a second death is that source's error.
    When no worker can be started at all, jobs run in a thread of this process instead.
    """

    def __init__(self, size: int):
        self.size = size
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._starting = 0
        self._freed: asyncio.Condition | None = None
        self.unavailable = False
        self._spawned: list[asyncio.subprocess.Process] = []

    async def _acquire(self) -> _Worker:
        if self._freed is None:
            self._freed = asyncio.Condition()
        async with self._freed:
            while True:
                if self._idle:
                    return self._idle.pop()
                if len(self._workers) + self._starting < self.size:
                    self._starting += 1
                    break
                await self._freed.wait()
        try:
            worker = await _Worker.start(self._spawned)
            self._workers.add(worker)
            return worker
        finally:
            async with self._freed:
                self._starting -= 1
                self._freed.notify()

    async def _release(self, worker: _Worker, *, broken: bool = False) -> None:
        assert self._freed is not None
        if broken:
            self._workers.discard(worker)
            worker.kill()
        async with self._freed:
            if not broken and worker in self._workers:
                self._idle.append(worker)
            self._freed.notify()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker (``fn`` is a job of :mod:`monitor._jobs`)."""
        for attempt in (1, 2):
            if self.unavailable:
                return await asyncio.to_thread(fn, *args)
            try:
                worker = await self._acquire()
            except (_WorkerDied, OSError) as e:
                log.warning("cannot start a parser process (%s); parsing in this process instead", e)
                self.unavailable = True
                continue
            try:
                result = await worker.call(fn.__name__, args)
            except _WorkerDied:
                await self._release(worker, broken=True)
                if attempt == 2:
                    raise SourceError("a parser process died while reading this source (out of memory?)") from None
                continue
            except MonitorError:
                await self._release(worker)  # the job's own error (ExtractError, ...): the worker is fine
                raise
            except BaseException:
                # cancelled mid-call, or a reply that did not unpickle: its reply would be read as
                # the next job's, so this worker is done
                await self._release(worker, broken=True)
                raise
            await self._release(worker)
            return result
        return await asyncio.to_thread(fn, *args)

    async def aclose(self) -> None:
        workers, self._workers, self._idle = list(self._workers), set(), []
        await asyncio.gather(*(w.aclose() for w in workers), return_exceptions=True)
        # workers killed mid-job or mid-start (a run ended by a storage error cancels its sources)
        # must be reaped before the loop closes, or their transports print tracebacks at exit
        spawned, self._spawned = self._spawned, []
        for proc in spawned:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        await asyncio.gather(*(proc.wait() for proc in spawned), return_exceptions=True)


def same_host(url: str, page_url: str) -> bool:
    """Whether ``url`` is on the host of the page that linked it (``www.`` aside).

    Links a page hands us (its feed, its "Older posts") are followed only there: a page must not
    be able to send the monitor to another site, or to a service on the monitor's own network.
    """
    def host(u: str) -> str:
        return (urlsplit(u).hostname or "").removeprefix("www.")

    return bool(host(url)) and host(url) == host(page_url)


def user_agent(config: Config) -> str:
    if config.fetch.user_agent:
        return config.fetch.user_agent
    return f"DigestMonitor/{__version__} (+{config.site_url}; polite author-page monitor)"


_Validators = dict[tuple[str, str], tuple[str | None, str | None, str | None]]


@dataclass
class _Run:
    """The mutable working state of one source run (never leaves this module)."""

    source: SourceConfig
    state: SourceState | None
    pool: _ParsePool | None = None
    # the source's stored posts, read only once a body has to be looked at (never for a 304)
    by_id: dict[str, StoredPost] | None = None
    by_url: dict[str, StoredPost] = field(default_factory=dict)
    # post -> (identity, url_key, stored match, decision): each post is decided once per run
    decisions: dict[PostData, tuple[str, str, StoredPost | None, Decision]] = field(default_factory=dict)
    observations: dict[str, Observation] = field(default_factory=dict)
    http_cache: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    # the run's validators read up front, by (source, url); each is taken (popped) when used
    validators: _Validators = field(default_factory=dict)
    pages: int = 0
    http_status: int | None = None
    post_count: int | None = None
    feed_url: str | None = None
    rule: str | None = None
    warnings: list[str] = field(default_factory=list)
    full: bool = False  # read every page up to max_pages, ignoring validators (see FULL_SWEEP_EVERY)
    shrunk: tuple[int, int] | None = None  # a too-small first page: (count, runs in a row seeing it)

    @property
    def known(self) -> bool:
        assert self.by_id is not None, "posts not loaded yet"
        return bool(self.by_id)


class Pipeline:
    """Runs sources through fetch -> extract -> detect -> store. Network and clock injectable."""

    def __init__(self, config: Config, store: Store, *, fetcher: Fetcher | None = None,
                 clock: Clock = utcnow, parse_workers: int | None = None):
        self.config = config
        self.store = store
        self._fetcher = fetcher
        self.clock = clock
        #: worker processes for parsing (None: one per core, at most MAX_PARSE_WORKERS; 0: none)
        self.parse_workers = default_parse_workers() if parse_workers is None else parse_workers

    # -- public -------------------------------------------------------------------------

    async def run(self, names: Sequence[str] | None = None, *, due_only: bool = False,
                  on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]:
        """One pass over the chosen sources (all, or only those that are due)."""
        now = self.clock()
        self.store.sync_sources(self.config.sources, now)
        states = self.store.source_states()
        chosen = [s for s in self.config.sources if names is None or s.name in names]
        first_urls = [(s.name, s.url) for s in chosen] + [(s.name, st.feed_url) for s in chosen
                                                          if (st := states.get(s.name)) and st.feed_url]
        # validators of the first pages and feeds, read in one go (others are read when fetched)
        validators = self.store.http_caches(first_urls)
        fetcher = self._fetcher or Fetcher(self.config.fetch, user_agent=user_agent(self.config))
        sem = asyncio.Semaphore(self.config.fetch.concurrency)
        results: list[SourceResult] = []
        pool = _ParsePool(self.parse_workers) if self.parse_workers and len(chosen) >= POOL_MIN_SOURCES else None

        async def one(src: SourceConfig) -> SourceResult:
            state = states.get(src.name)
            if state and state.retry_after_until and now < state.retry_after_until:
                wait = (state.retry_after_until - now).total_seconds()
                res = SourceResult(src.name, "skipped",
                                   error=f"server asked to wait (Retry-After): {wait:.0f} s left")
            elif due_only and state and not is_due(now, state.next_due_at, state.retry_after_until):
                res = SourceResult(src.name, "skipped")
            else:
                async with sem:
                    res = await self._run_source(src, state, fetcher, pool, validators)
            if on_result:
                on_result(res)
            return res

        tasks = [asyncio.ensure_future(one(s)) for s in chosen]
        try:
            results = list(await asyncio.gather(*tasks))
        finally:
            # a storage error (full disk, say) ends the run: stop the other sources before their
            # fetcher is closed under them, so the user sees that one error, not N "internal errors"
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if pool is not None:
                await pool.aclose()
            if self._fetcher is None:
                await fetcher.aclose()
        return results

    def due_sources(self, now: dt.datetime | None = None) -> list[str]:
        now = now or self.clock()
        states = self.store.source_states()
        return [s.name for s in self.config.sources
                if s.name not in states or is_due(now, states[s.name].next_due_at,
                                                  states[s.name].retry_after_until)]

    # -- one source -------------------------------------------------------------------------

    async def _run_source(self, src: SourceConfig, state: SourceState | None, fetcher: Fetcher,
                          pool: _ParsePool | None = None,
                          validators: _Validators | None = None) -> SourceResult:
        started = self.clock()
        t0 = time.monotonic()
        run = _Run(src, state, pool, feed_url=state.feed_url if state else None, validators=validators or {})
        run.full = state is None or state.last_full_at is None or started - state.last_full_at >= FULL_SWEEP_EVERY
        error: MonitorError | None = None
        try:
            await self._ingest(run, fetcher)
        except SourceError as e:
            error = e
        except MonitorError as e:  # storage problems while reading etc.
            error = e
        except Exception as e:  # a bug must not abort the other sources
            log.error("internal error on %s:\n%s", src.name, traceback.format_exc())
            error = SourceError(f"internal error: {type(e).__name__}: {e}")
        finished = self.clock()
        duration = time.monotonic() - t0
        failures = (state.failures if state else 0) + 1 if error else 0
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        if retry_after is not None:  # a server's "Retry-After: 1e20" must not suspend a source forever
            retry_after = min(retry_after, max(self.config.fetch.backoff_max, src.every))
        if error is not None:
            run.observations.clear()  # nothing half-read is stored
            run.http_cache.clear()
            status = "error"
        elif run.pages == 0 and not run.observations:
            status = "not_modified"
        else:
            status = "ok"
        counts = {"new": 0, "changed": 0, "unchanged": 0}
        for o in run.observations.values():
            counts[o.outcome] += 1
        result = SourceResult(
            source=src.name, status=status, **counts, pages=run.pages,
            http_status=getattr(error, "status", None) or run.http_status,
            error=error.reason if error else None, error_type=type(error).__name__ if error else None,
            duration=duration, rule=run.rule, warnings=tuple(run.warnings),
        )
        writes = RunWrites(
            source=src.name, started_at=started, finished_at=finished, result=result,
            observations=list(run.observations.values()), http_cache=run.http_cache,
            next_due_at=next_due(finished, src.every, failures=failures, retry_after=retry_after,
                                 backoff_max=self.config.fetch.backoff_max),
            failures=failures,
            retry_after_until=finished + dt.timedelta(seconds=retry_after) if retry_after else None,
            post_count=run.post_count, feed_url=run.feed_url, full_sweep=run.full and error is None,
            shrunk=self._shrunk(run, error),
        )
        self.store.apply_run(writes)
        log.info("%s: %s new=%d changed=%d unchanged=%d pages=%d %.2fs%s", src.name, status,
                 result.new, result.changed, result.unchanged, result.pages, duration,
                 f" error={result.error}" if result.error else "")
        return result

    async def _get(self, run: _Run, fetcher: Fetcher, url: str) -> Response | None:
        """Conditional GET; None when the server or the body hash says nothing changed."""
        cached = run.validators.pop((run.source.name, url), None)
        if cached is None:
            cached = self.store.http_cache(run.source.name, url)
        etag, last_modified, body_hash = cached
        if run.full:  # a full sweep looks at every page, even those the server says are unchanged
            etag = last_modified = body_hash = None
        resp = await fetcher.get(url, etag=etag, last_modified=last_modified,
                                 respect_robots=run.source.robots)
        if run.http_status is None:
            run.http_status = resp.status
        if resp.not_modified:
            return None
        if run.by_id is None:
            run.by_id, run.by_url = self.store.posts_of_source(run.source.name)
        digest = hashlib.sha256(resp.content).hexdigest()
        run.http_cache[url] = (resp.etag, resp.last_modified, digest)
        if digest == body_hash and run.known:
            return None  # same bytes as last time: nothing to parse
        return resp

    async def _ingest(self, run: _Run, fetcher: Fetcher) -> None:
        src = run.source
        kind = "feed" if src.type == "feed" else ("html" if src.type == "html" else "auto")
        url: str | None = src.url
        visited: set[str] = set()
        page_posts: list[PostData] = []
        first: Page | None = None
        while url and run.pages < src.max_pages and url not in visited:
            visited.add(url)
            resp = await self._get(run, fetcher, url)
            if resp is None:
                break  # unchanged: older pages did not change either
            page = await self._extract(run, resp, kind, src.selectors)
            run.pages += 1
            run.warnings.extend(page.warnings)
            if first is None:
                first = page
                run.rule = page.rule
                self._check_post_count(run, page, resp.url)
                run.post_count = len(page.posts)
                if page.feed_url and src.type == "auto" and page.kind == "html":
                    if same_host(page.feed_url, resp.url):
                        run.feed_url = page.feed_url
                    else:
                        run.feed_url = None
                        run.warnings.append(
                            f"the page's feed {page.feed_url} is on another host; not read "
                            "(add it as a source of its own, type: feed, to follow it)")
            if page.kind == "feed":
                # a feed has no pages; it is the whole source
                await self._decide(run, page.posts)
                self._observe(run, page.posts)
                return
            await self._decide(run, page.posts)
            fresh = self._observe(run, page.posts, dry=True)
            page_posts.extend(page.posts)
            if run.known and not fresh and not run.full:
                break
            url = page.next_url
            if url and not same_host(url, resp.url):
                run.warnings.append(f"the older-posts link {url} leads to another host; not followed")
                break
        feed_posts: list[PostData] = []
        if src.type == "auto" and run.feed_url:
            try:
                resp = await self._get(run, fetcher, run.feed_url)
                if resp is not None:
                    fpage = await self._extract(run, resp, "feed", None)
                    feed_posts = list(fpage.posts)
                    run.warnings.extend(fpage.warnings)
            except SourceError as e:
                # the page is the source of truth; a broken feed only loses content
                run.warnings.append(f"author feed {run.feed_url} skipped: {e.reason}")
                run.http_cache.pop(run.feed_url, None)
        posts = merge(page_posts, feed_posts) if feed_posts else page_posts
        await self._decide(run, posts)
        self._observe(run, posts)

    async def _extract(self, run: _Run, resp: Response, kind: str, selectors: Any) -> Page:
        """extract() off the event loop: in a worker process when the run has a pool, else in a
        thread (a huge page must not freeze the loop and every other source's deadline)."""
        tz = self.config.timezone
        if run.pool is None:
            return await asyncio.to_thread(extract, resp.content, url=resp.url, headers=resp.headers, tz=tz,
                                           kind=kind, selectors=selectors)  # type: ignore[arg-type]
        # nothing stored yet: every post is new, so the worker decides them too (no second trip)
        decide_new = not run.known
        page, decisions = await run.pool.call(_jobs.extract_page, resp.content, resp.url, dict(resp.headers),
                                              tz, kind, selectors, decide_new)
        if decisions is not None:
            for p, (identity, url_key, d) in zip(page.posts, decisions):
                run.decisions.setdefault(p, (identity, url_key, None, d))
        return page

    async def _decide(self, run: _Run, posts: Sequence[PostData]) -> None:
        """Match each post with what is stored and decide it, once per run (cached in run.decisions).

        decide() is CPU work too (it normalizes every text field): in the pool when there is one.
        """
        if not posts:
            return
        assert run.by_id is not None
        todo: list[tuple[PostData, str, str, StoredPost | None]] = []
        for p in posts:
            if p in run.decisions:
                continue
            identity, url_key = post_identity(p)
            # no URL, no URL match: link-less entries (guid only) must not all match each other via ""
            existing = run.by_id.get(identity) or (run.by_url.get(url_key) if url_key else None)
            if existing is not None:
                identity = existing.identity  # the first identity a post got stays
            todo.append((p, identity, url_key, existing))
        if not todo:
            return
        pairs = [(existing, p) for p, _, _, existing in todo]
        tz = self.config.timezone
        if run.pool is not None:
            decisions = await run.pool.call(_jobs.decide_all, pairs, tz)
        else:
            decisions = _jobs.decide_all(pairs, tz)
        for (p, identity, url_key, existing), d in zip(todo, decisions):
            run.decisions[p] = (identity, url_key, existing, d)

    @staticmethod
    def _shrunk(run: _Run, error: MonitorError | None) -> tuple[int, int]:
        """What to remember of a shrunk first page: this run's sighting, else (after an unrelated
        error) the streak so far; a run that read its pages normally forgets it."""
        if run.shrunk is not None:
            return run.shrunk
        if error is not None and run.state is not None and run.state.shrunk_count:
            return run.state.shrunk_count, run.state.shrunk_runs
        return 0, 0

    def _check_post_count(self, run: _Run, page: Page, url: str) -> None:
        n = len(page.posts)
        before = run.state.last_post_count if run.state else None
        if n == 0:
            if page.kind == "html":
                if before:
                    raise NoPostsFound(f"no posts found on a page that had {before}", url=url)
                raise NoPostsFound(no_posts_reason(url), url=url)
            if before:
                raise NoPostsFound(f"the feed lists no entries; it had {before}", url=url)
            run.warnings.append("the feed lists no entries")
        elif before and before >= 5 and n < before * MIN_POST_SHARE:
            st = run.state
            seen = (st.shrunk_runs if st is not None and st.shrunk_count == n else 0) + 1
            if seen < SHRUNK_ACCEPT_RUNS:
                run.shrunk = (n, seen)
                raise NoPostsFound(
                    f"only {n} posts found on a page that had {before} (if the author removed posts, "
                    f"the new count is accepted after {SHRUNK_ACCEPT_RUNS} runs in a row find it; "
                    f"{seen} so far)", url=url)
            run.warnings.append(f"the page lists {n} posts where it had {before}: accepted as its new count, "
                                f"{seen} runs in a row found it")

    def _observe(self, run: _Run, posts: Sequence[PostData], *, dry: bool = False) -> int:
        """Record each post's decision (from :meth:`_decide`); return how many are new or changed.
        ``dry`` records nothing."""
        fresh = 0
        for p in posts:
            identity, url_key, existing, d = run.decisions[p]
            if identity in run.observations and not dry:
                continue  # seen on an earlier page of this run
            if d.outcome != "unchanged":
                fresh += 1
            if not dry:
                run.observations[identity] = Observation(p, identity, url_key, d.outcome, d.hash,
                                                         existing, d.changes)
        return fresh


def run_once(config: Config, store: Store, names: Sequence[str] | None = None, *, due_only: bool = False,
             fetcher: Fetcher | None = None, clock: Clock = utcnow,
             on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]:
    """Synchronous wrapper: one pass over the sources."""
    pipeline = Pipeline(config, store, fetcher=fetcher, clock=clock)
    return asyncio.run(pipeline.run(names, due_only=due_only, on_result=on_result))


async def check_url(config: Config, url: str, kind: str = "auto", *, fetcher: Fetcher | None = None,
                    robots: bool = True) -> CheckReport:
    """Fetch and extract ``url`` (and the feed a page links), storing nothing; the verdict is the one
    a fetch of ``url`` as a source would reach (see :mod:`monitor.checking`)."""
    own = fetcher is None
    fetcher = fetcher or Fetcher(config.fetch, user_agent=user_agent(config))
    readings: list[Reading] = []
    error: MonitorError | None = None
    feed_site: str | None = None
    try:
        resp = await fetcher.get(url, respect_robots=robots)
        readings.append(Reading(resp, None))
        page = extract(resp.content, url=resp.url, headers=resp.headers, tz=config.timezone,
                       kind=kind)  # type: ignore[arg-type]
        readings[0] = Reading(resp, page)
        # the page's feed: read with the page (auto), or to suggest it when the page has no posts
        if page.kind == "html" and page.feed_url and (kind == "auto" or not page.posts):
            try:
                fresp = await fetcher.get(page.feed_url, respect_robots=robots)
                readings.append(Reading(fresp, extract(fresp.content, url=fresp.url, headers=fresp.headers,
                                                       tz=config.timezone, kind="feed")))
            except SourceError:
                pass
        if page.kind == "feed" and not page.posts:
            feed_site = _feed_site(resp)
    except SourceError as e:
        error = e
        if readings and kind == "feed":
            feed_site = _feed_site(readings[0].response)
    finally:
        if own:
            await fetcher.aclose()
    return judge(url, kind, readings, error, feed_site=feed_site)


def _feed_site(resp: Response) -> str | None:
    """The site a feed names as its home (its <link>), on the feed's host, else None."""
    import feedparser

    try:
        link = (feedparser.parse(resp.content).get("feed") or {}).get("link")
    except Exception:  # noqa: BLE001 -- only a hint
        return None
    return link if isinstance(link, str) and link.startswith(("http://", "https://")) and link != resp.url else None
