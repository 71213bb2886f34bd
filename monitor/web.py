"""Serve ``output_dir`` over HTTP, plus ``/healthz``: the service's small web server.

A :class:`http.server.ThreadingHTTPServer` in a daemon thread; it only ever reads files
that the publish stage wrote with temp file + rename, so a request sees a whole old file
or a whole new one, never half of one::

    SiteServer(root, host, port, health=callable).start()    -> .url (the bound port when 0)
      GET|HEAD /healthz            JSON from ``health()``: sources, last digest, next runs
      GET|HEAD /path               a file under root; a directory serves its index.html
        Content-Type               by name: feed.xml RSS, atom.xml Atom, HTML utf-8, ...
        ETag (strong, content hash, hashed once per file version) + Last-Modified;
                                   If-None-Match / If-Modified-Since -> 304 (an fstat, no read)
        404                        missing, hidden (dot) files, '..' in any spelling, symlinks
                                   that leave root, directories without index.html
      anything else                405

Binding a non-loopback host is allowed (it is the user's explicit choice) and logged as a
warning. The server logs ``serving <root> at <url>`` at INFO once it is listening.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import ipaddress
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote, unquote, urlsplit

from . import __version__
from .config import Config
from .report import StatusInputs, status_report

__all__ = ["SiteServer", "content_type", "health_report", "is_loopback", "resolve_path"]

log = logging.getLogger("monitor.web")

UTC = dt.UTC

#: By file name first (the two feeds share a suffix), then by suffix.
_BY_NAME = {"feed.xml": "application/rss+xml", "atom.xml": "application/atom+xml"}
_BY_SUFFIX = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".xsl": "application/xslt+xml",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}

Health = Callable[[], Mapping[str, Any]]


def content_type(path: Path | str) -> str:
    """The Content-Type we send for a file, by its name."""
    name = Path(path).name.lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    return _BY_SUFFIX.get(Path(name).suffix, "application/octet-stream")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume it is reachable from outside


def resolve_path(root: Path, request_path: str) -> Path | None:
    """The real file or directory under ``root`` that ``request_path`` names, or None (-> 404).

    ``root`` must already be resolved. Percent-escapes are decoded once, strictly as UTF-8;
    any ``.``/``..`` segment, any dot-file segment (also temp files of atomic writes), a NUL or
    a backslash is refused; symlinks are followed and must stay inside ``root``.
    """
    try:
        decoded = unquote(request_path, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return None
    if "\x00" in decoded or "\\" in decoded:
        return None
    parts = [p for p in decoded.split("/") if p]
    if any(p.startswith(".") for p in parts):
        return None
    target = Path(os.path.realpath(root.joinpath(*parts)))
    if target != root and not target.is_relative_to(root):
        return None
    return target


def health_report(config: Config, inputs: StatusInputs) -> dict[str, Any]:
    """The ``/healthz`` document: :func:`monitor.report.status_report` of the inputs the application
    read (``Monitor.status_inputs``), the very document ``monitor status --format json`` prints."""
    return status_report(config.sources, inputs)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, root: Path,
                 health: Health | None, family: socket.AddressFamily):
        self.address_family = family
        self.root = root
        self.health = health
        self._etags: dict[tuple[str, int, int, int], str] = {}
        self._etags_lock = threading.Lock()
        super().__init__(address, handler)

    def cached_etag(self, path: Path, st: os.stat_result) -> str | None:
        with self._etags_lock:
            return self._etags.get((str(path), st.st_ino, st.st_size, st.st_mtime_ns))

    def remember_etag(self, path: Path, st: os.stat_result, data: bytes) -> str:
        """A strong ETag: a hash of the bytes, cached by path, inode, size and mtime."""
        tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        with self._etags_lock:
            if len(self._etags) > 4096:
                self._etags.clear()
            self._etags[(str(path), st.st_ino, st.st_size, st.st_mtime_ns)] = tag
        return tag


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = f"DigestMonitor/{__version__}"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections are closed after this

    # -- methods -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _not_allowed(self) -> None:
        self._send_simple(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n", body=True,
                          extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the base class names it
        log.debug("%s %s", self.address_string(), format % args)

    # -- routing --------------------------------------------------------------------------

    def _serve(self, *, body: bool) -> None:
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            target = urlsplit(target).path or "/"
        raw_path, _, query = target.partition("?")
        raw_path = raw_path.partition("#")[0]
        if not raw_path.startswith("/"):
            self._send_simple(HTTPStatus.NOT_FOUND, "not found\n", body=body)
            return
        if raw_path.rstrip("/") == "/healthz":
            self._healthz(body=body)
            return
        root = self.server.root
        path = resolve_path(root, raw_path)
        if path is not None and path.is_dir():
            if not raw_path.endswith("/"):
                # one leading slash: "//host" in a Location would send the browser to another host
                location = "/" + quote(unquote(raw_path)).lstrip("/") + "/" + (f"?{query}" if query else "")
                self._send_simple(HTTPStatus.MOVED_PERMANENTLY, "moved\n", body=body,
                                  extra={"Location": location})
                return
            path = resolve_path(root, raw_path + "index.html")
        if path is None or not path.is_file():
            self._send_simple(HTTPStatus.NOT_FOUND, "not found\n", body=body)
            return
        self._file(path, body=body)

    def _file(self, path: Path, *, body: bool) -> None:
        """A file, or a 304. The ETag (a hash of the bytes) is cached per file version (path,
        inode, size, mtime), so a conditional GET that ends in a 304 — what every feed reader
        polling feed.xml does — costs an fstat, not a read and a hash of the whole file."""
        data: bytes | None = None
        try:
            with open(path, "rb") as f:  # one open: the bytes, size and mtime of the same file
                st = os.fstat(f.fileno())
                mtime = int(st.st_mtime)
                etag = self.server.cached_etag(path, st)
                if etag is None:  # first request for this version of the file: hash it once
                    data = f.read()
                    etag = self.server.remember_etag(path, st, data)
                not_modified = self._not_modified(etag, mtime)
                if body and data is None and not not_modified:
                    data = f.read()
        except OSError:  # replaced or removed between the check and the open
            self._send_simple(HTTPStatus.NOT_FOUND, "not found\n", body=body)
            return
        headers = {
            "ETag": etag,
            "Last-Modified": email.utils.formatdate(mtime, usegmt=True),
            "Cache-Control": "no-cache",
        }
        if not_modified:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            return
        size = len(data) if data is not None else st.st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type(path))
        self.send_header("Content-Length", str(size))
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body and data:
            self.wfile.write(data)

    def _not_modified(self, etag: str, mtime: int) -> bool:
        """RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            bare = etag.removeprefix("W/")
            return any(t == "*" or t.removeprefix("W/") == bare for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims)
            except (TypeError, ValueError, IndexError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return mtime <= since.timestamp()
        return False

    def _healthz(self, *, body: bool) -> None:
        health = self.server.health
        if health is None:
            doc: Mapping[str, Any] = {"status": "ok", "sources": [], "last_digest": None, "next_runs": {}}
            status = HTTPStatus.OK
        else:
            try:
                doc = health()
                status = HTTPStatus.OK
            except Exception as e:  # noqa: BLE001 -- any failure to read state is 'not healthy'
                log.warning("healthz failed: %s", e)
                doc = {"status": "error", "error": str(e)}
                status = HTTPStatus.SERVICE_UNAVAILABLE
        data = json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _send_simple(self, status: HTTPStatus, text: str, *, body: bool,
                     extra: Mapping[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(data)


class SiteServer:
    """``output_dir`` (and ``/healthz``) over HTTP in a daemon thread.

    ::

        server = SiteServer(config.output_dir, "127.0.0.1", 0, health=lambda: {...})
        server.start()          # binds, logs "serving <root> at <url>"
        server.url              # http://127.0.0.1:PORT/
        server.shutdown()       # stops accepting, closes the socket
    """

    def __init__(self, root: Path | str, host: str = "127.0.0.1", port: int = 8000, *,
                 health: Health | None = None):
        self.root = Path(root)
        self.host = host
        self.port = port
        self.health = health
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        host = self.host if self.host not in ("", "0.0.0.0", "::") else (
            "127.0.0.1" if self.host != "::" else "::1")
        if ":" in host:
            host = f"[{host.strip('[]')}]"
        return f"http://{host}:{self._server.server_address[1]}/"

    def start(self) -> Self:
        """Bind and serve; raises OSError when the port is taken."""
        self.root.mkdir(parents=True, exist_ok=True)
        root = Path(os.path.realpath(self.root))
        host = self.host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._server = _Server((host, self.port), _Handler, root=root, health=self.health, family=family)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="monitor-serve", daemon=True)
        self._thread.start()
        if not is_loopback(host):
            log.warning("serving on %s: the digests and /healthz are reachable from other machines",
                        self.host)
        log.info("serving %s at %s", self.root, self.url)
        return self

    def shutdown(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
