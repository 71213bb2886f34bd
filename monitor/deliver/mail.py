"""The e-mail channel: one SMTP conversation per recipient, in a thread, bounded by a deadline.

The standard library's :mod:`smtplib` (``starttls``, ``ssl`` or ``none``; AUTH when a username is
set) runs in a worker thread, so the service's event loop never waits on a mail server. Its
socket timeout is ``deliver.email.timeout`` for every step, and the whole message gets the same
deadline again on top, so a server that accepts and never answers costs at most that long.

The password is read from the environment variable named in ``password_env`` at send time: it
is never in the config, never logged, and scrubbed from any error text that is stored or shown.
"""

from __future__ import annotations

import asyncio
import base64
import os
import smtplib
import socket
import ssl
from email.utils import parseaddr

from ..config import EmailConfig
from ..errors import DeliveryError, PermanentDeliveryError, TemporaryDeliveryError
from .edition import Edition
from .message import _domain, build_message, message_bytes, message_id

__all__ = ["EmailChannel", "classify_smtp_error"]


def classify_smtp_error(e: BaseException, where: str) -> DeliveryError:
    """SMTP 5xx: permanent; 4xx, timeouts, refused or dropped connections, TLS trouble: temporary."""
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(e.recipients.values()), (450, b""))
        return _coded(code, text, where)
    if isinstance(e, smtplib.SMTPResponseException):
        if isinstance(e, smtplib.SMTPAuthenticationError):  # a config problem: fixed, it works; so retry
            return TemporaryDeliveryError(f"{where}: authentication failed ({e.smtp_code} {_text(e.smtp_error)})")
        return _coded(e.smtp_code, e.smtp_error, where)
    if isinstance(e, (TimeoutError, socket.timeout)):
        return TemporaryDeliveryError(f"{where}: timed out")
    if isinstance(e, ConnectionRefusedError):
        return TemporaryDeliveryError(f"{where}: connection refused")
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return TemporaryDeliveryError(f"{where}: the server closed the connection ({e})")
    if isinstance(e, ssl.SSLError):
        return TemporaryDeliveryError(f"{where}: TLS failed ({e.reason or e})")
    if isinstance(e, smtplib.SMTPException):
        return TemporaryDeliveryError(f"{where}: {e}")
    if isinstance(e, OSError):
        return TemporaryDeliveryError(f"{where}: {e.strerror or e}")
    return TemporaryDeliveryError(f"{where}: {type(e).__name__}: {e}")


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:300]


def _coded(code: int, text: bytes | str, where: str) -> DeliveryError:
    reason = f"{where}: {code} {_text(text)}"
    return PermanentDeliveryError(reason) if 500 <= code < 600 else TemporaryDeliveryError(reason)


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH. smtplib encodes credentials as ASCII, so a password like "pässword" would never get through:
    such credentials go as AUTH PLAIN in UTF-8 (RFC 4616), the rest through smtplib's own choice."""
    if (username + password).isascii():
        smtp.login(username, password)
        return
    if "plain" not in (smtp.esmtp_features.get("auth") or "").lower().split():
        raise smtplib.SMTPException("the server offers no AUTH PLAIN for a non-ASCII user name or password")
    token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode("ascii")
    code, resp = smtp.docmd("AUTH", "PLAIN " + token)
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, resp)


class EmailChannel:
    """``deliver.email``: the channel ``email``, one recipient per address in ``to``."""

    name = "email"

    def __init__(self, config: EmailConfig, environ: dict[str, str] | os._Environ[str] | None = None):
        self.config = config
        self._environ = environ if environ is not None else os.environ

    def recipients(self) -> list[str]:
        return list(self.config.to)

    def message_id(self, edition: Edition, recipient: str, generation: int = 0) -> str:
        return message_id(edition, recipient, _domain(self.config, edition), generation)

    def preview(self, edition: Edition, recipient: str, msg_id: str) -> tuple[str, bytes]:
        return ".eml", message_bytes(build_message(edition, self.config, recipient, msg_id))

    def _password(self) -> str | None:
        name = self.config.password_env
        if not name:
            return None
        value = self._environ.get(name)
        if not value:
            raise TemporaryDeliveryError(f"the environment variable {name} (deliver.email.password_env) is not set")
        return value

    def _scrub(self, text: str) -> str:
        name = self.config.password_env
        secret = self._environ.get(name) if name else None
        return text.replace(secret, "********") if secret else text

    async def send(self, edition: Edition, recipient: str, msg_id: str) -> None:
        data = message_bytes(build_message(edition, self.config, recipient, msg_id))
        password = self._password()
        where = f"{self.config.host}:{self.config.port}"
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send_sync, data, recipient, password),
                                   self.config.timeout)
        except DeliveryError as e:
            raise type(e)(self._scrub(str(e))) from None
        except TimeoutError:
            raise TemporaryDeliveryError(f"{where}: no answer within {self.config.timeout:g} s") from None
        except Exception as e:  # noqa: BLE001 -- every failure becomes a reason; the cause is not chained
            err = classify_smtp_error(e, where)
            raise type(err)(self._scrub(str(err))) from None

    def _send_sync(self, data: bytes, recipient: str, password: str | None) -> None:
        c = self.config
        context = ssl.create_default_context(cafile=str(c.ca_file) if c.ca_file else None)
        smtp: smtplib.SMTP
        if c.security == "ssl":
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        try:
            smtp.ehlo()
            if c.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if c.username and password is not None:
                _login(smtp, c.username, password)
            sender = parseaddr(c.sender)[1]
            options = ["SMTPUTF8"] if smtp.has_extn("smtputf8") and not recipient.isascii() else []
            smtp.sendmail(sender, [recipient], data, mail_options=options)
        finally:
            try:
                smtp.quit()
            except Exception:  # noqa: BLE001 -- the message is sent (or failed) already; a bad QUIT changes nothing
                smtp.close()
