"""The weekly digest, as data and text — a pure module (no I/O, no clock).

::

    week_window(day)               -> [Saturday 00:00, next Saturday 00:00) local, tz-aware
    build_digest(week, posts, changes, ...) -> Digest | None
        the week's posts (by "Posted on"), deduped, newest first, lead first;
        posts first seen before the week whose tracked fields changed in it
    present(digest, ...)           -> DigestView   every line of the house style, as text
    render_text(view)              -> str          the digest as plain text

A :class:`DigestView` has two layouts: HTML, ``templates/_digest_body.html``
(rendered by :mod:`monitor.publish` once per digest, for its page and, sanitized,
its feed entries), and plain text, :func:`render_text` (here, so it stays pure).

Everything a template or a feed shows comes out of :func:`present` already
cleaned (:func:`clean_text`, :mod:`monitor.text`): control characters and code
points that are not allowed in XML are gone, so no input can make a page or a
feed invalid. Each such text is a :class:`Clean` string, which tells the
renderers that cleaning it again would change nothing (they still clean every
other text). Escaping is :mod:`monitor.publish`'s job (the templates'
autoescape; feedgen for the feeds), and so is sanitizing HTML.

House style (``shared/weekly-digest-style.md`` section 2)::

    {lead} – {site} Weekly Digest – {Mon DD, YYYY}
    {site}, {Month DD YYYY}:… {lead excerpt}
    This week: 5 posts from 2 authors (Oct 10 – Oct 16, 2020).
    ++ {Title}
    {author}, {outlet}, {Month DD YYYY}:… {excerpt, ≤ 55 words, " …" when cut}
    Read more → {post URL}
    Updated this week:
    {site} Weekly Digest · week ending {Mon DD, YYYY} · {N} posts · {A} authors
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from urllib.parse import quote, urlsplit

from .models import Digest, DigestItem, FieldChange, StoredPost, Version
from .text import clean_line, clean_text
from .urls import same_post_key

__all__ = [
    "DIGEST_TITLE_RE",
    "EXCERPT_WORDS",
    "MONTHS",
    "Calendar",
    "Clean",
    "DigestView",
    "GroupView",
    "ItemView",
    "UpdatedView",
    "build_digest",
    "change_labels",
    "clean_line",
    "clean_text",
    "counts_line",
    "diff_segments",
    "digest_guid",
    "digest_title",
    "display_author",
    "footer_line",
    "format_day",
    "format_mon",
    "intro_line",
    "is_digest_title",
    "item_line",
    "last_complete_week_ending",
    "post_day",
    "post_excerpt",
    "present",
    "render_text",
    "safe_url",
    "site_slug",
    "source_head",
    "strip_digest_suffix",
    "truncate_words",
    "url_key",
    "week_ending_for",
    "week_ending_of",
    "week_window",
    "weeks_between",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_DASH = "\u2013"
ELLIPSIS = "\u2026"
#: Longest excerpt shown for an item, in words.
EXCERPT_WORDS = 55

#: A digest title, with or without a lead (style doc, section 2).
DIGEST_TITLE_RE = re.compile(
    r"^(?:(?P<lead>.+?)\s+[–-]\s+)?(?P<site>.+?),?\s+Weekly Digest\s*[–-]\s*"
    r"(?:\d+|[A-Z][a-z]+\.?\s+\d{1,2},\s+\d{4})\s*$"
)

# -- text hygiene (the cleaner itself is monitor.text's, shared with the extract stage) ----------


class Clean(str):
    """A text that :func:`clean_text` returns unchanged (what :func:`present` hands out).

    Only a marker: a renderer may skip cleaning it again. Build one only from text that
    has been through :func:`clean_text` or :func:`clean_line` (and kept that way).
    """

    __slots__ = ()


_PCT_BAD = re.compile(r"%(?![0-9A-Fa-f]{2})")
_URL_OK = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
# http(s)://, a host part free of "[" and "]" (urlsplit takes it as the netloc and cannot object to it),
# nothing to escape (if no % is bad): what safe_url returns unchanged without asking urlsplit
_PLAIN_HTTP_URL = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9\-._~:@!$&'()*+,;=%]+"
                             r"(?:[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?")


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for ``href`` (spaces and non-ASCII escaped), or None (``javascript:`` …)."""
    return _safe_url(clean_line(url))


