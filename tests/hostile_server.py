"""A hostile web server for the reliability suite: real sockets on 127.0.0.1, one endpoint per case.

Every way a source can misbehave that the monitor promises to survive has a path here, a
:class:`Case` saying what ``monitor fetch`` must report for it, and a handler that speaks raw
HTTP/1.1 (so it can also break HTTP itself: reset, stall, trickle, lie about lengths)::

    with HostileServer(secret=tmp_path / "secret.txt") as hostile:
        hostile.url_for(case)                  # the source URL of a case
        hostile.sources(cases)                 # config entries for many cases
        hostile.flip("vanishing")              # stateful endpoints: switch to the second act

Cases that are not endpoints of this server (a refused port, a ``.invalid`` host) get their URL
from :meth:`HostileServer.url_for` too. Handlers that wait use ``server.wait()``, which returns at
once when the server stops, so leaving the ``with`` block never hangs.

Below the server: running the real CLI against it (:func:`run_monitor`: a subprocess, bounded in
time, with its output, exit code and peak memory) and checking what it left in the database
(:func:`check_database`: integrity, no duplicates, version numbers without gaps).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import os
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Self

import yaml
from fetch_servers import RawServer, Request

__all__ = [
    "CASES",
    "CASE_BY_NAME",
    "CP1252_TITLE",
    "FAST_FETCH",
    "PERSIAN_TITLE",
    "SECRET",
    "XSS",
    "XSS_AUTHOR",
    "XSS_OUTLET",
    "Case",
    "HostileServer",
    "Run",
    "all_text",
    "cases",
    "check_database",
    "closed_port",
    "db_rows",
    "dirty_feed",
    "dirty_page",
    "finish_monitor",
    "hatom_page",
    "kill",
    "rss",
    "run_many",
    "run_monitor",
    "start_monitor",
    "tree_memory",
    "write_config",
]

#: What the XXE endpoints try to read; it must never reach the database.
SECRET = "TOP-SECRET-7f3a9c"
#: A Persian title served in windows-1256 (declared only in <meta charset>).
PERSIAN_TITLE = "مجاهدين خلق در آلباني: گزارش تازه پژوهشگران"  # ي, not ی: as windows-1256 sites write it
#: A title served in windows-1252 (declared only in the XML prolog).
CP1252_TITLE = "Café society – “quoted” and naïve, 50 €"
#: One payload per way to run script in a page; every published field carries all of them.
XSS = (
    '<script>alert("x")</script><img src=x onerror=alert(1)><a href="javascript:alert(2)">j</a>'
    '<iframe src="javascript:alert(3)"></iframe><style>body{display:none}</style>'
    '<svg onload=alert(4)><b onmouseover=alert(5)>b</b>]]>'
)
#: Short enough for the source-line parser to take as the author and the outlet.
XSS_AUTHOR = "<script>alert(6)</script> Jane Roe"
XSS_OUTLET = "<img src=x onerror=alert(7)> Outlet"


Handler = Callable[["HostileServer", socket.socket, Request], None]


@dataclass(frozen=True)
class Case:
    """One hostile endpoint and what ``monitor fetch`` must say about it."""

    name: str  # the source name in configs, and the id in test names
    theme: str  # network | payload | html
    path: str  # endpoint path; "" for URLs that are not on this server
    type: str  # the source's type in the config
    expect: str  # the error type reported ("ok" when the source must ingest normally)
    reason: str  # a fragment the reported reason must contain (case-insensitive)
    heavy: bool = False  # big payloads: check the process's peak memory
    # also acceptable (error type, reason), where the environment decides: a resolver with no
    # answer at all makes the unresolvable host a timeout rather than a DNS error
    alt: tuple[str, str] | None = None

    def matches(self, line: str) -> bool:
        """Whether a ``monitor fetch`` line reports this case as it should."""
        for expect, reason in ((self.expect, self.reason), *((self.alt,) if self.alt else ())):
            if line.startswith(f"{self.name}: error ({expect}) ") and reason.lower() in line.lower():
                return True
        return False


# -- HTTP plumbing --------------------------------------------------------------------------------


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, 'Whatever')}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_PHRASES = {200: "OK", 301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect", 403: "Forbidden",
            404: "Not Found", 410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}


def respond(status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> Handler:
    def handler(server: HostileServer, conn: socket.socket, request: Request) -> None:
        head = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        conn.sendall(_head(status, head) + body)

    return handler


def html_ok(body: bytes, content_type: str = "text/html; charset=utf-8") -> Handler:
    return respond(200, body, {"Content-Type": content_type})


def feed_ok(body: bytes, content_type: str = "application/rss+xml; charset=utf-8") -> Handler:
    return respond(200, body, {"Content-Type": content_type})


def redirect(location: str, status: int = 302) -> Handler:
    return respond(status, b"", {"Location": location})


def silent(server: HostileServer, conn: socket.socket, request: Request) -> None:
    """Accept, read the request, never answer."""
    server.wait(600)


def trickle(server: HostileServer, conn: socket.socket, request: Request) -> None:
    """Headers at once, then one byte a second for minutes: a read timeout alone never fires."""
    conn.sendall(_head(200, {"Content-Type": "text/html", "Content-Length": "100000"}) + b"<html><body>")
    for _ in range(600):
        if server.wait(1.0):
            return
        conn.sendall(b" ")


def reset_mid_body(server: HostileServer, conn: socket.socket, request: Request) -> None:
    """Promise 100 kB of a feed, send 2 kB, then reset the connection (RST, not FIN)."""
    conn.sendall(_head(200, {"Content-Type": "application/rss+xml", "Content-Length": "100000"})
                 + rss([_item(i) for i in range(40)])[:2000])
    server.wait(0.1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def stream(total: int, content_type: str = "text/html") -> Handler:
    """A body of ``total`` bytes sent without a Content-Length (close-delimited), 64 kB at a time."""

    def handler(server: HostileServer, conn: socket.socket, request: Request) -> None:
        conn.sendall(_head(200, {"Content-Type": content_type, "Connection": "close"}))
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
        for _ in range(total // len(chunk) + 1):
            if server.wait(0):
                return
            conn.sendall(chunk)

    return handler


@cache
def _bomb(encoding: str, size: int = 64 * 1024**2) -> bytes:
    """``size`` zero bytes compressed (~64 kB: a thousand to one), made once per test session."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + packer.flush()


