"""Decide whether an observed post is new, changed or unchanged — a pure function.

No I/O and no clock: :func:`decide` compares what a page or feed showed now
(:class:`~monitor.models.PostData`) with what is stored
(:class:`~monitor.models.StoredPost`) and returns a
:class:`~monitor.models.Decision` with a field-level diff.

What counts as a change (and what does not):

* Only the tracked fields: title, excerpt, content, published date.
* Text is compared after normalization (:func:`normalize_text`): Unicode NFC,
  whitespace collapsed, page noise removed ("3 days ago", "5 Comments",
  "Continue reading", "Read more"). Content HTML is compared as its text, so
  markup churn (cache-busting ``?ver=``, nonces, classes) is not an edit.
* A field the observation does not carry is *not observed*, never "deleted":
  an empty excerpt or content, a missing date. Feeds that drop content and
  author pages that never show it therefore cause no false alarms.
* Excerpts are compared only when both came from the same surface (author page,
  or feed alone, see :func:`excerpt_source`): the two word excerpts differently,
  and a post seen once via the feed and once via the page is not an edit.
* A field seen for the first time (stored empty) is filled in, not an edit.
* Dates: if either side is date-only ("Posted on: 2020/10/28"), only the local
  calendar date is compared; otherwise the instant, to the minute.

The hash is versioned (``HASH_VERSION``) so a future change of normalization
can be told apart from an edit.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import hashlib
import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .models import (
    Decision,
    FieldChange,
    PostData,
    PostWrite,
    RunWrites,
    SourceResult,
    SourceState,
    StoredPost,
)
from .schedule import next_due

__all__ = [
    "FULL_SWEEP_EVERY",
    "HASH_VERSION",
    "MIN_POST_SHARE",
    "SHRUNK_ACCEPT_RUNS",
    "PostCount",
    "check_post_count",
    "content_text",
    "date_key",
    "decide",
    "excerpt_source",
    "needs_full_sweep",
    "normalize_text",
    "post_hash",
    "post_write",
    "run_writes",
    "word_diff",
]

HASH_VERSION = 1

# Page noise: (a word the pattern cannot match without, the pattern), matched case-insensitively.
# The word lets normalize_text skip a pattern after one substring test (see _strip_noise) instead of
# trying it at every position of a long text. What the patterns remove is part of the hash.
_NOISE: tuple[tuple[str, str], ...] = (
    # relative times: "3 days ago", "an hour ago", "just now"
    ("ago", r"\b(?:\d+|an?|one)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago\b"),
    ("just now", r"\bjust now\b"),
    # comment counts and prompts
    ("comment", r"\b(?:\d+|no|one)\s+comments?\b"),
    ("leave a", r"\bleave an? (?:comment|reply)\b"),
    ("comment", r"\bcomments? (?:are )?(?:off|closed)\b"),
    # "more" links
    ("continue reading", r"\bcontinue reading\b(?:\s*(?:→|»|…|\.\.\.))?"),
    ("read more", r"\bread more\b(?:\s*(?:→|»|…|\.\.\.))?"),
    ("(more…)", r"\(more…\)"),
)
_NOISE_WORDS = tuple(dict.fromkeys(word.encode("utf-8") for word, _ in _NOISE))
# The only non-ASCII letters re.IGNORECASE matches to ASCII ones: İ and ı to i, ſ to s, K (Kelvin) to k
_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)

_LABELS = {
    "title": "title edited",
    "excerpt": "excerpt rewritten",
    "content": "content edited",
    "published": "date changed",
}


@functools.cache
def _noise_re(words: tuple[bytes, ...]) -> re.Pattern[str]:
    """One pattern of the noise patterns whose word is in ``words``, in their order."""
    patterns = [pattern for word, pattern in _NOISE if word.encode("utf-8") in words]
    return re.compile("|".join(patterns), re.IGNORECASE)


def _strip_noise(text: str) -> str:
    """``text`` with every noise match replaced by a space.

    The same as one substitution with all the patterns, but only the patterns whose word occurs
    in ``text`` take part: a pattern cannot match where its word is missing, and trying all of
    them at every position was most of the cost of :func:`post_hash`. The words are looked up in
    the UTF-8 bytes lower-cased (ASCII letters only, so every other character keeps its bytes),
    after mapping the four non-ASCII letters re.IGNORECASE equates with ASCII ones.
    """
    if not text.isascii() and any(chr(c) in text for c in _TO_ASCII):
        folded = text.translate(_TO_ASCII).encode("utf-8", "surrogatepass").lower()
    else:
        folded = text.encode("utf-8", "surrogatepass").lower()
    words = tuple([word for word in _NOISE_WORDS if word in folded])
    return _noise_re(words).sub(" ", text) if words else text


def normalize_text(text: str) -> str:
    """The comparable form of a text field: NFC, noise removed, whitespace collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u200b", "")
    # str.split() and a regex \s agree on what whitespace is: this is re.sub(r"\s+", " ", text).strip()
    return " ".join(_strip_noise(text).split())


