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

Bodies are read raw (``auto_decompress=False``) and inflated in :mod:`monitor.fetch._body`, at
most 64 KB at a time, so a gzip bomb never costs more than the cap plus one chunk of memory.

The client is aiohttp: its HTTP parser is C (llhttp), so a conditional GET answered 304 costs
far less CPU than through a pure-Python client (bench/ measures it), and a poll cycle that finds
nothing new is mostly that. One ``ClientSession`` per Fetcher, created on first
use inside the running loop; its connection pool keeps connections to each host alive between
sources. Cookies are not kept (a poller has no session to keep); proxies come from the
environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``), read once per Fetcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import logging
import re
import socket
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Self
from urllib.robotparser import RobotFileParser

import aiohttp
from yarl import URL

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
MAX_HEADER_LINE = 64 * 1024
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
        connector: Callable[[], aiohttp.BaseConnector] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        """``connector``: makes the aiohttp connector (the network) on first use, inside the loop;
        by default a ``TCPConnector`` sized for ``config.concurrency`` and ``config.per_host``."""
        self.config = config
        self.user_agent = user_agent or config.user_agent or DEFAULT_USER_AGENT
        self._clock = clock
        self._connector = connector
        self._session: aiohttp.ClientSession | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, tuple[float, asyncio.Task[_Robots]]] = {}
        self._closed = False
        self._env_proxies = urllib.request.getproxies_environment()
        self._proxies: dict[tuple[str, str], str | None] = {}

    def _proxy_for(self, url: URL) -> str | None:
        """The proxy from HTTP_PROXY / HTTPS_PROXY for this URL, unless NO_PROXY exempts its host."""
        if not self._env_proxies:
            return None
        key = (url.scheme, url.host or "")
        if key not in self._proxies:
            proxy = self._env_proxies.get(url.scheme)
            bypass = urllib.request.proxy_bypass_environment(key[1], self._env_proxies)  # type: ignore[attr-defined]
            self._proxies[key] = None if bypass else proxy
        return self._proxies[key]

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # A source has at most one page and one robots.txt request in flight at a time.
            slots = 2 * max(self.config.concurrency, self.config.per_host)
            connector = (
                self._connector() if self._connector else aiohttp.TCPConnector(limit=slots, ttl_dns_cache=300)
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.config.timeout, sock_read=self.config.timeout
                ),
                auto_decompress=False,  # _body inflates, bounded
                # aiohttp's default of 8 KB per header line refuses real sites with long CSP or
                # cookie headers; 64 KB still ends an endless header quickly
                max_line_size=MAX_HEADER_LINE, max_field_size=MAX_HEADER_LINE,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # proxies: _proxy_for (aiohttp would look them up in a thread per request)
            )
        return self._session

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
        if self._session is not None:
            await self._session.close()

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
        chain = [current]
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
        url: URL,
        headers: dict[str, str],
        budget: _Budget,
        max_bytes: int,
        truncate: bool,
        polite: bool,
    ) -> _Reply:
        """One GET, no redirects followed: a redirect, a 304 or a 2xx with its body; else raises."""
        slot = self._host_slot(url.host or "") if polite else contextlib.nullcontext()
        async with slot, budget.running():
            phase = "requesting"
            try:
                response = await self._client().get(
                    url, headers=headers, allow_redirects=False, proxy=self._proxy_for(url)
                )
                try:
                    status = response.status
                    if status in REDIRECT_STATUSES and (locations := response.headers.getall("Location", ())):
                        return _Reply(str(url), status, b"", {}, location=locations[0])
                    if status == 304:
                        return _Reply(str(url), status, b"", _lower(response.headers))
                    if not 200 <= status < 300:
                        raise _status_error(response, str(url))
                    phase = "reading the body of"
                    content = await read_body(response, str(url), max_bytes, truncate)
                finally:
                    response.release()  # back to the pool if the body was read, else closed
            except (aiohttp.ClientError, OSError, ValueError) as e:
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

    async def _check_robots(self, url: URL, budget: _Budget) -> None:
        origin = str(url.origin())
        cached = self._robots.get(origin)
        now = self._clock()
        if cached is None or now - cached[0] > ROBOTS_TTL:
            task = asyncio.create_task(self._load_robots(origin), name=f"robots.txt {origin}")
            self._robots[origin] = cached = (now, task)
        task = cached[1]
        if task.done():  # the usual case: read once, then checked by every later request
            robots = task.result()
        else:
            async with budget.running():
                # shielded: a caller giving up must not throw away a robots.txt others are waiting for
                robots = await asyncio.shield(task)
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