def bomb(encoding: str) -> Handler:
    _bomb(encoding)  # compress now, not while a client waits

    def handler(server: HostileServer, conn: socket.socket, request: Request) -> None:
        body = _bomb(encoding)
        conn.sendall(_head(200, {"Content-Type": "application/rss+xml", "Content-Encoding": encoding,
                                 "Content-Length": str(len(body)), "Connection": "close"}) + body)

    return handler


# -- documents ------------------------------------------------------------------------------------

_BASE_DAY = dt.datetime(2020, 10, 28, 9, 30, tzinfo=dt.UTC)


def _item(i: int, **over: str) -> dict[str, str]:
    when = _BASE_DAY - dt.timedelta(hours=7 * i)
    item = {
        "title": f"Post number {i}",
        "link": f"https://news.example/2020/10/post-{i}/",
        "guid": f"https://news.example/?p={1000 + i}",
        "pubDate": email.utils.format_datetime(when),
        "description": f"Jane Roe, Example Outlet, October 28 2020:… The text of post {i}.",
        "creator": "Jane Roe",
    }
    item.update(over)
    return item


def rss(items: Sequence[Mapping[str, str]], *, title: str = "A hostile feed", prolog: str | None = None,
        doctype: str = "", raw: bool = False, encoding: str = "utf-8") -> bytes:
    """An RSS 2.0 document. Values are escaped unless ``raw`` (then they go in as written)."""
    esc = (lambda s: s) if raw else (lambda s: html.escape(s, quote=False))
    parts = []
    for it in items:
        fields = [f"<title>{esc(it['title'])}</title>"]
        for key in ("link", "guid", "pubDate", "description"):
            if key in it:
                tag = key if key != "guid" else 'guid isPermaLink="false"'
                fields.append(f"<{tag}>{esc(it[key])}</{key}>")
        if "creator" in it:
            fields.append(f"<dc:creator>{esc(it['creator'])}</dc:creator>")
        if "content" in it:
            fields.append(f"<content:encoded>{esc(it['content'])}</content:encoded>")
        parts.append("<item>" + "".join(fields) + "</item>")
    prolog = prolog if prolog is not None else f'<?xml version="1.0" encoding="{encoding}"?>'
    doc = (f'{prolog}{doctype}\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
           'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n<channel>\n'
           f"<title>{esc(title)}</title><link>https://news.example/</link><description>d</description>\n"
           + "\n".join(parts) + "\n</channel>\n</rss>\n")
    return doc.encode(encoding, "xmlcharrefreplace")


