"""Author pages (HTML) -> posts, with no per-site configuration.

Rules, tried in this order; the first that finds posts names :attr:`Page.rule`:

``selectors``  the source's own CSS (:class:`monitor.config.Selectors`); overrides everything.
``hatom``      classic themes: ``article.hentry`` / ``.post`` / ``.type-post``, ``.entry-title a``,
               ``time.published|.entry-date[datetime]``, ``.entry-summary`` / ``.entry-content``.
``block``      block themes: ``li.wp-block-post``, ``.wp-block-post-title a``,
               ``.wp-block-post-date time``, ``.wp-block-post-excerpt``.
``mf2``        microformats2 (IndieWeb themes, Nikola): ``.h-entry``, ``.p-name``, ``.u-url``,
               ``.dt-published``, ``.p-summary`` / ``.e-content``.
``text``       markup-free layouts (Iran Interlink): a title link on its own line, then a
               "Posted on: 2020/10/28" line (an EMPTY "Posted on:" means the same day as the post
               above: WordPress prints a date once per day), then the excerpt lines.
``generic``    anything else: repeated sibling blocks (same tag and class signature, at least two)
               that each hold a title link, and a date and/or a summary; the best-scoring group
               wins. A run of sibling headings (``h2 > a`` followed by loose paragraphs) counts as
               a group too, each heading taking the siblings up to the next one; a run of three or
               more bare title headings (a minimal theme's list) counts only when nothing better does.

A layout rule (selectors, hatom, block, mf2, text) is enough with one post (the last page of an
archive often has one); the generic finder needs a repeated block. A card whose link wraps heading,
excerpt and meta is titled by its heading. An ``<aside>`` holding a post-shaped block (an article
with a title link: a theme's "featured" newest post) is content, not chrome.

Pagination (:func:`next_link`): "Older posts" in words or by class (``.nav-previous``,
``a.next.page-numbers``, ``rel=next`` on a link in the page) first, then the document's
``<link rel=next>``, the page number one past the current page's marker, and a forward arrow
(``›``, ``»``, ``→``, ``⟩``). The last three must stay inside the archive (:func:`archive_key`: the
same host, path and query once the page number is taken out), and no link is followed into another
author's archive. :func:`explain_html` says which rule matched, which link is followed and why,
what was turned down and what was skipped as chrome (``monitor check``).

The known themes are only fast paths: every field the theme rule does not find falls back to the
same general signals the generic rule uses. Site chrome (``nav``, ``aside``, the page header and
footer, sidebars, widgets, menus, comment areas, share buttons) is never read for posts, and post
meta (a post's ``footer`` / ``address`` / ``.post-info`` / ``.entry-meta`` block, comment counts,
"Continue reading", "By …" bylines, relative times, "In News." category lines) never leaks into an
excerpt. Every walk over the tree is iterative, so 10,000-deep markup cannot hit the recursion
limit; markup that would make the parser itself take minutes (100,000 levels, 50,000 attributes on
a tag: :mod:`monitor.markup`) is refused before parsing (a feed summary is then read as plain text).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from ..config import Selectors
from ..errors import ExtractError
from ..markup import too_complex
from ..models import Page, PostData
from .identity import normalize_url, wp_post_id
from .sourceline import MONTH_PATTERN, MONTHS, collapse, parse_source_line, split_excerpt

__all__ = [
    "Explanation",
    "NextLink",
    "archive_key",
    "explain_html",
    "extract_html",
    "html_to_plain",
    "html_to_text",
    "next_link",
    "parse_date_text",
    "parse_machine_date",
]

Node = LexborNode

# --- dates -----------------------------------------------------------------------------------

_YMD = re.compile(r"(?<!\d)(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?!\d)")
_MDY = re.compile(
    r"\b(" + MONTH_PATTERN + r")\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)", re.IGNORECASE
)
_DMY = re.compile(
    r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(" + MONTH_PATTERN + r"),?\s+(\d{4})(?!\d)", re.IGNORECASE
)
_DMY_NUM = re.compile(r"(?<!\d)(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?!\d)")
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def _date(y: int, m: int, d: int) -> dt.date | None:
    if y < 1900:
        return None
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _month(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


def parse_date_text(text: str) -> dt.date | None:
    """The first date written in ``text``.

    Understands ``2020/10/28``, ``2020-10-28``, ``October 28, 2020``, ``Oct 28 2020``,
    ``28 October 2020``, ``28th of October 2020`` and ``28/10/2020`` (day first, unless the second
    number cannot be a month); a weekday before it ("Sat 25 April 2020", "Saturday, April 25, 2020")
    is passed over, since the date is searched for, not matched from the start.
    """
    found: list[tuple[int, dt.date]] = []
    if (m := _YMD.search(text)) and (d := _date(int(m[1]), int(m[2]), int(m[3]))):
        found.append((m.start(), d))
    if (m := _MDY.search(text)) and (d := _date(int(m[3]), _month(m[1]), int(m[2]))):
        found.append((m.start(), d))
    if (m := _DMY.search(text)) and (d := _date(int(m[3]), _month(m[2]), int(m[1]))):
        found.append((m.start(), d))
    if m := _DMY_NUM.search(text):
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        if d := (_date(y, a, b) if b > 12 else _date(y, b, a)):
            found.append((m.start(), d))
    return min(found, key=lambda f: f[0])[1] if found else None


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def parse_machine_date(value: str, tz: ZoneInfo) -> tuple[dt.datetime, bool] | None:
    """A ``datetime=""`` / ``content=""`` value -> (aware datetime, date_only)."""
    value = value.strip()
    if not value:
        return None
    if _DATE_ONLY.match(value):
        d = _date(int(value[:4]), int(value[5:7]), int(value[8:10]))
        return (local_midnight(d, tz), True) if d else None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        day = parse_date_text(value)
        return (local_midnight(day, tz), True) if day else None
    if when.year < 1900:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)  # a site prints its own local time
    return when, False


# --- walking the tree ------------------------------------------------------------------------

_BLOCK = frozenset((
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "option", "p",
    "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
))
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_NEVER = frozenset((
    "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas",
    "video", "audio", "select", "button", "textarea", "head", "title",
))
# Site chrome, by class or id token (the page header/footer only outside the content).
_CHROME = re.compile(
    r"^(?:nav|navbar|navigation|site-navigation|main-navigation|menu|.+-menu|menu-.+|breadcrumbs?|"
    r"sidebar.*|widget.*|secondary|masthead|colophon|site-header|site-footer|footer-widgets|"
    r"comments?|comments-area|comment-respond|respond|comment-list|commentlist|"
    r"share|sharing|sharedaddy|share-.+|.+-share|social|social-.+|jp-relatedposts|related-posts|"
    r"yarpp.*|cookie.*|skip-link|screen-reader-text|sr-only|visually-hidden|advert.*|ads?|"
    r"newsletter|subscribe|author-box|author-bio|about-author)$",
    re.IGNORECASE,
)
_CHROME_ROLES = frozenset(("navigation", "banner", "contentinfo", "complementary", "search"))
# Inside a post: meta that is not the excerpt.
_POST_META = re.compile(
    r"^(?:more-link|link-more|read-more|readmore|more|entry-meta|post-meta|meta|entry-footer|post-info|"
    r"byline|posted-on|posted-by|entry-date|cat-links|tags-links|comments-link|edit-link|"
    r"post-edit-link|wp-block-post-excerpt__more-text|wp-block-post-excerpt__more-link|"
    r"post-categories|post-tags|entry-categories|entry-tags|reading-time|likes?|"
    r"addtoany.*|a2a.*|printfriendly.*)$",
    re.IGNORECASE,
)
_READ_MORE = re.compile(
    r"^\W*(?:(?:continue reading|read more|keep reading|read the rest|mehr lesen|lire la suite|leer más)\b.*"
    r"|(?:more|full story|view post|read post|read full (?:post|article|story)|ادامه مطلب)\W*)$",
    re.IGNORECASE,
)
_NOISE_LINE = re.compile(
    r"^(?:"
    r"(?:no|one|\d+)\s+(?:comments?|responses?|replies|thoughts?)(?:\s+on\b.*)?"
    r"|leave a (?:comment|reply)(?:\s+on\b.*)?|comments? (?:are )?(?:off|closed)\b.*|add comment"
    r"|\d+\s+(?:seconds?|minutes?|mins?|hours?|days?|weeks?|months?|years?)\s+ago"
    r"|author:\s+\S.{0,50}"
    r"|(?:posted|filed) (?:in|under):?\s.{0,80}|(?:categories|category|tags?):\s.{0,80}"
    r"|share(?: this(?: post| article)?)?:?|(?:share on |tweet|email|print|facebook|twitter|linkedin"
    r"|whatsapp|pinterest|telegram|reddit)\W*(?:(?:facebook|twitter|linkedin|whatsapp|pinterest"
    r"|telegram|reddit|email|print)\W*)*"
    r"|like this:?|loading\W*|related(?: posts| articles)?:?"
    r"|the post .{1,300} appeared first on .{1,120}"
    r")\W*$",
    re.IGNORECASE,
)
# "By Jane Doe", "Posted by Jane Doe | 3 Comments" (case-sensitive: "By 2020 the MEK..." is content)
_BYLINE = re.compile(
    r"^(?:[Pp]osted |[Ww]ritten |[Pp]ublished )?[Bb]y:?\s+(?:[A-Z][\w.'’-]*\s*){1,4}(?:[|·•—–-].*)?$"
)
_PAGINATION = re.compile(
    r"^\W*(?:(?:older|newer)\s+(?:posts|entries|articles|stories)|(?:next|previous)\s+(?:page|posts|entries)|"
    r"page\s+\d+(?:\s+of\s+\d+)?)\W*$",
    re.IGNORECASE,
)
_POSTED_ON = re.compile(r"^\s*(?:posted|published)(?P<on>\s+on\b|\s*:)\s*:?\s*(?P<rest>.*)$", re.IGNORECASE)
_TRAILING_MORE = re.compile(
    r"\s*(?:\[\s*)?(?:continue reading|read more|keep reading)\b[^.!?]{0,200}$", re.IGNORECASE
)
# In collapsed text (one space at most) a _TRAILING_MORE match is at most 219 characters long, and it
# ends the text: searching only the text's tail finds the same match without trying every position.
_TRAILING_MORE_SPAN = 230


def posted_on(text: str) -> tuple[bool, dt.date | None]:
    """Is ``text`` a "Posted on: 2020/10/28" line? (True, date); an empty "Posted on:" -> (True, None)."""
    m = _POSTED_ON.match(text)
    if not m:
        return False, None
    rest = m.group("rest").strip()
    if not rest:
        return True, None
    day = parse_date_text(rest[:40])
    if day is None:
        return False, None
    first = min((mm.start() for rx in (_YMD, _MDY, _DMY, _DMY_NUM) if (mm := rx.search(rest))), default=99)
    return (True, day) if first <= 3 else (False, None)


def _is_noise_line(text: str, *, byline: bool = True) -> bool:
    """Post meta rather than post text. ``byline=False`` for the text of one link: a byline links
    only the name ("By <a>Jane Doe</a>"), so a linked "By Ahmad Jafar Alsaedi – Translated by
    Habilian" is a post title."""
    return bool(
        _NOISE_LINE.match(text)
        or (len(text) <= 80 and ((byline and _BYLINE.match(text)) or _PAGINATION.match(text)))
        or posted_on(text)[0]
    )


