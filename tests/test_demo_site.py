"""The demo's own small site (monitor.demo.site) over real HTTP on 127.0.0.1: what `monitor demo` fetches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from monitor.demo import demo_config
from monitor.demo.site import DemoSite, RunningSite

# (source name, seed author slug, selector of one post's title link on an author page)
MARKUPS = [
    ("Massoud Khodabandeh", "massoud-khodabandeh", "div.post h3 a"),
    ("Iran Interlink", "iran-interlink", "article.post h2.entry-title a"),
    ("Ali Alavi", "ali-alavi", "ul.wp-block-post-template li.wp-block-post h2.wp-block-post-title a"),
]


@pytest.fixture(scope="module")
def site() -> Iterator[RunningSite]:
    with RunningSite(DemoSite.from_seeds()) as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def _sources(site: RunningSite) -> dict[str, str]:
    return {s["name"]: s["url"] for s in demo_config(site.url, "http://127.0.0.1:1/", Path("."))["sources"]}


@pytest.mark.parametrize(("name", "slug", "title_link"), MARKUPS)
def test_each_author_page_pages_through_all_their_posts(site: RunningSite, client: httpx.Client, name: str,
                                                        slug: str, title_link: str) -> None:
    seed_titles = [p.title for p in DemoSite.from_seeds().authors[slug].posts]
    url: str | None = _sources(site)[name]
    seen: list[str] = []
    while url:
        r = client.get(url)
        assert r.status_code == 200, url
        tree = LexborHTMLParser(r.text)
        titles = [a.text() for a in tree.css(title_link)]
        assert 1 <= len(titles) <= 5, url
        seen += titles
        older = [a for a in tree.css("a") if a.text() in ("Older posts", "Next Page")]
        url = older[0].attributes["href"] if older else None
    assert seen == seed_titles  # every post once, newest first, and the last page links no further


def test_the_text_layout_prints_dates_as_text_and_the_classic_one_as_time(site: RunningSite, client: httpx.Client) -> None:
    page = client.get(_sources(site)["Massoud Khodabandeh"]).text
    assert '<p class="date">Posted on: 2020/10/28</p>' in page
    classic = client.get(_sources(site)["Iran Interlink"]).text
    assert 'class="entry-date published updated" datetime="2020-10-' in classic


@pytest.mark.parametrize(("name", "slug", "title_link"), MARKUPS)
def test_the_author_feed_is_linked_valid_and_its_posts_are_served(site: RunningSite, client: httpx.Client,
                                                                  name: str, slug: str, title_link: str) -> None:
    page = LexborHTMLParser(client.get(_sources(site)[name]).text)
    feed_url = page.css_first('link[rel=alternate][type="application/rss+xml"]').attributes["href"]
    assert feed_url and f"/author/{slug}/feed/" in feed_url
    r = client.get(feed_url)
    assert r.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(r.content)
    posts = DemoSite.from_seeds().authors[slug].posts
    assert feed.bozo == 0 and [e.title for e in feed.entries] == [p.title for p in posts[:10]]
    first = client.get(feed.entries[0].link)  # where the digest links to
    assert first.status_code == 200 and LexborHTMLParser(first.text).css_first("h1").text() == posts[0].title


def test_unknown_addresses_are_404(site: RunningSite, client: httpx.Client) -> None:
    for path in ("/classic/author/iran-interlink/page/3/", "/classic/author/nobody/", "/block/author/iran-interlink/",
                 "/wordpress/author/page/9/?author=massoud-khodabandeh&authorid=4", "/classic/2020/10/28/no-such-post/",
                 "/block/2020/10/28/trump-campaign-uses-mujahedin-e-khalq-mek-troll-farm-in-albania/"):
        assert client.get(site.url + path).status_code == 404, path
    index = client.get(site.url + "/")
    assert index.status_code == 200 and all(name in index.text for name, _, _ in MARKUPS)