def body_text(content_html: str) -> str:
    """The readable text of an HTML body (tags and scripts out, entities decoded, case kept): what
    the search index holds of a post's content."""
    if not content_html:
        return ""
    return " ".join(html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", content_html))).split())


def content_text(content_html: str) -> str:
    """The text of an HTML body, for comparison (markup changes are not edits)."""
    if not content_html:
        return ""
    text = _SCRIPT.sub(" ", content_html)
    text = _TAG.sub(" ", text)
    return normalize_text(html.unescape(text))


def date_key(published: dt.datetime | None, date_only: bool, tz: ZoneInfo) -> str:
    """Comparable date: local ``YYYY-MM-DD`` for date-only values, else UTC to the minute."""
    if published is None:
        return ""
    if date_only:
        return published.astimezone(tz).date().isoformat()
    return published.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def post_hash(title: str, excerpt: str, content: str, published: dt.datetime | None,
              date_only: bool, tz: ZoneInfo) -> str:
    """Versioned hash of the normalized tracked fields."""
    day = published.astimezone(tz).date().isoformat() if published else ""
    parts = [normalize_text(title), normalize_text(excerpt), content_text(content), day]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"v{HASH_VERSION}:{digest}"


def word_diff(old: str, new: str) -> str:
    """A readable word diff: ``kept [-removed-] {+added+} kept``."""
    a, b = old.split(), new.split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            seg = a[i1:i2]
            # keep the diff short: elide long unchanged runs
            out.append(" ".join(seg) if len(seg) <= 12 else " ".join(seg[:5] + ["…"] + seg[-5:]))
        else:
            if i2 > i1:
                out.append("[-" + " ".join(a[i1:i2]) + "-]")
            if j2 > j1:
                out.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(out)


def excerpt_source(origin: str) -> str:
    """Where an excerpt was read: the author page (origin page/both) or the feed alone."""
    return "feed" if origin == "feed" else "page"


def _date_text(published: dt.datetime | None, date_only: bool, tz: ZoneInfo) -> str:
    if published is None:
        return ""
    local = published.astimezone(tz)
    return local.date().isoformat() if date_only else local.isoformat(timespec="minutes")


def decide(old: StoredPost | None, new: PostData, *, tz: ZoneInfo) -> Decision:
    """new / changed / unchanged for one observation, with a field-level diff."""
    new_hash = post_hash(new.title, new.excerpt, new.content, new.published, new.date_only, tz)
    if old is None:
        return Decision("new", (), new_hash)

    changes: list[FieldChange] = []

    def text_field(name: str, old_raw: str, new_raw: str, norm: Callable[[str], str]) -> None:
        if not new_raw or not old_raw:  # not observed this time, or first observed now: not an edit
            return
        o, n = norm(old_raw), norm(new_raw)
        if o != n:
            changes.append(FieldChange(name, old_raw, new_raw, word_diff(o, n), _LABELS[name]))

    text_field("title", old.title, new.title, normalize_text)
    if excerpt_source(old.origin) == excerpt_source(new.origin):
        text_field("excerpt", old.excerpt, new.excerpt, normalize_text)
    text_field("content", old.content, new.content, content_text)

    if new.published is not None and old.published is not None:
        coarse = new.date_only or old.date_only
        if date_key(old.published, coarse, tz) != date_key(new.published, coarse, tz):
            o = _date_text(old.published, old.date_only, tz)
            n = _date_text(new.published, new.date_only, tz)
            changes.append(FieldChange("published", o, n, f"[-{o}-] {{+{n}+}}", _LABELS["published"]))

    if changes:
        return Decision("changed", tuple(changes), new_hash)
    return Decision("unchanged", (), new_hash)


def post_write(observed: PostData, identity: str, url_key: str, decision: Decision,
               existing: StoredPost | None) -> PostWrite:
    """What storage writes for one observed post, every value final (storage applies no rule).

    - **new**: the observation as it is, version 1.
    - **unchanged**: the stored post, with what this sighting adds without being an edit filled
      in: feed content where none was stored, a date first seen, a guid or WordPress id, and an
      author-page excerpt in place of one read from the feed alone (the page is what readers see).
    - **changed**: the observed fields over the stored ones (a field this surface does not show
      keeps its stored value; an excerpt replaces the stored one only when both came from the
      same surface, or the stored one came from the feed alone), and a new version.

    Either way the post's ``origin`` becomes ``both`` once the page and the feed have shown it.
    """
    p, e, d = observed, existing, decision
    if e is None:
        return PostWrite(identity, url_key, d.outcome, None, p.url, p.title, p.published, p.date_only, p.excerpt,
                         p.content, p.author, p.outlet, p.original_date, p.guid, p.wp_id, p.origin, d.hash,
                         1, ())
    url = p.url or e.url
    guid = e.guid if e.guid is not None else p.guid
    wp_id = e.wp_id if e.wp_id is not None else p.wp_id
    origin = e.origin if e.origin == p.origin else "both"
    if d.outcome == "unchanged":
        page_over_feed = e.origin == "feed" and p.origin != "feed"
        excerpt = p.excerpt if p.excerpt and (not e.excerpt or page_over_feed) else e.excerpt
        first_date = e.published is None and p.published is not None
        content = e.content or p.content
        return PostWrite(identity, url_key, d.outcome, e.id, url, e.title,
                         p.published if first_date else e.published,
                         p.date_only if first_date else e.date_only, excerpt, content,
                         e.author, e.outlet, e.original_date, guid, wp_id, origin, e.hash, None, (),
                         reindex=excerpt != e.excerpt or content != e.content)
    same_surface = excerpt_source(p.origin) == excerpt_source(e.origin)
    excerpt = p.excerpt if p.excerpt and (same_surface or e.origin == "feed") else e.excerpt
    return PostWrite(identity, url_key, d.outcome, e.id, url, p.title or e.title,
                     p.published if p.published else e.published,
                     p.date_only if p.published else e.date_only, excerpt, p.content or e.content,
                     p.author or e.author, p.outlet or e.outlet, e.original_date, guid, wp_id, origin, d.hash,
                     e.versions + 1, d.changes)


# -- run-level decisions: one source run as a whole ----------------------------------------------

#: How often a known source reads every page up to max_pages: between full sweeps a run stops at
#: the first page with nothing new (and a 304 on page 1 costs nothing), which cannot see an edit
#: of an old post on page 2 or later; a full sweep can.
FULL_SWEEP_EVERY = dt.timedelta(hours=24)

#: A first page with fewer than this share of the posts it had last time is an
#: extraction failure (a theme change, a block page), not mass deletion.
MIN_POST_SHARE = 0.3

#: ... unless that many runs in a row find the same smaller count: then the author really removed
#: posts, and the new count is accepted (with a warning) as what the page has.
SHRUNK_ACCEPT_RUNS = 3


def needs_full_sweep(state: SourceState | None, now: dt.datetime) -> bool:
    """Whether this run reads every page (a new source, or FULL_SWEEP_EVERY since the last sweep)."""
    return state is None or state.last_full_at is None or now - state.last_full_at >= FULL_SWEEP_EVERY


@dataclass(frozen=True, slots=True)
class PostCount:
    """The verdict on a first page's post count: an error (the run fails), or a warning."""

    error: str | None = None
    warning: str | None = None
    shrunk: tuple[int, int] | None = None  # a too-small count: (count, runs in a row seeing it)


def check_post_count(n: int, kind: str, url: str, state: SourceState | None) -> PostCount:
    """Is ``n`` posts on a source's first page believable, given what it had before?"""
    before = state.last_post_count if state else None
    if n == 0:
        if kind == "html":
            if before:
                return PostCount(error=f"no posts found on a page that had {before}")
            return PostCount(error=f"no posts found on {url} (tried the classic, block, text and generic layouts)")
        if before:
            return PostCount(error=f"the feed lists no entries; it had {before}")
        return PostCount(warning="the feed lists no entries")
    if before and before >= 5 and n < before * MIN_POST_SHARE:
        seen = (state.shrunk_runs if state is not None and state.shrunk_count == n else 0) + 1
        if seen < SHRUNK_ACCEPT_RUNS:
            return PostCount(shrunk=(n, seen), error=(
                f"only {n} posts found on a page that had {before} (if the author removed posts, "
                f"the new count is accepted after {SHRUNK_ACCEPT_RUNS} runs in a row find it; {seen} so far)"))
        return PostCount(warning=f"the page lists {n} posts where it had {before}: accepted as its new count, "
                                 f"{seen} runs in a row found it")
    return PostCount()


def run_writes(result: SourceResult, state: SourceState | None, *, started: dt.datetime,
               finished: dt.datetime, posts: Sequence[PostWrite],
               http_cache: dict[str, tuple[str | None, str | None, str | None]], every: float,
               backoff_max: float, retry_after: float | None, full: bool, post_count: int | None,
               feed_url: str | None, shrunk: tuple[int, int] | None,
               log_retention: float | None = None) -> RunWrites:
    """Everything a source run writes, every value final: a failed run writes no posts and no
    validators (nothing half-read is stored) and backs off; a run that read every page without
    error is the new full sweep; what a run did not see (post count, feed) keeps its stored value.
    ``log_retention`` (seconds): the run log keeps that much history (and at most a day more); older
    rows of the source are deleted in the transaction of its daily full sweep (and of a failed run),
    so the log stays bounded without a separate job and a warm cycle pays nothing for it.
    """
    ok = result.status != "error"
    failures = 0 if ok else (state.failures if state else 0) + 1
    if retry_after is not None:  # a server's "Retry-After: 1e20" must not suspend a source forever
        retry_after = min(retry_after, max(backoff_max, every))
    if shrunk is None:
        # a run that read its pages normally forgets a shrunk count; an unrelated error keeps the streak
        keep = not ok and state is not None and bool(state.shrunk_count)
        shrunk = (state.shrunk_count or 0, state.shrunk_runs) if keep and state else (0, 0)
    return RunWrites(
        source=result.source, started_at=started, finished_at=finished, result=result,
        posts=tuple(posts) if ok else (), http_cache=dict(http_cache) if ok else {},
        next_due_at=next_due(finished, every, failures=failures, retry_after=retry_after,
                             backoff_max=backoff_max),
        failures=failures,
        retry_after_until=finished + dt.timedelta(seconds=retry_after) if retry_after else None,
        last_ok_at=finished if ok else (state.last_ok_at if state else None),
        last_post_count=post_count if post_count is not None else (state.last_post_count if state else None),
        feed_url=feed_url if feed_url is not None else (state.feed_url if state else None),
        last_full_at=finished if ok and full else (state.last_full_at if state else None),
        shrunk=shrunk,
        # pruned by the daily full sweep and by failed runs, not by every run (a warm cycle of 304s
        # pays nothing): the log keeps log_retention of history, and at most a day more
        prune_log_before=(finished - dt.timedelta(seconds=log_retention)
                          if log_retention and (full or not ok) else None),
    )