def _tokens(node: Node, attrs: dict[str, str | None] | None = None) -> list[str]:
    """The node's classes and id (``attrs``: its attributes, when already read)."""
    if attrs is None:
        attrs = node.attributes
    out = (attrs.get("class") or "").split()
    if ident := attrs.get("id"):
        out.append(ident)
    return out


def _name_test(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """``name -> bool(pattern.match(name))`` for class names and ids, remembered: the same few recur in
    every post and on every page. (A long one, which no real class name is, is matched each time.)"""

    @functools.lru_cache(maxsize=4096)
    def cached(name: str) -> bool:
        return pattern.match(name) is not None

    def test(name: str) -> bool:
        return cached(name) if len(name) <= 100 else pattern.match(name) is not None

    return test


_is_chrome_name = _name_test(_CHROME)
_is_post_meta_name = _name_test(_POST_META)


def _has_ancestor(node: Node, tags: frozenset[str], limit: int = 64) -> bool:
    p = node.parent
    while p is not None and limit:
        if p.tag in tags:
            return True
        p = p.parent
        limit -= 1
    return False


_CONTENT_TAGS = frozenset(("article", "main"))
_BANNER_TOKENS = frozenset(("header", "footer", "site-top", "topbar"))


_POST_SHAPED = "article :is(h1,h2,h3,h4,h5,h6,.entry-title,.p-name) a[href]"


def _holds_post(node: Node) -> bool:
    """An ``<aside>`` that holds an article with a title link (a theme's "featured"/latest post at the
    top of the archive) is content, not a sidebar: its post is one of the author's posts."""
    return node.css_first(_POST_SHAPED) is not None


def is_chrome(node: Node, attrs: dict[str, str | None] | None = None) -> bool:
    """Site chrome: never a post, never part of one (``attrs``: the node's attributes, when already read)."""
    tag = node.tag
    if tag == "nav":
        return True
    if tag == "aside":
        if attrs is None:
            attrs = node.attributes
        if (attrs.get("role") or "").lower() in _CHROME_ROLES or any(
                _is_chrome_name(t) for t in _tokens(node, attrs)):
            return True
        return not _holds_post(node)
    if tag in ("html", "body", "main", "article"):
        return False
    if attrs is None:
        attrs = node.attributes
    tokens = _tokens(node, attrs)
    banner = tag in ("header", "footer") or any(t.lower() in _BANNER_TOKENS for t in tokens)
    if banner and not _has_ancestor(node, _CONTENT_TAGS):
        return True
    if (attrs.get("role") or "").lower() in _CHROME_ROLES:
        return True
    return any(_is_chrome_name(t) for t in tokens)


_META_TAGS = frozenset(("footer", "address"))


def _is_post_meta(node: Node) -> bool:
    """Inside a post: chrome, meta by class ("entry-meta", "post-info", ...), a ``<footer>`` or
    ``<address>`` (the theme's date / "By …" / "In News." block), "Read more" and comment links."""
    if node.tag in _META_TAGS:
        return True
    attrs = node.attributes
    if is_chrome(node, attrs) or any(_is_post_meta_name(t) for t in _tokens(node, attrs)):
        return True
    if node.tag == "a":
        text = collapse(node.text())
        return bool(text) and len(text) < 120 and bool(_READ_MORE.match(text) or _is_noise_line(text))
    return False


@dataclass(slots=True, eq=False)
class _Link:
    href: str
    parts: list[str] = field(default_factory=list)
    owner: object = None

    @property
    def text(self) -> str:
        return collapse("".join(self.parts))


@dataclass(slots=True, eq=False)
class _Line:
    node: Node | None
    heading: bool
    parts: list[str] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)
    _text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = collapse("".join(self.parts))
        return self._text

    def link_share(self) -> float:
        if not self.text:
            return 0.0
        return sum(len(lk.text) for lk in self.links) / len(self.text)