def _http_url(value: str, url: str) -> URL:
    try:
        parsed = URL(value)
    except (TypeError, ValueError) as e:
        raise FetchError(f"not a valid URL: {value!r} ({e})", url=url) from e
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(f"not an http(s) URL: {value!r}", url=url)
    return parsed.with_fragment(None)  # a fragment is for browsers; it is never sent


def _redirect_target(current: URL, location: str) -> URL:
    try:
        target = current.join(URL(location.strip()))
        host = target.host
    except (TypeError, ValueError) as e:
        raise BadRedirect(f"redirect to an invalid URL {location!r} from {current}", url=str(current)) from e
    if target.scheme not in ("http", "https"):
        raise BadRedirect(
            f"redirect to a non-http(s) URL: {location.strip()} (from {current})", url=str(current)
        )
    if not host:
        raise BadRedirect(
            f"redirect to a URL without a host: {location!r} (from {current})", url=str(current)
        )
    return target.with_fragment(None)


def _allow_all() -> RobotFileParser:
    parser = RobotFileParser()
    parser.allow_all = True  # type: ignore[attr-defined]  # what RobotFileParser sets for a 401/403
    return parser


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased names; a repeated header comes joined with ", " (RFC 9110 5.3)."""
    out: dict[str, str] = {}
    for k, v in headers.items():
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


# -- statuses and network errors -----------------------------------------------------------------


def _status_error(response: aiohttp.ClientResponse, url: str) -> HTTPStatusError:
    status = response.status
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = response.reason or "(non-standard status)"
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
    """``e`` and everything it was raised from, groups and aiohttp's ``os_error`` included."""
    todo, seen = [e], set()
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        yield x
        todo.extend(c for c in (x.__cause__, x.__context__, getattr(x, "os_error", None)) if c is not None)
        if isinstance(x, BaseExceptionGroup):
            todo.extend(x.exceptions)


def _is(causes: list[BaseException], kind: type[OSError], code: int) -> bool:
    return any(isinstance(c, kind) or (isinstance(c, OSError) and c.errno == code) for c in causes)


def _network_error(e: Exception, url: URL, phase: str, timeout: float) -> FetchError:
    causes = list(_causes(e))
    where = f"{phase} {url}"
    if isinstance(e, aiohttp.ServerTimeoutError):
        kind = "could not connect" if isinstance(e, aiohttp.ConnectionTimeoutError) else "no data"
        return FetchTimeout(
            f"timed out while {where}: {kind} within {timeout:g} s (the limit is fetch.timeout)",
            url=str(url),
        )
    if isinstance(e, aiohttp.ClientConnectorDNSError) or any(isinstance(c, socket.gaierror) for c in causes):
        return ConnectFailed(f"could not resolve host {url.host} (DNS lookup failed for {url})", url=str(url))
    if _is(causes, ConnectionRefusedError, errno.ECONNREFUSED):
        return ConnectFailed(f"connection refused by {url.host}:{url.port} ({url})", url=str(url))
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None or isinstance(e, aiohttp.ClientSSLError):
        detail = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or str(tls or e)
        return ConnectFailed(f"TLS failed while {where}: {detail}", url=str(url))
    if isinstance(e, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return FetchError(f"not a usable URL: {url} ({e})", url=str(url))
    # a body cut by a reset: aiohttp names the reset only in the ClientPayloadError's message
    reset_mid_body = isinstance(e, aiohttp.ClientPayloadError) and "ConnectionResetError(" in str(e)
    if reset_mid_body or _is(causes, ConnectionResetError, errno.ECONNRESET):
        return ConnectFailed(f"connection reset while {where}", url=str(url))
    if isinstance(e, aiohttp.ClientResponseError):  # a status line or headers that do not parse
        detail = e.message or type(e).__name__
        return ConnectFailed(f"the server broke the HTTP exchange while {where}: {detail}", url=str(url))
    if isinstance(e, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        if phase.startswith("reading"):
            return ConnectFailed(f"connection closed early while {where} ({_detail(e)})", url=str(url))
        return ConnectFailed(f"the server broke the HTTP exchange while {where}: {_detail(e)}", url=str(url))
    if phase.startswith("reading"):
        return ConnectFailed(f"connection failed while {where}: {_detail(e)}", url=str(url))
    return ConnectFailed(f"could not fetch {url}: {_detail(e)}", url=str(url))


def _detail(e: BaseException) -> str:
    return str(e) or type(e).__name__