def hatom_page(posts: Sequence[Mapping[str, str]], *, head: str = '<meta charset="utf-8">', wrap: int = 0,
               escape: bool = True) -> str:
    """A classic hAtom author page: ``posts`` are ``{"id", "title", "day", "excerpt"}``.

    ``wrap`` nests the post list that many ``<div>``s deep.
    """
    esc = (lambda s: html.escape(s, quote=False)) if escape else (lambda s: s)
    arts = []
    for p in posts:
        url = f"https://blog.example/{p['day'].replace('-', '/')}/post-{p['id']}/"
        arts.append(
            f'<article id="post-{p["id"]}" class="post-{p["id"]} post type-post hentry">'
            f'<header class="entry-header"><h2 class="entry-title"><a href="{url}" rel="bookmark">'
            f"{esc(p['title'])}</a></h2></header>"
            f'<div class="entry-summary"><p>{esc(p["excerpt"])}</p></div>'
            f'<footer class="entry-footer"><span class="posted-on">Published <time class="entry-date published" '
            f'datetime="{p["day"]}T10:00:00+00:00">{p["day"]}</time></span></footer></article>'
        )
    body = "\n".join(arts)
    if wrap:
        body = "<div>" * wrap + body + "</div>" * wrap
    return (f"<!DOCTYPE html>\n<html><head>{head}<title>Author: Jane Roe</title></head>\n"
            f'<body class="archive author"><main id="main" class="site-main">\n{body}\n</main></body></html>\n')


def _posts(n: int, prefix: str = "Story") -> list[dict[str, str]]:
    return [{"id": str(500 + i), "title": f"{prefix} {i}: the committee meets again",
             "day": (dt.date(2020, 10, 28) - dt.timedelta(days=i)).isoformat(),
             "excerpt": f"Jane Roe, Example Outlet, October {28 - i % 20} 2020:… Paragraph {i} of the report."}
            for i in range(n)]


def _billion_laughs() -> bytes:
    ents = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                                       for i in range(1, 10)]
    doctype = "<!DOCTYPE rss [" + "".join(ents) + "]>"
    return rss([_item(0, title="&lol9;", description="&lol9;")], doctype=doctype, raw=True)


def _xxe(secret: Path, parameter: bool = False) -> bytes:
    uri = secret.as_uri()
    if parameter:
        doctype = f'<!DOCTYPE rss [<!ENTITY % ext SYSTEM "{uri}"> %ext;]>'
        return rss([_item(0, title="Parameter entity", description="nothing to see")], doctype=doctype, raw=True)
    doctype = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>'
    return rss([_item(0, title="Leak &xxe;", description="The file: &xxe;"), _item(1)], doctype=doctype, raw=True)


def _cp1256_page() -> bytes:
    page = hatom_page([{"id": "77", "title": PERSIAN_TITLE, "day": "2020-10-27",
                        "excerpt": "متن کامل گزارش درباره سازمان مجاهدين خلق"}],
                      head='<meta charset="windows-1256">')
    return page.encode("cp1256")


def _cp1252_feed() -> bytes:
    return rss([_item(0, title=CP1252_TITLE, description="Jane Roe, Example Outlet, October 28 2020:… Déjà vu.")],
               encoding="windows-1252")


def _bom_page() -> bytes:
    return b"\xef\xbb\xbf" + hatom_page([{"id": "78", "title": "Zoë’s BOM – page", "day": "2020-10-26",
                                           "excerpt": "A page that starts with a byte-order mark."}]).encode()


def _lying_header_page() -> bytes:
    return hatom_page([{"id": "79", "title": "Ünïcödé header lies – “really”", "day": "2020-10-25",
                        "excerpt": "The header says latin-1; the document is UTF-8."}]).encode()


def _feed_10k() -> bytes:
    items = [{"title": f"Item {i}", "link": f"https://many.example/p/{i}/", "pubDate": "Wed, 28 Oct 2020 09:30:00 GMT"}
             for i in range(10_000)]
    return rss(items, title="Ten thousand items")


def _huge_title() -> bytes:
    title = ("Huge " * 210_000)[:1_050_000]
    return hatom_page([{"id": "80", "title": title, "day": "2020-10-24", "excerpt": "A normal excerpt."},
                       {"id": "81", "title": "A normal title", "day": "2020-10-23", "excerpt": "Another."}]).encode()


def _dates_feed() -> bytes:
    return rss([
        _item(0, title="From the future", pubDate="Fri, 01 Jan 2999 10:00:00 GMT"),
        _item(1, title="From year one", pubDate="Mon, 01 Jan 0001 00:00:00 GMT"),
        _item(2, title="Without a zone", pubDate="2020-10-27T10:00:00"),
        _item(3, title="Unparseable", pubDate="the day after the big storm"),
        _item(4, title="An ordinary date"),
    ])


