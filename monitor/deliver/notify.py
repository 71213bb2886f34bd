"""The notify channel: "a new digest is out: title + link" to every Apprise URL in ``deliver.notify``.

Apprise (the library changedetection.io uses) speaks to ntfy, Matrix, Slack, Telegram, Discord,
a JSON webhook and a hundred more from one URL each, so there is no per-service code here. An
Apprise URL often holds a token: the ledger, the logs and the status only ever show it masked
(Apprise's own privacy form, without the query) plus a short hash that tells two URLs apart.

Apprise reports only success or failure; its log lines say why, and are captured as the reason.
It gives no status code to tell a temporary failure from a permanent one, so every failure is
temporary: retried with backoff, and given up after :data:`~monitor.deliver.ledger.MAX_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, TemporaryDeliveryError
from .edition import Edition

__all__ = ["NotifyChannel", "check_urls", "notification", "recipient_key"]


def _apprise() -> Any:
    import apprise  # imported when notify is configured: it loads its plugins (a fifth of a second)

    return apprise


def check_urls(urls: Sequence[str], key: str) -> None:
    """Raise :class:`ConfigError` naming ``key[i]`` for a URL no Apprise plugin takes."""
    apprise = _apprise()
    for i, url in enumerate(urls):
        if apprise.Apprise.instantiate(url) is None:
            raise ConfigError(f"{key}[{i}]", "not a URL Apprise knows (see https://github.com/caronc/apprise/wiki)")


def recipient_key(url: str) -> str:
    """``json://127.0.0.1:9/hook #3fa2c1``: Apprise's masked URL without its query, and a hash of the whole."""
    plugin = _apprise().Apprise.instantiate(url)
    masked = plugin.url(privacy=True).split("?", 1)[0] if plugin is not None else url.split("://", 1)[0] + "://…"
    return f"{masked} #{hashlib.sha256(url.encode()).hexdigest()[:6]}"


def notification(edition: Edition) -> tuple[str, str]:
    """(title, body): the announcement."""
    return (f"{edition.site_title} Weekly Digest",
            f"A new digest is out: {edition.title}\n{edition.page_url}")


class NotifyChannel:
    """``deliver.notify``: the channel ``notify``, one recipient per URL."""

    name = "notify"

    def __init__(self, urls: Sequence[str]):
        self._by_key = {recipient_key(u): u for u in urls}

    def recipients(self) -> list[str]:
        return list(self._by_key)

    def message_id(self, edition: Edition, recipient: str, generation: int = 0) -> str:
        gen = f".r{generation}" if generation else ""
        key = hashlib.sha256(f"{edition.site_url}\n{recipient}".encode()).hexdigest()[:16]
        return f"{edition.view.guid}.{key}{gen}"

    def preview(self, edition: Edition, recipient: str, msg_id: str) -> tuple[str, bytes]:
        title, body = notification(edition)
        doc = {"to": recipient, "title": title, "body": body, "id": msg_id}
        return ".json", json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n"

    async def send(self, edition: Edition, recipient: str, msg_id: str) -> None:
        url = self._by_key.get(recipient)
        if url is None:
            raise TemporaryDeliveryError(f"{recipient}: no longer in deliver.notify")
        title, body = notification(edition)
        ok, log = await asyncio.to_thread(self._notify, url, title, body)
        if not ok:
            raise TemporaryDeliveryError(f"{recipient}: {log or 'Apprise could not deliver the notification'}")

    @staticmethod
    def _notify(url: str, title: str, body: str) -> tuple[bool, str]:
        apprise = _apprise()
        ap = apprise.Apprise()
        ap.add(url)
        with apprise.LogCapture(level=logging.WARNING) as output:
            ok = ap.notify(body=body, title=title)
            text = output.getvalue()
        lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
        return bool(ok), "; ".join(lines)[-300:].replace(url, recipient_key(url))
