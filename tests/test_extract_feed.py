"""Feeds: bozo handling, dates, encodings, and no entity tricks."""

from __future__ import annotations

import datetime as dt
import html
import time
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ExtractError, FeedError
from monitor.extract import extract
from monitor.extract import feed as feed_module
from monitor.extract.feed import extract_feed

TZ = ZoneInfo("Europe/London")
UTC = dt.UTC
URL = "https://e.com/author/x/feed/"


def rss(items: str, *, head: str = '<?xml version="1.0" encoding="UTF-8"?>', channel: str = "<title>Site</title>") -> bytes:
    return f'{head}<rss version="2.0"><channel>{channel}{items}</channel></rss>'.encode()


def item(title="Post", link="https://e.com/post/", date="Wed, 28 Oct 2020 10:00:00 +0000", extra=""):
    d = f"<pubDate>{date}</pubDate>" if date is not None else ""
    return f"<item><title>{title}</title><link>{link}</link>{d}{extra}</item>"


# --- bozo ---------------------------------------------------------------------------------------

def test_truncated_feed_is_an_error_not_a_partial_read():
    body = rss(item("One", "https://e.com/1/") + item("Two", "https://e.com/2/"))
    cut = body[: body.index(b"</item>", body.index(b"Two")) + 7]  # no </channel></rss>
    with pytest.raises(FeedError, match=r"^malformed feed: the document is cut off"):
        extract(cut, url=URL, tz=TZ)


def test_whole_feed_with_a_stray_ampersand_is_read_leniently_with_a_warning():
    body = rss(item("One & Two", "https://e.com/1/") + item("Three", "https://e.com/3/"))
    page = extract(body, url=URL, tz=TZ)
    assert [p.title for p in page.posts][-1] == "Three" and len(page.posts) == 2
    assert len(page.warnings) == 1 and "not well-formed" in page.warnings[0]


def test_malformed_feed_without_entries_is_an_error_with_the_reason():
    with pytest.raises(FeedError, match=r"^malformed feed: .+") as info:
        extract(b'<?xml version="1.0"?><rss version="2.0"><channel><title', url=URL, tz=TZ)
    assert info.value.url == URL
    assert isinstance(info.value, ExtractError)


@pytest.mark.parametrize("body", [b"hello, world", b"<html><head><title>Blog</title></head><body>x</body></html>"])
def test_something_that_is_not_a_feed_is_a_feed_error(body):
    with pytest.raises(FeedError):
        extract(body, url=URL, tz=TZ, kind="feed")


def test_a_valid_empty_feed_is_not_an_error():
    page = extract(rss(""), url=URL, tz=TZ)
    assert page.kind == "feed" and page.posts == () and page.warnings == ()


def test_served_as_text_html_is_fine():
    page = extract(rss(item()), url=URL, tz=TZ, headers={"Content-Type": "text/html; charset=UTF-8"}, kind="feed")
    assert [p.title for p in page.posts] == ["Post"] and page.warnings == ()


# --- entity tricks ------------------------------------------------------------------------------

def test_external_entities_are_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak SYSTEM "{secret.as_uri()}">')
    bodies = [
        (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        f'<rss version="2.0"><channel><title>T &xxe;</title>{item("A &xxe; B", extra="<description>&xxe;</description>")}'
        f"</channel></rss>"),
        (f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd.as_uri()}">'
        f'<rss version="2.0"><channel><title>T</title>{item("A &leak; B")}</channel></rss>'),
        (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "{dtd.as_uri()}"> %p;]>'
        f'<rss version="2.0"><channel><title>T</title>{item("A &leak; B")}</channel></rss>'),
    ]
    for body in bodies:
        try:
            page = extract(body.encode(), url=URL, tz=TZ)
        except FeedError:
            continue
        for post in page.posts:
            assert "TOP-SECRET" not in repr(post)
        assert "TOP-SECRET" not in repr(page)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_billion_laughs_returns_quickly_without_expanding(encoding):
    decls = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)
    )
    # all on the prolog's line: feedparser's own DOCTYPE filter only looks at line starts
    body = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE rss [{decls}]><rss version="2.0"><channel>' \
           f'<title>T</title>{item("&lol9; &lol;")}</channel></rss>'
    start = time.perf_counter()
    page = extract(body.encode(encoding), url=URL, tz=TZ)
    assert time.perf_counter() - start < 10  # a hang guard; the expansion itself is checked below
    (p,) = page.posts
    assert "lollollol" not in p.title and len(p.title) < 50


def test_literal_entities_still_work():
    body = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY site "Iran Interlink">]><rss version="2.0"><channel>' \
           f'<title>T</title>{item("News from &site;")}</channel></rss>'
    page = extract(body.encode(), url=URL, tz=TZ)
    assert [p.title for p in page.posts] == ["News from Iran Interlink"] and page.warnings == ()