def dirty_feed() -> bytes:
    # lone surrogates, NUL and C0/C1 controls as character references and as raw bytes
    return rss([
        _item(0, title="Lone &#xD800; surrogate &#xDFFF; here", description="Bad &#0; NUL &#1; and &#x1F; ctl"),
        _item(1, title="Raw \x01control\x08 bytes\x7f", description="Form\x0cfeed \x0bvtab \x85 nel"),
        _item(2, title="Fine", description="Nothing odd here."),
        _item(3, title="Huge &#99999999999999999999999; and &#x110000; refs", description="&#" + "9" * 5000 + ";"),
    ], raw=True)


def dirty_page() -> bytes:
    return hatom_page([
        {"id": "90", "title": "Lone &#xD800; surrogate &#56320; in HTML", "day": "2020-10-27",
         "excerpt": "NUL &#0; and \x00 raw, \x01\x02 controls, &#x85; C1, &#xFFFE; nonchar"},
        {"id": "91", "title": "A fine title", "day": "2020-10-26", "excerpt": "Fine."},
    ], escape=False).encode("utf-8", "surrogatepass")


def _deep_feed() -> bytes:
    """Summaries and content nested 60,000 deep: read as text, never handed to a parser."""
    deep = "<ul><li>" * 60_000 + "deep text"
    return rss([_item(0, title="Deep summary", description=deep),
                _item(1, title="Deep content", description="A short summary.", content=deep)])


def _crowded_page() -> bytes:
    attrs = " ".join(f"data-a{i}=x" for i in range(50_000))
    return hatom_page(_posts(2)).replace("<main ", f"<main {attrs} ", 1).encode()


def _unclosed_page() -> bytes:
    """Articles, paragraphs, links and inline tags left open, as broken themes and plugins leave them."""
    arts = []
    for i in range(4):
        day = f"2020-10-2{i}"
        arts.append(f'<article class="post type-post hentry" id="post-{300 + i}"><h2 class="entry-title">'
                    f'<a href="https://blog.example/unclosed-{i}/">Unclosed {i} <b>bold</h2>'
                    f'<div class="entry-summary"><p>Text {i}<p>more <i>italic <span>'
                    f'<footer><time class="entry-date published" datetime="{day}T08:00:00Z">{day}')
    return ("<!DOCTYPE html><html><head><title>unclosed</title><body><main>" + "".join(arts)).encode()


def _xss_feed(edited: bool = False) -> bytes:
    # escaped once more than the rest: after HTML-to-text the author and outlet still carry the markup
    line = html.escape(f"{XSS_AUTHOR}, {XSS_OUTLET}, October 27 2020:… {XSS} excerpt", quote=False)
    items = [
        {"title": f"{XSS} title{' (v2)' if edited else ''}", "link": "javascript:alert(9)",
         "guid": "https://xss.example/?p=1", "pubDate": "Tue, 27 Oct 2020 10:00:00 GMT",
         "description": line, "creator": f"{XSS} creator", "content": f"<p>{XSS} content</p>"
                                                                     + ("<p>edited</p>" if edited else "")},
        {"title": f"Second {XSS}", "link": "https://xss.example/2020/10/second/?utm_source=x&<script>",
         "guid": "https://xss.example/?p=2", "pubDate": "Mon, 26 Oct 2020 10:00:00 GMT",
         "description": f"{XSS} second", "content": f'<a href="javascript:alert(7)" onclick="x()">{XSS}</a>'
                                                    '<img src="data:text/html,<script>alert(1)</script>">'
                                                    + (" edited" if edited else "")},
        {"title": "Deep content", "link": "https://xss.example/2020/10/deep/", "guid": "https://xss.example/?p=4",
         "pubDate": "Sat, 24 Oct 2020 10:00:00 GMT", "description": "Nested 100,000 deep.",
         "content": "<ul><li>" * 100_000 + "<script>alert(8)</script>deep" + ("edited" if edited else "")},
        {"title": "Bad XML: ]]> and \x0b\x0c and \ufffe\uffff and \U0001fffe end",
         "link": "https://xss.example/2020/10/cdata/", "guid": "https://xss.example/?p=3",
         "pubDate": "Sun, 25 Oct 2020 10:00:00 GMT",
         "description": "Body ]]> with <![CDATA[ nested ]]> and \x1b[31m escape",
         "content": "<p>]]></p><p>\x0c</p>" + (" edited" if edited else "")},
    ]
    return rss(items)


def _xss_page(edited: bool = False) -> bytes:
    """Every text field of a classic author page carrying markup as text (escaped once, as text is)."""
    return hatom_page([
        {"id": "601", "title": f"{XSS} page title" + (" (v2)" if edited else ""), "day": "2020-10-26",
         "excerpt": f"{XSS_AUTHOR}, {XSS_OUTLET}, October 26 2020:… {XSS} page excerpt"},
        {"id": "602", "title": "Plain page post", "day": "2020-10-25",
         "excerpt": "Jane Roe, Example Outlet, October 25 2020:… ]]> \x0b and <![CDATA[ in text"},
    ]).encode()


