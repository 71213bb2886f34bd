"""RSS / Atom / RDF feeds -> posts, through feedparser.

feedparser never raises; it sets ``bozo``. We always look at it::

    bozo, no entries, no feed title   -> FeedError("malformed feed: <reason>")
    bozo, document cut off (no closing </rss>, </feed> or </rdf:RDF>)
                                      -> FeedError("malformed feed: the document is cut off …")
    no entries and not a feed at all  -> FeedError("not a feed: ...")   (e.g. an HTML page)
    bozo but entries                  -> keep them, add a warning to Page.warnings

feedparser is called with ``sanitize_html=False, resolve_relative_uris=False``: content is stored
raw and sanitized once, at publish time, and skipping both passes is most of feedparser's cost.
Nor is it given the feed's URL as the base for links when it does not need one (no xml:base, links
and ids already absolute; see :func:`_read`): with a base it joins URLs at every element.
It is given the body wrapped in ``io.BytesIO`` (a ``str`` that looks like a path or URL would be
opened), after :func:`_defuse_charrefs` has dropped references to characters XML forbids
(``&#xD800;`` made feedparser itself raise). External entities are never fetched: feedparser
strips every ``<!ENTITY>`` declaration that is not a plain literal before the SAX parser sees it
(we do it again, properly, in :func:`_defuse_doctype`: feedparser's own pass misses a DOCTYPE that
shares a line with the XML prolog), external general entities are off, and expat caps entity
amplification anyway (see tests/test_extract_feed.py).

Per entry: ``link`` (absolute; none when it is not a URL), ``title`` (plain text), ``published``
(then ``updated``) as an aware UTC datetime (a date without a zone is read as UTC; a date-only
value is 00:00 in the configured zone with ``date_only``; an unparseable, pre-1970 or far-future
date is None, with a warning for the last two), ``summary`` -> excerpt (HTML stripped, then the
Iran Interlink source line and repeated title as for pages), ``content[0]`` -> content (raw HTML),
``id`` -> guid, the WordPress id from ``<post-id>``, the guid or the link. Author: the source
line's author when the excerpt has one (as on the page, so the same post gets the same author from
either), else the entry's author, else the feed's.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email.utils
import io
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import feedparser
from feedparser.exceptions import NonXMLContentType
from feedparser.urls import _urljoin as _fp_urljoin  # how feedparser resolves a link: compared with it
from feedparser.urls import make_safe_absolute_uri

from ..errors import FeedError
from ..models import Page, PostData
from .html import html_to_plain, html_to_text, local_midnight
from .identity import wp_post_id
from .sourceline import collapse, split_excerpt

__all__ = ["extract_feed"]

_UTC = dt.UTC
_DATE_ONLY = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_FUTURE_SLACK = dt.timedelta(days=2)
_OLDEST_YEAR = 1970


_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_DOCTYPE_SUBSET = re.compile(rb"(<!DOCTYPE\b[^\[>]*)\[(.*?)\]\s*>", re.DOTALL | re.IGNORECASE)
_ENTITY_DECL = re.compile(
    rb"<!ENTITY\s+(%\s*)?([\w.:-]+)\s+(\"[^\"]*\"|'[^']*'|[^>]*)\s*>", re.DOTALL | re.IGNORECASE
)


def _defuse_doctype(body: bytes) -> bytes:
    """Keep only literal entities (no references, nothing external) in the DOCTYPE's internal subset.

    feedparser means to do this, but its patterns only see declarations at the start of a line,
    so ``<?xml ...?><!DOCTYPE rss [<!ENTITY a "&b;&b;...">]>`` on one line reaches expat intact
    (expat then caps the expansion, but only after ~1 s of callbacks).
    """
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = body.decode("utf-16", "replace")
        if "<!ENTITY" not in text[:65536].upper():
            return body
        text = re.sub(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)[\"'][^\"']*[\"']", r'\1"utf-8"', text, count=1)
        body = text.encode("utf-8")
    m = _FIRST_ELEMENT.search(body)
    prolog_end = m.start() if m else len(body)
    prolog = body[:prolog_end]
    if b"<!ENTITY" not in prolog.upper():
        return body

    def keep_literal_entities(dm: re.Match[bytes]) -> bytes:
        safe = [
            e.group(0)
            for e in _ENTITY_DECL.finditer(dm.group(2))
            if not e.group(1)  # no parameter entities
            and e.group(3)[:1] in (b'"', b"'")  # a literal, not SYSTEM/PUBLIC
            and b"&" not in e.group(3)
            and b"%" not in e.group(3)  # that refers to nothing else
        ]
        return dm.group(1).rstrip() + (b" [" + b"".join(safe) + b"]>" if safe else b">")

    return _DOCTYPE_SUBSET.sub(keep_literal_entities, prolog, count=1) + body[prolog_end:]


_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _xml_char(code: int) -> bool:
    """Whether XML 1.0 allows the code point (a character reference to anything else is fatal)."""
    if code < 0x20:
        return code in (0x9, 0xA, 0xD)
    return code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def _drop_bad_charref(m: re.Match[bytes]) -> bytes:
    digits = m.group(1) if m.group(1) is not None else m.group(2)
    if len(digits.lstrip(b"0")) > 7:  # past U+10FFFF in either base (and no 5,000-digit int())
        return b""
    code = int(m.group(1), 16) if m.group(1) is not None else int(m.group(2))
    return m.group(0) if _xml_char(code) else b""


def _defuse_charrefs(body: bytes) -> bytes:
    """Drop character references to what XML forbids (``&#xD800;``, ``&#0;``, ``&#99999999;``).

    The strict parser rejects the whole feed for one of them, and feedparser's lenient fallback
    raises on a lone surrogate (``chr(0xD800).encode()``) or an out-of-range number.
    """
    if b"&#" not in body:
        return body
    return _CHARREF.sub(_drop_bad_charref, body)


def _name(detail: Mapping[str, Any] | None, fallback: str | None) -> str:
    """An author's name: "Jane Doe" rather than RSS's "jane@example.com (Jane Doe)"."""
    name = (detail or {}).get("name") or fallback or ""
    return collapse(name)


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = collapse(str(exc)) or type(exc).__name__
    return text[:300]


def _html_text(detail: Mapping[str, Any] | None, value: str) -> tuple[str, str | None]:
    kind = (detail or {}).get("type", "text/html")
    if kind == "text/plain":
        return collapse(value), None
    return html_to_text(value)


def _parse_raw_date(raw: str) -> dt.datetime | None:
    """What feedparser could not: RFC 822 without a zone, ISO 8601 variants. Naive -> UTC."""
    raw = raw.strip()
    when: dt.datetime | None = None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        try:
            when = dt.datetime.fromisoformat(raw)
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_UTC)
    return when


def _entry_date(
    entry: Mapping[str, Any], tz: ZoneInfo, now: dt.datetime, title: str, warnings: list[str]
) -> tuple[dt.datetime | None, bool]:
    for key in ("published", "updated", "created"):
        raw = entry.get(key) or ""
        parsed = entry.get(f"{key}_parsed")
        if not raw and not parsed:
            continue
        if m := _DATE_ONLY.match(raw):
            try:
                return local_midnight(dt.date(int(m[1]), int(m[2]), int(m[3])), tz), True
            except ValueError:
                return None, False
        when: dt.datetime | None = None
        if parsed:
            try:
                y, mo, d, h, mi, sec = parsed[:6]
                when = dt.datetime(y, mo, d, h, mi, sec, tzinfo=_UTC)
            except (TypeError, ValueError):
                when = None
        if when is None and raw:
            when = _parse_raw_date(raw)
        if when is None:
            return None, False
        if when.year < _OLDEST_YEAR or when > now + _FUTURE_SLACK:
            warnings.append(f"ignored the implausible date {raw or when.isoformat()!r} of {title!r}")
            return None, False
        return when.astimezone(_UTC), False
    return None, False


def _wp_id(entry: Mapping[str, Any], guid: str | None, link: str) -> int | None:
    post_id = str(entry.get("post-id") or "").strip()
    if post_id.isdigit() and int(post_id) > 0:
        return int(post_id)
    return wp_post_id(guid) or wp_post_id(link)


# feedparser resolves links and ids against a base: the Content-Location (the feed's URL) or an
# xml:base. Given a base, it joins URLs at every element, a fifth of its time; without one it gives
# links and ids as written. So a feed is read without a base first, and again with it only when the
# base could matter (see _read). These find "base" in a start tag of the lower-cased body outside
# its quoted values (so any xml:base attribute), as the strict XML parser reads tags, and anywhere
# in a start tag as feedparser's lenient parser (for malformed feeds) does: up to a "<" or ">".
_BASE_IN_TAG = re.compile(rb"""<[a-z_:\x80-\xff](?:[^<>"']|"[^"<]*"|'[^'<]*')*base""")
_BASE_IN_LENIENT_TAG = re.compile(rb"<[a-z_:\x80-\xff][^<>]*base")
# Encodings in which markup is ASCII bytes, so that _BASE_IN_TAG sees every attribute name
_ASCII_MARKUP = re.compile(r"utf-8|ascii|iso8859-\d+|cp125\d")
_BEFORE_QUERY = re.compile(r"[^?#]*")


def _feedparser(body: bytes, response_headers: dict[str, str], url: str) -> Any:
    try:
        return feedparser.parse(io.BytesIO(body), response_headers=response_headers,
                                sanitize_html=False, resolve_relative_uris=False)
    except Exception as e:  # feedparser promises never to raise; wrap it if it ever does
        raise FeedError(f"malformed feed: {type(e).__name__}: {e}", url=url) from e


def _same_with_base(value: str, base: str) -> bool:
    """Whether feedparser, given ``base``, gives ``value`` (a link or id it gave without one) unchanged.

    It does when joining ``base`` and ``value`` gives ``value``. For a link it also repairs "&amp;"
    (after joining, so in the join it saw the unrepaired text): the same when the repair touched
    only the query or fragment, which the join copies; so no "&" before them.
    """
    before = _BEFORE_QUERY.match(value)
    return before is not None and "&" not in before.group() and _fp_urljoin(base, value) == value


def _read(body: bytes, response_headers: dict[str, str], url: str) -> Any:
    """``feedparser.parse(body, response_headers=...)`` (with a content-location), in one pass without
    the base when that gives the same links and ids: no tag with "base" in it (no xml:base), an
    ASCII-compatible encoding, every link and id (and next-page link) unchanged by the base, and a
    base that stays itself (feedparser re-joins it with itself at every element)."""
    base = response_headers["content-location"]
    lowered = body.lower()
    if base and make_safe_absolute_uri(base, base) in ("", base) and not _BASE_IN_TAG.search(lowered):
        without = {k: v for k, v in response_headers.items() if k != "content-location"}
        parsed = _feedparser(body, without, url)
        lenient = parsed.get("bozo")  # (maybe) read by the lenient parser
        encoding = parsed.get("encoding") or ""
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            encoding = ""
        entries = parsed.get("entries") or []
        values = [v for e in entries for v in (e.get("link"), e.get("id")) if v is not None]
        values += [lk["href"] for lk in (parsed.get("feed") or {}).get("links") or []
                   if "href" in lk and lk.get("rel") == "next"]  # (the only feed link read)
        if (
            _ASCII_MARKUP.fullmatch(encoding)
            and not (lenient and _BASE_IN_LENIENT_TAG.search(lowered))
            and all(_same_with_base(v, base) for v in values)
        ):
            return parsed
    return _feedparser(body, response_headers, url)


def extract_feed(
    body: bytes,
    *,
    url: str,
    tz: ZoneInfo,
    headers: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> Page:
    """Posts in one RSS/Atom/RDF document. Raises FeedError when it is not a usable feed."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers.setdefault("content-location", url)
    # Without a Content-Type feedparser flags every feed as bozo; application/xml means "trust the
    # XML prolog" (RFC 3023), which is what a feed without headers needs.
    response_headers.setdefault("content-type", "application/xml")
    parsed = _read(_defuse_charrefs(_defuse_doctype(body)), response_headers, url)
    entries = parsed.get("entries") or []
    feed = parsed.get("feed") or {}
    version = parsed.get("version") or ""
    exc = parsed.get("bozo_exception")
    bozo_reason = _reason(exc) if parsed.get("bozo") else None
    if entries and isinstance(exc, NonXMLContentType):
        bozo_reason = None  # served as text/html or text/plain but parsed fine: common, harmless
    if not entries:
        if bozo_reason is not None and not feed.get("title"):
            raise FeedError(f"malformed feed: {bozo_reason}", url=url)
        if not version:
            raise FeedError("not a feed: no RSS, Atom or RDF document in the response", url=url)
    if bozo_reason is not None and not _complete(body):
        # a cut-off document: whatever was recovered is a partial read, not the feed
        raise FeedError(f"malformed feed: the document is cut off before its end ({bozo_reason})", url=url)
    warnings: list[str] = []
    if bozo_reason is not None:
        warnings.append(
            f"feed is not well-formed ({bozo_reason}); read leniently, {len(entries)} entries recovered"
        )
    now = now or dt.datetime.now(_UTC)
    feed_author = _name(feed.get("author_detail"), feed.get("author"))
    entry_authors: set[str] = set()
    posts: list[PostData] = []
    for entry in entries:
        title = entry.get("title") or ""
        if (entry.get("title_detail") or {}).get("type", "text/plain") != "text/plain":
            title = html_to_plain(title)
        title = collapse(title)
        guid = (entry.get("id") or "").strip() or None
        link = (entry.get("link") or "").strip()
        if not link and guid and guid.startswith(("http://", "https://")):
            link = guid
        try:
            link = urljoin(url, link) if link else ""
        except ValueError:  # not a URL ("https://[::1/"): as if there were none
            link = ""
        if not link and not guid:
            warnings.append(f"skipped an entry with neither a link nor an id ({title[:60]!r})")
            continue
        published, date_only = _entry_date(entry, tz, now, title, warnings)
        contents = entry.get("content") or []
        content = contents[0].get("value", "") if contents else ""
        if entry.get("summary"):
            text, trailing = _html_text(entry.get("summary_detail"), entry["summary"])
        elif content:
            text, trailing = html_to_text(content)
        else:
            text, trailing = "", None
        entry_author = _name(entry.get("author_detail"), entry.get("author")) or feed_author
        if entry_author:
            entry_authors.add(entry_author)
        excerpt, author, outlet, original = split_excerpt(
            text, title, default_author=entry_author, trailing_link=trailing
        )
        posts.append(
            PostData(
                url=link,
                title=title,
                published=published,
                date_only=date_only,
                excerpt=excerpt,
                content=content,
                author=author,
                outlet=outlet,
                original_date=original,
                guid=guid,
                wp_id=_wp_id(entry, guid, link),
                origin="feed",
            )
        )
    links = feed.get("links") or []
    next_url = next((urljoin(url, lk["href"]) for lk in links if lk.get("rel") == "next" and lk.get("href")),
                    None)
    page_author = feed_author or (entry_authors.pop() if len(entry_authors) == 1 else None)
    if version.startswith("atom"):
        rule = "atom"
    elif version in ("rss090", "rss10"):
        rule = "rdf"
    else:
        rule = "rss"
    return Page(
        kind="feed",
        posts=tuple(posts),
        rule=rule,
        next_url=next_url,
        feed_url=None,
        author=page_author or None,
        warnings=tuple(warnings),
    )


_CLOSERS = (b"</rss>", b"</feed>", b"</rdf:rdf>", b"<\x00/\x00")


def _complete(body: bytes) -> bool:
    """Whether the document reaches its root's closing tag (a truncated body does not)."""
    tail = body[-256:].lower()
    if tail.startswith(b"\xff\xfe") or b"\x00" in tail:  # UTF-16: compare without the NULs
        tail = tail.replace(b"\x00", b"")
    return any(c in tail for c in _CLOSERS[:3])
