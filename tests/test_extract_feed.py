"""Feeds: bozo handling, dates, encodings, and no entity tricks."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ExtractError, FeedError
from monitor.extract import extract
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
