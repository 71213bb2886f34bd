"""The ingest half: each source through fetch -> extract -> detect -> store.

::

    Ingest(config, store, fetcher=..., pool=..., clock=...).run(names, due_only=...)
      for each chosen source, concurrently (at most fetch.concurrency at once):
        fetch.Fetcher.get(url, etag, last_modified)  -> Response (or 304: nothing to parse)
        extract.extract(body)                        -> Page (posts, next page, feed link)
        ... follow "Older posts" up to max_pages, stop at a page with nothing new
        extract.merge(page posts, feed posts)        (type: auto)
        detect.decide(stored, observed)              -> new / changed / unchanged
        detect.post_writes(...), detect.run_outcome  -> complete write intents (pure)
        store.apply_run(...)                         one transaction per source run, as given
      -> [SourceResult]                              a failing source is a value, never an abort

Where the work happens: fetching and storing on the event loop; extract and decide (CPU work) in
the parse workers (:mod:`monitor.workers`) when the caller hands a pool, else in a thread. The
pool's owner decides its lifetime (one ``monitor fetch``, or the whole service). A stored source's
posts are read only once one of its bodies has changed: a cycle of 304s reads no posts and sends
no work to the pool. Each post is decided once per run, however many pages show it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..config import Config, SourceConfig
from ..detect import check_post_count, needs_full_sweep, post_write, run_writes
from ..errors import MonitorError, NoPostsFound, RateLimited, SourceError
from ..models import (
    Decision,
    Page,
    PostData,
    PostWrite,
    Response,
    RunStatus,
    SourceResult,
    SourceState,
    StoredPost,
)
from ..schedule import Clock, is_due, utcnow
from ..storage import Storage
from ..urls import normalize_url, same_host

if TYPE_CHECKING:  # imported where used: `monitor status` and `--help` load no aiohttp, feedparser, selectolax
    from ..fetch import Fetcher
    from ..workers import ParsePool

log = logging.getLogger("monitor")

UTC = dt.UTC




#: Runs over fewer sources parse in a thread of this process: starting workers would cost more
#: than it saves. Workers start on the first body that needs parsing: a cycle of 304s starts none.
POOL_MIN_SOURCES = 8


def wants_pool(n_sources: int, workers: int | None = None) -> int:
    """How many parse workers a run (or a service) over ``n_sources`` sources should use: none
    below POOL_MIN_SOURCES or on one core."""
    from ..workers import default_parse_workers

    workers = default_parse_workers() if workers is None else workers
    return workers if n_sources >= POOL_MIN_SOURCES else 0


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
    pool: ParsePool | None = None
    # the source's stored posts, read only once a body has to be looked at (never for a 304)
    by_id: dict[str, StoredPost] | None = None
    by_url: dict[str, StoredPost] = field(default_factory=dict)
    # post -> (identity, url_key, stored match, decision): each post is decided once per run
    decisions: dict[PostData, tuple[str, str, StoredPost | None, Decision]] = field(default_factory=dict)
    observations: dict[str, PostWrite] = field(default_factory=dict)
    http_cache: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    # the run's validators read up front, by (source, url); each is taken (popped) when used
    validators: _Validators = field(default_factory=dict)
    pages: int = 0
    http_status: int | None = None
    post_count: int | None = None
    feed_url: str | None = None
    rule: str | None = None
    warnings: list[str] = field(default_factory=list)
    full: bool = False  # read every page up to max_pages, ignoring validators (detect.needs_full_sweep)
    shrunk: tuple[int, int] | None = None  # a too-small first page: (count, runs in a row seeing it)

    @property
    def known(self) -> bool:
        assert self.by_id is not None, "posts not loaded yet"
        return bool(self.by_id)


class Ingest:
    """Runs sources through fetch -> extract -> detect -> store. Network, pool and clock injectable.

    The sources must be registered in the store first (:meth:`Storage.sync_sources`, done once by the
    application at start): a run reads and writes the state of its own sources only, so its cost
    grows with the sources it runs, never with the sources configured.
    """

    def __init__(self, config: Config, store: Storage, *, fetcher: Fetcher | None = None,
                 clock: Clock = utcnow, pool: ParsePool | None = None, parse_workers: int | None = None):
        self.config = config
        self.store = store
        self._fetcher = fetcher
        self.clock = clock
        #: a pool owned by the caller (kept open across runs); else each large run starts its own
        self.pool = pool
        #: worker processes for a run's own pool (None: one per core, at most MAX_PARSE_WORKERS)
        self.parse_workers = parse_workers
        self._by_name = {s.name: s for s in config.sources}
        self._slots: asyncio.Semaphore | None = None

    # -- public -------------------------------------------------------------------------

    async def run(self, names: Sequence[str] | None = None, *, due_only: bool = False,
                  on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]:
        """One pass over the chosen sources (all, or only those that are due)."""
        now = self.clock()
        chosen = list(self.config.sources) if names is None else [self._by_name[n] for n in names]
        states = self.store.source_states([s.name for s in chosen])
        first_urls = [(s.name, s.url) for s in chosen] + [(s.name, st.feed_url) for s in chosen
                                                          if (st := states.get(s.name)) and st.feed_url]
        # validators of the first pages and feeds, read in one go (others are read when fetched)
        validators = self.store.http_caches(first_urls)
        from ..fetch import Fetcher
        from ..workers import ParsePool

        fetcher = self._fetcher or Fetcher(self.config.fetch, user_agent=user_agent(self.config))
        # one limit on sources in flight across concurrent runs (the service starts a batch per tick)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.fetch.concurrency)
        sem = self._slots
        results: list[SourceResult] = []
        pool = self.pool
        own_pool = None
        if pool is None and (n := wants_pool(len(chosen), self.parse_workers)):
            pool = own_pool = ParsePool(n)

        async def one(src: SourceConfig) -> SourceResult:
            state = states.get(src.name)
            if state and state.retry_after_until and now < state.retry_after_until:
                wait = (state.retry_after_until - now).total_seconds()
                res = SourceResult(src.name, "skipped", error=f"server asked to wait (Retry-After): {wait:.0f} s left",
                                   next_due_at=state.retry_after_until, failures=state.failures)
            elif due_only and state and not is_due(now, state.next_due_at, state.retry_after_until):
                res = SourceResult(src.name, "skipped", next_due_at=state.next_due_at, failures=state.failures)
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
            if own_pool is not None:
                await own_pool.aclose()
            if self._fetcher is None:
                await fetcher.aclose()
        return results

    # -- one source -------------------------------------------------------------------------

    async def _run_source(self, src: SourceConfig, state: SourceState | None, fetcher: Fetcher,
                          pool: ParsePool | None = None,
                          validators: _Validators | None = None) -> SourceResult:
        started = self.clock()
        t0 = time.monotonic()
        run = _Run(src, state, pool, feed_url=state.feed_url if state else None, validators=validators or {})
        run.full = needs_full_sweep(state, started)
        error: MonitorError | None = None
        try:
            await self._ingest(run, fetcher)
        except MonitorError as e:  # the source's own error, or storage problems while reading
            error = e
        except Exception as e:  # noqa: BLE001 -- a bug must not abort the other sources
            log.error("internal error on %s:\n%s", src.name, traceback.format_exc())
            error = SourceError(f"internal error: {type(e).__name__}: {e}")
        finished = self.clock()
        duration = time.monotonic() - t0
        status: RunStatus = "ok"
        if error is not None:
            status = "error"
        elif run.pages == 0 and not run.observations:
            status = "not_modified"
        outcomes = [o.outcome for o in run.observations.values()] if error is None else []
        result = SourceResult(
            source=src.name, status=status, new=outcomes.count("new"), changed=outcomes.count("changed"),
            unchanged=outcomes.count("unchanged"), pages=run.pages,
            http_status=getattr(error, "status", None) or run.http_status,
            error=error.reason if error else None, error_type=type(error).__name__ if error else None,
            duration=duration, rule=run.rule, warnings=tuple(run.warnings),
        )
        writes = run_writes(
            result, state, started=started, finished=finished, posts=list(run.observations.values()),
            http_cache=run.http_cache, every=src.every, backoff_max=self.config.fetch.backoff_max,
            retry_after=error.retry_after if isinstance(error, RateLimited) else None, full=run.full,
            post_count=run.post_count, feed_url=run.feed_url, shrunk=run.shrunk,
            log_retention=self.config.fetch.log_retention,
        )
        self.store.apply_run(writes)
        result = dataclasses.replace(result, next_due_at=writes.next_due_at, failures=writes.failures)
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
        visited: set[str] = set()  # the pages read, normalized once a second page is in sight
        page_posts: list[PostData] = []
        first: Page | None = None
        while url and run.pages < src.max_pages:
            if run.pages:  # a next page: never one already read, under any spelling of its URL
                visited = visited or {normalize_url(src.url)}
                key = normalize_url(url)
                if key in visited:
                    break
                visited.add(key)
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
            fresh = self._fresh(run, page.posts)
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
        posts: Sequence[PostData] = page_posts
        if feed_posts:
            from ..extract import merge

            posts = merge(page_posts, feed_posts)
        await self._decide(run, posts)
        self._observe(run, posts)

    async def _extract(self, run: _Run, resp: Response, kind: str, selectors: Any) -> Page:
        """extract() off the event loop: in a worker process when the run has a pool, else in a
        thread (a huge page must not freeze the loop and every other source's deadline)."""
        from .. import workers
        from ..extract import extract

        tz = self.config.timezone
        if run.pool is None:
            return await asyncio.to_thread(extract, resp.content, url=resp.url, headers=resp.headers, tz=tz,
                                           kind=kind, selectors=selectors)  # type: ignore[arg-type]
        # nothing stored yet: every post is new, so the worker decides them too (no second trip)
        decide_new = not run.known
        page: Page
        decisions: tuple[tuple[str, str, Decision], ...] | None
        page, decisions = await run.pool.call(workers.extract_page, resp.content, resp.url, dict(resp.headers),
                                              tz, kind, selectors, decide_new)
        if decisions is not None:
            for p, (identity, url_key, d) in zip(page.posts, decisions, strict=True):
                run.decisions.setdefault(p, (identity, url_key, None, d))
        return page

    async def _decide(self, run: _Run, posts: Sequence[PostData]) -> None:
        """Match each post with what is stored and decide it, once per run (cached in run.decisions).

        decide() is CPU work too (it normalizes every text field): in the pool when there is one.
        """
        if not posts:
            return
        from .. import workers
        from ..extract import post_identity

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
            decisions = await run.pool.call(workers.decide_all, pairs, tz)
        else:
            decisions = workers.decide_all(pairs, tz)
        for (p, identity, url_key, existing), d in zip(todo, decisions, strict=True):
            run.decisions[p] = (identity, url_key, existing, d)

    @staticmethod
    def _check_post_count(run: _Run, page: Page, url: str) -> None:
        verdict = check_post_count(len(page.posts), page.kind, url, run.state)
        run.shrunk = verdict.shrunk
        if verdict.error:
            raise NoPostsFound(verdict.error, url=url)
        if verdict.warning:
            run.warnings.append(verdict.warning)

    @staticmethod
    def _fresh(run: _Run, posts: Sequence[PostData]) -> int:
        """How many of ``posts`` (decided by :meth:`_decide`) are new or changed."""
        return sum(run.decisions[p][3].outcome != "unchanged" for p in posts)

    @staticmethod
    def _observe(run: _Run, posts: Sequence[PostData]) -> None:
        """Record each post's write (from its decision); a post seen on an earlier page of this
        run keeps its first sighting."""
        for p in posts:
            identity, url_key, existing, d = run.decisions[p]
            if identity not in run.observations:
                run.observations[identity] = post_write(p, identity, url_key, d, existing)
