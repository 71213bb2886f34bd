"""The extract stage: fetched bytes -> :class:`~monitor.models.Page` of :class:`~monitor.models.PostData`.

::

    extract(body, url=, tz=, headers=, kind=, selectors=)
        kind="auto": a feed when the body starts (after BOM, XML prolog, comments, doctype)
        with <rss, <feed or <rdf:RDF, HTML when it starts with <html / <!doctype html,
        else by Content-Type (…xml, rss, atom, rdf -> feed), else HTML
      -> feed.extract_feed   feedparser; FeedError when the feed is unusable
      -> html.extract_html   encoding.decode_html, then the rules hatom / block / text / generic
                             (or the source's CSS selectors); sourceline for the excerpt

    merge(page_posts, feed_posts)   one PostData per post for ``type: auto`` sources (below)
    normalize_url / post_identity / wp_post_id   (identity.py)

A page with zero posts is not an error here: the pipeline knows how many the page had before.

Every text field of every post leaves :func:`extract` clean (:func:`clean_post`): no lone
surrogates (they cannot be encoded, so they would break hashing and storing), no NUL or other C0/C1
control characters, no Unicode noncharacters. A page can carry them (``&#xD800;``, raw control
bytes); nothing after this stage ever sees them.

Merge rule (a post seen on the page and in the feed becomes one PostData, origin="both"):

- Posts match by WordPress id when both sides know it (different ids never match), else by
  normalized URL.
- title, excerpt, author, outlet, original_date and url come from the PAGE (what the site shows
  readers); a field the page left empty is filled from the feed.
- content and guid come from the FEED; wp_id from whichever knows it (page first).
- published: the feed's datetime when the page's is a date-only "Posted on" and the feed's falls on
  that same local date (the feed adds the time of day); otherwise the page's; the feed's when the
  page shows no date at all.
- Posts only on the page keep origin="page", only in the feed origin="feed". Order: page order,
  then the feed-only posts in feed order.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ..config import Selectors
from ..errors import ExtractError, FeedError
from ..models import Page, PostData
from ..text import NOT_TEXT as _NOT_TEXT
from ..text import clean_str
from .encoding import decode_html
from .feed import extract_feed
from .html import Explanation, explain_html, extract_html
from .identity import normalize_url, post_identity, wp_post_id
from .sourceline import parse_source_line, strip_repeated_title

__all__ = [
    "Explanation",
    "ExtractError",
    "FeedError",
    "clean_post",
    "clean_str",
    "decode_html",
    "explain",
    "extract",
    "merge",
    "normalize_url",
    "parse_source_line",
    "post_identity",
    "sniff_kind",
    "strip_repeated_title",
    "wp_post_id",
]

_FIRST_TAG = re.compile(
    rb"(?:\s|<\?.*?\?>|<!--.*?-->|<!doctype[^\[>]*(?:\[.*?\])?\s*>)*<([a-z][\w:.-]*)",
    re.DOTALL | re.IGNORECASE,
)
_FEED_TAGS = (b"rss", b"feed", b"rdf:rdf", b"rdf")
_BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip",
                 "application/gzip", "application/octet-stream")


_TEXT_FIELDS = ("url", "title", "excerpt", "content", "author", "outlet", "guid")


def clean_post(post: PostData) -> PostData:
    """``post`` with every text field through :func:`clean_str` (the same object when already clean)."""
    changes: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = getattr(post, name)
        if value and _NOT_TEXT.search(value):
            changes[name] = clean_str(value)
    return dataclasses.replace(post, **changes) if changes else post


def _clean_page(page: Page) -> Page:
    posts = tuple(clean_post(p) for p in page.posts)
    author = clean_str(page.author) if page.author else page.author
    if author == page.author and all(a is b for a, b in zip(posts, page.posts, strict=False)):
        return page
    return dataclasses.replace(page, posts=posts, author=author)


def _content_type(headers: Mapping[str, str] | None) -> str:
    for k, v in (headers or {}).items():
        if k.lower() == "content-type":
            return v.lower()
    return ""


def _head(body: bytes) -> bytes:
    head = body[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "ignore").encode("utf-8", "ignore")
    return head.removeprefix(b"\xef\xbb\xbf")


def sniff_kind(body: bytes, headers: Mapping[str, str] | None = None) -> Literal["html", "feed"]:
    """"feed" or "html", from the first element of the body, else the Content-Type."""
    head = _head(body)
    m = _FIRST_TAG.match(head)
    if m:
        tag = m.group(1).lower()
        if tag in _FEED_TAGS:
            return "feed"
        if tag == b"html":
            return "html"
    ctype = _content_type(headers)
    if "html" in ctype:
        return "html"
    if any(word in ctype for word in ("xml", "rss", "atom", "rdf")):
        return "feed"
    return "feed" if head.lstrip().startswith(b"<?xml") else "html"


def extract(
    body: bytes,
    *,
    url: str,
    tz: ZoneInfo,
    headers: Mapping[str, str] | None = None,
    kind: Literal["auto", "html", "feed"] = "auto",
    selectors: Selectors | None = None,
) -> Page:
    """Read posts from one fetched document.

    Raises :class:`FeedError` for an unusable feed and :class:`ExtractError` for a body that is
    neither HTML nor a feed (empty, binary). Zero posts is a valid result (``posts=()``).
    """
    if not body.strip():
        raise ExtractError("empty response body", url=url)
    ctype = _content_type(headers)
    head = _head(body)
    markup = _FIRST_TAG.match(head)
    if (ctype.startswith(_BINARY_TYPES) or b"\x00" in head) and not markup:
        # a stray NUL in a document that starts as markup is dirt in the text, not binary data
        raise ExtractError(f"not HTML or a feed ({ctype or 'binary data'})", url=url)
    if kind == "auto":
        kind = sniff_kind(body, headers)
    if kind == "feed":
        return _clean_page(extract_feed(body, url=url, tz=tz, headers=headers))
    if kind == "html":
        return _clean_page(extract_html(decode_html(body, headers), url=url, tz=tz, selectors=selectors))
    raise ValueError(f"kind must be 'auto', 'html' or 'feed', not {kind!r}")


def explain(
    body: bytes,
    *,
    url: str,
    tz: ZoneInfo,
    headers: Mapping[str, str] | None = None,
    selectors: Selectors | None = None,
) -> Explanation | None:
    """Why :func:`extract` reads an HTML page the way it does (``monitor check`` prints it): the
    rule that matched and on what, the older-posts link and why, the links not followed and the
    blocks skipped as chrome. None for a feed or a body that is not HTML. Pure, like extract()."""
    try:
        if not body.strip() or sniff_kind(body, headers) != "html":
            return None
        return explain_html(decode_html(body, headers), url=url, tz=tz, selectors=selectors)
    except ExtractError:
        return None


def _combine(page: PostData, feed: PostData) -> PostData:
    published, date_only = page.published, page.date_only
    if published is None:
        published, date_only = feed.published, feed.date_only
    elif (
        page.published is not None
        and page.date_only
        and feed.published is not None
        and not feed.date_only
        and feed.published.astimezone(page.published.tzinfo).date() == page.published.date()
    ):
        published, date_only = feed.published, False
    return dataclasses.replace(
        page,
        published=published,
        date_only=date_only,
        excerpt=page.excerpt or feed.excerpt,
        author=page.author or feed.author,
        outlet=page.outlet or feed.outlet,
        original_date=page.original_date or feed.original_date,
        content=feed.content,
        guid=feed.guid,
        wp_id=page.wp_id if page.wp_id is not None else feed.wp_id,
        origin="both",
    )


def merge(page_posts: Sequence[PostData], feed_posts: Sequence[PostData]) -> tuple[PostData, ...]:
    """One PostData per post seen on the page and/or in the feed (see the module docstring)."""
    by_id: dict[int, int] = {}
    by_url: dict[str, int] = {}
    for i, f in enumerate(feed_posts):
        if f.wp_id is not None:
            by_id.setdefault(f.wp_id, i)
        if key := normalize_url(f.url):
            by_url.setdefault(key, i)
    used: set[int] = set()
    out: list[PostData] = []
    for p in page_posts:
        j = by_id.get(p.wp_id) if p.wp_id is not None else None
        if j is None or j in used:
            j = by_url.get(normalize_url(p.url))
            if j is not None and p.wp_id is not None and feed_posts[j].wp_id not in (None, p.wp_id):
                j = None  # same URL, different WordPress posts: trust the ids
        if j is not None and j not in used:
            used.add(j)
            out.append(_combine(p, feed_posts[j]))
        else:
            out.append(p if p.origin == "page" else dataclasses.replace(p, origin="page"))
    out.extend(
        f if f.origin == "feed" else dataclasses.replace(f, origin="feed")
        for i, f in enumerate(feed_posts)
        if i not in used
    )
    return tuple(out)
