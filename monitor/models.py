"""Small typed values the pipeline stages pass to each other.

Stages never reach into each other's internals; they hand over these values::

    fetch.Fetcher.get()          -> Response        (bytes + headers, or a 304)
    extract.extract()            -> Page            (PostData found on one page/feed)
    detect.decide()              -> Decision        (new / changed / unchanged + diff)
    detect.post_write/run_writes -> PostWrite, RunWrites (complete rows, written as given)
    storage.Storage              <- RunWrites, -> StoredPost / Version / SourceState
    digest.build_digest()        -> Digest          (pure: posts + changes for a week)
    digest.present()             -> DigestView      (what the pages and feeds say)
    publish.render_site()        <- DigestView ...  -> bytes by path; publish.write_files()

All datetimes are timezone-aware. ``date_only`` marks a date that came without
a time ("Posted on: 2020/10/28"): it is 00:00 of that day in the configured
time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

SourceType = Literal["auto", "html", "feed"]
PageKind = Literal["html", "feed"]
Outcome = Literal["new", "changed", "unchanged"]
RunStatus = Literal["ok", "error", "not_modified", "skipped"]

#: Fields whose edit counts as a real change of a post.
TRACKED_FIELDS: tuple[str, ...] = ("title", "excerpt", "content", "published")


@dataclass(frozen=True, slots=True)
class Response:
    """What the fetch stage got for one URL (after redirects)."""

    url: str  # final URL after redirects
    status: int  # 2xx or 304
    content: bytes  # decompressed body; b"" for a 304
    headers: Mapping[str, str]  # names lower-cased
    elapsed: float = 0.0  # seconds

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass(frozen=True, slots=True)
class PostData:
    """One post as one page or feed showed it (what the extractor saw)."""

    url: str  # absolute URL of the post
    title: str  # plain text, entities decoded, curly quotes kept
    published: dt.datetime | None = None  # tz-aware; the "Posted on" date
    date_only: bool = False  # published had no time of day
    excerpt: str = ""  # plain text, source line and repeated title removed
    content: str = ""  # HTML body when the source gives one (feeds), else ""
    author: str = ""  # from the source line, else the page's author
    outlet: str = ""  # from the source line, "" when none
    original_date: dt.date | None = None  # the source line's date
    guid: str | None = None  # feed guid/id
    wp_id: int | None = None  # WordPress post id (post-123, ?p=123, shortlink)
    origin: Literal["page", "feed", "both"] = "page"


@dataclass(frozen=True, slots=True)
class Page:
    """What the extractor found in one fetched document."""

    kind: PageKind
    posts: tuple[PostData, ...]
    rule: str  # which rule matched: "hatom", "block", "text", "generic", "selectors", "rss", "atom", ...
    next_url: str | None = None  # "Older posts" / rel=next, absolute
    feed_url: str | None = None  # discovered <link rel=alternate> feed, absolute
    author: str | None = None  # the page's author display name, when shown
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: str
    new: str
    diff: str  # human-readable word diff ("[-old-]{+new+}")
    label: str  # e.g. "title edited", "excerpt rewritten", "date changed"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the detector says about one observed post."""

    outcome: Outcome
    changes: tuple[FieldChange, ...] = ()
    hash: str = ""  # versioned hash of the normalized tracked fields


@dataclass(frozen=True, slots=True)
class PostWrite:
    """One observed post as storage writes it: every value final, no rule left to apply.

    Computed by :func:`monitor.detect.post_write` (which field wins when the page and the feed
    disagree, what an unchanged sighting fills in); :meth:`monitor.store.Store.apply_run` writes it
    as given. ``post_id`` None is a new post; ``version`` is the version number this write adds
    (1 for a new post, n + 1 for a change, None for an unchanged sighting).
    """

    identity: str
    url_key: str
    outcome: Outcome
    post_id: int | None
    url: str
    title: str
    published: dt.datetime | None
    date_only: bool
    excerpt: str
    content: str
    author: str
    outlet: str
    original_date: dt.date | None
    guid: str | None
    wp_id: int | None
    origin: str
    hash: str
    version: int | None
    changes: tuple[FieldChange, ...] = ()
    reindex: bool = True  # a searched text (title, excerpt, content) is new: the search index must catch up


