"""Real servers on 127.0.0.1 for the delivery tests: SMTP (aiosmtpd, STARTTLS on a self-signed
certificate, AUTH), a socket that accepts and never answers, and a webhook receiver.

The SMTP server counts a message as received only when its 250 reply could go out: a client that
died before the end of DATA has sent nothing (RFC 5321: the message is the server's only after 250).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "digest", "s3cret-pässword-7f1d"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for 127.0.0.1 and localhost, made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    rcpt: list[str]
    data: bytes
    tls: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=default_policy)  # type: ignore[return-value]


@dataclass
class Handler:
    """Records messages; ``replies`` scripts failures: {"MAIL"|"RCPT"|"DATA": [reply or None, ...]}, used
    in order (None: behave normally). ``refuse`` maps a recipient to a permanent RCPT reply.
    ``hold``: DATA waits until the event is set (``holding`` is set meanwhile)."""

    received: list[Received] = field(default_factory=list)
    replies: dict[str, list[str | None]] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None
    hold_after: int = 0  # hold the DATA of the message after this many were received
    holding: threading.Event = field(default_factory=threading.Event)
    dropped: int = 0  # messages whose client went away before the 250
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _scripted(self, verb: str) -> str | None:
        with self.lock:
            script = self.replies.get(verb)
            return script.pop(0) if script else None

    async def handle_MAIL(self, server, session, envelope, address, options):
        if reply := self._scripted("MAIL"):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in self.refuse:
            return self.refuse[address]
        if reply := self._scripted("RCPT"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if reply := self._scripted("DATA"):
            return reply
        if self.hold is not None and len(self.received) >= self.hold_after:
            self.holding.set()
            try:
                while not self.hold.is_set() and not _peer_gone(server):
                    await asyncio.sleep(0.02)
            except asyncio.CancelledError:  # aiosmtpd saw the connection go and stops this handler
                with self.lock:
                    self.dropped += 1
                raise
        if self.delay:
            await asyncio.sleep(self.delay)
        if _peer_gone(server):
            with self.lock:
                self.dropped += 1
            return "451 4.4.2 connection lost"  # nobody hears this: the message was never the server's
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), envelope.original_content or envelope.content,
                                          session.ssl is not None or _tls(server), bool(session.authenticated)))
        return "250 2.0.0 OK queued"

    def by_recipient(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for r in self.received:
            for a in r.rcpt:
                out.setdefault(a, []).append(r)
        return out


def _tls(server) -> bool:
    """Whether the connection is TLS (aiosmtpd's ``session.ssl`` is set by STARTTLS only)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def _peer_gone(server) -> bool:
    """Whether the client's end of the connection is closed. Asked of the socket itself (a peek on a
    duplicate descriptor): while a DATA handler runs, aiosmtpd reads nothing, so asyncio has not seen the EOF."""
    transport = server.transport
    if transport is None or transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    if sock is None:
        return True
    dup = socket.fromfd(sock.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    try:
        return dup.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # alive, and quiet: waiting for our reply
    except OSError:
        return True  # reset
    finally:
        dup.close()


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


class SMTPServer:
    """aiosmtpd on 127.0.0.1: STARTTLS required (``cert``) and AUTH required, or plain."""

    def __init__(self, handler: Handler, *, cert: tuple[Path, Path] | None = None, auth: bool = True,
                 implicit_tls: bool = False):
        self.handler = handler
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if cert is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
            if implicit_tls:  # TLS from the first byte (port 465 style)
                kwargs.update(ssl_context=ctx)
            else:
                kwargs.update(tls_context=ctx, require_starttls=True)
        if auth:
            kwargs.update(authenticator=_authenticator, auth_required=True, auth_require_tls=cert is not None)
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port, server_hostname="localhost",
                                     ready_timeout=10, **kwargs)

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class SilentServer:
    """Accepts connections and never says a word (no SMTP greeting)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.conns.append(c)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every POST (path, headers, JSON body); ``status`` replies."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        self.status = status
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts.append((self.path, dict(self.headers), json.loads(body or b"null")))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
