"""Parse the seed captures (``seeds/000_*.txt`` ...) into authors and posts.

The author seeds are text captures of Iran Interlink author pages::

    Author: {Name}
    {Name}                         (avatar alt / heading, once or twice)
    {bio paragraph}
    Email: [email protected]      (Cloudflare-obfuscated; may be missing)
    Twitter: {handle}
    {Title}
    Posted on: YYYY/MM/DD          (EMPTY = same day as the post above)
    {source line}:… {excerpt} {title again}     (one or more lines)
    ...

The article seeds (003, 004) are plain full texts; two seed posts use them as
their full content so the feeds carry realistic ``content:encoded``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

__all__ = [
    "SEEDS_DIR",
    "SampleAuthor",
    "SamplePost",
    "article_html",
    "load_seed_authors",
    "parse_seed_text",
    "slugify",
    "split_repeated_title",
    "unique_slug",
]

SEEDS_DIR = Path(__file__).parent / "seeds"

#: WordPress author ids; Massoud Khodabandeh's ``authorid=4`` is the one seen in real URLs.
_AUTHOR_IDS = {"massoud-khodabandeh": 4, "iran-interlink": 2, "ali-alavi": 9}
#: Which seed post gets which full article as its content (author slug, title prefix, file prefix).
_ARTICLE_CONTENT = (
    ("massoud-khodabandeh", "Trump Campaign Uses", "004_"),
    ("iran-interlink", "MEK Albanian Click Farm", "003_"),
)
_FIRST_POST_ID = 7301
_POSTED_ON = re.compile(r"^Posted on:\s*(?:(\d{4})/(\d{1,2})/(\d{1,2}))?\s*$")


class SeedAuthorInfo(TypedDict):
    name: str
    bio: str
    twitter: str
    has_email: bool


class SeedPostInfo(TypedDict):
    title: str
    posted_on: dt.date
    body_line: str


@dataclass(frozen=True, slots=True)
class SamplePost:
    """One post. Frozen: the site replaces it on every edit."""

    post_id: int  # fake WordPress id (``post-N``, ``?p=N``)
    slug: str
    title: str
    posted_on: dt.date
    body_line: str  # source line + excerpt, ending with the repeated title ("\n" between lines)
    content_html: str = ""  # full HTML content (feeds' content:encoded, single post page)
    author_slug: str = ""
    time_of_day: dt.time = dt.time(9, 0)  # UTC; pages/feeds that show a time use it
    modified: dt.datetime | None = None  # UTC; None = never edited (= published)

    @property
    def published(self) -> dt.datetime:
        return dt.datetime.combine(self.posted_on, self.time_of_day, tzinfo=dt.UTC)

    @property
    def last_modified(self) -> dt.datetime:
        return self.modified or self.published

    @property
    def excerpt_parts(self) -> tuple[str, str]:
        """``(text before the repeated title, repeated title)``; the second may be ""."""
        return split_repeated_title(self.body_line, self.title)


@dataclass(slots=True)
class SampleAuthor:
    """One author page: who, and their posts (newest first)."""

    name: str
    slug: str
    bio: str
    twitter: str
    posts: list[SamplePost] = field(default_factory=list)
    has_email: bool = True
    author_id: int = 0
    theme: str = "classic"  # where source_urls() points: a theme mount (see site.MOUNTS)
    kind: str = "html"  # "html" (author page) or "feed"


def slugify(text: str) -> str:
    """WordPress ``sanitize_title``-like: ascii, lower case, hyphens; curly quotes dropped."""
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    s = re.sub(r"[^a-z0-9\s_-]", "", s)
    s = re.sub(r"[\s_-]+", "-", s).strip("-")
    return s[:190].rstrip("-") or "post"


def unique_slug(base: str, taken: Container[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... : the first not in ``taken`` (as WordPress does)."""
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def split_repeated_title(body_line: str, title: str) -> tuple[str, str]:
    """Split the repeated title (the link text at the end of an excerpt) off ``body_line``.

    The captures repeat the title loosely ("... Troll Farm In Albania ." for
    "... ( MEK ) Troll Farm In Albania"), so we look for the title's first words
    near the end, case-sensitively, after the source line's ``:…``.
    """
    words = title.split()
    if not words or not body_line:
        return body_line, ""
    start = body_line.find(":…") + 2 if ":…" in body_line else 0
    for n in (3, 2):
        if len(words) < n:
            continue
        head = " ".join(words[:n])
        i = body_line.rfind(head, start)
        if i <= start or body_line[i - 1] not in " .":
            continue
        tail = body_line[i:]
        if "\n" not in tail and len(tail) <= len(title) + 25:
            return body_line[:i].rstrip(), tail
    return body_line, ""


