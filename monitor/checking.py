"""``monitor check``'s verdict: the one ``monitor fetch`` would reach, without storing anything.

:func:`monitor.pipeline.check_url` fetches and extracts; :func:`judge` (pure, no I/O) turns
what it got into a :class:`CheckReport`: the documents read, the verdict (``ok`` or the error
type fetch would record, with the same reason), the content type, and -- when the reading
failed -- the other reading to try (the page's feed, the feed's site, ``--type feed`` for a
feed read as a page). The CLI prints the report; other blocks (an explanation of the
extraction) can be printed between the documents and the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .detect import check_post_count
from .errors import MonitorError
from .models import Page, Response
from .output import plural

__all__ = ["CheckReport", "Reading", "judge"]


@dataclass(frozen=True)
class Reading:
    """One document check read: the response and what was extracted (None when extraction failed)."""

    response: Response
    page: Page | None

    @property
    def content_type(self) -> str:
        return (self.response.headers.get("content-type") or "no content type").split(";")[0].strip().lower()


@dataclass(frozen=True)
class CheckReport:
    url: str
    kind: str  # what was asked: auto | html | feed
    readings: tuple[Reading, ...]  # the URL first, then the page's feed when it was read
    error_type: str | None = None  # the MonitorError subclass name fetch would record
    error: str | None = None
    suggestion: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def verdict(self) -> str:
        return "ok" if self.ok else (self.error_type or "error")

    @property
    def content_type(self) -> str | None:
        return self.readings[0].content_type if self.readings else None

    @property
    def posts(self) -> int:
        """Posts the URL itself gave (what fetch would store from its first page)."""
        first = self.readings[0].page if self.readings else None
        return len(first.posts) if first else 0


def _looks_like_feed(ctype: str) -> bool:
    return any(w in ctype for w in ("rss", "atom", "rdf", "xml")) and "html" not in ctype


def judge(url: str, kind: str, readings: Sequence[Reading], error: MonitorError | None, *,
          feed_site: str | None = None) -> CheckReport:
    """The verdict on what :func:`check_url` read. ``error`` is what fetching or extracting
    raised; ``feed_site`` is the site a feed names as its home (for the suggestion)."""
    readings = tuple(readings)
    first = readings[0] if readings else None
    ctype = first.content_type if first else ""
    warnings = tuple(first.page.warnings) if first and first.page else ()
    if error is not None:
        suggestion = None
        if first is not None and kind == "feed" and "html" in ctype:
            suggestion = (f"it is a web page ({ctype}), not a feed: check it as a page "
                          f"(monitor check {url})")
        elif feed_site:
            suggestion = f"the feed's site is {feed_site}: monitor check {feed_site}"
        return CheckReport(url, kind, readings, type(error).__name__, error.reason, suggestion, warnings)
    assert first is not None and first.page is not None
    page = first.page
    # fetch's own rule for a first page, for a source with no history (detect.check_post_count)
    count = check_post_count(len(page.posts), page.kind, first.response.url, None)
    if count.warning:
        warnings = (*warnings, count.warning)
    if count.error is None:
        suggestion = None
        if page.kind == "feed" and not page.posts and feed_site:
            suggestion = f"the feed's site is {feed_site}: monitor check {feed_site}"
        return CheckReport(url, kind, readings, suggestion=suggestion, warnings=warnings)
    # a page with no posts: fetch fails it with NoPostsFound; say what else to read
    if _looks_like_feed(ctype):
        suggestion = f"it is served as a feed ({ctype}): check it as one (monitor check {url} --type feed)"
    elif page.feed_url:
        feed = next((r for r in readings[1:] if r.page is not None), None)
        found = f" ({plural(len(feed.page.posts), 'post')} there)" if feed and feed.page else ""
        suggestion = (f"the page links a feed{found}: monitor check {page.feed_url} --type feed, "
                      "and add that as the source")
    elif "json" in ctype:
        suggestion = (f"it is JSON ({ctype}), not a web page or a feed: the monitor reads HTML author pages "
                      "and RSS/Atom feeds; look for the site's author page or feed")
    elif "html" not in ctype:
        suggestion = (f"it is {ctype}, not a web page or a feed: the monitor reads HTML author pages "
                      "and RSS/Atom feeds")
    else:
        suggestion = ("no feed is linked from the page either; if it does list posts, give CSS selectors "
                      "for it in the config (sources[].selectors)")
    return CheckReport(url, kind, readings, "NoPostsFound", count.error, suggestion, warnings)
