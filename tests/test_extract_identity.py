"""normalize_url, wp_post_id and post_identity."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.extract import normalize_url, post_identity, wp_post_id
from monitor.models import PostData


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("HTTP://Example.COM:80/a/b/", "http://example.com/a/b"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/a/", "https://example.com:8443/a"),
        ("https://example.com/a/b#comments", "https://example.com/a/b"),
        ("https://example.com/post/?utm_source=tw&utm_medium=social&utm_campaign=x", "https://example.com/post"),
        (("https://example.com/p?fbclid=1&gclid=2&dclid=3&msclkid=4&mc_cid=5&mc_eid=6&_ga=7&_gl=8&igshid=9"
         "&ref=hn&ref_src=twsrc&replytocom=12"), "https://example.com/p"),
        ("https://example.com/style.css?ver=5.8.1", "https://example.com/style.css"),
        ("https://example.com/a?v=1603880000", "https://example.com/a"),
        ("https://example.com/watch?v=dQw4w9WgXcQ", "https://example.com/watch?v=dQw4w9WgXcQ"),  # content, kept
        # parameters that identify content are kept, sorted
        ("https://iran-interlink.org/wordpress/author/?authorid=4&author=massoud-khodabandeh&utm_source=x",
         "https://iran-interlink.org/wordpress/author?author=massoud-khodabandeh&authorid=4"),
        ("https://e.com/?paged=2&cat=3&p=12&page_id=9", "https://e.com/?cat=3&p=12&page_id=9&paged=2"),
        # an HTML-escaped query (&amp;#038;) is the same URL
        ("https://e.com/?p=12&amp;utm_source=x", "https://e.com/?p=12"),
        # raw and percent-encoded non-ASCII slugs are the same URL
        ("https://e.com/جنگ/", "https://e.com/%D8%AC%D9%86%DA%AF"),
        ("https://e.com/%d8%ac%d9%86%da%af", "https://e.com/%D8%AC%D9%86%DA%AF"),
        ("https://e.com/%7Euser/a%2Fb", "https://e.com/~user/a%2Fb"),
        ("", ""),
    ],
)
def test_normalize_url(url, want):
    assert normalize_url(url) == want
    assert normalize_url(want) == want


def test_trailing_slash_is_the_same_post():
    assert normalize_url("https://e.com/a/b") == normalize_url("https://e.com/a/b/") == normalize_url("https://E.com/a/b/#x")


def test_broken_urls_do_not_raise():
    assert normalize_url("http://[::1") == "http://[::1"
    assert normalize_url("http://e.com:notaport/") == "http://e.com:notaport/"


_segment = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
_key = st.sampled_from(["p", "author", "utm_source", "ver", "v", "paged", "q", "x y", "amp;ver", "ref"])
_value = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6)


@settings(max_examples=200, deadline=None, database=None)
@given(
    scheme=st.sampled_from(["http", "HTTPS"]),
    host=st.sampled_from(["Example.com", "www.e.org", "iran-interlink.org"]),
    port=st.sampled_from(["", ":80", ":443", ":8080"]),
    path=st.lists(_segment, max_size=4),
    slash=st.booleans(),
    query=st.lists(st.tuples(_key, _value), max_size=4),
    fragment=st.sampled_from(["", "#x", "#comments"]),
)
def test_normalize_url_is_idempotent(scheme, host, port, path, slash, query, fragment):
    from urllib.parse import quote

    url = f"{scheme}://{host}{port}/" + "/".join(quote(s, safe="") for s in path) + ("/" if slash else "")
    if query:
        url += "?" + "&".join(f"{quote(k, safe=';')}={quote(v, safe='')}" for k, v in query)
    url += fragment
    once = normalize_url(url)
    assert normalize_url(once) == once
    assert "#" not in once and "utm_source" not in once
    assert once.split("?")[0] == normalize_url(url.split("?")[0].split("#")[0]).split("?")[0]


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("https://iran-interlink.org/wordpress/?p=8123", 8123),
        ("http://e.com/?page_id=9&lang=en", 9),
        ("https://e.com/?p=12&amp;x=1", 12),
        ("https://e.com/?lang=en&p=77", 77),
        ("https://e.com/?pp=3", None),
        ("https://e.com/?p=12a", None),
        ("https://e.com/?p=0", None),
        ("https://e.com/2020/10/28/p=12/", None),
        ("tag:e.com,2020:post-12", None),
        ("", None),
    ],
)
def test_wp_post_id(value, want):
    assert wp_post_id(value) == want


def _post(**kw):
    base = {"url": "https://iran-interlink.org/wordpress/covert-strikes/", "title": "Covert strikes"}
    return PostData(**(base | kw))


def test_identity_prefers_the_wordpress_id_and_survives_url_changes():
    a = _post(wp_id=8123)
    b = _post(url="http://www.iran-interlink.org/wordpress/covert-strikes-renamed/?utm_source=x", wp_id=8123)
    assert post_identity(a)[0] == post_identity(b)[0] == "wp:iran-interlink.org:8123"
    assert post_identity(a)[1] == "https://iran-interlink.org/wordpress/covert-strikes"


def test_identity_by_url_ignores_tracking_and_trailing_slash():
    a = _post()
    b = _post(url="https://IRAN-interlink.org/wordpress/covert-strikes?utm_campaign=digest#respond")
    assert post_identity(a) == post_identity(b)
    assert post_identity(a)[0] == "url:https://iran-interlink.org/wordpress/covert-strikes"


def test_same_wp_id_on_other_sites_is_another_post():
    assert post_identity(_post(wp_id=5))[0] != post_identity(_post(url="https://other.example/x/", wp_id=5))[0]


def test_identity_falls_back_to_the_guid():
    p = PostData(url="", title="t", guid="tag:e.com,2020:12")
    assert post_identity(p) == ("guid:tag:e.com,2020:12", "")
    q = PostData(url="", title="t", guid="https://e.com/?p=12", wp_id=12)
    assert post_identity(q)[0] == "wp:e.com:12"


def test_identity_is_stable_across_calls_and_fields():
    a = _post(published=dt.datetime(2020, 10, 27, tzinfo=dt.UTC), excerpt="one")
    b = _post(published=dt.datetime(2020, 10, 28, tzinfo=dt.UTC), excerpt="two", title="Edited title")
    assert post_identity(a) == post_identity(a) == post_identity(b)


def test_a_post_without_url_or_guid_has_no_identity():
    with pytest.raises(ValueError):
        post_identity(PostData(url="", title="t"))