def _lines(roots: Iterable[Node], skip: Callable[[Node], bool]) -> list[_Line]:
    """Rendered text lines of ``roots`` (block elements and <br> break lines), skipping subtrees."""
    lines: list[_Line] = []
    cur: _Line | None = None
    blocks: list[Node] = []
    links: list[_Link | None] = []
    heading = 0
    stack: list[tuple[Node, bool]] = [(r, False) for r in reversed(list(roots))]

    def flush() -> None:
        nonlocal cur
        if cur is not None and cur.text:
            lines.append(cur)
        cur = None

    while stack:
        node, leaving = stack.pop()
        tag = node.tag
        if leaving:
            if tag == "a":
                links.pop()
            if tag in _HEADINGS:
                heading -= 1
            if tag in _BLOCK:
                flush()
                blocks.pop()
            continue
        if tag == "-text":
            s = node.text_content
            if not s:
                continue
            if cur is None:
                if not s.strip():
                    continue
                cur = _Line(blocks[-1] if blocks else None, heading > 0)
            cur.parts.append(s)
            if heading:
                cur.heading = True
            if links and (lk := links[-1]) is not None:
                lk.parts.append(s)
                if lk.owner is not cur:
                    lk.owner = cur
                    cur.links.append(lk)
            continue
        if tag is None or tag.startswith("-") or tag in _NEVER:
            continue
        if tag == "br":
            flush()
            continue
        if skip(node):
            continue
        if tag in _BLOCK:
            flush()
            blocks.append(node)
        if tag == "a":
            href = (node.attributes.get("href") or "").strip()
            links.append(_Link(href) if href else None)
        if tag in _HEADINGS:
            heading += 1
        stack.append((node, True))
        stack.extend([(c, False) for c in node.iter(include_text=True)][::-1])
    flush()
    return lines


# "In News.", "Filed in News, Politics": a post's category line (its words are mostly links)
_CATEGORY_LINE = re.compile(r"^(?:(?:posted|filed|published)\s+)?in\s+\S.{0,60}$", re.IGNORECASE)


def _is_category_line(line: _Line) -> bool:
    text = line.text
    return len(text) <= 70 and _CATEGORY_LINE.match(text) is not None and line.link_share() >= 0.4


def _excerpt_from_lines(lines: Sequence[_Line]) -> tuple[str, str | None]:
    """(text, trailing link text) of excerpt lines, meta lines (noise, category lines) dropped."""
    kept = [ln for ln in lines if not _is_noise_line(ln.text) and not _is_category_line(ln)]
    text = collapse(" ".join(ln.text for ln in kept))
    cut = max(0, len(text) - _TRAILING_MORE_SPAN)
    if "read" in text[cut:].lower():  # a word of each of its phrases: a quick test
        text = text[:cut] + _TRAILING_MORE.sub("", text[cut:])
    trailing = None
    if kept and kept[-1].links:
        last = kept[-1].links[-1].text
        if last and text.rstrip(" .,;:!?").endswith(last.rstrip(" .,;:!?")):
            trailing = last
    return text, trailing


_ANY_TAG = re.compile(r"<[^>]*>")


def _without_parser(fragment: str) -> str:
    """The text of markup too complex to parse (see :mod:`monitor.markup`): tags dropped, entities decoded."""
    return collapse(html.unescape(_ANY_TAG.sub(" ", fragment)))


def html_to_plain(fragment: str) -> str:
    """All the text of an HTML fragment (a feed title), entities decoded, whitespace collapsed."""
    if "<" not in fragment and "&" not in fragment:
        return collapse(fragment)
    if too_complex(fragment):
        return _without_parser(fragment)
    body = LexborHTMLParser(fragment).body
    return " ".join(ln.text for ln in _lines([body], lambda _: False)) if body is not None else ""


def html_to_text(fragment: str) -> tuple[str, str | None]:
    """Plain text of an HTML fragment (a feed summary) and the text of a link that ends it."""
    if "<" not in fragment and "&" not in fragment:
        return collapse(fragment), None
    if too_complex(fragment):
        return _without_parser(fragment), None
    tree = LexborHTMLParser(fragment)
    root = tree.body
    if root is None:
        return "", None
    return _excerpt_from_lines(_lines([root], _is_post_meta))


# --- page-level facts ------------------------------------------------------------------------

_OLDER = re.compile(
    r"^\W*(?:older\s+(?:posts|entries|articles|stories)|previous\s+(?:posts|entries)|next\s+page|"
    r"more\s+posts|older|next)\W*$",
    re.IGNORECASE,
)
_NEXT_SELECTORS = (
    "a[rel~=next]",
    "link[rel~=next]",
    ".nav-previous a[href]",
    "a.next.page-numbers",
    "a.wp-block-query-pagination-next",
    ".pagination-next a[href], a.pagination-next, .next-posts a[href], .older-posts a[href]",
)
_AUTHOR_HEAD = re.compile(
    r"^(?:author(?:\s+archives?)?|posts\s+by|articles\s+by|all\s+posts\s+by|archives?\s+for)\s*:?\s*(.+)$",
    re.IGNORECASE,
)
_TITLE_AUTHOR = (
    re.compile(r"^(.+?),\s+(?:author|autor|auteur)\s+(?:at|en|bei|chez|de)\b", re.IGNORECASE),
    re.compile(r"^(?:author|posts by|articles by)\s*:?\s*(.+?)(?:\s+[–—|»:-]\s+.*)?$", re.IGNORECASE),
)
# what follows "Author" in a heading that names no one ("Author archive", "Author: Posts")
_NOT_A_NAME = re.compile(r"^\W*(?:archives?|posts?|articles?|pages?|page\s+\d+|profile|index)\W*$",
                         re.IGNORECASE)
_TITLE_SPLIT = re.compile(r"\s+[–—|»:-]\s+")


