"""Serve a :class:`~sample_site.site.SampleSite` over real HTTP on 127.0.0.1.

``serve(site)`` starts a ``ThreadingHTTPServer`` in a daemon thread and returns a
:class:`RunningServer` (``.url``, ``.hits``, ``.log``, ``.stop()``, a context
manager). Responses carry a strong ETag (hash of the body) and Last-Modified
(the newest modification of what the page shows) and honour If-None-Match /
If-Modified-Since with 304. HTTP/1.1 keep-alive, gzip when asked for, no
logging to stderr.
"""

from __future__ import annotations

import email.utils
import socket
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from .site import Rendered, SampleSite, http_date

__all__ = ["RequestRecord", "RunningServer", "serve"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    target: str  # path + query as sent
    status: int
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    accept_encoding: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for idle keep-alive connections
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], running: RunningServer):
        self.running = running
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, _Handler)

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[no-untyped-def]
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, OSError):  # ConnectionError, TimeoutError, closed by stop()
            return  # the client went away: normal for a test server
        self.running.errors.append(exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    sys_version = ""
    timeout = 30  # idle keep-alive connections end after this
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one write
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 -- the base class names it
        pass

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, head: bool) -> None:
        running = self.server.running
        site = running.site
        target = self.path
        if "://" in target:  # absolute-form request target
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        wait, error = site.fault_for(target)
        if wait:
            time.sleep(wait)
        r: Rendered = error or site.render(target, running.url)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        ae = self.headers.get("Accept-Encoding") or ""
        body, etag = r.body, r.etag
        use_gzip = running.gzip and r.status == 200 and len(body) > 512 and "gzip" in ae.lower()
        if use_gzip and etag:
            etag = etag[:-1] + '-gzip"'
        status = r.status
        if r.status == 200 and _not_modified(etag, r, inm, ims):
            status = 304
        running._record(RequestRecord(self.command, target, status, inm, ims, self.headers.get("User-Agent"),
                                      self.headers.get("Accept-Encoding")))
        self.send_response(status)
        for k, v in r.headers:
            self.send_header(k, v)
        if etag:
            self.send_header("ETag", etag)
        if r.last_modified:
            self.send_header("Last-Modified", http_date(r.last_modified))
        if r.status == 200 and running.gzip:
            self.send_header("Vary", "Accept-Encoding")
        if status == 304:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if use_gzip:
            body = r.gzipped()
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", r.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


def _not_modified(etag: str | None, r: Rendered, inm: str | None, ims: str | None) -> bool:
    """RFC 9110 13.2.2: If-None-Match (weak comparison) wins; else If-Modified-Since."""
    if inm is not None:
        if not etag:
            return False
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag.removeprefix("W/") in tags
    if ims is not None and r.last_modified is not None:
        try:
            since = email.utils.parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return r.last_modified <= since
    return False


class RunningServer:
    """A site served on a real port. ``hits`` counts requests per target (path + query)."""

    def __init__(self, site: SampleSite, host: str, port: int, gzip: bool):
        self.site = site
        self.gzip = gzip
        self.hits: Counter[str] = Counter()
        self.log: deque[RequestRecord] = deque(maxlen=100_000)
        self.errors: list[BaseException] = []  # unexpected server-side exceptions
        self._lock = threading.Lock()
        self._httpd = _Server((host, port), self)
        h, p = self._httpd.server_address[:2]
        self.host, self.port = h.decode() if isinstance(h, bytes) else str(h), int(p)
        self.url = f"http://[{self.host}]:{p}" if ":" in self.host else f"http://{self.host}:{p}"
        if site.base_url is None:
            site.base_url = self.url
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sample-site:{p}", daemon=True)
        self._thread.start()
        self._stopped = False

    def _record(self, rec: RequestRecord) -> None:
        with self._lock:
            self.hits[rec.target] += 1
            self.log.append(rec)

    def reset_hits(self) -> None:
        with self._lock:
            self.hits.clear()
            self.log.clear()

    def requests_for(self, target: str) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.log if r.target == target]

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        with self._httpd.conns_lock:
            conns = list(self._httpd.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        self._thread.join(timeout=5)
        if self.site.base_url == self.url:
            self.site.base_url = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningServer {self.url} {'stopped' if self._stopped else 'running'}>"


def serve(site: SampleSite, host: str = "127.0.0.1", port: int = 0, *, gzip: bool = True) -> RunningServer:
    """Start serving ``site`` in a daemon thread (``port=0``: a free port). Sets ``site.base_url``
    if it was unset, so ``site.source_urls()`` works."""
    return RunningServer(site, host, port, gzip)
