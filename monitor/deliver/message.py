"""The digest as a mail: ``multipart/alternative``, the house-style text and an HTML part like the page.

Pure: an :class:`~monitor.deliver.edition.Edition` in, an :class:`email.message.EmailMessage` out.
Every text comes from :func:`monitor.digest.present` (cleaned) and the HTML template escapes it,
through the one jinja2 environment of :mod:`monitor.publish`: no second cleaner. Headers use
``email.policy.SMTP``: non-ASCII (en dashes, Persian) is RFC 2047-encoded UTF-8, lines end in CRLF.
"""

from __future__ import annotations

import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from ..config import EmailConfig
from ..digest import render_text, site_slug
from ..publish import environment
from .edition import Edition

__all__ = ["build_message", "list_id", "message_bytes", "message_id", "render_html", "render_plain"]

#: Headers are written on one line up to RFC 5322's 998 characters: Python's folder puts a space on both
#: sides of a fold between plain text and an encoded word ("Albania  – Iran…" after unfolding), so a
#: digest title must not be folded; :data:`SUBJECT_MAX` keeps even a pathological one within the limit.
WIRE = SMTP.clone(max_line_length=998)
SUBJECT_MAX = 400


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes on the wire (CRLF, 7-bit headers, bodies quoted-printable)."""
    return msg.as_bytes(policy=WIRE)


def _subject(title: str) -> str:
    if len(title) <= SUBJECT_MAX:
        return title
    return title[:SUBJECT_MAX].rsplit(" ", 1)[0] + " …"


def _domain(config: EmailConfig, edition: Edition) -> str:
    addr = parseaddr(config.sender)[1]
    return addr.rpartition("@")[2].lower() or (urlsplit(edition.site_url).hostname or "localhost")


def message_id(edition: Edition, recipient: str, domain: str, generation: int = 0) -> str:
    """``<iran-interlink-weekly-digest-2020-10-30.3f2a…@example.org>``: the same for every attempt to the
    same recipient of the same week (and resend generation), whatever process sends it."""
    key = hashlib.sha256(f"{edition.site_url}\n{recipient.lower()}".encode()).hexdigest()[:16]
    gen = f".r{generation}" if generation else ""
    return f"<{edition.view.guid}.{key}{gen}@{domain}>"


def list_id(edition: Edition) -> str:
    """RFC 2919: ``"Iran Interlink Weekly Digest" <iran-interlink-weekly-digest.example.org>``."""
    host = urlsplit(edition.site_url).hostname or "localhost"
    name = f"{edition.site_title} Weekly Digest".replace('"', "'")
    return f'"{name}" <{site_slug(edition.site_title) or "digest"}-weekly-digest.{host}>'


def render_plain(edition: Edition, unsubscribe: str | None = None) -> str:
    """The text part: the digest in the house style (``++`` items, source lines, "Read more →" URLs)."""
    text = render_text(edition.view, root=edition.site_url)
    text += f"\n--\nRead this digest on the web: {edition.page_url}\n"
    if unsubscribe:
        text += f"Unsubscribe: {unsubscribe}\n"
    return text


def render_html(edition: Edition, unsubscribe: str | None = None) -> str:
    """The HTML part (templates/email.html): the page's look, styles inline, absolute links, no images."""
    return environment().get_template("email.html").render(
        view=edition.view, site_title=edition.view.site_title, site_url=edition.site_url,
        page_url=edition.page_url, unsubscribe=unsubscribe,
    )


def build_message(edition: Edition, config: EmailConfig, recipient: str, msg_id: str) -> EmailMessage:
    """One recipient's mail of one edition."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = _subject(edition.title)
    name, addr = parseaddr(config.sender)
    msg["From"] = Address(display_name=name, addr_spec=addr) if name else addr
    msg["To"] = recipient
    if config.reply_to:
        rname, raddr = parseaddr(config.reply_to)
        msg["Reply-To"] = Address(display_name=rname, addr_spec=raddr) if rname else raddr
    msg["Date"] = format_datetime(edition.published_at)
    msg["Message-ID"] = msg_id
    msg["List-Id"] = list_id(edition)
    msg["List-Archive"] = f"<{edition.site_url}index.html>"
    unsubscribe = config.unsubscribe
    if unsubscribe:
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        if unsubscribe.startswith(("http://", "https://")):
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    msg["Precedence"] = "list"
    msg.set_content(render_plain(edition, unsubscribe), charset="utf-8", cte="quoted-printable")
    msg.add_alternative(render_html(edition, unsubscribe), subtype="html", charset="utf-8",
                        cte="quoted-printable")
    return msg
