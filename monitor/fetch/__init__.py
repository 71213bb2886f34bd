"""The fetch stage: one URL in, one :class:`~monitor.models.Response` out, or a typed error.

It runs unattended against sites nobody controls, so every way a server can misbehave
ends in a :class:`~monitor.errors.FetchError` subclass, never a foreign exception::

    Fetcher.get(url)
     |-- robots.txt of the URL's origin (fetched once, cached, shared by callers) -> RobotsDisallowed
     |-- wait for a per-host slot (config.per_host requests in flight per host)
     |-- GET with If-None-Match / If-Modified-Since        refused, reset, DNS -> ConnectFailed
     |    |-- 301/302/303/307/308: next hop, checked       loop, too many, file: -> BadRedirect
     |    |-- 304: Response(status=304, content=b"")
     |    |-- 404/410 NotFound, 429/503 RateLimited, other 4xx/5xx HTTPStatusError
     |    `-- 2xx: stream the raw body, inflate it ourselves   over the cap -> TooLarge
     `-- all of it inside config.deadline                  -> FetchTimeout

The deadline counts the time spent on the network (robots.txt, every hop, every byte of the
body), not the time queued for a per-host slot: when many sources share one site, politeness
makes them wait, and waiting politely must not make them fail.

Bodies are read with ``aiter_raw()`` and inflated in :mod:`monitor.fetch._body`, at most 64 KB
at a time, so a gzip bomb never costs more than the cap plus one chunk of memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Self
from urllib.robotparser import RobotFileParser

import httpx

from .. import __version__
from ..config import FetchConfig
from ..errors import (
    BadRedirect,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NotFound,
    RateLimited,
    RobotsDisallowed,
)
from ..models import Response
from ._body import read_body

__all__ = ["DEFAULT_USER_AGENT", "ROBOTS_TOKEN", "Fetcher", "parse_retry_after"]

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"DigestMonitor/{__version__} (+polite author-page monitor; honours robots.txt)"
#: The product token robots.txt groups are matched against.
ROBOTS_TOKEN = "DigestMonitor"
ROBOTS_MAX_BYTES = 500_000  # RFC 9309: parse at least 500 KiB; we read this much and no more
ROBOTS_TTL = 86_400.0  # RFC 9309: do not use a cached robots.txt for more than 24 hours
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.8"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_LOCATION = "digest_monitor.location"  # where _take_location puts a redirect's Location
_RETRY_SECONDS = re.compile(r"\d+(?:\.\d+)?")


MAX_RETRY_AFTER = 7 * 86400.0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: ``"120"`` or an HTTP date.

    ``None`` when the header is absent or unreadable; a date in the past gives ``0.0``; a wait
    longer than :data:`MAX_RETRY_AFTER` (7 days) is capped, so a hostile value cannot overflow
    date arithmetic or silence a source for years.
    A naive ``now`` or date is taken as UTC.
    """
    if value is None or not (value := value.strip()):
        return None
    if _RETRY_SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