# --- entries --------------------------------------------------------------------------------------

def test_entry_fields():
    extra = (
        "<guid isPermaLink=\"false\">https://e.com/?p=42</guid>"
        "<dc:creator xmlns:dc=\"http://purl.org/dc/elements/1.1/\">Site Editor</dc:creator>"
        "<description><![CDATA[<p>Ted Snider, Mondoweiss, October 27 2020:&#8230; Two senior officials "
        "<b>told</b> NBC.</p> <a href=\"https://e.com/post/\">Post &amp; more</a>]]></description>"
        "<content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><![CDATA[<p>Full <script>x()</script> body</p>]]></content:encoded>"
    )
    page = extract(rss(item("Post &amp; more &#8211; “quoted”", "/post/", extra=extra)), url=URL, tz=TZ)
    (p,) = page.posts
    assert p.title == "Post & more – “quoted”"
    assert p.url == "https://e.com/post/"  # relative link resolved against the feed
    assert p.published == dt.datetime(2020, 10, 28, 10, 0, tzinfo=UTC) and p.date_only is False
    assert p.excerpt == "Two senior officials told NBC."  # HTML stripped, source line and repeated title gone
    assert (p.author, p.outlet, p.original_date) == ("Ted Snider", "Mondoweiss", dt.date(2020, 10, 27))
    assert p.content == "<p>Full <script>x()</script> body</p>"  # raw: the publisher sanitizes
    assert (p.guid, p.wp_id, p.origin) == ("https://e.com/?p=42", 42, "feed")
    assert page.author == "Site Editor"


def test_titles_are_never_treated_as_noise():
    body = rss(item("Leave a comment", "https://e.com/1/") + item("5 Comments", "https://e.com/2/")
               + item("Read more", "https://e.com/3/"))
    assert [p.title for p in extract(body, url=URL, tz=TZ).posts] == ["Leave a comment", "5 Comments", "Read more"]
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry>
    <title type="html">&lt;em&gt;Mujahedin&lt;/em&gt;-e-Khalq&lt;sup&gt;1&lt;/sup&gt; &amp;amp; Share this</title>
    <id>x</id><link href="https://e.com/a"/></entry></feed>"""
    assert extract(atom, url=URL, tz=TZ).posts[0].title == "Mujahedin-e-Khalq1 & Share this"


def test_yoast_footer_is_not_part_of_the_excerpt():
    desc = ("<description><![CDATA[<p>Real excerpt text.</p><p>The post <a href='https://e.com/p/'>Post</a> "
            "appeared first on <a href='https://e.com'>Site</a>.</p>]]></description>")
    (p,) = extract(rss(item(extra=desc)), url=URL, tz=TZ).posts
    assert p.excerpt == "Real excerpt text."


def test_author_falls_back_to_the_entry_then_the_feed():
    body = rss(
        item("A", "https://e.com/a/", extra="<author>a@e.com (Entry Author)</author><description>Plain.</description>")
        + item("B", "https://e.com/b/", extra="<description>Plain too.</description>"),
        channel="<title>Site</title><managingEditor>ed@e.com (Feed Author)</managingEditor>",
    )
    a, b = extract(body, url=URL, tz=TZ).posts
    assert a.author == "Entry Author"
    assert b.author == "Feed Author"


def test_link_falls_back_to_a_permalink_guid():
    body = rss('<item><title>A</title><guid>https://e.com/a/</guid></item><item><title>B</title></item>')
    page = extract(body, url=URL, tz=TZ)
    assert [p.url for p in page.posts] == ["https://e.com/a/"]
    assert any("neither a link nor an id" in w for w in page.warnings)


@pytest.mark.parametrize(
    ("raw", "want", "date_only", "warns"),
    [
        ("Wed, 28 Oct 2020 10:00:00 +0330", dt.datetime(2020, 10, 28, 6, 30, tzinfo=UTC), False, False),
        ("Wed, 28 Oct 2020 10:00:00", dt.datetime(2020, 10, 28, 10, 0, tzinfo=UTC), False, False),  # no zone: UTC
        ("2020-10-28T10:00:00", dt.datetime(2020, 10, 28, 10, 0, tzinfo=UTC), False, False),
        ("2020-10-28", dt.datetime(2020, 10, 28, tzinfo=TZ), True, False),
        ("the day before yesterday", None, False, False),
        ("Mon, 01 Jan 0001 00:00:00 +0000", None, False, True),
        ("0001-01-01T00:00:00Z", None, False, True),
        ("Fri, 01 Jan 2999 00:00:00 +0000", None, False, True),
    ],
)
def test_dates(raw, want, date_only, warns):
    page = extract_feed(rss(item(date=raw)), url=URL, tz=TZ, now=dt.datetime(2024, 1, 1, tzinfo=UTC))
    (p,) = page.posts
    assert p.published == want and p.date_only is date_only
    if want is not None and not date_only:
        assert p.published.utcoffset() == dt.timedelta(0)
    assert any("implausible date" in w for w in page.warnings) is warns


def test_atom_updated_is_used_without_published():
    body = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
    <entry><title type="html">A &amp;amp; B</title><id>tag:e.com,2020:1</id><link href="https://e.com/1"/>
    <updated>2020-10-28T10:00:00+02:00</updated><summary type="text">1 &lt; 2 is plain text</summary></entry></feed>"""
    page = extract(body, url=URL, tz=TZ)
    (p,) = page.posts
    assert page.rule == "atom"
    assert p.title == "A & B"
    assert p.published == dt.datetime(2020, 10, 28, 8, 0, tzinfo=UTC)
    assert p.excerpt == "1 < 2 is plain text"
    assert (p.guid, p.wp_id) == ("tag:e.com,2020:1", None)


