"""URL normalization and post identity.

A post is the same post across runs, pages and feeds when its identity is the same::

    wp:{host}:{wp_id}        when the WordPress post id is known (post-123, ?p=123)
    url:{normalize_url(url)} otherwise
    guid:{guid}              when there is no URL at all

``host`` is the lower-cased host without a leading ``www.``, so the id survives a site moving
between ``www.`` and the bare domain or between http and https.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..models import PostData
from ..urls import TRACKING_PARAMS, normalize_url

__all__ = ["TRACKING_PARAMS", "normalize_url", "post_identity", "wp_post_id"]  # URL rules: monitor.urls

_WP_QUERY = re.compile(r"(?:^|[?&;])(?:amp;)?(p|page_id)=(\d{1,12})(?=$|[&;#])")


def wp_post_id(url_or_guid: str | None) -> int | None:
    """The WordPress post id in ``?p=123`` / ``?page_id=123`` (a guid or a shortlink), else None."""
    if not url_or_guid:
        return None
    try:
        query = urlsplit(url_or_guid.strip()).query
    except ValueError:
        return None
    m = _WP_QUERY.search(query)
    if not m:
        return None
    n = int(m.group(2))
    return n if n > 0 else None


def _identity_host(url: str | None) -> str:
    if not url:
        return ""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""
    return host.removeprefix("www.")


def post_identity(post: PostData) -> tuple[str, str]:
    """``(identity, url_key)`` for a post; the same post gives the same pair on every run."""
    url_key = normalize_url(post.url) if post.url else ""
    if post.wp_id is not None:
        host = _identity_host(post.url) or _identity_host(post.guid)
        if host:
            return f"wp:{host}:{post.wp_id}", url_key
    if url_key:
        return f"url:{url_key}", url_key
    if post.guid:
        return f"guid:{post.guid.strip()}", url_key
    raise ValueError("a post needs a url, a guid or a WordPress id to have an identity")
