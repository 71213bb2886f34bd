"""Bytes -> text for HTML pages (feeds are decoded by feedparser from their XML prolog).

The order follows what browsers do, with one deliberate exception for servers that lie::

    1. a byte-order mark (UTF-8, UTF-16 LE/BE) always wins;
    2. the HTTP ``Content-Type`` charset, if the body decodes cleanly with it;
    3. ``<meta charset>`` / ``<meta http-equiv="Content-Type" content="...; charset=...">``
       (or an XML prolog) in the first 4 KB, if the body decodes cleanly with it;
    4. UTF-8, if the body decodes cleanly;
    5. windows-1252, with undecodable bytes replaced (never raises).

"Decodes cleanly" is a strict decode. Single-byte charsets (latin-1, windows-125x) decode almost
anything, so a header naming one does not prove much: when the header and the document disagree
and the body is valid, non-ASCII UTF-8 that the document itself declares, the document wins.
Labels are read the WHATWG way: ``iso-8859-1``, ``latin1`` and ``ascii`` mean windows-1252, and a
``<meta>`` that claims UTF-16 on a byte stream without a BOM means UTF-8.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

__all__ = ["charset_from_content_type", "decode_html", "detect_encoding"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)

# WHATWG label aliases that Python spells differently or resolves to a stricter codec.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "x-sjis": "shift_jis",
    "x-mac-roman": "mac_roman",
}
_SINGLE_BYTE = {"cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
                "cp1258", "iso8859-2", "iso8859-5", "iso8859-6", "iso8859-7", "iso8859-8",
                "iso8859-15", "koi8-r", "koi8-u", "mac-roman", "cp874"}


def _codec(label: str | None) -> str | None:
    """A Python codec name for an HTTP/HTML charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"  # only a BOM can make a document UTF-16 (WHATWG)
    return name


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def charset_from_content_type(content_type: str | None) -> str | None:
    """``text/html; charset=windows-1256`` -> ``windows-1256`` (the label as written)."""
    if not content_type:
        return None
    m = _CHARSET_PARAM.search(content_type)
    return m.group(1) if m else None


def _declared_in_document(body: bytes) -> str | None:
    head = body[:4096]
    m = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


def _try(body: bytes, codec: str) -> str | None:
    """``body`` decoded strictly with ``codec``, or None."""
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _decode(body: bytes, headers: Mapping[str, str] | None) -> tuple[str, str]:
    """(text, codec), each candidate decoded once."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace"), codec
    http = _codec(charset_from_content_type(_header(headers, "content-type")))
    doc = _codec(_declared_in_document(body))
    if http is not None and (text := _try(body, http)) is not None:
        if doc == "utf-8" != http and http in _SINGLE_BYTE and not body.isascii():
            as_utf8 = _try(body, "utf-8")
            if as_utf8 is not None:
                return as_utf8, "utf-8"  # valid non-ASCII UTF-8 does not happen by accident
        return text, http
    if doc is not None and doc != http and (text := _try(body, doc)) is not None:
        return text, doc
    if "utf-8" not in (http, doc) and (text := _try(body, "utf-8")) is not None:
        return text, "utf-8"
    return body.decode("cp1252", errors="replace"), "cp1252"


def detect_encoding(body: bytes, headers: Mapping[str, str] | None = None) -> str:
    """The Python codec name :func:`decode_html` uses for ``body``."""
    return _decode(body, headers)[1]


def decode_html(body: bytes, headers: Mapping[str, str] | None = None) -> str:
    """Decode an HTML body to text; never raises (falls back to windows-1252 with replacement)."""
    return _decode(body, headers)[0]