def _robots() -> bytes:
    return b"User-agent: *\nDisallow: /private/\n"


# -- the cases --------------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    # network
    Case("refused", "network", "", "html", "ConnectFailed", "connection refused"),
    Case("unresolvable", "network", "", "html", "ConnectFailed", "could not resolve host",
         alt=("FetchTimeout", "timed out")),
    Case("reset-mid-body", "network", "/net/reset", "feed", "ConnectFailed", "reset"),
    Case("never-answers", "network", "/net/silent", "html", "FetchTimeout", "timed out"),
    Case("one-byte-a-second", "network", "/net/trickle", "html", "FetchTimeout", "gave up after"),
    Case("redirect-loop", "network", "/net/loop-a", "html", "BadRedirect", "redirect loop"),
    Case("redirect-to-file", "network", "/net/to-file", "html", "BadRedirect", "file:///etc/passwd"),
    Case("redirect-to-ftp", "network", "/net/to-ftp", "html", "BadRedirect", "non-http(s)"),
    Case("redirect-to-javascript", "network", "/net/to-js", "html", "BadRedirect", "javascript:"),
    Case("http-403", "network", "/net/403", "html", "HTTPStatusError", "HTTP 403"),
    Case("http-404", "network", "/net/404", "html", "NotFound", "HTTP 404"),
    Case("http-410", "network", "/net/410", "html", "NotFound", "HTTP 410"),
    Case("http-500", "network", "/net/500", "html", "HTTPStatusError", "HTTP 500"),
    Case("http-502", "network", "/net/502", "html", "HTTPStatusError", "HTTP 502"),
    Case("429-retry-seconds", "network", "/net/429", "html", "RateLimited", "retry after 120 s"),
    Case("503-retry-date", "network", "/net/503", "html", "RateLimited", "HTTP 503"),
    Case("503-retry-absurd", "network", "/net/503-absurd", "html", "RateLimited", "HTTP 503"),
    Case("robots-disallowed", "network", "/private/page", "html", "RobotsDisallowed", "robots.txt"),
    # payload
    Case("too-big-streamed", "payload", "/pay/big", "html", "TooLarge", "larger than"),
    Case("too-big-announced", "payload", "/pay/big-announced", "html", "TooLarge", "announces"),
    Case("gzip-bomb", "payload", "/pay/gzip-bomb", "feed", "TooLarge", "after decompression", heavy=True),
    Case("deflate-bomb", "payload", "/pay/deflate-bomb", "feed", "TooLarge", "after decompression", heavy=True),
    Case("empty-200", "payload", "/pay/empty", "auto", "ExtractError", "empty response body"),
    Case("binary-as-feed", "payload", "/pay/binary", "feed", "ExtractError", "not HTML or a feed"),
    Case("binary-auto", "payload", "/pay/binary-png", "auto", "ExtractError", "not HTML or a feed"),
    Case("truncated-xml", "payload", "/pay/truncated", "feed", "FeedError", "cut off"),
    Case("billion-laughs", "payload", "/pay/laughs", "feed", "ok", ""),
    Case("xxe-file", "payload", "/pay/xxe", "feed", "ok", ""),
    Case("xxe-parameter", "payload", "/pay/xxe-param", "feed", "ok", ""),
    Case("windows-1256-meta", "payload", "/pay/cp1256", "html", "ok", ""),
    Case("windows-1252-prolog", "payload", "/pay/cp1252", "feed", "ok", ""),
    Case("bom-beats-header", "payload", "/pay/bom", "html", "ok", ""),
    Case("header-contradicts-document", "payload", "/pay/lying-header", "html", "ok", ""),
    Case("feed-10k-items", "payload", "/pay/10k", "feed", "ok", "", heavy=True),
    Case("title-1mb", "payload", "/pay/huge-title", "html", "ok", "", heavy=True),
    Case("odd-dates", "payload", "/pay/dates", "feed", "ok", ""),
    Case("control-chars-feed", "payload", "/pay/dirty-feed", "feed", "ok", ""),
    Case("control-chars-html", "payload", "/pay/dirty-page", "html", "ok", ""),
    Case("feed-markup-60k-deep", "payload", "/pay/deep-feed", "feed", "ok", ""),
    # html
    Case("vanishing", "html", "/html/vanishing", "html", "NoPostsFound", "no posts found on a page that had 8"),
    Case("shrinking", "html", "/html/shrinking", "html", "NoPostsFound", "only 1 posts found on a page that had 8"),
    Case("nested-10000", "html", "/html/deep", "html", "ok", ""),
    Case("nested-100k-li", "html", "/html/deep-li", "html", "ExtractError", "too deep to parse safely"),
    Case("attributes-50k", "html", "/html/crowded", "html", "ExtractError", "attributes (the limit is 5,000)"),
    Case("unclosed-tags", "html", "/html/unclosed", "html", "ok", ""),
    Case("not-posts", "html", "/html/not-posts", "html", "NoPostsFound", "no posts found"),
)
CASE_BY_NAME = {c.name: c for c in CASES}