class Fetcher:
    """Polite HTTP GETs for the whole run: one client, per-host limits, a robots.txt cache.

    Share one Fetcher between all sources of a run and close it at the end (``async with``).
    """

    def __init__(
        self,
        config: FetchConfig,
        *,
        user_agent: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.user_agent = user_agent or config.user_agent or DEFAULT_USER_AGENT
        self._clock = clock
        # A source has at most one page and one robots.txt request in flight at a time.
        slots = 2 * max(config.concurrency, config.per_host)
        self._client = httpx.AsyncClient(
            transport=transport,
            headers={"User-Agent": self.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(config.timeout),
            limits=httpx.Limits(max_connections=slots, max_keepalive_connections=slots),
            follow_redirects=False,
            http2=False,
            event_hooks={"response": [_take_location]},
        )
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, tuple[float, asyncio.Task[_Robots]]] = {}
        self._closed = False

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        respect_robots: bool = True,
    ) -> Response:
        """GET ``url``, following redirects; a 2xx or a 304, else a :class:`FetchError`."""
        if self._closed:
            raise RuntimeError("this Fetcher is closed")
        started = self._clock()
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        budget = _Budget(self.config.deadline)
        try:
            reply = await self._follow(
                url, headers, budget, max_bytes=self.config.max_bytes, robots=respect_robots, polite=True
            )
        except TimeoutError as e:
            raise FetchTimeout(
                f"gave up after {self.config.deadline:g} s fetching {url}: the server is too slow "
                "(the limit is fetch.deadline)",
                url=url,
            ) from e
        return Response(
            url=reply.url,
            status=reply.status,
            content=reply.content,
            headers=reply.headers,
            elapsed=self._clock() - started,
        )

    async def aclose(self) -> None:
        self._closed = True
        tasks = [task for _, task in self._robots.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- redirects -------------------------------------------------------------------------------

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        budget: _Budget,
        *,
        max_bytes: int,
        truncate: bool = False,
        robots: bool,
        polite: bool,
    ) -> _Reply:
        """Request ``url`` and each redirect target in turn (checking every hop) up to the final reply."""
        current = _http_url(url, url)
        chain = [current.copy_with(fragment=None)]
        while True:
            if robots:
                await self._check_robots(current, budget)
            reply = await self._exchange(current, headers, budget, max_bytes, truncate, polite)
            if reply.location is None:
                return reply
            target = _redirect_target(current, reply.location)
            if target in chain:
                loop = " -> ".join(str(u) for u in [*chain[chain.index(target) :], target])
                raise BadRedirect(f"redirect loop: {loop}", url=url)
            if len(chain) > self.config.max_redirects:
                raise BadRedirect(
                    f"too many redirects: more than {self.config.max_redirects} starting at {url} "
                    "(the limit is fetch.max_redirects)",
                    url=url,
                )
            chain.append(target)
            current = target

    # -- one request -----------------------------------------------------------------------------

    async def _exchange(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        budget: _Budget,
        max_bytes: int,
        truncate: bool,
        polite: bool,
    ) -> _Reply:
        """One GET, no redirects followed: a redirect, a 304 or a 2xx with its body; else raises."""
        slot = self._host_slot(url.host) if polite else contextlib.nullcontext()
        async with slot, budget.running():
            phase = "requesting"
            try:
                response = await self._client.send(
                    self._client.build_request("GET", url, headers=headers), stream=True
                )
                try:
                    status = response.status_code
                    if (location := response.extensions.get(_LOCATION)) is not None:
                        return _Reply(str(url), status, b"", {}, location=location)
                    if status == 304:
                        return _Reply(str(url), status, b"", _lower(response.headers))
                    if not 200 <= status < 300:
                        raise _status_error(response, str(url))
                    phase = "reading the body of"
                    content = await read_body(response, str(url), max_bytes, truncate)
                finally:
                    await response.aclose()
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as e:
                raise _network_error(e, url, phase, self.config.timeout) from e
        headers_out = _lower(response.headers)
        if headers_out.pop("content-encoding", None) is not None:  # describe the bytes we return
            headers_out["content-length"] = str(len(content))
        return _Reply(str(url), status, content, headers_out)

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        if (sem := self._hosts.get(host)) is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.config.per_host)
        return sem

    # -- robots.txt ------------------------------------------------------------------------------

    async def _check_robots(self, url: httpx.URL, budget: _Budget) -> None:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        cached = self._robots.get(origin)
        now = self._clock()
        if cached is None or now - cached[0] > ROBOTS_TTL:
            task = asyncio.create_task(self._load_robots(origin), name=f"robots.txt {origin}")
            self._robots[origin] = cached = (now, task)
        async with budget.running():
            # shielded: a caller giving up must not throw away a robots.txt others are waiting for
            robots = await asyncio.shield(cached[1])
        robots.check(str(url))

    async def _load_robots(self, origin: str) -> _Robots:
        """Fetch and parse robots.txt; never raises: a failure means "allow", except 401/403."""
        robots_url = f"{origin}/robots.txt"
        # Half the deadline, so a robots.txt that hangs still leaves the page its chance.
        budget = _Budget(self.config.deadline / 2)
        try:
            reply = await self._follow(
                robots_url, {}, budget, max_bytes=ROBOTS_MAX_BYTES, truncate=True, robots=False, polite=False
            )
        except HTTPStatusError as e:
            if e.status in (401, 403):
                return _Robots(robots_url, None, f"it answered HTTP {e.status}, which forbids all crawling")
            if e.status >= 500:
                log.info(
                    "robots.txt at %s answered HTTP %s; treating everything as allowed", robots_url, e.status
                )
            return _Robots(robots_url, _allow_all(), "")
        except (FetchError, TimeoutError) as e:
            log.info("could not read robots.txt at %s (%s); treating everything as allowed", robots_url, e)
            return _Robots(robots_url, _allow_all(), "")
        parser = RobotFileParser(robots_url)
        parser.parse(reply.content.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines())
        return _Robots(robots_url, parser, "")


# -- small internal values -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reply:
    url: str
    status: int
    content: bytes
    headers: dict[str, str]
    location: str | None = None


@dataclass(frozen=True, slots=True)
class _Robots:
    url: str
    parser: RobotFileParser | None  # None: everything is disallowed (why says why)
    why: str

    def check(self, url: str) -> None:
        if self.parser is None:
            raise RobotsDisallowed(
                f"robots.txt at {self.url} disallows everything ({self.why}), so {url} was not fetched",
                url=url,
            )
        if not self.parser.can_fetch(ROBOTS_TOKEN, url):
            raise RobotsDisallowed(
                f"robots.txt at {self.url} disallows {url} for {ROBOTS_TOKEN}; "
                "set robots: false on this source only if the site has allowed you to",
                url=url,
            )


