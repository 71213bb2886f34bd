"""The pipeline: the one place where the stages are wired, and the application the CLI, the
service and the demo call (they never touch the store or the publisher directly).

::

    Monitor.open(config)                      the database opened and migrated, sources registered once
      .fetch(names, due_only=)                the ingest half (ingest.py), one batch of sources:
          fetch -> extract -> detect -> store     each source a result, never an abort
      .publish(week_ending= | all_weeks=)     the publish half (publishing.py):
          select weeks -> read -> build -> present -> render -> write files -> record
      .deliver(week_ending=, resend=, dry_run=)   the delivery half (delivering.py): each published
          week to every recipient of every channel once (the ledger), async
      .posts() .history(url) .states() ...    the reads behind `monitor posts`, `history`, `status`
      .deliveries()                            the "deliveries" block of `status` and /healthz
    check_url(config, url)                    fetch + extract one URL, storing nothing

The seams: storage is a :class:`~monitor.storage.Storage` (today SQLite, :mod:`monitor.store`);
parse work goes to a :class:`~monitor.workers.ParsePool` whose owner decides its lifetime (one
``monitor fetch``, or the whole service); the network (:class:`~monitor.fetch.Fetcher`) and the
clock are injectable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..checking import CheckReport, Reading, judge
from ..config import Config
from ..detect import body_text
from ..errors import MonitorError, SourceError
from ..models import PublishingState, Response, SourceResult, SourceState, StoredPost, Version
from ..report import StatusInputs
from ..schedule import Clock, utcnow
from ..storage import Storage
from ..urls import normalize_url, same_host
from .publishing import BuildReport, publish_digests, week_has_content

if TYPE_CHECKING:  # imported where used: `monitor status` and `--help` load no aiohttp, feedparser, selectolax
    from ..fetch import Fetcher
    from ..workers import ParsePool
    from .delivering import DeliveryReport
    from .ingest import Ingest

#: re-exported, imported on first use (PEP 562): `monitor status` loads neither the ingest nor the
#: delivery machinery (nor asyncio with them)
_LAZY = {"POOL_MIN_SOURCES": "ingest", "Ingest": "ingest", "user_agent": "ingest", "wants_pool": "ingest",
         "DeliveryReport": "delivering", "deliver_editions": "delivering"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["POOL_MIN_SOURCES", "BuildReport", "DeliveryReport", "Ingest", "Monitor", "check_url", "publish_digests", "run_once",
           "same_host", "user_agent", "wants_pool"]


class Monitor:
    """The application: one database, the ingest and publish halves over it, and the reads.

    ``fetcher`` and ``pool`` given by the caller stay the caller's (the service keeps one of each
    for its whole life); otherwise each :meth:`fetch` makes its own and closes it.
    """

    def __init__(self, config: Config, store: Storage, *, fetcher: Fetcher | None = None,
                 pool: ParsePool | None = None, clock: Clock = utcnow, parse_workers: int | None = None):
        self.config = config
        self.store = store
        self.clock = clock
        self._ingest_args = {"fetcher": fetcher, "pool": pool, "parse_workers": parse_workers}
        self._ingest: Ingest | None = None

    @property
    def ingest(self) -> Ingest:
        """The ingest half, made on first use (reads like `monitor status` never load it)."""
        if self._ingest is None:
            from .ingest import Ingest

            self._ingest = Ingest(self.config, self.store, clock=self.clock, **self._ingest_args)  # type: ignore[arg-type]
        return self._ingest

    @classmethod
    def open(cls, config: Config, *, register: bool = True, busy_timeout: float = 30.0,
             fetcher: Fetcher | None = None, pool: ParsePool | None = None, clock: Clock = utcnow,
             parse_workers: int | None = None) -> Monitor:
        """Open (creating and migrating) the database; with ``register``, record every configured
        source once (a run then only touches its own sources' rows)."""
        from ..store import Store  # the SQLite backend; the rest of the pipeline sees only Storage

        store = Store.open(config.database, busy_timeout=busy_timeout)
        try:
            if register:  # only what is new or changed: a start with nothing to register writes nothing
                states = store.source_states()
                changed = [s for s in config.sources
                           if (st := states.get(s.name)) is None or (st.url, st.type) != (s.url, s.type)]
                if changed:
                    store.sync_sources(changed, clock())
        except BaseException:
            store.close()
            raise
        return cls(config, store, fetcher=fetcher, pool=pool, clock=clock, parse_workers=parse_workers)

    @classmethod
    def open_readonly(cls, config: Config) -> Monitor | None:
        """The database opened for reading only (no migration, no registration, no file created):
        for commands that only look, like ``monitor status``. None when there is no database yet."""
        from ..store import Store

        store = Store.open_readonly(config.database)
        return None if store is None else cls(config, store, parse_workers=0)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- the ingest half ---------------------------------------------------------------------

    async def fetch(self, names: Sequence[str] | None = None, *, due_only: bool = False,
                    on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]:
        """One pass over the chosen sources (all by default), as one batch."""
        return await self.ingest.run(names, due_only=due_only, on_result=on_result)

    def fetch_sync(self, names: Sequence[str] | None = None, *, due_only: bool = False,
                   on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]:
        """:meth:`fetch` in its own event loop (the CLI, the demo)."""
        import asyncio

        return asyncio.run(self.fetch(names, due_only=due_only, on_result=on_result))

    # -- the publish half ---------------------------------------------------------------------

    def publish(self, *, week_ending: dt.date | None = None, all_weeks: bool = False,
                lead_url: str | None = None, now: dt.datetime | None = None) -> BuildReport:
        """Build and write the digest of one week (default: the last complete one) or of all weeks."""
        return publish_digests(self.config, self.store, week_ending=week_ending, all_weeks=all_weeks,
                               lead_url=lead_url, now=now or self.clock())

    def unpublished_weeks(self, now: dt.datetime) -> list[dt.date]:
        """Every due week (see :meth:`monitor.digest.Calendar.due_weeks`) not yet recorded, oldest first."""
        recorded = {r["week_ending"] for r in self.store.digests()}
        due = self.config.calendar.due_weeks(now, self.store.first_published())
        return [w for w in due if w.isoformat() not in recorded]

    def is_published(self, week: dt.date) -> bool:
        return self.store.digest_record(week) is not None

    def week_has_content(self, week: dt.date) -> bool:
        return week_has_content(self.config, self.store, week)

    # -- the delivery half ---------------------------------------------------------------------

    async def deliver(self, *, now: dt.datetime | None = None, week_ending: dt.date | None = None,
                      resend: bool = False, dry_run: Path | None = None,
                      stopping: Callable[[], bool] = lambda: False) -> DeliveryReport:
        """Send each published week due to a recipient (see :mod:`monitor.pipeline.delivering`)."""
        from .delivering import deliver_editions

        return await deliver_editions(self.config, self.store, now=now or self.clock(), clock=self.clock,
                                      week_ending=week_ending, resend=resend, dry_run=dry_run, stopping=stopping)

    def deliveries(self) -> dict[str, Any] | None:
        """Per channel, its last delivery (None when nothing is configured and nothing was sent)."""
        from ..deliver import channel_names, deliveries_report

        names, rows = channel_names(self.config), self.store.deliveries()
        return deliveries_report(names, rows) if names or rows else None

    def record_publishing(self, state: PublishingState) -> None:
        """Remember the last publish pass (the service's), for `monitor status` and /healthz."""
        self.store.set_publishing(state)

    def publishing(self) -> PublishingState | None:
        return self.store.publishing()

    # -- reads ------------------------------------------------------------------------------------

    def states(self, names: Sequence[str] | None = None) -> dict[str, SourceState]:
        return self.store.source_states(names)

    def posts(self, *, source: str | None = None, since: dt.datetime | None = None,
              changed: bool = False) -> list[StoredPost]:
        return self.store.posts(source=source, since=since, changed=changed)

    def history(self, url: str) -> list[tuple[StoredPost, list[Version]]]:
        """Every stored post at ``url`` (any spelling of it) with all its versions, oldest first."""
        found = self.store.posts_by_url(url, normalize_url(url))
        versions = self.store.versions_of(p.id for p in found)
        return [(p, versions[p.id]) for p in found]

    def post_counts(self) -> dict[str, int]:
        return self.store.post_counts()

    def search(self, query: str, *, sources: Sequence[str] = (), since: dt.datetime | None = None,
               limit: int = 50) -> list[tuple[StoredPost, str, float]]:
        """Full-text search (title, excerpt, content), best first: (post, snippet, rank). The index
        first catches up with what was written since it last did (:meth:`update_search`)."""
        self.update_search()
        return self.store.search(query, sources=sources, since=since, limit=limit)

    def update_search(self, limit: int | None = None, batch: int = 500) -> int:
        """Bring the search index up to date, ``batch`` posts per transaction (at most ``limit``
        posts, for the service's idle ticks); how many were indexed. The index holds a post's
        content as text (:func:`monitor.detect.body_text`), not its HTML."""
        done = 0
        while limit is None or done < limit:
            rows = self.store.posts_to_index(batch if limit is None else min(batch, limit - done))
            if not rows:
                break
            self.store.index_posts([(pid, title, excerpt, body_text(content))
                                    for pid, title, excerpt, content in rows])
            done += len(rows)
        return done

    def status_inputs(self, *, next_runs: Mapping[str, dt.datetime | None] | None = None,
                      publishing: PublishingState | None = None) -> StatusInputs:
        """What :func:`monitor.report.status_report` is made of, read from the store. Without
        ``next_runs`` (no scheduler: ``monitor status``), the next source due from the stored states."""
        states = self.store.source_states()
        if next_runs is None:
            names = {s.name for s in self.config.sources}
            dues = [st.next_due_at for n, st in states.items() if st.next_due_at and n in names]
            next_runs = {"next_source_due": min(dues) if dues else None}
        digests = self.store.digests()
        return StatusInputs(states, self.store.post_counts(), digests[0] if digests else None, next_runs,
                            publishing if publishing is not None else self.store.publishing(), self.deliveries())


def run_once(config: Config, store: Storage, names: Sequence[str] | None = None, *, due_only: bool = False,
             fetcher: Fetcher | None = None, clock: Clock = utcnow,
             on_result: Callable[[SourceResult], None] | None = None) -> list[SourceResult]:
    """One pass over the sources of an open store, in its own event loop (tests and benchmarks)."""
    store.sync_sources(config.sources, clock())
    monitor = Monitor(config, store, fetcher=fetcher, clock=clock)
    return monitor.fetch_sync(names, due_only=due_only, on_result=on_result)


async def check_url(config: Config, url: str, kind: str = "auto", *, fetcher: Fetcher | None = None,
                    robots: bool = True) -> CheckReport:
    """Fetch and extract ``url`` (and the feed a page links, on the same host), storing nothing; the
    verdict is the one a fetch of ``url`` as a new source would reach (see :mod:`monitor.checking`)."""
    from ..extract import extract
    from ..fetch import Fetcher
    from .ingest import user_agent

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
        if (page.kind == "html" and page.feed_url and same_host(page.feed_url, resp.url)
                and (kind == "auto" or not page.posts)):
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
    """The site a feed names as its home (its <link>), when it is a web address; a hint only."""
    import feedparser

    try:
        link = (feedparser.parse(resp.content).get("feed") or {}).get("link")
    except Exception:  # noqa: BLE001 -- only a hint
        return None
    return link if isinstance(link, str) and link.startswith(("http://", "https://")) and link != resp.url else None