def article_html(text: str) -> str:
    """Full-text article -> HTML: short unpunctuated lines become ``<h3>``, others ``<p>``."""
    out = []
    for line in (ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        if len(line) < 70 and not re.search(r"[.!?:\"”…)]$", line) and not line.lower().startswith("by "):
            out.append(f"<h3>{html.escape(line, quote=False)}</h3>")
        else:
            out.append(f"<p>{html.escape(line, quote=False)}</p>")
    return "\n".join(out)


def excerpt_html(body_line: str) -> str:
    """Default content for a post with no full text: its excerpt lines as paragraphs."""
    return "\n".join(f"<p>{html.escape(ln, quote=False)}</p>" for ln in body_line.splitlines() if ln)


def _time_for(slug: str, day: dt.date, nth: int) -> dt.time:
    """A stable time of day: 08:00-10:59 UTC for a day's first post, +75 min for each later one."""
    h = int.from_bytes(hashlib.blake2b(f"{slug}/{day}".encode(), digest_size=2).digest(), "big")
    minutes = 8 * 60 + h % 180 + 75 * nth
    minutes = min(minutes, 23 * 60 + 59)
    return dt.time(minutes // 60, minutes % 60)


def parse_seed_text(text: str) -> tuple[SeedAuthorInfo, list[SeedPostInfo]]:
    """Parse one author capture -> ``(author fields, [post fields, newest first])``.

    Post ids are not assigned here (see :func:`load_seed_authors`). An empty
    ``Posted on:`` carries the previous post's date; a first post without one
    is an error.
    """
    lines = [ln.rstrip() for ln in text.splitlines()]
    if not lines or not lines[0].startswith("Author:"):
        raise ValueError("seed capture must start with 'Author: {Name}'")
    name = lines[0].removeprefix("Author:").strip()
    dated = [i for i, ln in enumerate(lines) if _POSTED_ON.match(ln.strip())]
    # The title is the last non-empty line before each "Posted on:".
    title_idx = []
    for i in dated:
        j = i - 1
        while j > 0 and not lines[j].strip():
            j -= 1
        title_idx.append(j)
    header_end = title_idx[0] if title_idx else len(lines)
    bio_lines: list[str] = []
    twitter, has_email = "", False
    for ln in lines[1:header_end]:
        s = ln.strip()
        if not s or s == name:
            continue
        if s.startswith("Email:"):
            has_email = True
        elif s.startswith("Twitter:"):
            twitter = s.removeprefix("Twitter:").strip().lstrip("@")
        else:
            bio_lines.append(s)
    posts: list[SeedPostInfo] = []
    last_date: dt.date | None = None
    for n, (ti, di) in enumerate(zip(title_idx, dated, strict=True)):
        m = _POSTED_ON.match(lines[di].strip())
        assert m is not None
        if m.group(1):
            last_date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif last_date is None:
            raise ValueError(f"line {di + 1}: first post has an empty 'Posted on:'")
        end = title_idx[n + 1] if n + 1 < len(title_idx) else len(lines)
        body = "\n".join(ln.strip() for ln in lines[di + 1 : end] if ln.strip())
        posts.append({"title": lines[ti].strip(), "posted_on": last_date, "body_line": body})
    author: SeedAuthorInfo = {"name": name, "bio": "\n".join(bio_lines), "twitter": twitter,
                              "has_email": has_email}
    return author, posts


def seed_files() -> list[Path]:
    """The author captures, in order (``000_*``, ``001_*``, ``002_*``)."""
    return sorted(p for p in SEEDS_DIR.glob("*.txt") if p.name[:3] in {"000", "001", "002"})


def load_seed_authors() -> list[SampleAuthor]:
    """The three seed authors with their posts (newest first), fresh objects on every call.

    Post ids are a deterministic sequence in chronological order across all
    seeds (older post = lower id, as in WordPress), with small gaps.
    """
    parsed = [parse_seed_text(p.read_text(encoding="utf-8")) for p in seed_files()]
    articles = {p.name[:4]: p.read_text(encoding="utf-8") for p in SEEDS_DIR.glob("00[34]_*.txt")}
    authors: list[SampleAuthor] = []
    chrono: list[tuple[dt.date, int, int]] = []  # (date, author index, -position on page)
    for a_idx, (info, posts) in enumerate(parsed):
        slug = slugify(info["name"])
        authors.append(SampleAuthor(**info, slug=slug, author_id=_AUTHOR_IDS.get(slug, 20 + a_idx)))
        chrono += [(p["posted_on"], a_idx, -k) for k, p in enumerate(posts)]
    ids: dict[tuple[int, int], int] = {}
    next_id = _FIRST_POST_ID
    for day, a_idx, neg_k in sorted(chrono):
        ids[(a_idx, -neg_k)] = next_id
        next_id += 1 + int(hashlib.blake2b(f"{day}/{a_idx}".encode(), digest_size=1).digest()[0]) % 9
    used_slugs: set[str] = set()
    for a_idx, (author, (_info, posts)) in enumerate(zip(authors, parsed, strict=True)):
        per_day: dict[dt.date, int] = {}
        built = []
        for k in reversed(range(len(posts))):  # oldest first, so later same-day posts get later times
            p = posts[k]
            day, title, body = p["posted_on"], p["title"], p["body_line"]
            nth = per_day.get(day, 0)
            per_day[day] = nth + 1
            content = excerpt_html(body)
            for a_slug, prefix, file_prefix in _ARTICLE_CONTENT:
                if a_slug == author.slug and title.startswith(prefix) and file_prefix in articles:
                    content = article_html(articles[file_prefix])
            slug = unique_slug(slugify(title), used_slugs)
            used_slugs.add(slug)
            built.append(
                SamplePost(
                    post_id=ids[(a_idx, k)], slug=slug, title=title, posted_on=day, body_line=body,
                    content_html=content, author_slug=author.slug,
                    time_of_day=_time_for(author.slug, day, nth),
                )
            )
        author.posts = sorted(built, key=lambda q: (q.published, q.post_id), reverse=True)
    return authors