def _safe_url(url: str) -> str | None:
    """:func:`safe_url` of a URL that is already a :func:`clean_line`."""
    if _PLAIN_HTTP_URL.fullmatch(url) and ("%" not in url or not _PCT_BAD.search(url)):  # the common case
        return url
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if _URL_OK.fullmatch(url):  # the common case: nothing to escape
        return url
    return quote(_PCT_BAD.sub("%25", url), safe=":/?#[]@!$&'()*+,;=%~")


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def site_slug(site_title: str) -> str:
    """``Iran Interlink`` -> ``iran-interlink`` (ASCII, lower case, hyphens)."""
    s = unicodedata.normalize("NFKD", clean_line(site_title)).encode("ascii", "ignore").decode("ascii")
    s = _NOT_SLUG.sub("-", s.lower()).strip("-")
    return s or "site"


def truncate_words(text: str, limit: int = EXCERPT_WORDS) -> str:
    """At most ``limit`` words; `` …`` appended when something was cut."""
    return _truncate(clean_line(text), limit)


_FIRST_WORDS = re.compile(f"(?:[^ ]* ){{{EXCERPT_WORDS}}}")  # EXCERPT_WORDS words, each with its space after


def _truncate(line: str, limit: int = EXCERPT_WORDS) -> str:
    """:func:`truncate_words` of a :func:`clean_line` (its words are separated by one space each)."""
    if limit == EXCERPT_WORDS:  # every excerpt of a digest: the cut found without a list of the words
        first = _FIRST_WORDS.match(line)
        if first is None:
            return line
        return line[:first.end() - 1].rstrip(",;:") + " " + ELLIPSIS
    if line.count(" ") < limit:
        return line
    return " ".join(line.split(" ", limit)[:limit]).rstrip(",;:") + " " + ELLIPSIS


# -- dates ------------------------------------------------------------------------------------


def format_mon(day: dt.date) -> str:
    """``Oct 16, 2020`` (English 3-letter month, zero-padded day)."""
    return f"{MONTHS[day.month - 1][:3]} {day.day:02d}, {day.year}"


def format_day(day: dt.date) -> str:
    """``October 16 2020`` (full month, zero-padded day, no comma: the site's source lines)."""
    return f"{MONTHS[day.month - 1]} {day.day:02d} {day.year}"


def _weekday(week_ends_on: str | int) -> int:
    if isinstance(week_ends_on, int):
        return week_ends_on % 7
    try:
        return WEEKDAYS.index(week_ends_on.strip().lower())
    except ValueError:
        raise ValueError(f"not a weekday name: {week_ends_on!r}") from None


def week_ending_of(day: dt.date, week_ends_on: str | int = "friday") -> dt.date:
    """The last day of the week that contains ``day`` (``day`` itself on the week-end weekday)."""
    return day + dt.timedelta(days=(_weekday(week_ends_on) - day.weekday()) % 7)


def week_window(day: dt.date, week_ends_on: str | int = "friday",
                tz: dt.tzinfo = dt.UTC) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of the week containing ``day``: local midnights, tz-aware, end exclusive.

    For a Friday week end: the Saturday 00:00 before to the next Saturday 00:00.
    """
    last = week_ending_of(day, week_ends_on)
    start = dt.datetime.combine(last - dt.timedelta(days=6), dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start, end


def week_ending_for(instant: dt.datetime, week_ends_on: str | int = "friday",
                    tz: dt.tzinfo = dt.UTC) -> dt.date:
    """The week-ending date of the week an instant falls in (local calendar of ``tz``)."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}")
    return week_ending_of(instant.astimezone(tz).date(), week_ends_on)