class _Budget:
    """Seconds left of one request's deadline, spent only while ``running()``."""

    def __init__(self, seconds: float):
        self.left = seconds

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self.left):
                yield
        finally:
            self.left -= loop.time() - started


# -- URLs ----------------------------------------------------------------------------------------


def _http_url(value: str, url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(value)
    except (httpx.InvalidURL, ValueError) as e:
        raise FetchError(f"not a valid URL: {value!r} ({e})", url=url) from e
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(f"not an http(s) URL: {value!r}", url=url)
    return parsed


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        target = current.join(location.strip())
    except (httpx.InvalidURL, ValueError) as e:
        raise BadRedirect(f"redirect to an invalid URL {location!r} from {current}", url=str(current)) from e
    if target.scheme not in ("http", "https"):
        raise BadRedirect(
            f"redirect to a non-http(s) URL: {location.strip()} (from {current})", url=str(current)
        )
    if not target.host:
        raise BadRedirect(
            f"redirect to a URL without a host: {location!r} (from {current})", url=str(current)
        )
    return target.copy_with(fragment=None)  # a fragment is for browsers; it is never sent


async def _take_location(response: httpx.Response) -> None:
    """Hide a redirect's Location from httpx, which parses it even with follow_redirects=False
    and raises on hostile ones (``javascript:alert(1)``); ``_redirect_target`` judges it instead."""
    if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
        response.extensions[_LOCATION] = response.headers.get_list("location")[0]
        del response.headers["location"]


def _allow_all() -> RobotFileParser:
    parser = RobotFileParser()
    parser.allow_all = True
    return parser


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}  # repeated headers come joined with ", "


# -- statuses and network errors -----------------------------------------------------------------


def _status_error(response: httpx.Response, url: str) -> HTTPStatusError:
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = response.reason_phrase or "(non-standard status)"
    what = f"HTTP {status} {phrase} from {url}"
    if status in (404, 410):
        return NotFound(f"{what}: the page is gone or the URL is wrong", url=url, status=status)
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        when = f"it asks to retry after {retry_after:g} s" if retry_after is not None else "try again later"
        return RateLimited(f"{what}: {when}", url=url, status=status, retry_after=retry_after)
    if status >= 500:
        return HTTPStatusError(f"{what}: the site has a problem; try again later", url=url, status=status)
    if 300 <= status < 400:
        return HTTPStatusError(f"{what}: not a redirect the monitor can follow", url=url, status=status)
    return HTTPStatusError(f"{what}: the site refused the request", url=url, status=status)


def _causes(e: BaseException) -> Iterator[BaseException]:
    """``e`` and everything it was raised from, groups included."""
    todo, seen = [e], set()
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        yield x
        todo.extend(c for c in (x.__cause__, x.__context__) if c is not None)
        if isinstance(x, BaseExceptionGroup):
            todo.extend(x.exceptions)


def _network_error(e: Exception, url: httpx.URL, phase: str, timeout: float) -> FetchError:
    causes = list(_causes(e))
    where = f"{phase} {url}"
    if isinstance(e, httpx.TimeoutException):
        kind = {httpx.ConnectTimeout: "could not connect", httpx.PoolTimeout: "no free connection"}
        return FetchTimeout(
            f"timed out while {where}: {kind.get(type(e), 'no data')} within {timeout:g} s "
            "(the limit is fetch.timeout)",
            url=str(url),
        )
    if any(isinstance(c, socket.gaierror) for c in causes):
        return ConnectFailed(f"could not resolve host {url.host} (DNS lookup failed for {url})", url=str(url))
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return ConnectFailed(
            f"connection refused by {url.host}:{url.port or _default_port(url)} ({url})", url=str(url)
        )
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None:
        detail = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or str(tls)
        return ConnectFailed(f"TLS failed while {where}: {detail}", url=str(url))
    if isinstance(e, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return FetchError(f"not a usable URL: {url} ({e})", url=str(url))
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return ConnectFailed(f"connection reset while {where}", url=str(url))
    if isinstance(e, httpx.RemoteProtocolError):
        if phase.startswith("reading"):
            return ConnectFailed(f"connection closed early while {where} ({e})", url=str(url))
        return ConnectFailed(f"the server broke the HTTP exchange while {where}: {e}", url=str(url))
    detail = str(e) or type(e).__name__
    if phase.startswith("reading"):
        return ConnectFailed(f"connection failed while {where}: {detail}", url=str(url))
    return ConnectFailed(f"could not fetch {url}: {detail}", url=str(url))


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
