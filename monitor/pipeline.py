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
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import __version__
from .config import Config, SourceConfig
from .detect import decide
from .errors import ExtractError, MonitorError, NoPostsFound, RateLimited, SourceError
from .extract import extract, merge, post_identity
from .fetch import Fetcher
from .models import Page, PostData, Response, SourceResult
from .schedule import is_due, next_due
from .store import Observation, RunWrites, SourceState, Store, StoredPost

log = logging.getLogger("monitor")

UTC = dt.timezone.utc
Clock = Callable[[], dt.datetime]

#: A first page with fewer than this share of the posts it had last time is an
#: extraction failure (a theme change, a block page), not mass deletion.
MIN_POST_SHARE = 0.3


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def user_agent(config: Config) -> str:
    if config.fetch.user_agent:
        return config.fetch.user_agent
    return f"DigestMonitor/{__version__} (+{config.site_url}; polite author-page monitor)"


@dataclass
class _Run:
    """The mutable working state of one source run (never leaves this module)."""

    source: SourceConfig
    state: SourceState | None
    by_id: dict[str, StoredPost]
    by_url: dict[str, StoredPost]
    observations: dict[str, Observation] = field(default_factory=dict)
    http_cache: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    pages: int = 0
    http_status: int | None = None
    post_count: int | None = None
    feed_url: str | None = None
    rule: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return bool(self.by_id)


class Pipeline:
    """Runs sources through fetch -> extract -> detect -> store. Network and clock injectable."""

    def __init__(self, config: Config, store: Store, *, fetcher: Fetcher | None = None,
                 clock: Clock = utcnow):
        self.config = config
        self.store = store
        self._fetcher = fetcher
        self.clock = clock

    # -- public -------------------------------------------------------------------------

    async def run(self, names: Sequence[str] | None = None, *, due_only: bool = False,
                  on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]:
        """One pass over the chosen sources (all, or only those that are due)."""
        now = self.clock()
        self.store.sync_sources(self.config.sources, now)
        states = self.store.source_states()
        chosen = [s for s in self.config.sources if names is None or s.name in names]
        fetcher = self._fetcher or Fetcher(self.config.fetch, user_agent=user_agent(self.config))
        sem = asyncio.Semaphore(self.config.fetch.concurrency)
        results: list[SourceResult] = []

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
                    res = await self._run_source(src, state, fetcher)
            if on_result:
                on_result(res)
            return res

        try:
            results = list(await asyncio.gather(*(one(s) for s in chosen)))
        finally:
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

    async def _run_source(self, src: SourceConfig, state: SourceState | None, fetcher: Fetcher) -> SourceResult:
        started = self.clock()
        t0 = time.monotonic()
        by_id, by_url = self.store.posts_of_source(src.name)
        run = _Run(src, state, by_id, by_url, feed_url=state.feed_url if state else None)
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
            post_count=run.post_count, feed_url=run.feed_url,
        )
        self.store.apply_run(writes)
        log.info("%s: %s new=%d changed=%d unchanged=%d pages=%d %.2fs%s", src.name, status,
                 result.new, result.changed, result.unchanged, result.pages, duration,
                 f" error={result.error}" if result.error else "")
        return result

    async def _get(self, run: _Run, fetcher: Fetcher, url: str) -> Response | None:
        """Conditional GET; None when the server or the body hash says nothing changed."""
        etag, last_modified, body_hash = self.store.http_cache(url)
        resp = await fetcher.get(url, etag=etag, last_modified=last_modified,
                                 respect_robots=run.source.robots)
        if run.http_status is None:
            run.http_status = resp.status
        if resp.not_modified:
            return None
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
            page = extract(resp.content, url=resp.url, headers=resp.headers, tz=self.config.timezone,
                           kind=kind, selectors=src.selectors)
            run.pages += 1
            run.warnings.extend(page.warnings)
            if first is None:
                first = page
                run.rule = page.rule
                self._check_post_count(run, page, resp.url)
                run.post_count = len(page.posts)
                if page.feed_url and src.type == "auto" and page.kind == "html":
                    run.feed_url = page.feed_url
            if page.kind == "feed":
                # a feed has no pages; it is the whole source
                self._observe(run, page.posts)
                return
            fresh = self._observe(run, page.posts, dry=True)
            page_posts.extend(page.posts)
            if run.known and not fresh:
                break
            url = page.next_url
        feed_posts: list[PostData] = []
        if src.type == "auto" and run.feed_url:
            try:
                resp = await self._get(run, fetcher, run.feed_url)
                if resp is not None:
                    fpage = extract(resp.content, url=resp.url, headers=resp.headers,
                                    tz=self.config.timezone, kind="feed")
                    feed_posts = list(fpage.posts)
                    run.warnings.extend(fpage.warnings)
            except SourceError as e:
                # the page is the source of truth; a broken feed only loses content
                run.warnings.append(f"author feed {run.feed_url} skipped: {e.reason}")
                run.http_cache.pop(run.feed_url, None)
        if feed_posts:
            self._observe(run, merge(page_posts, feed_posts))
        else:
            self._observe(run, page_posts)

    def _check_post_count(self, run: _Run, page: Page, url: str) -> None:
        n = len(page.posts)
        before = run.state.last_post_count if run.state else None
        if n == 0:
            if page.kind == "html":
                if before:
                    raise NoPostsFound(f"no posts found on a page that had {before}", url=url)
                raise NoPostsFound(f"no posts found on {url} (tried the classic, block, text and generic layouts)", url=url)
            if before:
                raise NoPostsFound(f"the feed lists no entries; it had {before}", url=url)
            run.warnings.append("the feed lists no entries")
        elif before and before >= 5 and n < before * MIN_POST_SHARE:
            raise NoPostsFound(f"only {n} posts found on a page that had {before}", url=url)

    def _observe(self, run: _Run, posts: Sequence[PostData], *, dry: bool = False) -> int:
        """Decide each post; return how many are new or changed. ``dry`` records nothing."""
        fresh = 0
        tz = self.config.timezone
        for p in posts:
            identity, url_key = post_identity(p)
            existing = run.by_id.get(identity) or run.by_url.get(url_key)
            if existing is not None:
                identity = existing.identity  # the first identity a post got stays
            if identity in run.observations and not dry:
                continue  # seen on an earlier page of this run
            d = decide(existing, p, tz=tz)
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
                    robots: bool = True) -> list[tuple[Response, Page]]:
    """Fetch and extract ``url`` (and its discovered feed), storing nothing."""
    own = fetcher is None
    fetcher = fetcher or Fetcher(config.fetch, user_agent=user_agent(config))
    out: list[tuple[Response, Page]] = []
    try:
        resp = await fetcher.get(url, respect_robots=robots)
        page = extract(resp.content, url=resp.url, headers=resp.headers, tz=config.timezone,
                       kind=kind)  # type: ignore[arg-type]
        out.append((resp, page))
        if kind == "auto" and page.kind == "html" and page.feed_url:
            try:
                fresp = await fetcher.get(page.feed_url, respect_robots=robots)
                out.append((fresp, extract(fresp.content, url=fresp.url, headers=fresp.headers,
                                           tz=config.timezone, kind="feed")))
            except (SourceError, ExtractError):
                pass
    finally:
        if own:
            await fetcher.aclose()
    return out
