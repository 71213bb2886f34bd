"""Real, misbehaving HTTP servers on 127.0.0.1 for tests: raw sockets, one thread per connection.

pytest-httpserver covers well-behaved servers; these cover the rest (silence, trickles, resets,
gzip bombs, counting concurrent requests). Usage::

    with RawServer(routes({"/robots.txt": silent, "/": respond(200, b"hi")})) as server:
        ... fetch(server.url + "/") ...

A handler is ``handler(server, conn, request)``; it writes whatever bytes it likes to ``conn``.
Handlers that wait use ``server.wait(seconds)``, which returns early (True) when the server stops,
so leaving the ``with`` block never hangs.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Self

__all__ = [
    "ConcurrencyCounter",
    "RawServer",
    "Request",
    "close_mid_body",
    "compressed_zeros",
    "head_only",
    "reset_mid_body",
    "respond",
    "routes",
    "silent",
    "trickle",
]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # names lower-cased


Handler = Callable[["RawServer", socket.socket, Request], None]


@dataclass
class RawServer:
    handler: Handler
    read_request: bool = True  # False: call the handler at once, with an empty Request (speak first)
    requests: list[Request] = field(default_factory=list)
    conn_timeout: float = 5.0  # per socket operation on a connection

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(timeout=5)
        self._listener.close()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the server is stopping (the handler should return)."""
        return self._stopping.wait(seconds)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(self.conn_timeout)
            try:
                request = _read_request(conn) if self.read_request else Request("", "", {})
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                self.handler(self, conn, request)
            except OSError:  # the client went away: that is what many tests are about
                pass


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, path, headers)


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- handlers ------------------------------------------------------------------------------------


def routes(table: Mapping[str, Handler], default: Handler | None = None) -> Handler:
    """Dispatch on the request path; unknown paths get ``default`` or a 404."""
    fallback = default or respond(404, b"not found")

    def handler(server: RawServer, conn: socket.socket, request: Request) -> None:
        table.get(request.path.split("?")[0], fallback)(server, conn, request)

    return handler


def respond(status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> Handler:
    """An ordinary, well-formed answer."""

    def handler(server: RawServer, conn: socket.socket, request: Request) -> None:
        head = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        conn.sendall(_head(status, head) + body)

    return handler


def silent(server: RawServer, conn: socket.socket, request: Request) -> None:
    """Accept, read the request, never answer."""
    server.wait(60)


def head_only(headers: Mapping[str, str]) -> Handler:
    """Send a 200 head (e.g. a huge Content-Length) and then nothing."""

    def handler(server: RawServer, conn: socket.socket, request: Request) -> None:
        conn.sendall(_head(200, {"Connection": "close", **headers}))
        server.wait(60)

    return handler


def trickle(interval: float = 1.0, length: int = 10**6) -> Handler:
    """Headers at once, then one byte of the body every ``interval`` seconds."""

    def handler(server: RawServer, conn: socket.socket, request: Request) -> None:
        conn.sendall(_head(200, {"Content-Length": str(length), "Content-Type": "text/html"}))
        for _ in range(length):
            conn.sendall(b"x")
            if server.wait(interval):
                return

    return handler


def reset_mid_body(server: RawServer, conn: socket.socket, request: Request) -> None:
    """Promise 100 kB, send 1 kB, then reset the connection (RST, not FIN)."""
    conn.sendall(_head(200, {"Content-Length": "100000"}) + b"x" * 1000)
    time.sleep(0.1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def close_mid_body(server: RawServer, conn: socket.socket, request: Request) -> None:
    """Promise 100 kB, send 1 kB, then close cleanly."""
    conn.sendall(_head(200, {"Content-Length": "100000"}) + b"x" * 1000)


def compressed_zeros(total: int, encoding: str = "gzip", wbits: int | None = None) -> Handler:
    """A decompression bomb: ``total`` zero bytes compressed on the fly, sent until the client leaves."""
    wbits = wbits if wbits is not None else {"gzip": 31, "deflate": 15}[encoding]

    def handler(server: RawServer, conn: socket.socket, request: Request) -> None:
        conn.sendall(_head(200, {"Content-Encoding": encoding, "Connection": "close"}))
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        zeros = bytes(64 * 1024)
        for _ in range(total // len(zeros)):
            if server.wait(0):
                return
            conn.sendall(packer.compress(zeros))
        conn.sendall(packer.flush())

    return handler


class ConcurrencyCounter:
    """A handler that holds every request ``hold`` seconds and records the most in flight at once."""

    def __init__(self, hold: float = 0.2, body: bytes = b"ok"):
        self.hold = hold
        self.body = body
        self.now = 0
        self.most = 0
        self.served = 0
        self._lock = threading.Lock()

    def __call__(self, server: RawServer, conn: socket.socket, request: Request) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            server.wait(self.hold)
        finally:
            with self._lock:
                self.now -= 1
                self.served += 1
        respond(200, self.body)(server, conn, request)