def last_complete_week_ending(now: dt.datetime, week_ends_on: str | int = "friday",
                              tz: dt.tzinfo = dt.UTC) -> dt.date:
    """The week-ending date of the last week that is over at ``now``."""
    return week_ending_for(now, week_ends_on, tz) - dt.timedelta(days=7)


@dataclass(frozen=True)
class Calendar:
    """All week arithmetic of a site: where weeks end, when each is published, which are due.

    Pure (``now`` is always passed in). ``config.calendar`` builds the site's one.
    """

    week_ends_on: str | int = "friday"
    publish_weekday: int = 5  # Monday = 0
    publish_time: dt.time = dt.time(6, 0)
    tz: dt.tzinfo = dt.UTC

    def week_of(self, instant: dt.datetime) -> dt.date:
        """The week-ending date of the week ``instant`` falls in."""
        return week_ending_for(instant, self.week_ends_on, self.tz)

    def window(self, week_ending: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return week_window(week_ending, self.week_ends_on, self.tz)

    def last_complete(self, now: dt.datetime) -> dt.date:
        return last_complete_week_ending(now, self.week_ends_on, self.tz)

    def publish_moment(self, week_ending: dt.date) -> dt.datetime:
        """When the week is published: the first ``publish_weekday`` at ``publish_time`` (local)
        after the end of the week."""
        first_day = week_ending + dt.timedelta(days=1)
        day = first_day + dt.timedelta(days=(self.publish_weekday - first_day.weekday()) % 7)
        return dt.datetime.combine(day, self.publish_time, tzinfo=self.tz)

    def last_due_week(self, now: dt.datetime) -> dt.date:
        """The newest week whose publish moment has come by ``now``."""
        week = self.last_complete(now)
        return week if self.publish_moment(week) <= now else week - dt.timedelta(days=7)

    def due_weeks(self, now: dt.datetime, first_published: dt.datetime | None) -> list[dt.date]:
        """Every week from the one holding the first post to the newest due one, oldest first."""
        if first_published is None:
            return []
        return weeks_between(self.week_of(first_published), self.last_due_week(now), self.week_ends_on)

    def weeks_to_build(self, now: dt.datetime, first_published: dt.datetime | None, *,
                       week_ending: dt.date | None = None, all_weeks: bool = False
                       ) -> tuple[list[dt.date], list[tuple[dt.date, str]]]:
        """Which weeks a build is about, and the weeks it skips with why.

        One week: ``week_ending`` (any day of it) or, by default, the last complete week; a week
        not over yet is skipped. All weeks: every week from the one holding the first post to the
        last complete one (the caller keeps those with posts, or all with ``empty_weeks``).
        """
        last_complete = self.last_complete(now)
        if not all_weeks:
            week = week_ending_of(week_ending, self.week_ends_on) if week_ending else last_complete
            if week > last_complete:
                return [], [(week, "not over yet")]
            return [week], []
        if first_published is None:
            return [], []
        return weeks_between(self.week_of(first_published), last_complete, self.week_ends_on), []


def weeks_between(first: dt.date, last: dt.date, week_ends_on: str | int = "friday") -> list[dt.date]:
    """Every week-ending date from the week of ``first`` to the week of ``last``, oldest first."""
    a, b = week_ending_of(first, week_ends_on), week_ending_of(last, week_ends_on)
    return [a + dt.timedelta(days=7 * i) for i in range(max(0, (b - a).days // 7 + 1))]


# -- titles -------------------------------------------------------------------------------------


def is_digest_title(title: str) -> bool:
    """True for ``… – Iran Interlink Weekly Digest – Oct 16, 2020`` and its older forms."""
    return bool(DIGEST_TITLE_RE.match(clean_line(title)))


def strip_digest_suffix(title: str) -> str:
    """The lead of a digest title (``""`` when it has none); other titles unchanged."""
    title = clean_line(title)
    m = DIGEST_TITLE_RE.match(title)
    if not m:
        return title
    return (m.group("lead") or "").strip()


def digest_title(lead: str | None, site_title: str, week_ending: dt.date) -> str:
    """``{lead} – {site} Weekly Digest – {Mon DD, YYYY}``; a lead never nests a digest title."""
    site = clean_line(site_title)
    lead_text = strip_digest_suffix(lead or "")
    tail = f"{site} Weekly Digest {EN_DASH} {format_mon(week_ending)}"
    return f"{lead_text} {EN_DASH} {tail}" if lead_text else tail


def digest_guid(site_title: str, week_ending: dt.date) -> str:
    """Stable, non-permalink id of a week's digest: ``iran-interlink-weekly-digest-2020-10-16``."""
    return f"{site_slug(site_title)}-weekly-digest-{week_ending.isoformat()}"


# -- selection ------------------------------------------------------------------------------------




def url_key(url: str) -> str:
    """A URL reduced for "is this the same post" (:func:`monitor.urls.same_post_key`)."""
    return same_post_key(clean_line(url))


def _dedupe_keys(post: StoredPost) -> tuple[str, ...]:
    keys = [f"id:{post.identity}"] if post.identity else []
    if post.url:
        keys.append(f"url:{url_key(post.url)}")
    return tuple(keys) or (f"pk:{post.id}",)


def display_author(post: StoredPost) -> str:
    """Who wrote it: the source line's author, else the outlet (never empty commas)."""
    return _part(post.author) or _part(post.outlet)


_DOUBLED_COMMAS = re.compile(r"\s*,(?:\s*,)+")


def _part(text: str) -> str:
    """One part of a source line: no doubled or trailing commas, single spaces."""
    s = clean_line(text)
    if "," in s:
        s = _DOUBLED_COMMAS.sub(",", s)
    return s.strip(" ,;:")


def build_digest(
    week_ending: dt.date,
    posts: Sequence[StoredPost],
    changes: Sequence[tuple[StoredPost, Version]],
    *,
    site_title: str,
    tz: dt.tzinfo,
    week_ends_on: str | int = "friday",
    lead_url: str | None = None,
    empty_weeks: bool = False,
) -> Digest | None:
    """The digest of the week that ends on (or contains) ``week_ending``, or None for a quiet week.

    ``posts`` may hold more than the week: only those published in the week are
    taken (a backfilled post counts in the week of its "Posted on" date). The
    same post stored under two sources (same identity or URL) is kept once, the
    first one (oldest stored). Items are newest first, ties in page order, the
    lead first. ``changes`` are ``(post, version)`` pairs (``store.changes_between``);
    a post first seen before the week whose version > 1 was seen in the week is
    listed under "Updated this week".

    The lead is the post at ``lead_url`` when that is a post of the week, else
    the newest post that is not itself a digest, else the newest post (its
    digest suffix stripped from the title). None is returned when the week has
    neither new nor updated posts, unless ``empty_weeks``.
    """
    start, end = week_window(week_ending, week_ends_on, tz)
    last_day = (end - dt.timedelta(days=1)).date()

    # the same instants in UTC, the store's zone: datetimes with the same tzinfo compare field by field
    utc_start, utc_end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    in_week = [p for p in posts if p.published is not None and utc_start <= p.published < utc_end]
    # newest first; on the same date, the post first seen later is the newer one (a later run found
    # it above the others), and within one run ids follow page order (newest first on the page)
    in_week.sort(key=attrgetter("id"))
    in_week.sort(key=attrgetter("published", "first_seen"), reverse=True)
    seen: set[str] = set()
    items: list[StoredPost] = []
    for p in in_week:
        keys = _dedupe_keys(p)
        if seen.isdisjoint(keys):
            seen.update(keys)
            items.append(p)

    lead: StoredPost | None = None
    if lead_url:
        want = url_key(lead_url)
        lead = next((p for p in items if p.url and url_key(p.url) == want), None)
    if lead is None:
        lead = next((p for p in items if not is_digest_title(p.title)), items[0] if items else None)
    if lead is not None:
        items.remove(lead)
        items.insert(0, lead)

    # -- updated this week: first seen before the week, a new version seen during it
    updated_order: list[str] = []
    updated: dict[str, tuple[StoredPost, list[FieldChange], dt.datetime]] = {}
    alias: dict[str, str] = {}
    for post, version in sorted(changes, key=lambda pv: (pv[1].seen_at, pv[0].id, pv[1].number)):
        if version.number <= 1 or not (utc_start <= version.seen_at < utc_end) or post.first_seen >= utc_start:
            continue
        keys = _dedupe_keys(post)
        key = next((alias[k] for k in keys if k in alias), keys[0])
        for k in keys:
            alias.setdefault(k, key)
        if key not in updated:
            updated[key] = (post, [], version.seen_at)
            updated_order.append(key)
        kept, fields, last = updated[key]
        fields.extend(version.changes)
        updated[key] = (kept, fields, max(last, version.seen_at))
    upd_keys = sorted(updated_order, key=lambda k: updated[k][0].id)
    upd_keys.sort(key=lambda k: updated[k][2], reverse=True)

    if not items and not upd_keys and not empty_weeks:
        return None

    authors: list[str] = []
    seen_authors: set[str] = set()
    names: dict[tuple[str, str], str] = {}  # display_author by (author, outlet): many posts, few names
    for p in items:
        a = names.get((p.author, p.outlet))
        if a is None:
            a = names[p.author, p.outlet] = display_author(p)
        if a and a.casefold() not in seen_authors:
            seen_authors.add(a.casefold())
            authors.append(a)

    return Digest(
        week_start=start,
        week_end=end - dt.timedelta(microseconds=1),
        site_title=clean_line(site_title),
        title=digest_title(lead.title if lead else None, site_title, last_day),
        lead=lead,
        items=tuple(DigestItem(p) for p in items),
        updated=tuple(DigestItem(updated[k][0], tuple(updated[k][1])) for k in upd_keys),
        authors=tuple(authors),
    )


# -- lines of text ----------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def post_excerpt(post: StoredPost) -> str:
    """The post's excerpt, cleaned, without a repeated title, at most 55 words."""
    return _excerpt(post.excerpt, clean_line(post.title))


def _excerpt(excerpt: str, title: str) -> str:
    """:func:`post_excerpt` of a raw excerpt, ``title`` being the post's title as a :func:`clean_line`."""
    line = clean_line(excerpt)
    # the title repeated as link text at the end of a captured excerpt is dropped
    t = title.rstrip(" .")
    e = line.rstrip(" .")
    if t and len(e) > len(t):
        folded = t.casefold()
        # casefold maps each character on its own to one or more: the end of e.casefold() is the end of
        # its last len(folded) characters' (no need to fold the whole excerpt)
        if e[-len(folded):].casefold().endswith(folded):
            # what clean_line makes of the rest: a piece of a clean line is one, but maybe for NFC at the cut
            rest = e[: -len(t)].rstrip()
            line = rest if rest.isascii() else unicodedata.normalize("NFC", rest)
    return _truncate(line)


def post_day(post: StoredPost, tz: dt.tzinfo) -> dt.date | None:
    """The date an item line shows: the source line's date, else the local "Posted on" date."""
    if post.original_date is not None:
        return post.original_date
    return post.published.astimezone(tz).date() if post.published else None


def source_head(post: StoredPost, tz: dt.tzinfo) -> str:
    """``{author}, {outlet}, {Month DD YYYY}``: no empty part, no ``,,``, author once if = outlet."""
    return _source_head(post.author, post.outlet, post_day(post, tz))


def _source_head(author: str, outlet: str, day: dt.date | None) -> str:
    author, outlet = _part(author), _part(outlet)
    parts = [author]
    if outlet and outlet.casefold() != author.casefold():
        parts.append(outlet)
    if day is not None:
        parts.append(format_day(day))
    return ", ".join(p for p in parts if p)


def item_line(post: StoredPost, tz: dt.tzinfo) -> str:
    """``{author}, {outlet}, {Month DD YYYY}:… {excerpt}`` with no empty part and no ``,,``."""
    return _item_line(source_head(post, tz), post_excerpt(post))


def _item_line(head: str, excerpt: str) -> str:
    if head and excerpt:
        return f"{head}:{ELLIPSIS} {excerpt}"
    return head or excerpt


def intro_line(site_title: str, week_ending: dt.date, lead: StoredPost | None) -> str:
    """``{site}, {Month DD YYYY}:… {lead excerpt}``."""
    text = ""
    if lead is not None:
        text = post_excerpt(lead) or strip_digest_suffix(lead.title)
    text = text or "No new posts this week."
    return f"{clean_line(site_title)}, {format_day(week_ending)}:{ELLIPSIS} {text}"


def _range(start: dt.date, end: dt.date) -> str:
    if start.year == end.year:
        return f"{MONTHS[start.month - 1][:3]} {start.day:02d} {EN_DASH} {format_mon(end)}"
    return f"{format_mon(start)} {EN_DASH} {format_mon(end)}"


def counts_line(n_posts: int, n_authors: int, first_day: dt.date, last_day: dt.date) -> str:
    """``This week: 5 posts from 2 authors (Oct 10 – Oct 16, 2020).``"""
    span = _range(first_day, last_day)
    if n_posts == 0:
        return f"This week: no new posts ({span})."
    if n_authors == 0:
        return f"This week: {_plural(n_posts, 'post')} ({span})."
    return f"This week: {_plural(n_posts, 'post')} from {_plural(n_authors, 'author')} ({span})."


def footer_line(site_title: str, week_ending: dt.date, n_posts: int, n_authors: int) -> str:
    """``{site} Weekly Digest · week ending {Mon DD, YYYY} · {N} posts · {A} authors``."""
    return (f"{clean_line(site_title)} Weekly Digest · week ending {format_mon(week_ending)} · "
            f"{_plural(n_posts, 'post')} · {_plural(n_authors, 'author')}")


def change_labels(changes: Iterable[FieldChange]) -> str:
    """``title edited, excerpt rewritten`` (each label once, in order)."""
    labels: list[str] = []
    for c in changes:
        label = clean_line(c.label) or f"{clean_line(c.field)} changed"
        if label not in labels:
            labels.append(label)
    return ", ".join(labels) or "changed"


_DIFF = re.compile(r"\[-(.*?)-\]|\{\+(.*?)\+\}", re.DOTALL)


def diff_segments(diff: str) -> list[tuple[str, str]]:
    """A word diff ``kept [-old-] {+new+}`` as ``[("same"|"del"|"ins", text), ...]``."""
    out: list[tuple[str, str]] = []
    pos = 0
    diff = clean_text(diff)
    for m in _DIFF.finditer(diff):
        if m.start() > pos:
            out.append(("same", diff[pos:m.start()]))
        out.append(("del", m.group(1)) if m.group(1) is not None else ("ins", m.group(2)))
        pos = m.end()
    if pos < len(diff):
        out.append(("same", diff[pos:]))
    return out


# -- the view the templates and feeds render -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemView:
    post_id: int
    title: str
    href: str | None  # None when the URL is not http(s): shown as text, never linked
    url_text: str
    line: str


@dataclass(frozen=True, slots=True)
class GroupView:
    label: str  # "" when not grouped
    items: tuple[ItemView, ...]


@dataclass(frozen=True, slots=True)
class UpdatedView:
    post_id: int
    title: str
    href: str | None
    what: str  # "title edited, excerpt rewritten"


@dataclass(frozen=True, slots=True)
class DigestView:
    week_ending: dt.date
    week_start: dt.date
    site_title: str
    title: str
    guid: str
    intro: str
    counts: str
    groups: tuple[GroupView, ...]
    updated: tuple[UpdatedView, ...]
    footer: str
    n_posts: int
    n_authors: int
    lead_url: str | None

    @property
    def posted_on(self) -> str:
        """``2020/10/30`` (WordPress "Posted on:")."""
        return self.week_ending.strftime("%Y/%m/%d")

    @property
    def items(self) -> tuple[ItemView, ...]:
        return tuple(i for g in self.groups for i in g.items)


def _group_label(post: StoredPost, group_by: str, tz: dt.tzinfo) -> str:
    if group_by == "author":
        return display_author(post) or "Other"
    if group_by == "outlet":
        return _part(post.outlet) or display_author(post) or "Other"
    if group_by == "day":
        day = post.published.astimezone(tz).date() if post.published else None
        return f"{DAY_NAMES[day.weekday()]}, {MONTHS[day.month - 1][:3]} {day.day:02d}" if day else "Undated"
    return ""


def _href(url: str | None) -> Clean | None:
    return None if url is None else Clean(url)


def present(digest: Digest, *, tz: dt.tzinfo, group_by: str = "none") -> DigestView:
    """Every text of the digest in the house style, cleaned, ready for a template or a feed.

    Each text is a :class:`Clean` string (made of :func:`clean_line` s, literals and dates).
    """
    grouped = group_by in ("author", "outlet", "day")
    items: list[ItemView] = []
    # each value is cleaned once; a week has many posts but few (author, outlet, day) source line heads
    heads: dict[tuple[str, str, dt.date | None], str] = {}
    for it in digest.items:
        p = it.post
        title, url = clean_line(p.title), clean_line(p.url)
        day = post_day(p, tz)
        head = heads.get((p.author, p.outlet, day))
        if head is None:
            head = heads[p.author, p.outlet, day] = _source_head(p.author, p.outlet, day)
        items.append(ItemView(post_id=p.id, title=Clean(title or url or "(untitled)"),
                              href=_href(_safe_url(url)), url_text=Clean(url),
                              line=Clean(_item_line(head, _excerpt(p.excerpt, title)))))
    groups: list[GroupView] = []
    if grouped:
        order: dict[str, list[ItemView]] = {}
        for it, view in zip(digest.items, items, strict=True):
            order.setdefault(_group_label(it.post, group_by, tz), []).append(view)
        groups = [GroupView(Clean(label), tuple(v)) for label, v in order.items()]
    elif items:
        groups = [GroupView(Clean(""), tuple(items))]
    updated = tuple(
        UpdatedView(post_id=u.post.id,
                    title=Clean(clean_line(u.post.title) or clean_line(u.post.url) or "(untitled)"),
                    href=_href(safe_url(u.post.url)), what=Clean(change_labels(u.changes)))
        for u in digest.updated
    )
    week_ending = digest.week_ending
    n_posts, n_authors = len(digest.items), len(digest.authors)
    return DigestView(
        week_ending=week_ending,
        week_start=digest.week_start.date(),
        site_title=Clean(clean_line(digest.site_title)),
        title=Clean(clean_line(digest.title)),
        guid=Clean(digest_guid(digest.site_title, week_ending)),
        intro=Clean(intro_line(digest.site_title, week_ending, digest.lead)),
        counts=Clean(counts_line(n_posts, n_authors, digest.week_start.date(), week_ending)),
        groups=tuple(groups),
        updated=updated,
        footer=Clean(footer_line(digest.site_title, week_ending, n_posts, n_authors)),
        n_posts=n_posts,
        n_authors=n_authors,
        lead_url=digest.lead.url if digest.lead else None,
    )


def render_text(view: DigestView, root: str = "") -> str:
    """The digest as plain text (the same lines the HTML page shows).

    ``root`` goes before the links to our own pages (a post's history): the site's URL in a mail,
    where a relative link leads nowhere.
    """
    out = [view.title, f"Posted on: {view.posted_on}", "", view.intro, view.counts, ""]
    for g in view.groups:
        if g.label:
            out += [f"{g.label}:", ""]
        for i in g.items:
            out += [f"++ {i.title}", i.line, f"Read more → {i.url_text}", ""]
    if view.updated:
        out += ["Updated this week:"]
        out += [f"- {u.title} ({u.what}): {root}posts/{u.post_id}.html" for u in view.updated]
        out += [""]
    out.append(view.footer)
    return "\n".join(out) + "\n"
