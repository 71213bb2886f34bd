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
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..models import PostData

__all__ = ["TRACKING_PARAMS", "normalize_url", "post_identity", "wp_post_id"]

#: Query parameters that never identify content (tracking, share and cache-busting noise).
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "twclid", "wbraid", "gbraid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src",
    "replytocom", "ver",
})
_TRACKING_PREFIXES = ("utm_",)
# "v" is a cache-buster on WordPress assets (?v=1.2.3, ?v=1603880000) but content on other
# sites (?v=dQw4w9WgXcQ): drop it only when its value is a version number or a timestamp.
_VERSIONISH = re.compile(r"^\d+(?:\.\d+)*$")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Everything printable in ASCII stays literal; quote() then only encodes spaces, controls and
# non-ASCII characters (as UTF-8), so a raw "/جنگ/" and an encoded "/%d8%ac.../" come out the same.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"<>\\^`{|}')
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _pct_normalize(s: str) -> str:
    """Percent-encode non-ASCII, upper-case escapes, decode escaped unreserved characters."""

    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if ch in _UNRESERVED else "%" + m.group(1).upper()

    return _PCT.sub(fix, quote(s, safe=_SAFE + "%"))


def _unescape_key(key: str) -> str:
    """``amp;ver`` -> ``ver``: a query that was HTML-escaped twice (``&amp;#038;``) on the way."""
    while key.startswith("amp;"):
        key = key[4:]
    return key


def _keep_param(key: str, value: str) -> bool:
    k = key.lower()
    if k in TRACKING_PARAMS or k.startswith(_TRACKING_PREFIXES):
        return False
    return not (k == "v" and _VERSIONISH.match(value))


def normalize_url(url: str) -> str:
    """A canonical form of ``url`` for comparing posts; idempotent.

    Lower-cases scheme and host, drops default ports, the fragment and tracking/cache-busting
    parameters (:data:`TRACKING_PARAMS`, ``utm_*``, a numeric ``v``), sorts the remaining
    parameters, normalizes percent-escapes (raw and encoded non-ASCII slugs compare equal), and
    drops a trailing ``/`` (``/a/b/`` == ``/a/b``; the root stays ``/``). An unparseable URL comes
    back stripped but otherwise unchanged.
    """
    url = (url or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. an unclosed IPv6 bracket or a non-numeric port
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{host}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = _pct_normalize(parts.path)
    if netloc and not path:
        path = "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    pairs = [
        (k, v)
        for k, v in ((_unescape_key(k), v) for k, v in parse_qsl(parts.query, keep_blank_values=True))
        if _keep_param(k, v)
    ]
    pairs.sort()
    query = _pct_normalize(urlencode(pairs, quote_via=quote, safe="/:@!$'()*,;"))
    return urlunsplit((scheme, netloc, path, query, ""))


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