def test_rdf_feed():
    body = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://e.com/"><title>T</title></channel>
    <item rdf:about="https://e.com/1"><title>One</title><link>https://e.com/1</link></item></rdf:RDF>"""
    page = extract(body, url=URL, tz=TZ)
    assert page.rule == "rdf" and [p.title for p in page.posts] == ["One"]


def test_windows_1256_prolog_is_decoded():
    title = "حمايت از اعضاي جدا شده"
    excerpt = "متن كوتاه درباره سازمان"
    body = (
        f'<?xml version="1.0" encoding="windows-1256"?><rss version="2.0"><channel><title>ايران</title>'
        f"<item><title>{title}</title><link>https://e.com/fa/1</link><description>{excerpt}</description></item>"
        f"</channel></rss>"
    ).encode("cp1256")
    (p,) = extract(body, url=URL, tz=TZ).posts
    assert (p.title, p.excerpt) == (title, excerpt)


def test_next_page_link():
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
    <link rel="next" href="?paged=2"/></feed>"""
    assert extract(body, url=URL, tz=TZ).next_url == URL + "?paged=2"


# --- relative links, xml:base, and reading without a base ----------------------------------------

def test_xml_base_and_relative_links_resolve_against_the_feed():
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/">
    <title>T</title><link rel="next" href="?paged=2"/>
    <entry><title>One</title><id>posts/1</id><link href="posts/1"/><updated>2020-10-28T10:00:00Z</updated></entry>
    <entry xml:base="https://other.org/x/y/"><title>Two</title><id>tag:e.com,2020:2</id><link href="../two"/>
    <updated>2020-10-28T10:00:00Z</updated></entry>
    <entry><title>Three</title><id>three</id><updated>2020-10-28T10:00:00Z</updated></entry></feed>"""
    page = extract(atom, url=URL, tz=TZ)
    assert page.next_url == "https://e.com/blog/?paged=2"
    assert [(p.url, p.guid) for p in page.posts] == [
        ("https://e.com/blog/posts/1", "https://e.com/blog/posts/1"),
        ("https://other.org/x/two", "tag:e.com,2020:2"),
        ("https://e.com/blog/three", "https://e.com/blog/three"),  # an id is a permalink
    ]
    channel_base = rss('<item><title>A</title><link>a/</link><guid>a/</guid></item>'
                       '<item><title>B</title><guid>b-guid</guid></item>', channel="<title>T</title>")
    channel_base = channel_base.replace(b"<channel>", b'<channel xml:base="https://e.com/news/">')
    assert [(p.url, p.guid) for p in extract(channel_base, url=URL, tz=TZ).posts] == [
        ("https://e.com/news/a/", "https://e.com/news/a/"), ("https://e.com/news/b-guid", "https://e.com/news/b-guid")]
    relative = rss('<item><title>B</title><guid>b-guid</guid></item>'
                   '<item><title>C</title><guid isPermaLink="false">c-guid</guid><link>/c/?x=1&amp;amp;y=2</link></item>'
                   '<item><title>D</title><link>https://e.com/d;</link></item>')
    assert [(p.url, p.guid) for p in extract(relative, url=URL, tz=TZ).posts] == [
        ("https://e.com/author/x/feed/b-guid", "https://e.com/author/x/feed/b-guid"),
        ("https://e.com/c/?x=1&y=2", "c-guid"),
        ("https://e.com/d", None),
    ]


def _parses(monkeypatch) -> list[bool]:
    """Whether each feedparser.parse call of extract_feed was given a base (a Content-Location)."""
    calls = []
    real = feed_module._feedparser

    def spy(body, response_headers, url):
        calls.append("content-location" in response_headers)
        return real(body, response_headers, url)

    monkeypatch.setattr(feed_module, "_feedparser", spy)
    return calls


