"""Properties, with generated pages (hypothesis): what must hold for every input, not just the ones we thought of.

* Random whitespace, tracking parameters and page chrome around unchanged posts never make a change
  (extract + decide, the way the pipeline uses them).
* The detector is idempotent: what was just stored is unchanged when seen again, and deciding twice
  gives the same answer.
* Any text a page can carry survives storing and publishing with its meaning unchanged: text ->
  HTML page -> extract -> store -> digest HTML -> text equals the normalized input.

Examples are few and small, so the whole file runs in seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import itertools
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from monitor.config import parse_config
from monitor.detect import decide, normalize_text
from monitor.extract import clean_post, extract, post_identity
from monitor.models import PostData, StoredPost
from monitor.pipeline import publish_digests, run_once
from monitor.store import Store

TZ = ZoneInfo("Europe/London")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)

# -- strategies ---------------------------------------------------------------------------------------------

# words of what real titles hold: Latin with accents, Persian/Arabic, digits, punctuation, emoji
WORD = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éèüßçñ")
                             + list("مجاهدينخلقآلبانیگزارش") + list("’“”–—…!?,.:;()&<>\"'#%") + ["😀", "€"]),
    min_size=1, max_size=9,
)
TEXT = st.lists(WORD, min_size=2, max_size=10).map(" ".join).filter(lambda t: any(c.isalpha() for c in t))
SPACE = st.sampled_from([" ", "  ", "\n", "\t", " \n\t ", "\r\n", "\u00a0", " \u00a0 "])
TRACKING = st.lists(st.sampled_from(["utm_source=news", "utm_medium=email", "utm_campaign=x", "fbclid=IwAR0abc",
                                     "gclid=123", "ref=home", "mc_cid=9", "_ga=2.1"]), max_size=3)


@st.composite
def posts(draw) -> list[dict]:
    n = draw(st.integers(1, 5))
    titles = draw(st.lists(TEXT, min_size=n, max_size=n, unique_by=lambda t: " ".join(t.split()).lower()))
    out = []
    for i, title in enumerate(titles):
        day = dt.date(2020, 10, 28) - dt.timedelta(days=draw(st.integers(0, 60)))
        out.append({"id": 700 + i, "title": title, "day": day, "excerpt": draw(TEXT)})
    return out


def respace(draw, text: str) -> str:
    """The same words with other whitespace between them (and around them)."""
    words = text.split(" ")
    return draw(SPACE) + "".join(w + draw(SPACE) for w in words)


def chrome(draw) -> tuple[str, str]:
    """Page furniture that changes between fetches: menus, widgets, counts, relative times."""
    n = draw(st.integers(0, 40))
    ago = draw(st.sampled_from(["3 days ago", "an hour ago", "just now", "2 weeks ago"]))
    menu = "".join(f'<li><a href="/category/{c}/?utm_source=menu">{c}</a></li>'
                   for c in draw(st.lists(st.sampled_from(["news", "video", "analysis", "letters"]), max_size=4)))
    head = f'<header class="site-header"><nav class="main-navigation"><ul>{menu}</ul></nav></header>'
    side = (f'<aside id="secondary" class="widget-area"><section class="widget"><h2>Recent comments</h2>'
            f"<p>{n} Comments · updated {ago}</p><p>Visitors: {draw(st.integers(0, 10**6))}</p></section>"
            f'<form class="search-form"><input name="s" value="{draw(st.integers(0, 99))}"></form></aside>')
    return head, side


def render(draw, items: list[dict], *, noisy: bool) -> bytes:
    arts = []
    for p in items:
        url = f"https://blog.example/{p['day']:%Y/%m/%d}/post-{p['id']}/"
        title, excerpt = html.escape(p["title"]), html.escape(p["excerpt"])
        if noisy:
            params = draw(TRACKING)
            url += ("?" + "&amp;".join(params)) if params else ""
            if draw(st.booleans()):
                url += "#comments"
            title, excerpt = respace(draw, title), respace(draw, excerpt)
            comments = f'<span class="comments-link"><a href="{url}">{draw(st.integers(0, 500))} Comments</a></span>'
        else:
            comments = '<span class="comments-link"><a href="#respond">Leave a comment</a></span>'
        arts.append(
            f'<article id="post-{p["id"]}" class="post-{p["id"]} post type-post hentry">'
            f'<h2 class="entry-title"><a href="{url}" rel="bookmark">{title}</a></h2>'
            f'<div class="entry-summary"><p>{excerpt}</p></div>'
            f'<footer class="entry-footer"><span class="posted-on"><time class="entry-date published" '
            f'datetime="{p["day"]}T09:00:00+00:00">{p["day"]:%B %d, %Y}</time></span>{comments}</footer></article>'
        )
    head, side = chrome(draw) if noisy else ("", "")
    sep = draw(SPACE) if noisy else "\n"
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Author</title></head><body class="archive">'
            f'{head}<main id="main">{sep.join(arts)}</main>{side}</body></html>').encode()


def stored_from(p: PostData, i: int, now: dt.datetime) -> StoredPost:
    """What the store keeps for a post first seen now (the fields decide() reads)."""
    identity, _ = post_identity(p)
    h = decide(None, p, tz=TZ).hash
    return StoredPost(id=i, source="s", identity=identity, url=p.url, title=p.title, published=p.published,
                      date_only=p.date_only, excerpt=p.excerpt, content=p.content, author=p.author,
                      outlet=p.outlet, original_date=p.original_date, guid=p.guid, wp_id=p.wp_id, origin=p.origin,
                      hash=h, first_seen=now, last_seen=now, last_changed=None, versions=1)


NOW = dt.datetime(2020, 11, 1, tzinfo=dt.UTC)

# -- properties ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(st.data(), posts())
def test_whitespace_tracking_parameters_and_chrome_never_make_a_change(data, items):
    first = extract(render(data.draw, items, noisy=False), url="https://blog.example/author/jane/", tz=TZ)
    assert len(first.posts) == len(items)
    stored = {post_identity(p)[0]: stored_from(p, i, NOW) for i, p in enumerate(first.posts)}
    for _ in range(2):
        again = extract(render(data.draw, items, noisy=True), url="https://blog.example/author/jane/", tz=TZ)
        assert len(again.posts) == len(items)
        for p in again.posts:
            identity, _ = post_identity(p)
            assert identity in stored, f"{p.url} is a new post for tracking parameters or a fragment"
            d = decide(stored[identity], p, tz=TZ)
            assert d.outcome == "unchanged", d.changes


ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)  # what a str can hold, bar surrogates


@SETTINGS
@given(title=ANY_TEXT, excerpt=ANY_TEXT, content=ANY_TEXT, edited=ANY_TEXT,
       day=st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1)), date_only=st.booleans())
def test_the_detector_is_idempotent(title, excerpt, content, edited, day, date_only):
    when = dt.datetime.combine(day, dt.time(0 if date_only else 13, 0), tzinfo=TZ)
    # extract cleans every text field; that is what decide() is given
    p = clean_post(PostData(url="https://x.example/a/", title=title, excerpt=excerpt, content=content,
                            published=when, date_only=date_only))
    first = decide(None, p, tz=TZ)
    assert first.outcome == "new" and first == decide(None, p, tz=TZ)
    old = stored_from(p, 1, NOW)
    assert decide(old, p, tz=TZ).outcome == "unchanged"
    assert decide(old, p, tz=TZ) == decide(old, p, tz=TZ)
    # an edit is a change exactly when the normalized title differs; once stored, it is not one again
    q = clean_post(dataclasses.replace(p, title=edited or p.title))
    d = decide(old, q, tz=TZ)
    # (an empty field is "not observed", and one seen for the first time is filled in: neither is an edit)
    edit = bool(q.title) and bool(p.title) and normalize_text(q.title) != normalize_text(p.title)
    assert (d.outcome == "changed") == edit, d
    assert [c.field for c in d.changes] == (["title"] if d.outcome == "changed" else [])
    assert decide(stored_from(q, 1, NOW), q, tz=TZ).outcome == "unchanged"


# everything a page can carry in text: any character but surrogates (a byte stream cannot hold one)
PAGE_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60).filter(
    lambda t: any(c.isalnum() for c in t))


def _invalid(c: str) -> bool:
    """Code points no published page or feed may hold: controls, surrogates, noncharacters."""
    o = ord(c)
    return unicodedata.category(c) in ("Cc", "Cs") or 0xFDD0 <= o <= 0xFDEF or (o & 0xFFFE) == 0xFFFE


def normalized(text: str) -> str:
    """The meaning of ``text``: its words (split as str.split does), invalid code points dropped, NFC."""
    words = ("".join(c for c in w if not _invalid(c)) for w in text.split())
    return unicodedata.normalize("NFC", " ".join(w for w in words if w))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(title=PAGE_TEXT, excerpt=PAGE_TEXT)
def test_any_text_survives_storing_and_publishing(tmp_path_factory, title, excerpt):
    assume(normalized(title) and normalized(excerpt) and normalized(title) != "++")
    assume("weekly digest" not in title.lower())
    n = next(_counter)
    tmp: Path = tmp_path_factory.mktemp(f"roundtrip{n}")
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><main>'
            f'<article id="post-{n}" class="post type-post hentry"><h2 class="entry-title">'
            f'<a href="https://rt.example/2020/10/27/post-{n}/">{html.escape(title)}</a></h2>'
            f'<div class="entry-summary"><p>Jane Roe, Example Outlet, October 27 2020:… {html.escape(excerpt)}</p></div>'
            f'<time class="entry-date published" datetime="2020-10-27T09:00:00+00:00">Oct 27</time>'
            f"</article></main></body></html>").encode()
    got = extract(page, url="https://rt.example/author/jane/", tz=TZ)
    (p,) = got.posts
    assert normalized(p.title) == normalized(title)
    # store it through the real store, then publish the week
    config = parse_config({"site": {"title": "Round Trip"}, "timezone": "Europe/London", "database": "m.db",
                           "output_dir": "site", "sources": [{"name": "rt", "url": "https://rt.example/"}]},
                          base_dir=tmp)
    with Store.open(config.database) as store:
        run_once(config, store, fetcher=_OnePage(page), clock=lambda: NOW)
        (stored,) = store.posts()
        assert stored.title == p.title and stored.excerpt == p.excerpt
        publish_digests(config, store, all_weeks=True, now=NOW)
    tree = LexborHTMLParser((tmp / "site" / "digests" / "2020-10-30.html").read_text("utf-8"))
    shown_title = tree.css_first("h2.item-title").text()
    assert normalized(shown_title) == "++ " + normalized(title) or normalized(shown_title) == normalized(
        "++ " + title)
    # the excerpt: as stored, unless it was cut at 55 words; the extractor may only have dropped a
    # tail that repeats the title (how WordPress excerpts end)
    if not ({w.lower() for w in normalized(title).split()} & {w.lower() for w in normalized(excerpt).split()}):
        assert normalized(p.excerpt) == normalized(excerpt)
    else:
        assert normalized(excerpt).startswith(normalized(p.excerpt).rstrip(" .,;:!?…"))
    line = tree.css_first("p.item-line").text()
    head = "Jane Roe, Example Outlet, October 27 2020"
    if not p.excerpt:
        assert line == head
    elif len(p.excerpt.split()) <= 55:
        assert normalized(line) == normalized(f"{head}:… {p.excerpt}")
    else:
        assert normalized(line).removesuffix(" …").rstrip(",;:") in normalized(f"{head}:… {p.excerpt}")


_counter = itertools.count()


class _OnePage:
    """A stand-in Fetcher that serves one page for any URL (the network is another suite's business)."""

    def __init__(self, body: bytes):
        self.body = body

    async def get(self, url, *, etag=None, last_modified=None, respect_robots=True):
        from monitor.models import Response

        return Response(url=url, status=200, content=self.body, headers={"content-type": "text/html; charset=utf-8"})

    async def aclose(self) -> None:
        pass
