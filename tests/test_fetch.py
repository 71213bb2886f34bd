"""The fetch stage against real servers on 127.0.0.1: pytest-httpserver for well-behaved ones,
tests/fetch_servers.py for hostile ones and the odd corners."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import aiohttp.abc
import pytest
from fetch_servers import (
    ConcurrencyCounter,
    RawServer,
    close_mid_body,
    compressed_zeros,
    head_only,
    reset_mid_body,
    respond,
    routes,
    silent,
    trickle,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

import monitor
from monitor.config import FetchConfig
from monitor.errors import (
    BadRedirect,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NotFound,
    RateLimited,
    RobotsDisallowed,
    TooLarge,
)
from monitor.fetch import DEFAULT_USER_AGENT, Fetcher, parse_retry_after
from monitor.models import Response

CFG = FetchConfig(timeout=2, deadline=2, max_bytes=1_000_000, max_redirects=5, per_host=2, concurrency=4)
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def fetch(url: str, config: FetchConfig = CFG, *, robots: bool = False, **kw: Any) -> Response:
    """One get() on a fresh Fetcher (robots.txt off unless the test is about it)."""

    async def go() -> Response:
        async with Fetcher(config) as fetcher:
            return await fetcher.get(url, respect_robots=robots, **kw)

    return asyncio.run(go())


def fetch_many(urls: list[str], config: FetchConfig = CFG, *, robots: bool = True, **kw: Any) -> list[Any]:
    """Concurrent get()s on one shared Fetcher; results or exceptions, in order."""

    async def go() -> list[Any]:
        async with Fetcher(config, **kw) as fetcher:
            return await asyncio.gather(
                *(fetcher.get(u, respect_robots=robots) for u in urls), return_exceptions=True
            )

    return asyncio.run(go())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- ordinary answers ----------------------------------------------------------------------------


def test_200_returns_body_headers_and_final_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/author/a/").respond_with_data(
        "<html>posts</html>",
        content_type="text/html; charset=utf-8",
        headers={"ETag": '"v1"', "X-Thing": "1"},
    )
    r = fetch(httpserver.url_for("/author/a/"))
    assert r.status == 200
    assert r.content == b"<html>posts</html>"
    assert r.url == httpserver.url_for("/author/a/")
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-thing"] == "1" and all(k == k.lower() for k in r.headers)
    assert r.etag == '"v1"'
    assert 0 <= r.elapsed < 2


def test_honest_user_agent_and_only_gzip_deflate_are_sent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data("ok")
    fetch(httpserver.url_for("/"))
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith(f"DigestMonitor/{monitor.__version__} (")
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert "If-None-Match" not in request.headers and "If-Modified-Since" not in request.headers


def test_user_agent_from_config_or_argument(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data("ok")
    fetch(httpserver.url_for("/"), FetchConfig(user_agent="Custom/1.0"))
    fetch_many([httpserver.url_for("/")], robots=False, user_agent="Arg/2.0")
    assert [req.headers["User-Agent"] for req, _ in httpserver.log] == ["Custom/1.0", "Arg/2.0"]


def _conditional(request: WRequest) -> WResponse:
    headers = {"ETag": '"abc"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"}
    if request.headers.get("If-None-Match") == '"abc"':
        return WResponse(status=304, headers=headers)
    if request.headers.get("If-Modified-Since") == headers["Last-Modified"]:
        return WResponse(status=304, headers=headers)
    return WResponse("fresh body", headers=headers)


def test_etag_then_304(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_handler(_conditional)
    first = fetch(httpserver.url_for("/feed"))
    assert first.status == 200 and first.content == b"fresh body" and first.etag == '"abc"'
    second = fetch(httpserver.url_for("/feed"), etag=first.etag)
    assert second.status == 304 and second.not_modified and second.content == b""
    assert httpserver.log[1][0].headers["If-None-Match"] == '"abc"'


def test_last_modified_then_304(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_handler(_conditional)
    first = fetch(httpserver.url_for("/feed"))
    second = fetch(httpserver.url_for("/feed"), last_modified=first.last_modified)
    assert second.status == 304 and second.content == b""
    assert httpserver.log[1][0].headers["If-Modified-Since"] == "Wed, 21 Oct 2015 07:28:00 GMT"


# -- compression ---------------------------------------------------------------------------------

BODY = b"<html>" + b"A post about things. " * 2000 + b"</html>"


def _deflate(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "wire"),
    [
        ("gzip", gzip.compress(BODY)),
        ("x-gzip", gzip.compress(BODY)),
        ("deflate", _deflate(BODY, zlib.MAX_WBITS)),  # zlib-wrapped, as RFC 9110 says
        ("deflate", _deflate(BODY, -zlib.MAX_WBITS)),  # raw, as some servers send it
        ("gzip, deflate", _deflate(gzip.compress(BODY), zlib.MAX_WBITS)),  # both, applied in order
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "gzip-then-deflate"],
)
def test_compressed_bodies_are_decoded(httpserver: HTTPServer, encoding: str, wire: bytes) -> None:
    httpserver.expect_request("/").respond_with_data(wire, headers={"Content-Encoding": encoding})
    r = fetch(httpserver.url_for("/"))
    assert r.content == BODY
    assert "content-encoding" not in r.headers
    assert r.headers["content-length"] == str(len(BODY))


def test_large_compressed_body_is_decoded_exactly(httpserver: HTTPServer) -> None:
    # many inflate calls of at most one chunk each: nothing may be lost or repeated at the seams
    body = b"".join(f"<p>line {i}</p>\n".encode() for i in range(200_000))
    httpserver.expect_request("/").respond_with_data(
        gzip.compress(body), headers={"Content-Encoding": "gzip"}
    )
    assert fetch(httpserver.url_for("/"), FetchConfig(max_bytes=len(body))).content == body


def test_unsupported_encoding_is_a_clear_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data(
        b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"}
    )
    with pytest.raises(FetchError, match=r"compressed as 'br', which the monitor cannot decode"):
        fetch(httpserver.url_for("/"))


def test_corrupt_gzip_is_a_clear_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data(
        b"\x1f\x8bnot really gzip", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match=r"could not decompress the gzip body of http://") as info:
        fetch(httpserver.url_for("/"))
    assert isinstance(info.value.__cause__, zlib.error)


def test_truncated_gzip_is_an_error_not_half_a_page(httpserver: HTTPServer) -> None:
    wire = gzip.compress(BODY)
    httpserver.expect_request("/").respond_with_data(
        wire[: len(wire) // 2], headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match=r"gzip body of .* stops before its end"):
        fetch(httpserver.url_for("/"))


def test_multi_member_gzip_and_trailing_garbage(httpserver: HTTPServer) -> None:
    wire = gzip.compress(b"first ") + gzip.compress(b"second") + b"\r\n"
    httpserver.expect_request("/").respond_with_data(wire, headers={"Content-Encoding": "gzip"})
    assert fetch(httpserver.url_for("/")).content == b"first second"


# -- size cap ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "wbits"), [("gzip", 31), ("deflate", 15), ("deflate", -15)], ids=["gzip", "deflate", "raw"]
)
def test_decompression_bomb_is_too_large_and_memory_stays_low(encoding: str, wbits: int) -> None:
    cap = 1_000_000
    with RawServer(compressed_zeros(10**9, encoding, wbits)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(TooLarge, match=r"response larger than 1 MB after decompression"):
                fetch(server.url + "/", FetchConfig(timeout=5, deadline=10, max_bytes=cap))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 3 * cap, f"peak {peak} bytes while reading a bomb with a {cap} byte cap"


def test_plain_body_over_the_cap(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data(b"x" * 5000)
    with pytest.raises(TooLarge, match=r"response larger than 1 kB"):
        fetch(httpserver.url_for("/"), FetchConfig(max_bytes=1000))


def test_compressed_stream_of_nothing_is_capped_on_the_wire() -> None:
    empty_members = gzip.compress(b"") * 60_000  # 1.2 MB that inflates to 0 bytes

    def no_length(server: RawServer, conn: socket.socket, request: object) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n" + empty_members
        )

    with RawServer(no_length) as server, pytest.raises(TooLarge, match=r"response larger than 1 MB from"):
        fetch(server.url + "/")


def test_content_length_over_the_cap_fails_before_reading() -> None:
    # The head promises 1 TB and then the server says nothing: only the head can have caused this.
    with RawServer(head_only({"Content-Length": str(10**12)})) as server:
        started = time.monotonic()
        with pytest.raises(TooLarge, match=r"response larger than 1 MB: .* announces 1e\+03 GB"):
            fetch(server.url + "/")
        assert time.monotonic() - started < 5  # well before any timeout: the head alone decided


def test_body_exactly_at_the_cap_is_fine(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data(b"x" * 1000)
    assert len(fetch(httpserver.url_for("/"), FetchConfig(max_bytes=1000)).content) == 1000


# -- redirects -----------------------------------------------------------------------------------


def test_redirect_chain_is_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/newer"})
    httpserver.expect_request("/newer").respond_with_data(
        "", status=302, headers={"Location": "dir/final#top"}
    )
    httpserver.expect_request("/dir/final").respond_with_data("arrived")
    r = fetch(httpserver.url_for("/old"))
    assert r.content == b"arrived"
    assert r.url == httpserver.url_for("/dir/final")


def test_redirect_passes_conditional_headers_to_every_hop(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=308, headers={"Location": "/feed"})
    httpserver.expect_request("/feed").respond_with_handler(_conditional)
    r = fetch(httpserver.url_for("/old"), etag='"abc"')
    assert r.status == 304 and r.url == httpserver.url_for("/feed")


def test_redirect_loop(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(BadRedirect, match=r"redirect loop: .*/a -> .*/b -> .*/a"):
        fetch(httpserver.url_for("/a"))


def test_too_many_redirects(httpserver: HTTPServer) -> None:
    for i in range(10):
        httpserver.expect_request(f"/{i}").respond_with_data(
            "", status=302, headers={"Location": f"/{i + 1}"}
        )
    with pytest.raises(BadRedirect, match=r"too many redirects: more than 3"):
        fetch(httpserver.url_for("/0"), FetchConfig(max_redirects=3))
    assert len(httpserver.log) == 4  # the first request and 3 redirects, no more


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)", "data:text/html,hi"]
)
def test_redirect_to_non_http_url(httpserver: HTTPServer, target: str) -> None:
    httpserver.expect_request("/").respond_with_data("", status=302, headers={"Location": target})
    with pytest.raises(BadRedirect, match=f"redirect to a non-http\\(s\\) URL: {target[:8]}"):
        fetch(httpserver.url_for("/"))
    assert len(httpserver.log) == 1


def test_redirect_without_location_is_a_status_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data("", status=302)
    with pytest.raises(HTTPStatusError, match=r"HTTP 302 Found from .*not a redirect") as info:
        fetch(httpserver.url_for("/"))
    assert info.value.status == 302


# -- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_gone_pages_are_not_found(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/").respond_with_data("gone", status=status)
    with pytest.raises(NotFound, match=rf"HTTP {status} .* from http://") as info:
        fetch(httpserver.url_for("/"))
    assert info.value.status == status and info.value.url == httpserver.url_for("/")


@pytest.mark.parametrize("status", [500, 403, 418])
def test_other_errors_are_status_errors(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/").respond_with_data("nope", status=status)
    with pytest.raises(HTTPStatusError) as info:
        fetch(httpserver.url_for("/"))
    assert type(info.value) is HTTPStatusError and info.value.status == status
    if status == 500:
        assert str(info.value).startswith(f"HTTP 500 Internal Server Error from {httpserver.url_for('/')}")


def test_429_with_retry_after_seconds(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data("slow down", status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited, match=r"HTTP 429 Too Many Requests .* retry after 120 s") as info:
        fetch(httpserver.url_for("/"))
    assert info.value.status == 429 and info.value.retry_after == 120.0


def test_503_with_retry_after_http_date(httpserver: HTTPServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    httpserver.expect_request("/").respond_with_data("maintenance", status=503, headers={"Retry-After": when})
    with pytest.raises(RateLimited) as info:
        fetch(httpserver.url_for("/"))
    assert info.value.status == 503
    assert info.value.retry_after is not None and 3590 < info.value.retry_after <= 3600


def test_503_without_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data("down", status=503)
    with pytest.raises(RateLimited, match="try again later") as info:
        fetch(httpserver.url_for("/"))
    assert info.value.retry_after is None


# -- network failures ----------------------------------------------------------------------------


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(ConnectFailed, match="connection refused") as info:
        fetch(url)
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert info.value.url == url


def test_unknown_host() -> None:
    with pytest.raises(ConnectFailed, match=r"could not resolve host nowhere\.invalid"):
        fetch("http://nowhere.invalid/", robots=True)


def test_reset_mid_body() -> None:
    reset = pytest.raises(ConnectFailed, match="connection reset while reading the body")
    with RawServer(reset_mid_body) as server, reset as info:
        fetch(server.url + "/")
    assert info.value.__cause__ is not None


def test_closed_mid_body() -> None:
    closed = pytest.raises(ConnectFailed, match="connection closed early while reading the body")
    with RawServer(close_mid_body) as server, closed:
        fetch(server.url + "/")


@pytest.mark.parametrize(
    "answer",
    [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"HTTP/1.1 200 OK\r\nX-Endless: " + b"a" * 1_000_000],
    ids=["not-http", "endless-header"],
)
def test_garbage_instead_of_http(answer: bytes) -> None:
    def garbage(server: RawServer, conn: socket.socket, request: object) -> None:
        conn.sendall(answer)

    with RawServer(garbage) as server, pytest.raises(ConnectFailed, match="broke the HTTP exchange"):
        fetch(server.url + "/")


def test_https_to_a_plain_http_server_is_a_tls_failure() -> None:
    tls = pytest.raises(ConnectFailed, match=r"TLS failed while requesting https://127.0.0.1")
    with RawServer(respond(200, b"plain"), read_request=False) as server, tls:
        fetch(f"https://127.0.0.1:{server.port}/")


def test_silent_server_times_out_within_the_deadline() -> None:
    config = FetchConfig(timeout=5, deadline=1)
    with RawServer(silent) as server:
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match=r"gave up after 1 s"):
            fetch(server.url + "/", config)
        assert time.monotonic() - started < 1 + 1.5


def test_silent_server_hits_the_read_timeout() -> None:
    timeout = pytest.raises(FetchTimeout, match=r"timed out while requesting .*no data within 0.5 s")
    with RawServer(silent) as server, timeout as info:
        fetch(server.url + "/", FetchConfig(timeout=0.5, deadline=5))
    assert isinstance(info.value.__cause__, aiohttp.ServerTimeoutError)


def test_trickling_body_fails_at_the_total_deadline() -> None:
    # One byte every 0.3 s never trips the 5 s read timeout; only the total deadline stops it.
    config = FetchConfig(timeout=5, deadline=2)
    with RawServer(trickle(interval=0.3)) as server:
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match=r"gave up after 2 s"):
            fetch(server.url + "/", config)
        elapsed = time.monotonic() - started
    assert 2 <= elapsed < 2 + 1.5


def test_bad_url_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="not an http"):
        fetch("ftp://example.com/")


# -- robots.txt ----------------------------------------------------------------------------------

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
# RFC 9309: a crawler obeys only the most specific group that names it.
ROBOTS_NAMING_US = ROBOTS + b"\nUser-agent: digestmonitor\nDisallow: /no-monitors/\n"


@pytest.mark.parametrize(
    ("robots", "path", "allowed"),
    [
        (ROBOTS, "/private/x", False),
        (ROBOTS, "/public/x", True),
        (ROBOTS_NAMING_US, "/no-monitors/y", False),
        (ROBOTS_NAMING_US, "/private/x", True),
        (b"User-agent: *\nDisallow: /\n", "/", False),
    ],
)
def test_robots_rules(httpserver: HTTPServer, robots: bytes, path: str, allowed: bool) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(robots)
    httpserver.expect_request(path).respond_with_data("posts")
    if allowed:
        assert fetch(httpserver.url_for(path), robots=True).content == b"posts"
        assert [req.path for req, _ in httpserver.log] == ["/robots.txt", path]
    else:
        robots_url = httpserver.url_for("/robots.txt")
        with pytest.raises(
            RobotsDisallowed, match=rf"robots.txt at {robots_url} disallows {httpserver.url_for(path)}"
        ):
            fetch(httpserver.url_for(path), robots=True)
        assert [req.path for req, _ in httpserver.log] == ["/robots.txt"]


def test_robots_allow(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(
        b"User-agent: OtherBot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\n"
    )
    httpserver.expect_request("/author/a/").respond_with_data("posts")
    assert fetch(httpserver.url_for("/author/a/"), robots=True).content == b"posts"


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_missing_or_broken_robots_allows(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("Disallow: /", status=status)
    httpserver.expect_request("/page").respond_with_data("posts")
    assert fetch(httpserver.url_for("/page"), robots=True).content == b"posts"


@pytest.mark.parametrize("status", [401, 403])
def test_forbidden_robots_disallows_everything(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("no", status=status)
    with pytest.raises(RobotsDisallowed, match=rf"disallows everything \(it answered HTTP {status}"):
        fetch(httpserver.url_for("/page"), robots=True)
    assert [req.path for req, _ in httpserver.log] == ["/robots.txt"]


def test_robots_is_fetched_once_per_fetcher(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(ROBOTS)
    httpserver.expect_request("/a").respond_with_data("a")
    urls = [httpserver.url_for("/a")] * 3
    results = fetch_many(urls)  # concurrent: they must share one robots.txt fetch
    assert [r.content for r in results] == [b"a"] * 3
    assert [req.path for req, _ in httpserver.log].count("/robots.txt") == 1


def test_respect_robots_false_skips_robots(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/private/x").respond_with_data("yes")
    assert fetch(httpserver.url_for("/private/x"), robots=False).content == b"yes"
    assert [req.path for req, _ in httpserver.log] == ["/private/x"]


def test_robots_of_a_redirect_target_is_checked(httpserver: HTTPServer) -> None:
    with RawServer(routes({"/robots.txt": respond(200, b"User-agent: *\nDisallow: /\n")})) as other:
        httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
        httpserver.expect_request("/moved").respond_with_data(
            "", status=301, headers={"Location": other.url + "/x"}
        )
        with pytest.raises(RobotsDisallowed, match=rf"robots.txt at {other.url}/robots.txt disallows"):
            fetch(httpserver.url_for("/moved"), robots=True)
        assert other.paths() == ["/robots.txt"]


def test_hanging_robots_still_leaves_time_for_the_page() -> None:
    config = FetchConfig(timeout=5, deadline=2)
    with RawServer(routes({"/robots.txt": silent, "/page": respond(200, b"posts")})) as server:
        # a fetch past the 2 s deadline raises FetchTimeout: getting the page proves it fit
        assert fetch(server.url + "/page", config, robots=True).content == b"posts"


def test_cancelling_one_caller_does_not_cancel_a_shared_robots_fetch() -> None:
    def slow_robots(server: RawServer, conn: socket.socket, request: object) -> None:
        server.wait(0.5)
        respond(404)(server, conn, request)  # type: ignore[arg-type]

    with RawServer(routes({"/robots.txt": slow_robots, "/page": respond(200, b"posts")})) as server:

        async def go() -> Response:
            async with Fetcher(FetchConfig(timeout=5, deadline=4)) as fetcher:
                impatient = asyncio.create_task(fetcher.get(server.url + "/page"))
                patient = asyncio.create_task(fetcher.get(server.url + "/page"))
                await asyncio.sleep(0.2)
                impatient.cancel()
                return await patient

        assert asyncio.run(go()).content == b"posts"
        assert server.paths().count("/robots.txt") == 1


def test_huge_robots_is_read_up_to_500_kb() -> None:
    robots = b"User-agent: *\nDisallow: /private/\n" + b"# padding\n" * 100_000  # 1 MB
    with RawServer(routes({"/robots.txt": respond(200, robots), "/page": respond(200, b"ok")})) as server:
        results = fetch_many([server.url + "/private/a", server.url + "/page"])
    assert isinstance(results[0], RobotsDisallowed)
    assert results[1].content == b"ok"


# -- politeness ----------------------------------------------------------------------------------


@pytest.mark.parametrize("per_host", [1, 2])
def test_per_host_concurrency_is_bounded(per_host: int) -> None:
    # robots.txt is fetched outside the per-host slots, so per_host=1 cannot deadlock on it
    counter = ConcurrencyCounter(hold=0.1)
    with RawServer(routes({"/robots.txt": respond(404)}, default=counter)) as server:
        results = fetch_many(
            [f"{server.url}/p{i}" for i in range(10)], FetchConfig(per_host=per_host, concurrency=10)
        )
    assert all(isinstance(r, Response) for r in results), results
    assert counter.served == 10
    assert counter.most == per_host


def test_queueing_for_a_host_does_not_eat_the_deadline() -> None:
    # per_host=1 and 4 requests of 0.4 s each: the last waits 1.2 s, more than the 1 s deadline.
    counter = ConcurrencyCounter(hold=0.4)
    with RawServer(counter) as server:
        results = fetch_many(
            [f"{server.url}/p{i}" for i in range(4)], FetchConfig(per_host=1, deadline=1), robots=False
        )
    assert all(isinstance(r, Response) for r in results), results
    assert counter.most == 1


# -- parse_retry_after ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("  0 ", 0.0),
        ("1.5", 1.5),
        ("Fri, 01 Mar 2024 12:02:00 GMT", 120.0),
        ("Friday, 01-Mar-24 12:00:30 GMT", 30.0),
        ("Fri Mar  1 12:01:00 2024", 60.0),
        ("Fri, 01 Mar 2024 11:00:00 GMT", 0.0),  # in the past: never negative
        (None, None),
        ("", None),
        ("-5", None),
        ("soon", None),
        ("Fri, 99 Foo 2024", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_with_naive_now() -> None:
    assert parse_retry_after("Fri, 01 Mar 2024 12:02:00 GMT", NOW.replace(tzinfo=None)) == 120.0


# -- odd corners, on raw servers -----------------------------------------------------------------


def test_repeated_headers_are_joined_and_lower_cased() -> None:
    def twice(server: RawServer, conn: socket.socket, request: object) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    with RawServer(twice) as server:
        r = fetch(server.url + "/")
    assert r.headers["x-a"] == "1, 2" and r.content == b"ok"


def test_deflate_sent_one_byte_at_a_time() -> None:
    wire = _deflate(BODY, -zlib.MAX_WBITS)

    def one_byte(server: RawServer, conn: socket.socket, request: object) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nConnection: close\r\n\r\n")
        for i in range(len(wire)):
            conn.sendall(wire[i : i + 1])
            if i % 64 == 0:
                time.sleep(0.001)

    with RawServer(one_byte) as server:
        assert fetch(server.url + "/").content == BODY


def test_robots_cache_expires_after_a_day() -> None:
    now = [0.0]
    page = respond(200, b"x")
    handler = routes({"/robots.txt": respond(200, b"User-agent: *\nDisallow:\n"), "/a": page, "/b": page, "/c": page})

    async def go(url: str) -> None:
        async with Fetcher(CFG, clock=lambda: now[0]) as fetcher:
            await fetcher.get(url + "/a")
            now[0] += 3600
            await fetcher.get(url + "/b")
            now[0] += 86_400
            await fetcher.get(url + "/c")

    with RawServer(handler) as server:
        asyncio.run(go(server.url))
    assert server.paths() == ["/robots.txt", "/a", "/b", "/robots.txt", "/c"]


def test_elapsed_uses_the_injected_clock() -> None:
    ticks = iter([10.0, 12.5])

    async def go(url: str) -> Response:
        async with Fetcher(CFG, clock=lambda: next(ticks)) as fetcher:
            return await fetcher.get(url, respect_robots=False)

    with RawServer(respond(200, b"ok")) as server:
        assert asyncio.run(go(server.url + "/")).elapsed == 2.5


def test_foreign_errors_from_the_network_never_escape() -> None:
    """Whatever the injected network raises as an aiohttp error comes out as a FetchError."""

    class Broken(aiohttp.abc.AbstractResolver):
        async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
            raise aiohttp.ClientConnectionError("boom")

        async def close(self) -> None:
            pass

    async def go() -> Response:
        async with Fetcher(CFG, connector=lambda: aiohttp.TCPConnector(resolver=Broken())) as fetcher:
            return await fetcher.get("http://example.test/", respect_robots=False)

    with pytest.raises(ConnectFailed, match="boom"):
        asyncio.run(go())


def test_the_injected_network_is_used() -> None:
    """``connector`` is the network: here a resolver that sends every host to the test server."""
    with RawServer(respond(200, b"served")) as server:

        class ToServer(aiohttp.abc.AbstractResolver):
            async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
                return [{"hostname": host, "host": "127.0.0.1", "port": server.port, "family": socket.AF_INET,
                         "proto": 0, "flags": socket.AI_NUMERICHOST}]

            async def close(self) -> None:
                pass

        async def go() -> Response:
            async with Fetcher(CFG, connector=lambda: aiohttp.TCPConnector(resolver=ToServer())) as fetcher:
                return await fetcher.get("http://news.example.test/author/x/", respect_robots=False)

        r = asyncio.run(go())
    assert r.content == b"served" and r.url == "http://news.example.test/author/x/"
    assert server.requests[0].headers["host"] == "news.example.test"


def test_a_long_header_line_is_fine() -> None:
    """Real sites send Content-Security-Policy or Set-Cookie lines longer than 8 KB."""
    csp = "default-src 'self'; " + "; ".join(f"img-src https://cdn{i}.example.org" for i in range(600))
    assert len(csp) > 16_000
    with RawServer(respond(200, b"ok", {"Content-Security-Policy": csp})) as server:
        r = fetch(server.url + "/")
    assert r.content == b"ok" and r.headers["content-security-policy"] == csp


def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is used (the request goes to it in absolute form); NO_PROXY hosts go direct."""
    with RawServer(respond(200, b"via proxy")) as proxy, RawServer(respond(200, b"direct")) as origin:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost")
        via = fetch("http://feeds.example.test/author/x/feed/")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = fetch(origin.url + "/page")
    assert via.content == b"via proxy"
    assert proxy.paths() == ["http://feeds.example.test/author/x/feed/"]
    assert direct.content == b"direct" and origin.paths() == ["/page"]


def test_closed_fetcher_refuses_work() -> None:
    async def go() -> None:
        fetcher = Fetcher(CFG)
        await fetcher.aclose()
        await fetcher.get("http://example.test/")

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(go())


@pytest.mark.parametrize("value", ["999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_hostile_retry_after_is_capped(value):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(value, now) == 7 * 86400