def cases(theme: str | None = None, *, expect_ok: bool | None = None) -> list[Case]:
    out = [c for c in CASES if theme is None or c.theme == theme]
    if expect_ok is not None:
        out = [c for c in out if (c.expect == "ok") == expect_ok]
    return out


def closed_port() -> int:
    """A local port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- the server -------------------------------------------------------------------------------------


@dataclass
class HostileServer:
    """All hostile endpoints on one port. ``secret``: the local file the XXE endpoints point at."""

    secret: Path
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        # the sockets, threads and request log are fetch_servers.RawServer's; this adds the routes
        self._raw = RawServer(self._route, conn_timeout=10)
        self.requests = self._raw.requests
        self.port = self._raw.port
        self.url = self._raw.url
        self._lock = threading.Lock()
        self._refused_port = closed_port()
        self.flipped: set[str] = set()
        self.routes = self._routes()

    # -- public --------------------------------------------------------------------------------

    def url_for(self, case: Case | str) -> str:
        case = CASE_BY_NAME[case] if isinstance(case, str) else case
        if case.name == "refused":
            return f"http://127.0.0.1:{self._refused_port}/author/jane/"
        if case.name == "unresolvable":
            return "http://no-such-host.invalid/author/jane/"
        return self.url + case.path

    def sources(self, chosen: Sequence[Case]) -> list[dict[str, str]]:
        return [{"name": c.name, "url": self.url_for(c), "type": c.type} for c in chosen]

    def flip(self, name: str) -> None:
        """Switch a stateful endpoint (``vanishing``, ``shrinking``, ``xss``) to its second act."""
        with self._lock:
            self.flipped.add(name)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the server is stopping."""
        return self._raw.wait(seconds)

    def hits(self, path: str) -> int:
        return sum(1 for r in list(self.requests) if r.path.split("?")[0] == path)

    def __enter__(self) -> Self:
        self._raw.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._raw.__exit__(*exc)

    # -- endpoints -------------------------------------------------------------------------------

    def _routes(self) -> dict[str, Handler]:
        now = dt.datetime.now(dt.UTC)
        in_an_hour = email.utils.format_datetime(now + dt.timedelta(hours=1), usegmt=True)
        stories = _posts(8)
        gone = hatom_page([]).replace("<main", "<main><p>Site under maintenance. Back soon!</p>", 1).encode()
        deep = hatom_page(_posts(3, "Deep"), wrap=10_000).encode()
        rng = random.Random(8)
        png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(30_000)
        return {
            "/robots.txt": respond(200, _robots(), {"Content-Type": "text/plain"}),
            "/net/reset": reset_mid_body,
            "/net/silent": silent,
            "/net/trickle": trickle,
            "/net/loop-a": redirect("/net/loop-b"),
            "/net/loop-b": redirect(self.url + "/net/loop-a", 301),
            "/net/to-file": redirect("file:///etc/passwd"),
            "/net/to-ftp": redirect("ftp://files.example/feed.xml", 301),
            "/net/to-js": redirect("javascript:alert(document.cookie)", 307),
            "/net/403": respond(403, b"<h1>Forbidden</h1>", {"Content-Type": "text/html"}),
            "/net/404": respond(404, b"<h1>Not found</h1>", {"Content-Type": "text/html"}),
            "/net/410": respond(410, b"gone"),
            "/net/500": respond(500, b"<h1>Error establishing a database connection</h1>"),
            "/net/502": respond(502, b"bad gateway"),
            "/net/429": respond(429, b"slow down", {"Retry-After": "120"}),
            "/net/503": respond(503, b"maintenance", {"Retry-After": in_an_hour}),
            "/net/503-absurd": respond(503, b"forever", {"Retry-After": "99999999999999999999"}),
            "/private/page": html_ok(hatom_page(_posts(2)).encode()),
            "/pay/big": stream(40 * 1000**2),
            "/pay/big-announced": respond(200, b"", {"Content-Type": "text/html", "Content-Length": "900000000"}),
            "/pay/gzip-bomb": bomb("gzip"),
            "/pay/deflate-bomb": bomb("deflate"),
            "/pay/empty": respond(200, b"", {"Content-Type": "text/html"}),
            "/pay/binary": feed_ok(rng.randbytes(50_000), "application/rss+xml"),
            "/pay/binary-png": respond(200, png, {"Content-Type": "image/png"}),
            "/pay/truncated": feed_ok(rss([_item(i) for i in range(12)])[:1500]),
            "/pay/laughs": feed_ok(_billion_laughs()),
            "/pay/xxe": feed_ok(_xxe(self.secret)),
            "/pay/xxe-param": feed_ok(_xxe(self.secret, parameter=True)),
            "/pay/cp1256": html_ok(_cp1256_page(), "text/html"),
            "/pay/cp1252": feed_ok(_cp1252_feed(), "application/rss+xml"),
            "/pay/bom": html_ok(_bom_page(), "text/html; charset=windows-1252"),
            "/pay/lying-header": html_ok(_lying_header_page(), "text/html; charset=iso-8859-1"),
            "/pay/10k": feed_ok(_feed_10k()),
            "/pay/huge-title": html_ok(_huge_title()),
            "/pay/dates": feed_ok(_dates_feed()),
            "/pay/dirty-feed": feed_ok(dirty_feed()),
            "/pay/dirty-page": html_ok(dirty_page()),
            "/pay/deep-feed": feed_ok(_deep_feed()),
            "/html/vanishing": self._two_acts("vanishing", hatom_page(stories).encode(), gone),
            "/html/shrinking": self._two_acts("shrinking", hatom_page(stories).encode(),
                                              hatom_page(stories[:1]).encode()),
            "/html/deep": html_ok(deep),
            "/html/deep-li": html_ok(hatom_page(_posts(3, "Deep")).replace(
                "<main", "<ul><li>" * 100_000 + "<main", 1).encode()),
            "/html/crowded": html_ok(_crowded_page()),
            "/html/unclosed": html_ok(_unclosed_page()),
            "/html/not-posts": html_ok(b"<!DOCTYPE html><html><body><h1>Welcome</h1><p>Nothing to see.</p>"
                                       b"</body></html>"),
            "/xss/feed": self._two_acts("xss", _xss_feed(), _xss_feed(edited=True), feed=True),
            "/xss/page": self._two_acts("xss", _xss_page(), _xss_page(edited=True)),
        }

    def _two_acts(self, name: str, first: bytes, second: bytes, *, feed: bool = False) -> Handler:
        ctype = "application/rss+xml; charset=utf-8" if feed else "text/html; charset=utf-8"

        def handler(server: HostileServer, conn: socket.socket, request: Request) -> None:
            body = second if name in self.flipped else first
            respond(200, body, {"Content-Type": ctype})(server, conn, request)

        return handler

    # -- plumbing -----------------------------------------------------------------------------------

    def _route(self, raw: RawServer, conn: socket.socket, request: Request) -> None:
        handler = self.routes.get(request.path.split("?")[0], respond(404, b"not found"))
        handler(self, conn, request)


