"""The URL rules, in one place: what makes two links the same page, and the same site.

- :func:`normalize_url`: the canonical form a post's URL is stored and matched by.
- :func:`same_post_key`: that without scheme and ``www.`` (digests dedupe by it).
- :func:`same_host`: whether a link a page hands us (its feed, its "Older posts") stays on the
  page's own site.

Standard library only: the digest and the CLI use these without loading any parser.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["TRACKING_PARAMS", "normalize_url", "same_host", "same_post_key"]

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


def same_post_key(url: str) -> str:
    """:func:`normalize_url` without the scheme and a leading ``www.``: two links to one post
    that differ only there (an http link in a feed, an https one on the page) give one key."""
    u = normalize_url(url)
    u = u.split("://", 1)[1] if "://" in u else u
    return u.removeprefix("www.")


def same_host(url: str, page_url: str) -> bool:
    """Whether ``url`` is on the host of the page that linked it (``www.`` aside).

    Links a page hands us (its feed, its "Older posts") are followed only there: a page must not
    be able to send the monitor to another site, or to a service on the monitor's own network.
    """
    def host(u: str) -> str:
        try:
            return (urlsplit(u).hostname or "").removeprefix("www.")
        except ValueError:
            return ""

    return bool(host(url)) and host(url) == host(page_url)
