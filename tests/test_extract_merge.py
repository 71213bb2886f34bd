"""merge(): the same post on the author page and in the author feed becomes one PostData."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.extract import extract, merge
from monitor.models import PostData

TZ = ZoneInfo("Europe/London")
UTC = dt.UTC
DATA = Path(__file__).parent / "data" / "extract"


def page_post(url="https://e.com/a/", **kw):
    base = {
        "url": url, "title": "Page title", "published": dt.datetime(2020, 10, 28, tzinfo=TZ), "date_only": True,
        "excerpt": "page excerpt", "author": "Page Author", "outlet": "Page Outlet",
        "original_date": dt.date(2020, 10, 27), "origin": "page",
    }
    return PostData(**(base | kw))


def feed_post(url="https://e.com/a/", **kw):
    base = {
        "url": url, "title": "Feed title", "published": dt.datetime(2020, 10, 28, 14, 5, tzinfo=UTC),
        "excerpt": "feed excerpt", "content": "<p>full text</p>", "author": "Feed Author", "outlet": "",
        "original_date": None, "guid": "https://e.com/?p=7", "wp_id": 7, "origin": "feed",
    }
    return PostData(**(base | kw))


def test_fields_come_from_the_page_content_and_guid_from_the_feed():
    (m,) = merge([page_post(wp_id=7)], [feed_post()])
    assert m.origin == "both"
    assert (m.title, m.excerpt, m.author, m.outlet, m.original_date, m.url) == (
        "Page title", "page excerpt", "Page Author", "Page Outlet", dt.date(2020, 10, 27), "https://e.com/a/")
    assert (m.content, m.guid, m.wp_id) == ("<p>full text</p>", "https://e.com/?p=7", 7)


def test_feed_time_refines_a_date_only_posted_on_of_the_same_local_day():
    (m,) = merge([page_post()], [feed_post()])
    assert m.published == dt.datetime(2020, 10, 28, 14, 5, tzinfo=UTC) and m.date_only is False


def test_local_day_is_compared_in_the_page_time_zone():
    tehran = ZoneInfo("Asia/Tehran")
    page = page_post(published=dt.datetime(2020, 10, 29, tzinfo=tehran))
    # 21:00 UTC on the 28th is 00:30 on the 29th in Tehran: the same local day
    (m,) = merge([page], [feed_post(published=dt.datetime(2020, 10, 28, 21, 0, tzinfo=UTC))])
    assert m.published == dt.datetime(2020, 10, 28, 21, 0, tzinfo=UTC) and not m.date_only
    # 19:00 UTC on the 28th is 22:30 on the 28th there: another day, the page wins
    (m,) = merge([page], [feed_post(published=dt.datetime(2020, 10, 28, 19, 0, tzinfo=UTC))])
    assert m.published == dt.datetime(2020, 10, 29, tzinfo=tehran) and m.date_only


def test_page_datetime_with_a_time_is_kept():
    exact = dt.datetime(2020, 10, 28, 9, 0, tzinfo=UTC)
    (m,) = merge([page_post(published=exact, date_only=False)], [feed_post()])
    assert m.published == exact


def test_feed_date_is_used_when_the_page_has_none():
    (m,) = merge([page_post(published=None, date_only=False)], [feed_post()])
    assert m.published == dt.datetime(2020, 10, 28, 14, 5, tzinfo=UTC)


def test_empty_page_fields_are_filled_from_the_feed():
    (m,) = merge([page_post(excerpt="", author="", outlet="", original_date=None)],
                 [feed_post(outlet="Feed Outlet", original_date=dt.date(2020, 1, 1))])
    assert (m.excerpt, m.author, m.outlet, m.original_date) == ("feed excerpt", "Feed Author", "Feed Outlet", dt.date(2020, 1, 1))


def test_match_by_normalized_url_when_ids_are_unknown():
    (m,) = merge([page_post(url="https://E.com/a?utm_source=x#more")], [feed_post(url="https://e.com/a/", wp_id=None)])
    assert m.origin == "both"


def test_match_by_wp_id_even_when_the_slug_changed():
    (m,) = merge([page_post(url="https://e.com/new-slug/", wp_id=7)], [feed_post(url="https://e.com/old-slug/")])
    assert m.origin == "both" and m.url == "https://e.com/new-slug/"


def test_different_wordpress_ids_never_match():
    out = merge([page_post(wp_id=8)], [feed_post(wp_id=7)])
    assert [p.origin for p in out] == ["page", "feed"]


def test_order_page_first_then_feed_only_in_feed_order():
    page = [page_post(url="https://e.com/1/"), page_post(url="https://e.com/2/"), page_post(url="https://e.com/3/")]
    feed = [feed_post(url="https://e.com/9/", wp_id=9), feed_post(url="https://e.com/2/", wp_id=None),
            feed_post(url="https://e.com/8/", wp_id=8)]
    out = merge(page, feed)
    assert [(p.url, p.origin) for p in out] == [
        ("https://e.com/1/", "page"), ("https://e.com/2/", "both"), ("https://e.com/3/", "page"),
        ("https://e.com/9/", "feed"), ("https://e.com/8/", "feed"),
    ]


def test_a_feed_post_is_used_once():
    out = merge([page_post(url="https://e.com/a/"), page_post(url="https://e.com/a/#again")],
                [feed_post(url="https://e.com/a/", wp_id=None)])
    assert [p.origin for p in out] == ["both", "page"]


def test_empty_sides():
    assert merge([], []) == ()
    assert [p.origin for p in merge([page_post()], [])] == ["page"]
    assert [p.origin for p in merge([], [dataclasses.replace(feed_post(), origin="both")])] == ["feed"]


def test_merge_real_block_page_with_its_atom_feed():
    page = extract((DATA / "block_twentytwentyfour.html").read_bytes(),
                   url="https://iran-interlink.org/wordpress/author/ali-alavi/", tz=TZ)
    feed = extract((DATA / "atom_feed.xml").read_bytes(),
                   url="https://iran-interlink.org/wordpress/author/ali-alavi/feed/atom/", tz=TZ)
    out = merge(page.posts, feed.posts)
    assert len(out) == 6 and {p.origin for p in out} == {"both"}
    for m, p, f in zip(out, page.posts, feed.posts, strict=True):
        assert (m.title, m.excerpt, m.url, m.author) == (p.title, p.excerpt, p.url, p.author)
        assert m.content == f.content != ""
        assert m.guid == f.guid is not None
        assert m.published == p.published  # the page shows a time of day: it stands