@dataclass(frozen=True, slots=True)
class StoredPost:
    id: int
    source: str
    identity: str
    url: str
    title: str
    published: dt.datetime | None
    date_only: bool
    excerpt: str
    content: str
    author: str
    outlet: str
    original_date: dt.date | None
    guid: str | None
    wp_id: int | None
    origin: str
    hash: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    last_changed: dt.datetime | None
    versions: int


@dataclass(frozen=True, slots=True)
class Version:
    post_id: int
    number: int  # 1 = first seen
    seen_at: dt.datetime
    title: str
    excerpt: str
    content: str
    published: dt.datetime | None
    changes: tuple[FieldChange, ...] = ()  # vs the previous version; () for the first


@dataclass(frozen=True, slots=True)
class SourceResult:
    """One source's run: a value, never an exception (cf. reader's UpdateResult)."""

    source: str
    status: RunStatus
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    pages: int = 0
    http_status: int | None = None
    error: str | None = None  # the user-facing reason when status == "error"
    error_type: str | None = None  # the MonitorError subclass name
    duration: float = 0.0
    rule: str | None = None
    warnings: tuple[str, ...] = ()
    next_due_at: dt.datetime | None = None  # when the source is due again (what the run stored)
    failures: int = 0  # failed runs in a row, this one included

    @property
    def ok(self) -> bool:
        return self.status != "error"


@dataclass(frozen=True, slots=True)
class DigestItem:
    post: StoredPost
    changes: tuple[FieldChange, ...] = ()  # for the "Updated this week" section


@dataclass(frozen=True, slots=True)
class Digest:
    week_start: dt.datetime  # Saturday 00:00 local (for a Friday week end)
    week_end: dt.datetime  # Friday 23:59:59.999999 local
    site_title: str
    title: str
    lead: StoredPost | None
    items: tuple[DigestItem, ...]  # new posts, lead first, then newest first
    updated: tuple[DigestItem, ...] = ()
    authors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def week_ending(self) -> dt.date:
        return self.week_end.date()


@dataclass(frozen=True)
class SourceState:
    name: str
    url: str
    type: str
    last_run_at: dt.datetime | None
    last_status: str | None
    last_error: str | None
    last_error_type: str | None
    last_http_status: int | None
    last_ok_at: dt.datetime | None
    next_due_at: dt.datetime | None
    failures: int
    retry_after_until: dt.datetime | None
    last_post_count: int | None
    feed_url: str | None = None
    last_full_at: dt.datetime | None = None  # last run that read every page
    shrunk_count: int | None = None  # a far smaller post count seen on the first page ...
    shrunk_runs: int = 0  # ... by this many runs in a row


@dataclass(frozen=True)
class RunWrites:
    """Everything one source run writes, applied in one transaction, every value final.

    Built by the pipeline from the run and the source's state before it (:func:`monitor.detect.run_writes`); storage writes it as given.
    """

    source: str
    started_at: dt.datetime
    finished_at: dt.datetime
    result: SourceResult
    posts: Sequence[PostWrite] = ()
    http_cache: Mapping[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    next_due_at: dt.datetime | None = None
    failures: int = 0
    retry_after_until: dt.datetime | None = None
    last_ok_at: dt.datetime | None = None
    last_post_count: int | None = None  # posts on the first page
    feed_url: str | None = None  # discovered author feed
    last_full_at: dt.datetime | None = None  # the last run that read every page
    shrunk: tuple[int, int] = (0, 0)  # (shrunk_count, shrunk_runs) to remember; (0, 0) forgets
    prune_log_before: dt.datetime | None = None  # this source's fetch_log rows started before: deleted


@dataclass(frozen=True)
class PublishingState:
    """The service's last publish pass: ok, or the error and when it is retried."""

    attempted_at: dt.datetime | None
    ok: bool
    last_error: str | None = None
    retry_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the delivery ledger: one week's digest to one recipient of one channel.

    ``state`` is ``queued`` (written just before sending: a row still queued after a crash was
    maybe sent), ``sent`` or ``failed``; a failed row with ``next_attempt_at`` is retried then,
    one with ``permanent`` is not (but ``--resend``). ``generation`` counts resends: each has its
    own Message-ID, and every attempt of one generation the same one.
    """

    week_ending: dt.date
    channel: str
    recipient: str
    state: Literal["queued", "sent", "failed"]
    message_id: str
    attempts: int = 0
    generation: int = 0
    permanent: bool = False
    last_error: str | None = None
    next_attempt_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