# -- running the monitor against it -------------------------------------------------------------------

#: Tight network limits so every stalled case ends in seconds; a read timeout longer than the
#: trickle's one byte a second, so only the total deadline can stop it.
FAST_FETCH = {"timeout": "2s", "deadline": "4s", "max_bytes": "4MB", "per_host": 8, "concurrency": 32}


def write_config(tmp_path: Path, sources: Sequence[Mapping[str, object]], **extra: object) -> Path:
    data: dict[str, object] = {
        "site": {"title": "Hostile Test", "url": "http://127.0.0.1:8000/"},
        "database": "monitor.db",
        "output_dir": "site",
        "timezone": "Europe/London",
        "fetch": dict(FAST_FETCH),
        "sources": list(sources),
    }
    data.update(extra)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Run:
    """One finished ``monitor`` process."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float  # seconds, wall clock
    maxrss_mb: float  # the process's peak resident memory since exec (VmHWM, sampled)
    tree_peak_mb: float = 0.0  # peak of the summed proportional memory (PSS) of it and its workers, sampled

    def lines(self) -> dict[str, str]:
        """``monitor fetch`` output: source name -> its line (warnings included)."""
        out: dict[str, str] = {}
        last = None
        for line in self.stdout.splitlines():
            if line.startswith("  ") and last is not None:
                out[last] += "\n" + line
                continue
            name, sep, _ = line.partition(": ")
            if sep and not line.startswith("total: "):
                out[name] = line
                last = name
        return out

    def assert_no_traceback(self) -> None:
        assert "Traceback" not in self.stderr, self.stderr[-3000:]
        assert "Traceback" not in self.stdout, self.stdout[-3000:]


_RUN_MONITOR = ("import runpy, sys\nsys.argv = ['monitor', *sys.argv[1:]]\n"
                "runpy.run_module('monitor', run_name='__main__', alter_sys=True)\n")


def start_monitor(*args: str, cwd: Path, prelude: str | None = None,
                  env: Mapping[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start ``python -m monitor ARGS``; ``prelude`` is Python run first in the same process
    (set a resource limit, drop a capability), instead of an unsafe ``preexec_fn``."""
    out, err = cwd / f".out-{os.getpid()}-{time.monotonic_ns()}", cwd / f".err-{os.getpid()}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "monitor", *args]
    if prelude is not None:
        cmd = [sys.executable, "-c", prelude + "\n" + _RUN_MONITOR, *args]
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fo, stderr=fe, env={**os.environ, **(env or {})})
    return proc, out, err


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL, without ``Popen.kill()``'s poll (which would reap the child before ``os.wait4`` can)."""
    os.kill(proc.pid, signal.SIGKILL)


