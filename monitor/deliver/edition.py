"""What every channel is handed: one published week, complete, with nothing left to look up.

Channels never read the store: the orchestration (:mod:`monitor.deliver.run`) builds an
:class:`Edition` from the digest the week was published with, and each channel turns it into
its own message (a mail, a chat notification).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from ..digest import DigestView

__all__ = ["Channel", "Edition"]


@dataclass(frozen=True)
class Edition:
    """One published week as every channel gets it."""

    week_ending: dt.date
    title: str  # the digest title (the mail's subject)
    view: DigestView  # every text cleaned by digest.present: safe to escape and send
    page_url: str  # absolute URL of the digest page
    site_title: str
    site_url: str  # ends with "/"
    published_at: dt.datetime  # UTC-aware: when the week was published (a mail's Date)

    def __post_init__(self) -> None:
        if self.published_at.tzinfo is None:
            raise ValueError("Edition.published_at must be timezone-aware")


class Channel(Protocol):
    """A way an edition reaches people. ``name`` is the ledger's channel (``email``, ``notify``).

    ``send`` raises :class:`~monitor.errors.DeliveryError` (temporary or permanent) and
    nothing else on purpose; it is called once per (edition, recipient) the ledger says is due.
    """

    name: str

    def recipients(self) -> list[str]:
        """Who gets each edition: ledger keys, never secrets (an address, a masked URL)."""
        ...

    def message_id(self, edition: Edition, recipient: str, generation: int = 0) -> str:
        """Stable per (site, week, recipient, resend generation): a re-send after a crash is recognisable."""
        ...

    async def send(self, edition: Edition, recipient: str, message_id: str) -> None: ...

    def preview(self, edition: Edition, recipient: str, message_id: str) -> tuple[str, bytes]:
        """For ``--dry-run``: (file suffix, bytes) of exactly what would be sent."""
        ...