def _abs(base: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    try:
        out = urljoin(base, href)
        scheme = urlsplit(out).scheme
    except ValueError:
        return None
    return out if scheme in ("http", "https") else None


def _base_url(tree: LexborHTMLParser, url: str) -> str:
    base = tree.css_first("base[href]")
    return _abs(url, base.attributes.get("href")) or url if base is not None else url


def _looks_like_author_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(re.search(r"/authors?/", parts.path)) or bool(re.search(r"(?:^|&)author(?:id)?=", parts.query))


def _feed_url(tree: LexborHTMLParser, base: str, page_url: str) -> str | None:
    feeds = []
    for link in tree.css("link[rel~=alternate][href]"):
        kind = (link.attributes.get("type") or "").lower()
        if kind not in ("application/rss+xml", "application/atom+xml", "application/rdf+xml"):
            continue
        href = _abs(base, link.attributes.get("href"))
        if not href:
            continue
        feeds.append((collapse(link.attributes.get("title") or ""), href))
    for title, href in feeds:
        if re.search(r"posts by|\bauthor\b", title, re.IGNORECASE) or "/author/" in href or "author=" in href:
            return href
    if _looks_like_author_url(page_url):
        return None  # the site-wide feed would mix in every other author's posts
    for title, href in feeds:
        if not re.search(r"comments", title + " " + href, re.IGNORECASE):
            return href
    return None


# Pagination links by shape: an arrow alone, a page number after the current page's marker.
_NEXT_ARROW = re.compile(r"^\s*(?:[›»→⟩〉⟫≫>]+|next\s*[›»→⟩>]*|older\s*[›»→⟩>]*)\s*$",
                         re.IGNORECASE)
_CURRENT_CLASS = re.compile(r"current|active", re.IGNORECASE)
# what a page's own number looks like in its URL: /page/2/, name2.html, index-1.html, ?paged=2
_PAGE_PART = re.compile(r"/page/\d+/?$|(?<=[a-z])\d+(?=\.html?$)|(?:^|/)index(?:-\d+)?\.html?$|/$", re.I)
_PAGE_QUERY = frozenset(("paged", "page", "pg", "p-page", "start", "offset"))


@dataclass(frozen=True, slots=True)
class NextLink:
    """The older-posts link a page offers, and why it was taken (for ``monitor check``)."""

    url: str
    why: str


def archive_key(url: str) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    """(host, path, query) of ``url`` with its page number taken out: every page of one archive
    has the same key, another author's archive or the site's next document has another."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = parts.path or "/"
    for _ in range(2):
        path = _PAGE_PART.sub("", path) or "/"
    query = tuple(sorted(
        (k.lower(), v) for k, _, v in (q.partition("=") for q in parts.query.split("&") if q)
        if k.lower() not in _PAGE_QUERY
    ))
    return (parts.hostname or "").lower(), path.rstrip("/").lower(), query


# ASCII digits: "¹" and "٣" are digits to str.isdigit(), not page numbers (nor to int())
_PAGE_NO = re.compile(r"^[0-9]{1,4}$")


def _page_number(node: Node) -> int | None:
    text = collapse(node.text())
    return int(text) if _PAGE_NO.match(text) else None


def _current_number(link: Node) -> int | None:
    """The current page's number beside a numbered link: a sibling (or a sibling item's content)
    that is a number but not a link (``<span class="current">1</span>``, ``aria-current``)."""
    holder = link.parent
    if holder is not None and holder.tag == "li":  # <li><a>2</a></li>: the numbers are the items
        holder = holder.parent
    if holder is None:
        return None
    for child in holder.iter():
        if child.tag in (None, "a") or (child.tag or "").startswith("-"):
            continue
        if child.css_first("a") is not None:
            continue
        n = _page_number(child)
        if n is None:
            continue
        attrs = child.attributes
        if attrs.get("aria-current") or _CURRENT_CLASS.search(attrs.get("class") or "") or child.tag in (
                "span", "strong", "em", "b", "li"):
            return n
    return None


_AUTHOR_PART = re.compile(r"/(?:author|authors|writers?|contributors?|people|profile|members?|users?)/[^/]+",
                          re.IGNORECASE)


def _another_author(href: str, page_url: str) -> bool:
    """``href`` names an author (path or query) other than the one ``page_url`` names."""
    def who(url: str) -> str | None:
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        m = _AUTHOR_PART.search(_PAGE_PART.sub("", parts.path))
        if m and m.group().rsplit("/", 1)[-1].lower() != "page":
            return m.group().lower()
        q = re.search(r"(?:^|&)(author(?:id)?|author_name)=([^&]*)", parts.query)
        return q.group(2).lower() if q else None

    theirs = who(href)
    return theirs is not None and theirs != who(page_url)


def _next_candidates(tree: LexborHTMLParser) -> Iterator[tuple[Node, str, bool]]:
    """(link, why, strong) for links that may lead to older posts, best first (each kind looked for
    only when needed). A strong link says "older posts" in words or by a pagination class: it may
    leave the archive's path (``/author/anne/`` -> ``/page/2/``) but never for another author's.
    A weak one (the document's ``<link rel=next>``, a page number, an arrow) must stay in the
    archive (:func:`archive_key`)."""
    for sel in _NEXT_SELECTORS:
        weak = sel == "link[rel~=next]"
        yield from ((n, f"it matches {sel!r}", not weak) for n in tree.css(sel))
    numbered: list[tuple[Node, int]] = []
    arrows: list[tuple[Node, str]] = []
    for a in tree.css("a[href]"):  # one pass: words first, numbers and arrows kept for after
        text = collapse(a.text())
        if _OLDER.match(text):
            yield a, f"its text {text!r} says older posts", True
        elif len(text) <= 4 and _PAGE_NO.match(text):  # (length first: most links are words)
            numbered.append((a, int(text)))
        elif len(shown := text or collapse(a.attributes.get("aria-label") or "")) <= 12 and shown \
                and _NEXT_ARROW.match(shown):
            arrows.append((a, shown))
    for a, n in numbered:
        current = _current_number(a)
        if current is not None and n == current + 1:
            yield a, f"page number {n} after the current page {current} in the page numbers", False
    for a, shown in arrows:
        if not _in_chrome_nav_menu(a):
            yield a, f"its text is the forward arrow {shown!r}", False


def _in_chrome_nav_menu(node: Node) -> bool:
    """A link in a site menu (``.menu``, ``.navbar``) is never pagination."""
    return any(a.tag == "ul" and any(_is_chrome_name(t) for t in _tokens(a))
               for a in _ancestors(node.parent, 8))


def next_link(
    tree: LexborHTMLParser, base: str, page_url: str, selector: str | None
) -> tuple[NextLink | None, list[str]]:
    """The link to the archive's next (older) page and the candidates turned down, with reasons.

    A link is followed only when it stays in the same archive (:func:`archive_key`): a document
    ``rel=next`` to the next author's profile, another host, or another author's path is not."""
    here = normalize_url(page_url)
    key = archive_key(page_url)
    refused: list[str] = []
    if selector:
        candidates: Iterable[tuple[Node, str, bool]] = (
            (n, f"it matches the source's selector {selector!r}", True) for n in _css(tree.root, selector))
    else:
        candidates = _next_candidates(tree)
    for node, why, strong in candidates:
        href = _abs(base, node.attributes.get("href"))
        if not href or normalize_url(href) == here:
            continue
        target = archive_key(href)
        if target is None:
            reason = "is not a usable URL"
        elif selector or (strong and key is not None and target[0] != key[0]):
            reason = ""  # the pipeline follows links only on the page's host, and says so
            reason = ""
        elif _another_author(href, page_url):
            reason = "is another author's archive"
        elif not strong and target != key:
            reason = "is outside this archive's path"
        else:
            reason = ""
        if reason:
            if len(refused) < 10:
                refused.append(f"{href} ({why}) {reason}")
            continue
        return NextLink(href, why), refused
    return None, refused


# "(old posts, page 1)", "– Page 2", "| Page 2 of 3": a page number in a heading or title, not a name
_PAGE_NOTE = re.compile(
    r"\s*(?:\((?:[^()]*\s)?page\s+\d+(?:\s+of\s+\d+)?\)|[–—|»:-]\s*page\s+\d+(?:\s+of\s+\d+)?)\s*$",
    re.IGNORECASE,
)


def _name(text: str) -> str | None:
    """An author name from a heading or title fragment: page notes dropped; None when empty."""
    return _PAGE_NOTE.sub("", text).strip() or None


def _site_names(tree: LexborHTMLParser) -> list[str]:
    """What the site calls itself (``og:site_name``, the header's home link): a page title's part
    that is one of these is the site, not the author ("Iran Interlink - Anne Singleton")."""
    out = []
    for sel in ('meta[property="og:site_name"]', 'meta[name="application-name"]'):
        node = tree.css_first(sel)
        if node is not None and (text := collapse(node.attributes.get("content") or "")):
            out.append(text.lower())
    for node in tree.css("header a[href], .site-title a[href], #site-title a[href], .navbar-brand"):
        href = (node.attributes.get("href") or "").strip()
        home = node.tag != "a" or href in ("/", "./", "../", "../../", "index.html", "../index.html") \
            or re.fullmatch(r"https?://[^/]+/?", href) is not None
        if home and (text := collapse(node.text())):
            out.append(text.lower())
        if len(out) > 8:
            break
    return out


def _page_author(tree: LexborHTMLParser, page_url: str, lines: Callable[[], list[_Line]]) -> str | None:
    for sel in ("h1.page-title .vcard", ".page-title .vcard", ".archive-title .vcard", "h1 .vcard",
                ".author-title", ".page-header .author"):
        node = tree.css_first(sel)
        if node is not None and (text := collapse(node.text())):
            return _name(_AUTHOR_HEAD.sub(r"\1", text))
    for sel in ("h1", ".page-title", ".archive-title", ".wp-block-query-title", "h2"):
        for node in tree.css(sel):
            if (m := _AUTHOR_HEAD.match(collapse(node.text()))) and not _NOT_A_NAME.match(m.group(1)):
                return _name(m.group(1))
    for line in lines()[:60]:
        if (m := re.match(r"^Author\s*:\s*(.{1,80})$", line.text, re.IGNORECASE)):
            return _name(m.group(1))
    title = tree.css_first("title")
    if title is not None and (text := collapse(title.text())):
        for rx in _TITLE_AUTHOR:
            if m := rx.match(text):
                return _name(m.group(1))
        if _looks_like_author_url(page_url):
            parts = [p for part in _TITLE_SPLIT.split(text) if (p := _name(part))]
            sites = _site_names(tree) if len(parts) > 1 else []
            named = [p for p in parts if not any(site.startswith(p.lower()) for site in sites)]
            return named[0] if named else (parts[0] if parts else None)
    return None


# --- finding the fields of one post ----------------------------------------------------------

def _css(node: Node | None, selector: str) -> list[Node]:
    if node is None:
        return []
    try:
        found = node.css(selector)
    except SelectolaxError as e:
        raise ExtractError(f"bad CSS selector {selector!r}: {e}") from e
    if "," not in selector or len(found) < 2:
        return found
    seen: set[int] = set()  # lexbor returns a node once per matching part of a selector list
    out = []
    for n in found:
        if n.mem_id not in seen:
            seen.add(n.mem_id)
            out.append(n)
    return out


def _any_css(segment: Sequence[Node], selector: str) -> bool:
    return any(_css(node, selector) for node in segment)


def _first(segment: Sequence[Node], selector: str | None) -> Node | None:
    if not selector:
        return None
    for node in segment:
        found = _css(node, selector)
        if found:
            return found[0]
    return None


def _excerpt_node(segment: Sequence[Node]) -> Node | None:
    """The summary element, by class, in priority order (never the post element itself). A class
    merely *containing* "summary"/"excerpt"/"teaser" must also hold a sentence or two."""
    if not _any_css(segment, _ANY_EXCERPT):
        return None
    for sel in _EXCERPT_SELECTORS:
        wildcard = sel.startswith("[class*=")
        for node in segment:
            for hit in _css(node, sel):
                if hit in segment:
                    continue
                if not wildcard or len(_text_of(hit)) >= 40:
                    return hit
    return None


_TITLE_LINKS = (
    ".entry-title a[href], .post-title a[href], .wp-block-post-title a[href], "
    "[itemprop=headline] a[href], :is(h1,h2,h3,h4,h5,h6) a[href]"
)
_TITLE_WRAPPED = "a[href]:has(h1, h2, h3, h4, h5, h6)"
_EXCERPT_SELECTORS = (
    ".entry-summary", ".wp-block-post-excerpt__excerpt", ".wp-block-post-excerpt", ".post-excerpt",
    ".entry-excerpt", ".excerpt", ".summary", ".post-summary", "[itemprop=description]",
    ".entry-content", ".post-content", ".wp-block-post-content", ".article-content",
    "[class*=excerpt]", "[class*=summary]", "[class*=teaser]",
)
_DATE_MACHINE = (
    "time.published[datetime]",
    "time.entry-date[datetime]",
    ".wp-block-post-date time[datetime]",
    "abbr.published[title]",
    "[itemprop=datePublished]",
    "time[datetime]",
)
_DATE_TEXT = (".posted-on", ".entry-date", ".post-date", ".published", ".date", ".meta-date", "time",
              ".entry-meta", ".post-meta")
# Each list as one selector: when that matches nothing in a post, its selectors need not be tried one by one.
_ANY_EXCERPT = ", ".join(_EXCERPT_SELECTORS)
_ANY_DATE_MACHINE = ", ".join(_DATE_MACHINE)
_ANY_DATE_TEXT = ", ".join(_DATE_TEXT)


@dataclass(slots=True)
class _Found:
    title: str
    url: str
    in_heading: bool
    published: dt.datetime | None = None
    date_only: bool = False
    empty_date: bool = False  # shows a date label with no date (WordPress' once-per-day the_date())
    excerpt: str = ""
    trailing_link: str | None = None
    byline: str = ""
    wp_id: int | None = None


def _text_of(node: Node) -> str:
    return collapse(node.text())


def _substantial(text: str) -> bool:
    """Link text that can be a title: a few words, not "Read more", not "5 Comments"."""
    if len(text) < 15 and len(text.split()) < 3:
        return False
    return not _READ_MORE.match(text) and not _is_noise_line(text)


def _enclosing_link(node: Node) -> Node | None:
    p: Node | None = node
    for _ in range(4):
        if p is None:
            return None
        if p.tag == "a" and p.attributes.get("href"):
            return p
        p = p.parent
    return None


def _title_by_profile(segment: Sequence[Node], profile: Selectors, base: str) -> tuple[str, str, bool] | None:
    tnode = _first(segment, profile.title)
    lnode = _first(segment, profile.link)
    if lnode is None and tnode is not None:
        if tnode.tag == "a":
            lnode = tnode
        else:
            lnode = next(iter(_css(tnode, "a[href]")), None) or _enclosing_link(tnode)
    if lnode is None:
        return None
    url = _abs(base, lnode.attributes.get("href"))
    inside = tnode is not None and any(x.mem_id == tnode.mem_id for x in _ancestors(lnode, 50))
    title = _text_of(lnode if tnode is None or inside else tnode)  # the link: a heading may hold more
    return (title, url, True) if url and title else None


def _title_of(segment: Sequence[Node], profile: Selectors | None, base: str) -> tuple[str, str, bool] | None:
    """(title, absolute url, title sits in a heading): the profile's CSS first, then general signals."""
    if profile is not None and (profile.title or profile.link):
        got = _title_by_profile(segment, profile, base)
        if got is not None:
            return got
    for sel in (_TITLE_LINKS, _TITLE_WRAPPED):
        for node in segment:
            for a in _css(node, sel):
                text = _text_of(a)
                # a heading's link is the title, whatever it says ("Read more about ...", "By ..."
                # included), unless it is post meta by class or a comment count
                if any(_is_post_meta_name(t) for t in _tokens(a)) or _is_noise_line(text, byline=False):
                    continue
                if sel is _TITLE_WRAPPED:
                    # a card's link wraps heading, excerpt and meta: the title is the heading
                    head = a.css_first("h1, h2, h3, h4, h5, h6")
                    text = _text_of(head) if head is not None else text
                url = _abs(base, a.attributes.get("href"))
                if url and text:
                    return text, url, True
    for node in segment:
        for a in _css(node, "a[href]"):
            rel = (a.attributes.get("rel") or "").lower()
            if "tag" in rel or "category" in rel or "author" in rel or _is_post_meta(a):
                continue
            text = _text_of(a)
            url = _abs(base, a.attributes.get("href"))
            if url and _substantial(text) and parse_date_text(text) is None:
                return text, url, False
    return None


def _date_from(node: Node, tz: ZoneInfo) -> tuple[dt.datetime, bool] | None:
    """A date element's machine-readable value (its own or a <time datetime> inside), else its text."""
    inner = node.css_first("time[datetime]") if node.tag != "time" else None
    for el in (node, inner):
        if el is None:
            continue
        attrs = el.attributes
        for key in ("datetime", "content", "title"):
            if (value := attrs.get(key)) and (got := parse_machine_date(value, tz)):
                return got
    day = parse_date_text(_text_of(node))
    return (local_midnight(day, tz), True) if day else None


def _strip_dates(text: str) -> str:
    return _YMD.sub("", _MDY.sub("", _DMY.sub("", _DMY_NUM.sub("", text))))


def _is_date_line(text: str) -> bool:
    """A short line that is a date plus a few words ("October 28, 2020 · 4 min read")."""
    if len(text) > 80 or parse_date_text(text) is None or len(re.findall(r"\w+", _strip_dates(text))) > 6:
        return False
    # "Iran Interlink, October 27 2020:… Families ask to visit." is an excerpt
    return parse_source_line(text) is None


def _date_of(
    segment: Sequence[Node], profile: Selectors | None, tz: ZoneInfo, lines: Callable[[], Sequence[_Line]],
) -> tuple[dt.datetime | None, bool, bool]:
    """(published, date_only, shows an empty date label): the profile's CSS first, then general signals
    (``lines()``: the segment's lines, read only when the CSS finds no date)."""
    empty = False
    if profile is not None and profile.date and (node := _first(segment, profile.date)) is not None:
        if got := _date_from(node, tz):
            return got[0], got[1], False
        empty = not _text_of(node)
    if _any_css(segment, _ANY_DATE_MACHINE):
        for sel in _DATE_MACHINE:
            for seg in segment:
                for node in _css(seg, sel):
                    classes = (node.attributes.get("class") or "").split()
                    if sel == "time[datetime]" and "updated" in classes and "published" not in classes:
                        continue  # the modified date, printed beside the published one
                    if got := _date_from(node, tz):
                        return got[0], got[1], False
    for line in lines():
        marker, day = posted_on(line.text)
        if day:
            return local_midnight(day, tz), True, False
        empty = empty or marker
    if _any_css(segment, _ANY_DATE_TEXT):
        for sel in _DATE_TEXT:
            for seg in segment:
                for node in _css(seg, sel):
                    text = _text_of(node)
                    marker, day = posted_on(text) if text else (True, None)
                    if day is None and _is_date_line(text):
                        day = parse_date_text(text)
                    if day:
                        return local_midnight(day, tz), True, False
                    empty = empty or marker
    for line in lines():
        if _is_date_line(line.text) and (day := parse_date_text(line.text)):
            return local_midnight(day, tz), True, False
    return None, False, empty


def _byline(segment: Sequence[Node]) -> str:
    node = _first(
        segment,
        ".author.vcard .fn, .author.vcard a, .byline .author a, .byline a[rel=author], a[rel=author], "
        ".wp-block-post-author__name, .wp-block-post-author-name, .entry-author-name, "
        "[itemprop=author] [itemprop=name], [itemprop=author]",
    )
    return _text_of(node) if node is not None else ""


_POST_ID = re.compile(r"^post-(\d+)$")


def _wp_id_of(segment: Sequence[Node], url: str) -> int | None:
    for node in segment:
        for tok in _tokens(node):
            if m := _POST_ID.match(tok):
                return int(m.group(1))
    return wp_post_id(url)


def _is_title_line(line: _Line, title: str) -> bool:
    if line.text == title:
        return True
    return any(lk.text == title for lk in line.links) and line.link_share() >= 0.6


def _found(segment: Sequence[Node], profile: Selectors | None, base: str, tz: ZoneInfo) -> _Found | None:
    titled = _title_of(segment, profile, base)
    if titled is None:
        return None
    title, url, in_heading = titled
    seg_lines = functools.cache(lambda: _lines(segment, _is_post_meta))  # read when needed, once
    published, date_only, empty = _date_of(segment, profile, tz, seg_lines)
    excerpt_node = _first(segment, profile.excerpt) if profile is not None else None
    if excerpt_node is None:
        excerpt_node = _excerpt_node(segment)
    if excerpt_node is not None:
        text, trailing = _excerpt_from_lines(_lines([excerpt_node], _is_post_meta))
    else:
        at = next((i for i, ln in enumerate(seg_lines()) if _is_title_line(ln, title)), -1)
        body = [
            ln for ln in seg_lines()[at + 1:]
            if not _is_date_line(ln.text) and not _is_noise_line(ln.text)
            and not (len(ln.text) < 60 and ln.link_share() >= 0.9)  # category / tag links
            and any(ch.isalpha() for ch in ln.text)  # counters, separators
        ]
        text, trailing = _excerpt_from_lines(body)
    return _Found(
        title=title,
        url=url,
        in_heading=in_heading,
        published=published,
        date_only=date_only,
        empty_date=empty,
        excerpt=text,
        trailing_link=trailing,
        byline=_byline(segment),
        wp_id=_wp_id_of(segment, url),
    )


def _to_posts(found: Sequence[_Found], page_author: str) -> tuple[tuple[PostData, ...], list[str]]:
    posts = []
    warnings = []
    carried: tuple[dt.datetime | None, bool] = (None, False)
    seen: set[str] = set()
    for f in found:
        key = normalize_url(f.url)
        if key in seen:
            continue
        seen.add(key)
        published, date_only = f.published, f.date_only
        if published is None and f.empty_date:
            published, date_only = carried
            if published is None:
                warnings.append(f"no date for {f.title!r}: its date is blank and no post above it has one")
        if published is not None:
            carried = (published, date_only)
        excerpt, author, outlet, original = split_excerpt(
            f.excerpt, f.title, default_author=f.byline or page_author, trailing_link=f.trailing_link
        )
        posts.append(
            PostData(
                url=f.url,
                title=f.title,
                published=published,
                date_only=date_only,
                excerpt=excerpt,
                author=author,
                outlet=outlet,
                original_date=original,
                wp_id=f.wp_id,
                origin="page",
            )
        )
    return tuple(posts), warnings


# --- rules -----------------------------------------------------------------------------------

_HATOM = Selectors(
    post=(
        "article.hentry, article.post, article.type-post, article[id^=post-], "
        "div.hentry, div.post, div.type-post, aside article"
    ),
    title=".entry-title",
    link=".entry-title a[href], a[rel=bookmark]",
)
_BLOCK_THEME = Selectors(
    post="li.wp-block-post, .wp-block-post-template > li, div.wp-block-post",
    title=".wp-block-post-title",
    link=".wp-block-post-title a[href]",
    date=".wp-block-post-date",
    excerpt=".wp-block-post-excerpt__excerpt, .wp-block-post-excerpt, .wp-block-post-content",
)


# microformats2: h-entry with p-name / u-url / dt-published / p-summary or e-content
_MF2 = Selectors(
    post=".h-entry",
    title=".p-name",
    link=".p-name a[href], a.u-url[href], .u-url a[href]",
    date=".dt-published",
    excerpt=".p-summary, .e-content",
)


def _ancestors(node: Node | None, limit: int = 400) -> list[Node]:
    out = []
    while node is not None and limit:
        out.append(node)
        node = node.parent
        limit -= 1
    return out


def _in_chrome(node: Node) -> bool:
    return any(a.tag not in ("html", "body") and is_chrome(a) for a in _ancestors(node.parent, 200))


_TITLE_HEADINGS = ":is(h1,h2,h3,h4,h5,h6,.entry-title,.post-title,.wp-block-post-title,[itemprop=headline])"


def _title_heads(node: Node) -> list[tuple[Node, str]]:
    """(heading, href of its first link) for every heading that holds a link."""
    out = []
    for h in _css(node, _TITLE_HEADINGS):
        a = h.css_first("a[href]")
        if a is not None:
            out.append((h, a.attributes.get("href") or ""))
    return out


def _heading_links(node: Node) -> set[str]:
    return {href for _, href in _title_heads(node)}


def _rule_profile(
    tree: LexborHTMLParser, profile: Selectors, base: str, tz: ZoneInfo, *, user: bool
) -> list[_Found]:
    nodes = _css(tree.root, profile.post)
    if not user:
        nodes = _real_posts([n for n in nodes if not _in_chrome(n)])
    return [f for n in nodes if (f := _found([n], profile, base, tz)) is not None]


def _real_posts(nodes: list[Node]) -> list[Node]:
    """Drop list wrappers (a ``div.post`` around every post): a post holds at most one post title
    of its own. Titles inside a nested candidate (an unclosed ``<article>`` swallows the next one)
    belong to that candidate, and a candidate with no title of its own that only wraps other
    candidates is a wrapper."""
    ids = {n.mem_id for n in nodes}

    def holder(node: Node | None) -> int | None:
        return next((x.mem_id for x in _ancestors(node, 200) if x.mem_id in ids), None)

    wrappers = {holder(n.parent) for n in nodes}
    keep = []
    for n in nodes:
        own = {href for h, href in _title_heads(n) if holder(h) == n.mem_id}
        if len(own) == 1 or (not own and n.mem_id not in wrappers):
            keep.append(n)
    return keep


def _rule_text(lines: list[_Line], base: str, tz: ZoneInfo) -> list[_Found]:
    """Title line, "Posted on:" line, excerpt lines; a blank "Posted on:" repeats the date above."""
    marks = [(i, day) for i, ln in enumerate(lines) if len(ln.text) < 120
             for marker, day in [posted_on(ln.text)] if marker]
    posts: list[tuple[int, int, dt.date | None, str, str]] = []  # (title line, mark line, date, title, url)
    floor = 0
    for i, day in marks:
        for j in range(i - 1, max(floor, i - 4) - 1, -1):
            ln = lines[j]
            if not ln.links or ln.link_share() < 0.7:
                continue
            lk = max(ln.links, key=lambda x: len(x.text))
            # a line that is one link is a title even if it reads "By …" (see _is_noise_line)
            if _is_noise_line(ln.text, byline=ln.text != lk.text):
                continue
            url = _abs(base, lk.href)
            if url and lk.text and not _is_noise_line(lk.text, byline=False):
                posts.append((j, i, day, lk.text, url))
                break
        floor = i + 1
    out = []
    for n, (t, i, day, title, url) in enumerate(posts):
        last = n + 1 == len(posts)
        end = len(lines) if last else posts[n + 1][0]
        scope = _common_ancestor(lines[t].node, lines[i].node)
        body = []
        for ln in lines[i + 1: end]:
            outside = scope is not None and not _within(ln.node, scope)
            if last and (ln.heading or _is_pagination(ln) or outside):
                break
            body.append(ln)
        text, trailing = _excerpt_from_lines(body)
        out.append(
            _Found(
                title=title,
                url=url,
                in_heading=lines[t].heading,
                published=local_midnight(day, tz) if day else None,
                date_only=day is not None,
                empty_date=day is None,
                excerpt=text,
                trailing_link=trailing,
                wp_id=wp_post_id(url),
            )
        )
    return out


def _is_pagination(line: _Line) -> bool:
    return bool(_OLDER.match(line.text) or _PAGINATION.match(line.text))


def _common_ancestor(a: Node | None, b: Node | None) -> Node | None:
    if a is None or b is None:
        return None
    ids = {n.mem_id for n in _ancestors(a)}
    return next((n for n in _ancestors(b) if n.mem_id in ids), None)


def _within(node: Node | None, scope: Node) -> bool:
    return node is not None and any(n.mem_id == scope.mem_id for n in _ancestors(node))


# generic: repeated sibling blocks

_VOLATILE = re.compile(
    r"\d|^(?:category|tag|format|status|type|post_tag|author|has|even|odd|first|last|alt|sticky|"
    r"is|col|span|item)-|^(?:even|odd|first|last|alt|sticky|active|current|hentry)$",
    re.IGNORECASE,
)


def _signature(node: Node) -> tuple[str, str]:
    """Tag and first stable class: ``div.c-card`` for "c-card c-card--featured", ``article.post``
    for "post-12 post type-post" (ids, states and modifiers vary between the items of one list)."""
    classes = (node.attributes.get("class") or "").split()
    return node.tag or "", next((c for c in classes if not _VOLATILE.search(c) and "--" not in c), "")


_NOT_POSTS = frozenset(("br", "hr", "img", "span", "a", "meta", "link", "input", "option", "td", "th"))


def _groups(body: Node) -> Iterable[list[list[Node]]]:
    """Groups of sibling segments sharing a signature (two or more), chrome skipped."""
    stack = [body]
    while stack:
        node = stack.pop()
        kept = [
            c for c in node.iter()
            if c.tag and not c.tag.startswith("-") and c.tag not in _NEVER and not is_chrome(c)
        ]
        stack.extend(reversed(kept))
        if len(kept) < 2:
            continue
        by_sig: dict[tuple[str, str], list[int]] = {}
        for i, c in enumerate(kept):
            by_sig.setdefault(_signature(c), []).append(i)
        for (tag, _), idx in by_sig.items():
            if len(idx) < 2 or tag in _NOT_POSTS:
                continue
            if tag in _HEADINGS:
                segs = []
                for n, i in enumerate(idx):
                    stop = idx[n + 1] if n + 1 < len(idx) else min(len(kept), i + 8)
                    segs.append(kept[i:stop])
                yield segs
            else:
                yield [[kept[i]] for i in idx]


def _rule_generic(
    tree: LexborHTMLParser, base: str, tz: ZoneInfo, notes: list[str] | None = None
) -> list[_Found]:
    """The best-scoring group of repeated blocks (``notes``, when given, gets a line saying which)."""
    body = tree.body
    if body is None:
        return []
    best: tuple[float, list[_Found]] | None = None
    chosen: list[list[Node]] = []
    for segs in _groups(body):
        quick = [s for s in segs if _first(s, "a[href]") is not None]
        if len(quick) < 2 or len(quick) < 0.6 * len(segs):
            continue
        found = []
        containers = 0
        for s in segs:
            if sum(len(_heading_links(n)) for n in s) > 1:
                containers += 1
                continue
            if f := _found(s, None, base, tz):
                found.append(f)
        if len(found) < 2 or len(found) < 0.6 * len(segs) or containers > len(segs) // 3:
            continue
        dated = sum(1 for f in found if f.published is not None)
        summed = sum(1 for f in found if len(f.excerpt) >= 60)
        if dated < 0.5 * len(found) and summed < 0.5 * len(found):
            # a bare list of titles (a minimal theme's archive: ``<h2><a>Title</a></h2>`` each) is
            # posts only as a run of three or more headings, each its own link, and only when no
            # group with dates or summaries is on the page (it scores below every such group)
            if len(found) < 3 or not all(f.in_heading and not f.excerpt for f in found):
                continue
            score = 0.5 * len(found)
            if best is None or score > best[0]:
                best, chosen = (score, found), segs
            continue
        score = sum(
            (3 if f.in_heading else 1) + (2 if f.published else 0) + (2 if len(f.excerpt) >= 60 else 0)
            for f in found
        )
        if best is None or score > best[0]:
            best, chosen = (score, found), segs
    if notes is not None and best is not None:
        notes.append(f"{len(chosen)} repeated blocks <{_describe(chosen[0][0])}> holding a title link "
                     f"({sum(1 for f in best[1] if f.published)} dated, "
                     f"{sum(1 for f in best[1] if f.excerpt)} with a summary)")
    return best[1] if best else []


# --- entry point -----------------------------------------------------------------------------

def _describe(node: Node) -> str:
    """``tag#id.class.class`` of a node, for explanations."""
    attrs = node.attributes
    out = node.tag or "?"
    if ident := attrs.get("id"):
        out += f"#{ident}"
    out += "".join(f".{c}" for c in (attrs.get("class") or "").split()[:3])
    return out


def _chrome_blocks(tree: LexborHTMLParser, limit: int = 20) -> list[str]:
    """The outermost blocks skipped as site chrome, in page order, as ``<tag#id.class> "first words"``."""
    out: list[str] = []
    if tree.body is None:
        return out
    stack = list(reversed(list(tree.body.iter())))
    while stack and len(out) < limit:
        node = stack.pop()
        tag = node.tag
        if not tag or tag.startswith("-") or tag in _NEVER:
            continue
        if is_chrome(node):
            words = collapse(node.text())[:50]
            out.append(f"<{_describe(node)}>" + (f" {words!r}" if words else ""))
        else:
            stack.extend(reversed(list(node.iter())))
    return out


_RULE_WHAT = {
    "hatom": "the classic-theme layout (hAtom: article.hentry / .entry-title a / .entry-summary)",
    "block": "the WordPress block-theme layout (li.wp-block-post / .wp-block-post-title a)",
    "mf2": "the microformats2 layout (.h-entry / .p-name / .u-url / .dt-published / .p-summary)",
    "text": "the text layout (a title link, then a \"Posted on:\" line, then the excerpt)",
    "generic": "repeated blocks",
    "selectors": "the source's own CSS selectors",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """What :func:`extract_html` did with a page and why, for ``monitor check``: the page itself,
    the rules tried before the one that matched, which rule matched and on what, the older-posts
    link it will follow and why, the links that looked like one but are not followed, and the
    blocks skipped as site chrome."""

    page: Page
    tried: tuple[str, ...]  # rules that found nothing, in the order tried
    matched: str  # a sentence: which rule and what it matched ("" when none did)
    next_why: str  # why page.next_url was taken ("" when there is none)
    refused_next: tuple[str, ...]  # pagination-looking links not followed, each with the reason
    chrome: tuple[str, ...]  # outermost blocks skipped as chrome

    def lines(self) -> list[str]:
        """The explanation as lines of text."""
        out = []
        if self.tried:
            out.append("tried first, found nothing: " + ", ".join(self.tried))
        out.append(f"matched: {self.matched}" if self.matched else "matched: no rule found posts")
        if self.page.next_url:
            out.append(f"next page: {self.page.next_url} (because {self.next_why})")
        else:
            out.append("next page: none found")
        out.extend(f"not followed: {r}" for r in self.refused_next)
        out.extend(f"skipped as chrome: {c}" for c in self.chrome)
        return out


def extract_html(text: str, *, url: str, tz: ZoneInfo, selectors: Selectors | None = None) -> Page:
    """Posts on one HTML page (newest first, as shown). Zero posts is not an error here."""
    return _extract_html(text, url=url, tz=tz, selectors=selectors, explain=False)[0]


def explain_html(text: str, *, url: str, tz: ZoneInfo, selectors: Selectors | None = None) -> Explanation:
    """:func:`extract_html` with its reasons (see :class:`Explanation`)."""
    _, explanation = _extract_html(text, url=url, tz=tz, selectors=selectors, explain=True)
    assert explanation is not None
    return explanation


def _extract_html(
    text: str, *, url: str, tz: ZoneInfo, selectors: Selectors | None, explain: bool
) -> tuple[Page, Explanation | None]:
    if (why := too_complex(text)) is not None:
        raise ExtractError(f"page not read: {why}", url=url)
    try:
        tree = LexborHTMLParser(text)
    except Exception as e:  # lexbor refuses only on allocation failure / invalid input type
        raise ExtractError(f"cannot parse HTML: {e}", url=url) from e
    base = _base_url(tree, url)
    cache: dict[str, list[_Line]] = {}

    def page_lines() -> list[_Line]:
        if "lines" not in cache:
            cache["lines"] = _lines([tree.body], is_chrome) if tree.body is not None else []
        return cache["lines"]

    page_author = _page_author(tree, url, page_lines) or ""
    found: list[_Found] = []
    rule = "none"
    tried: list[str] = []
    notes: list[str] | None = [] if explain else None
    if selectors is not None:
        found, rule = _rule_profile(tree, selectors, base, tz, user=True), "selectors"
    else:
        rules: tuple[tuple[str, Callable[[], list[_Found]]], ...] = (
            ("hatom", lambda: _rule_profile(tree, _HATOM, base, tz, user=False)),
            ("block", lambda: _rule_profile(tree, _BLOCK_THEME, base, tz, user=False)),
            ("mf2", lambda: _rule_profile(tree, _MF2, base, tz, user=False)),
            ("text", lambda: _rule_text(page_lines(), base, tz)),
            ("generic", lambda: _rule_generic(tree, base, tz, notes)),
        )
        for name, run in rules:
            found = run()
            if found:
                rule = name
                break
            tried.append(name)
    posts, warnings = _to_posts(found, page_author)
    link, refused = next_link(tree, base, url, selectors.next if selectors else None)
    page = Page(
        kind="html",
        posts=posts,
        rule=rule if posts else "none",
        next_url=link.url if link else None,
        feed_url=_feed_url(tree, base, url),
        author=page_author or None,
        warnings=tuple(warnings),
    )
    if not explain:
        return page, None
    matched = ""
    if posts:
        matched = f"{rule}: {len(posts)} posts by {_RULE_WHAT.get(rule, rule)}"
        if notes:
            matched += ": " + "; ".join(notes)
    return page, Explanation(
        page=page, tried=tuple(tried), matched=matched, next_why=link.why if link else "",
        refused_next=tuple(refused), chrome=tuple(_chrome_blocks(tree)),
    )