def finish_monitor(proc: subprocess.Popen[bytes], out: Path, err: Path, args: Sequence[str], started: float,
                   timeout: float) -> Run:
    """Reap ``proc`` (killing it at ``timeout``) and read what it printed and its peak memory."""
    deadline = started + timeout
    tree_peak = 0
    hwm_kb = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            kill(proc)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        tree_peak = max(tree_peak, tree_memory(proc.pid))
        hwm_kb = max(hwm_kb, vm_hwm_kb(proc.pid))
        time.sleep(0.03)
    elapsed = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out.read_text("utf-8", "replace")
    stderr = err.read_text("utf-8", "replace")
    out.unlink(missing_ok=True)
    err.unlink(missing_ok=True)
    if elapsed > timeout:
        raise AssertionError(f"monitor {' '.join(args)} still running after {timeout:g} s: killed\n"
                             f"{stdout[-2000:]}\n{stderr[-2000:]}")
    # ru_maxrss from wait4 would count the high-water mark of the forked pytest process before exec
    # (Linux carries it over exec), so a large test process made every child look large: the
    # child's own VmHWM, sampled while it runs, is its real peak
    peak_kb = hwm_kb or usage.ru_maxrss
    return Run(tuple(args), proc.returncode, stdout, stderr, elapsed, peak_kb / 1024, tree_peak / 2**20)


def vm_hwm_kb(pid: int) -> int:
    """The process's peak resident memory since its exec (VmHWM), in KiB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory(pid: int) -> int:
    """Bytes of memory used by ``pid`` and all its descendants (PSS: shared pages counted once)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):  # gone meanwhile, or no /proc: best effort
            continue
    return total


def run_monitor(*args: str, cwd: Path, timeout: float = 90, prelude: str | None = None,
                env: Mapping[str, str] | None = None) -> Run:
    """``python -m monitor ARGS`` in a subprocess; fails the test if it outlives ``timeout``."""
    started = time.monotonic()
    proc, out, err = start_monitor(*args, cwd=cwd, prelude=prelude, env=env)
    return finish_monitor(proc, out, err, args, started, timeout)


def run_many(commands: Sequence[Sequence[str]], *, cwd: Path, timeout: float = 90) -> list[Run]:
    """Several ``monitor`` processes at once (each in ``cwd``); results in order."""
    started = time.monotonic()
    procs = [(start_monitor(*c, cwd=cwd), c) for c in commands]
    return [finish_monitor(p, o, e, c, started, timeout) for (p, o, e), c in procs]


# -- checking the database ------------------------------------------------------------------------------


def db_rows(path: Path, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def check_database(path: Path) -> dict[tuple[str, str], int]:
    """Integrity, no duplicates, contiguous versions. Returns ``{(source, identity): versions}``."""
    assert db_rows(path, "PRAGMA integrity_check")[0][0] == "ok"
    posts = db_rows(path, "SELECT id, source, identity, url_key, versions FROM posts")
    keys = [(r["source"], r["identity"]) for r in posts]
    assert len(keys) == len(set(keys)), "a post is stored twice"
    url_keys = [(r["source"], r["url_key"]) for r in posts if r["url_key"]]
    assert len(url_keys) == len(set(url_keys)), "two posts of one source share a URL"
    numbers: dict[int, list[int]] = {}
    for r in db_rows(path, "SELECT post_id, number FROM versions ORDER BY post_id, number"):
        numbers.setdefault(r["post_id"], []).append(r["number"])
    for r in posts:
        assert numbers.get(r["id"]) == list(range(1, r["versions"] + 1)), (dict(r), numbers.get(r["id"]))
    assert set(numbers) <= {r["id"] for r in posts}, "versions of a post that does not exist"
    return {(r["source"], r["identity"]): r["versions"] for r in posts}


def all_text(path: Path) -> str:
    """Every value in the database as one string (to look for what must never be there)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()
