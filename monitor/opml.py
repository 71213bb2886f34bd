"""OPML, the subscription list feed readers exchange (reader, Miniflux, rss2email, ...).

:func:`parse` reads every ``<outline>`` with an ``xmlUrl`` (at any depth: readers nest feeds in
category outlines) into :class:`OpmlFeed`; :func:`render` writes the monitor's sources as OPML 2.0.
Both are pure (bytes in, values out). A document with a DTD is refused: entity expansion is how
an XML file becomes a memory bomb, and OPML never needs one.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import MonitorError

__all__ = ["OpmlError", "OpmlFeed", "parse", "render"]


class OpmlError(MonitorError):
    """Not a usable OPML document."""


@dataclass(frozen=True)
class OpmlFeed:
    title: str  # text, else title, else the feed URL
    xml_url: str
    html_url: str | None = None
    category: str | None = None  # the enclosing outline's text, when feeds are grouped


def parse(data: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise OpmlError("not read: the OPML file declares a DTD or entities (OPML needs none)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise OpmlError(f"not well-formed XML: {e}") from e
    if root.tag.lower() != "opml":
        raise OpmlError(f"not an OPML document (its root element is <{root.tag}>)")
    body = root.find("body")
    if body is None:
        raise OpmlError("not an OPML document: no <body>")
    out: list[OpmlFeed] = []

    def walk(node: ET.Element, category: str | None) -> None:
        for o in node.findall("outline"):
            url = (o.get("xmlUrl") or o.get("xmlurl") or "").strip()
            text = (o.get("text") or o.get("title") or "").strip()
            if url:
                out.append(OpmlFeed(text or url, url, (o.get("htmlUrl") or "").strip() or None, category))
            walk(o, text or category)

    walk(body, None)
    return out


def render(feeds: Iterable[OpmlFeed], *, title: str, now: dt.datetime | None = None) -> str:
    """An OPML 2.0 document listing ``feeds`` (as ``type="rss"`` outlines)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    if now is not None:
        from email.utils import format_datetime

        ET.SubElement(head, "dateCreated").text = format_datetime(now.astimezone(dt.UTC))
    body = ET.SubElement(root, "body")
    for f in feeds:
        attrs = {"text": f.title, "title": f.title, "type": "rss", "xmlUrl": f.xml_url}
        if f.html_url:
            attrs["htmlUrl"] = f.html_url
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