def test_an_ordinary_feed_is_read_once_without_a_base(monkeypatch):
    calls = _parses(monkeypatch)
    extract(rss(item("One", "https://e.com/1/", extra="<guid>https://e.com/?p=1</guid>")), url=URL, tz=TZ)
    assert calls == [False]


@pytest.mark.parametrize("body", [
    rss(item("One", "/1/")),  # a relative link: read again with the base
    rss(item("One", "https://e.com/1/").replace("<item>", '<item xml:base="/x/">')),  # an xml:base: with it at once
    rss(item("One", "https://e.com/1/", extra="<guid>one</guid>")),  # a relative permalink guid
])
def test_a_feed_whose_links_depend_on_the_base_is_read_with_it(monkeypatch, body):
    calls = _parses(monkeypatch)
    extract(body, url=URL, tz=TZ)
    assert calls[-1] is True and calls.count(False) <= 1


_LINKS = ["https://e.com/p/1/", "/p/2/", "p/3", "?p=4", "#five", "//other.org/6", "HTTPS://E.com/7", "https:///e.com/8",
          "https://e.com/9?", "https://e.com/10#", "https://e.com/11;", "https://e.com/a&amp;", "https://e.com/b;x&amp;c",
          "https://e.com/?p=12&amp;x=1", "https://e.com/?p=13&x=1", "https://e.com/x&y/14", "../15", " https://e.com/16 ",
          "tag:e.com,2020:17", "urn:uuid:18", "javascript:alert(19)", "mailto:a@e.com", "https://[::1/20", "", "based"]
_BASES = [' xml:base="/blog/"', ' xml:base="https://other.org/x/"', ' xml:base=""', ' class="database"',
          ' title="a &gt; base"', " data-x='based'", ' a=x"y xml:base="/z/"']
_URLS = [URL, "https://e.com/feed/?", "HTTPS://E.com/a/../feed/", "https://e.com/feed/#top", "http://[::1]:8000/feed/"]


@st.composite
def feeds(draw) -> tuple[bytes, str]:
    atom = draw(st.booleans())
    link, guid = draw(st.sampled_from(_LINKS)), draw(st.sampled_from(_LINKS))
    permalink = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']))
    base_at = ["", "", ""]  # on the channel / feed, the item / entry, the link
    if (where := draw(st.sampled_from([None, 0, 1, 2]))) is not None:
        base_at[where] = draw(st.sampled_from(_BASES))
    esc = html.escape
    text = draw(st.sampled_from(["Plain text.", "<![CDATA[The MEK is now based in <b class='base'>Albania</b>]]>",
                                 "A &amp; B"]))
    if atom:
        entry = (f'<entry{base_at[1]}><title>T</title><id>{esc(guid)}</id><link{base_at[2]} href="{esc(link)}"/>'
                 f"<updated>2020-10-28T10:00:00Z</updated><summary>{text}</summary></entry>")
        body = (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"{base_at[0]}>'
                f'<title>F</title><link rel="next" href="{esc(link)}"/>{entry}{entry}</feed>')
    else:
        entry = (f"<item{base_at[1]}><title>T</title><link{base_at[2]}>{esc(link)}</link>"
                 f"<guid{permalink}>{esc(guid)}</guid><description>{text}</description></item>")
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel{base_at[0]}><title>F</title>'
                f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="next" href="{esc(link)}"/>'
                f"{entry}{entry}</channel></rss>")
    if draw(st.booleans()):  # malformed: read by feedparser's lenient parser
        body = body.replace("<title>T</title>", "<title>T & more <br></title>", 1)
    return body.encode(draw(st.sampled_from(["utf-8", "utf-16"]))), draw(st.sampled_from(_URLS))


def _outcome(body: bytes, url: str):
    try:
        return extract_feed(body, url=url, tz=TZ, now=dt.datetime(2024, 1, 1, tzinfo=UTC))
    except (ExtractError, ValueError) as e:  # the same error either way
        return f"{type(e).__name__}: {e}"


@settings(max_examples=500, deadline=None)
@given(feeds())
def test_property_reading_without_the_base_changes_nothing(case):
    body, url = case
    fast = _outcome(body, url)
    with mock.patch.object(feed_module, "_read", lambda b, h, u: feed_module._feedparser(b, h, u)):
        assert fast == _outcome(body, url)  # what feedparser gives when always given the base


def test_a_link_that_is_not_a_url_is_dropped_not_fatal():
    # urljoin raises ValueError for "https://[::1/": the whole feed used to fail with it
    body = rss('<item><title>A</title><guid isPermaLink="false">https://[::1/a</guid></item>'
               + item("B", "https://e.com/b/"))
    page = extract(body, url=URL, tz=TZ)
    assert [(p.title, p.url, p.guid) for p in page.posts] == [
        ("A", "", "https://[::1/a"), ("B", "https://e.com/b/", None)]
