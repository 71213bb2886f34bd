"""Author pages: rules, noise, pagination, discovery, sniffing and hostile markup."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sample_site.site import SampleSite
from selectolax.lexbor import LexborHTMLParser

from monitor.config import Selectors
from monitor.errors import ExtractError, FeedError
from monitor.extract import extract, sniff_kind
from monitor.extract import html as H
from monitor.extract.html import parse_date_text
from monitor.extract.sourceline import collapse

TZ = ZoneInfo("Europe/London")
URL = "https://e.com/author/anne/"


def run(html: str, url: str = URL, **kw):
    return extract(html.encode("utf-8"), url=url, tz=TZ, **kw)


EXCERPT = "The camp in Albania is closed to inspectors, and the health ministry has never been inside it."


def classic(n: int = 3, extra: str = "") -> str:
    arts = "".join(
        f"""<article id="post-{10 + i}" class="post-{10 + i} post type-post hentry">
        <header class="entry-header"><h2 class="entry-title"><a href="/p{i}/">Title number {i}</a></h2>
        <div class="entry-meta"><span class="byline">By <span class="author vcard"><a class="url fn n" href="/author/jane/">Jane Doe</a></span></span>
        <span class="posted-on">Posted on <a href="/p{i}/"><time class="entry-date published" datetime="2020-10-2{i}T10:00:00+00:00">October 2{i}, 2020</time></a></span></div></header>
        <div class="entry-summary"><p>{EXCERPT} <a class="more-link" href="/p{i}/">Continue reading <span class="screen-reader-text">Title number {i}</span> <span class="meta-nav">&rarr;</span></a></p>
        <p class="read-more"><a href="/p{i}/">Read more &raquo;</a></p>
        <div class="sharedaddy"><h3>Share this:</h3><a href="#">Twitter</a><a href="#">Facebook</a></div></div>
        <footer class="entry-footer"><span class="cat-links">Posted in <a rel="category tag" href="/c/">News</a></span>
        <span class="comments-link"><a href="/p{i}/#comments">5 Comments</a></span> <span class="ago">3 days ago</span>
        <span class="edit-link"><a href="/wp-admin/post.php?post={10 + i}">Edit</a></span></footer>
        </article>"""
        for i in range(n)
    )
    return f"<html><head><title>Anne</title></head><body><main>{arts}{extra}</main></body></html>"


def test_hatom_fields_and_no_noise():
    page = run(classic())
    assert page.rule == "hatom"
    assert [p.title for p in page.posts] == ["Title number 0", "Title number 1", "Title number 2"]
    for i, p in enumerate(page.posts):
        assert p.url == f"https://e.com/p{i}/"
        assert p.excerpt == EXCERPT  # no "Continue reading", "Read more", share, comments, "3 days ago", byline
        assert p.published == dt.datetime(2020, 10, 20 + i, 10, 0, tzinfo=dt.UTC) and not p.date_only
        assert p.wp_id == 10 + i
        assert p.author == "Jane Doe"  # the post's byline (no source line, not an author page heading)
        assert p.content == "" and p.origin == "page"


def boxes(n: int, *, title: str = "A title for post {i}", before: str = "", after: str = "",
          body: str = f"<p>{EXCERPT}</p>") -> str:
    """A page of ``n`` unknown-theme posts: heading link, date paragraph, excerpt."""
    items = "".join(
        f'<div class="entry-box"><h3><a href="/p{i}/">{title.format(i=i)}</a></h3>{before}'
        f"<p>October 2{i}, 2020</p>{body}{after}</div>"
        for i in range(n)
    )
    return f"<html><body><div>{items}</div></body></html>"


@pytest.mark.parametrize(
    "noise",
    [
        '<p><a href="/p/#respond">Leave a comment</a></p>',
        "<p>3 days ago</p>",
        '<p><a href="/p/#comments">12 Comments</a></p>',
        "<p>By Jane Doe</p>",
        '<p class="link-more"><a class="more-link" href="/p/">Continue reading<span> “Title”</span></a></p>',
        '<ul class="share-buttons"><li><a href="#">Share on Facebook</a></li><li><a href="#">Tweet</a></li></ul>',
        "<p>Share this:</p>",
        '<p>Tags: <a rel="tag" href="/t/mek">MEK</a>, <a rel="tag" href="/t/albania">Albania</a></p>',
    ],
)
def test_generic_noise_never_reaches_the_excerpt(noise):
    page = run(boxes(3, after=noise))
    assert page.rule == "generic"
    assert [p.excerpt for p in page.posts] == [EXCERPT] * 3
    assert [p.published for p in page.posts] == [dt.datetime(2020, 10, 20 + i, tzinfo=TZ) for i in range(3)]


def test_a_heading_link_is_the_title_whatever_it_says():
    page = run(boxes(2, title="Read more about the MEK, part {i}"))
    assert [p.title for p in page.posts] == ["Read more about the MEK, part 0", "Read more about the MEK, part 1"]


def test_table_rows_can_be_posts():
    rows = "".join(
        f'<tr><td>2020-10-2{i}</td><td><a href="/p{i}/">A post listed in a table row {i}</a></td></tr>'
        for i in range(3)
    )
    page = run(f"<html><body><table>{rows}</table></body></html>")
    assert page.rule == "generic"
    assert [(p.title, p.published.date()) for p in page.posts] == [
        (f"A post listed in a table row {i}", dt.date(2020, 10, 20 + i)) for i in range(3)
    ]


def test_a_tiny_element_with_summary_in_its_class_is_not_the_excerpt():
    page = run(boxes(2, before='<span class="summary-count">3</span>'))
    assert [p.excerpt for p in page.posts] == [EXCERPT] * 2


def test_content_that_only_looks_like_meta_is_kept():
    text = "By 2020 the group had moved to Albania. Published in 2005, the report said more."
    page = run(boxes(2, body=f"<p>{text}</p><p>More than 100 people were there.</p>"))
    assert [p.excerpt for p in page.posts] == [text + " More than 100 people were there."] * 2


def test_blank_posted_on_carries_the_date_forward():
    html = """<html><body><div id="content">
    <h2><a href="/a/">First post of the day</a></h2><p>Posted on: 2020/10/28</p><p>First excerpt.</p>
    <h2><a href="/b/">Second post of the day</a></h2><p>Posted on:</p><p>Second excerpt.</p>
    <h2><a href="/c/">Third post, a day earlier</a></h2><p>Posted on: 2020/10/27</p><p>Third excerpt.</p>
    <h2><a href="/d/">Fourth post, same day</a></h2><p>Posted on: </p><p>Fourth excerpt.</p>
    </div></body></html>"""
    page = run(html)
    assert page.rule == "text"
    assert [(p.published.date(), p.date_only) for p in page.posts] == [
        (dt.date(2020, 10, 28), True), (dt.date(2020, 10, 28), True),
        (dt.date(2020, 10, 27), True), (dt.date(2020, 10, 27), True),
    ]
    assert all(p.published.tzinfo is TZ and p.published.hour == 0 for p in page.posts)
    assert [p.excerpt for p in page.posts] == ["First excerpt.", "Second excerpt.", "Third excerpt.", "Fourth excerpt."]
    assert page.warnings == ()


def test_blank_posted_on_with_nothing_above_warns():
    html = """<html><body><h2><a href="/a/">A post without a date</a></h2><p>Posted on:</p><p>Text.</p>
    <h2><a href="/b/">Dated post</a></h2><p>Posted on: 2020/10/27</p><p>Text.</p></body></html>"""
    page = run(html)
    assert [p.published for p in page.posts] == [None, dt.datetime(2020, 10, 27, tzinfo=TZ)]
    assert len(page.warnings) == 1 and "A post without a date" in page.warnings[0]


def test_blank_entry_date_carries_forward_in_classic_themes_too():
    arts = "".join(
        f'<article class="post hentry"><h2 class="entry-title"><a href="/p{i}/">Post {i}</a></h2>'
        f'<span class="entry-date">{d}</span><div class="entry-summary"><p>Excerpt {i}.</p></div></article>'
        for i, d in enumerate(["October 28, 2020", "", "October 27, 2020"])
    )
    page = run(f"<html><body>{arts}</body></html>")
    assert [p.published.date() for p in page.posts] == [dt.date(2020, 10, 28)] * 2 + [dt.date(2020, 10, 27)]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Posted on: 2020/10/28", dt.date(2020, 10, 28)),
        ("2020-10-28", dt.date(2020, 10, 28)),
        ("October 28, 2020", dt.date(2020, 10, 28)),
        ("Oct 28 2020", dt.date(2020, 10, 28)),
        ("28 October 2020", dt.date(2020, 10, 28)),
        ("28th of October, 2020", dt.date(2020, 10, 28)),
        ("28/10/2020", dt.date(2020, 10, 28)),
        ("10/28/2020", dt.date(2020, 10, 28)),
        ("05/04/2020", dt.date(2020, 4, 5)),  # day first
        ("2020/02/30", None),
        ("3 days ago", None),
        ("", None),
    ],
)
def test_date_text(text, want):
    assert parse_date_text(text) == want


def test_text_rule_plain_link_lines_and_br():
    html = """<html><body><div>
    <a href="https://e.com/x/">A title on its own line</a><br>Posted on October 28, 2020<br>
    Iran Interlink, October 28 2020:&#8230; Body text here. A title on its own line<br>
    <a href="https://e.com/y/">Another title</a><br>Posted on 27 October 2020<br>Second body.
    </div></body></html>"""
    page = run(html)
    assert page.rule == "text"
    assert [(p.title, p.excerpt, p.author) for p in page.posts] == [
        ("A title on its own line", "Body text here.", "Iran Interlink"),
        ("Another title", "Second body.", ""),
    ]


def test_a_wrapper_div_post_is_not_one_giant_post():
    items = "".join(
        f'<div class="teaser"><h2><a href="/p{i}/">Wrapped post {i}</a></h2><span class="date">2020-10-2{i}</span>'
        f"<p>{EXCERPT}</p></div>"
        for i in range(4)
    )
    page = run(f'<html><body><div class="post">{items}</div></body></html>')
    assert [p.title for p in page.posts] == [f"Wrapped post {i}" for i in range(4)]
    assert page.rule == "generic"


def test_recent_posts_list_in_the_content_loses_to_the_posts():
    posts = "".join(
        f'<div class="story"><h2><a href="/p{i}/">Story {i} with a long title</a></h2><div class="when">2020-10-2{i}</div>'
        f"<p>{EXCERPT}</p></div>"
        for i in range(3)
    )
    recent = "".join(
        f'<li class="recent"><a href="/r{i}/">A recent post title number {i}</a> <span>2020-11-0{i + 1}</span></li>'
        for i in range(6)
    )
    page = run(f"<html><body><div class='col'>{posts}</div><div class='col2'><ul>{recent}</ul></div></body></html>")
    assert [p.title for p in page.posts] == [f"Story {i} with a long title" for i in range(3)]


def test_widgets_nav_and_footer_are_never_posts():
    chrome = "".join(
        f'<div class="widget"><h3><a href="/w{i}/">Widget title {i} long enough</a></h3><p>2020-10-0{i + 1}</p>'
        f"<p>{EXCERPT}</p></div>"
        for i in range(3)
    )
    html = f"<html><body><nav>{chrome}</nav><aside>{chrome}</aside><footer>{chrome}</footer><div id='sidebar'>{chrome}</div></body></html>"
    page = run(html)
    assert page.posts == () and page.rule == "none"


def test_cards_without_dates_but_with_summaries():
    items = "".join(
        f'<div class="card"><a href="/p{i}/"><img src="/i.jpg"></a><h4><a href="/p{i}/">Card title {i}</a></h4>'
        f"<p>{EXCERPT}</p></div>"
        for i in range(3)
    )
    page = run(f"<html><body><section>{items}</section></body></html>")
    assert [(p.title, p.published, p.excerpt) for p in page.posts] == [(f"Card title {i}", None, EXCERPT) for i in range(3)]


def test_selectors_override_everything():
    html = """<html><body>
    <article class="post hentry"><h2 class="entry-title"><a href="/wrong/">Not this</a></h2></article>
    <div class="row"><span class="t">Chosen one</span><a class="go" href="/one/">link</a><b class="d">2020-10-28</b><i class="x">First text.</i></div>
    <div class="row"><span class="t">Chosen two</span><a class="go" href="/two/">link</a><b class="d">2020-10-27</b><i class="x">Second text.</i></div>
    <a class="more-please" href="/page/2/">more</a></body></html>"""
    sel = Selectors(post="div.row", title=".t", link="a.go", date=".d", excerpt=".x", next="a.more-please")
    page = run(html, selectors=sel)
    assert page.rule == "selectors"
    assert [(p.title, p.url, p.published.date(), p.excerpt) for p in page.posts] == [
        ("Chosen one", "https://e.com/one/", dt.date(2020, 10, 28), "First text."),
        ("Chosen two", "https://e.com/two/", dt.date(2020, 10, 27), "Second text."),
    ]
    assert page.next_url == "https://e.com/page/2/"


def test_a_bad_selector_is_an_extract_error():
    with pytest.raises(ExtractError, match="bad CSS selector"):
        run("<html><body><p>x</p></body></html>", selectors=Selectors(post="div[["))


@pytest.mark.parametrize(
    ("markup", "want"),
    [
        ('<link rel="next" href="/author/anne/page/2/">', "https://e.com/author/anne/page/2/"),
        ('<a rel="next" href="page/2/">Next</a>', "https://e.com/author/anne/page/2/"),
        (('<div class="nav-previous"><a href="/author/anne/page/2/"><span class="meta-nav">&larr;</span> Older posts</a></div>'
         '<div class="nav-next"><a href="/newer/">Newer posts</a></div>'), "https://e.com/author/anne/page/2/"),
        ('<a class="prev page-numbers" href="/newer/">Prev</a><a class="next page-numbers" href="?paged=2">Next &raquo;</a>',
         "https://e.com/author/anne/?paged=2"),
        ('<a class="wp-block-query-pagination-next" href="/author/anne/page/2/">Next Page</a>', "https://e.com/author/anne/page/2/"),
        ('<p><a href="/old/">&laquo; Older Entries</a></p>', "https://e.com/old/"),
        ('<p><a href="/old/">Next page</a></p>', "https://e.com/old/"),
        ('<p><a href="/newer/">Newer posts</a></p>', None),
        ('<a rel="next" href="/author/anne/">Same page</a>', None),
    ],
)
def test_pagination(markup, want):
    assert run(f"<html><head></head><body>{markup}</body></html>").next_url == want


def test_base_href_is_honoured():
    html = '<html><head><base href="https://cdn.e.com/blog/"></head><body><a rel="next" href="page/2/">x</a></body></html>'
    assert run(html).next_url == "https://cdn.e.com/blog/page/2/"


FEEDS = """<link rel="alternate" type="application/rss+xml" title="Site &raquo; Feed" href="/feed/">
<link rel="alternate" type="application/rss+xml" title="Site &raquo; Comments Feed" href="/comments/feed/">"""


def test_feed_discovery_prefers_the_author_feed():
    html = f"""<html><head>{FEEDS}<link rel="alternate" type="application/atom+xml" title="Site &raquo; Posts by Anne Feed"
    href="/author/anne/feed/atom/"></head><body></body></html>"""
    assert run(html).feed_url == "https://e.com/author/anne/feed/atom/"


def test_author_page_without_an_author_feed_gets_none():
    assert run(f"<html><head>{FEEDS}</head><body></body></html>").feed_url is None


def test_other_pages_get_the_site_feed_never_the_comments_feed():
    assert run(f"<html><head>{FEEDS}</head><body></body></html>", url="https://e.com/blog/").feed_url == "https://e.com/feed/"
    comments_only = '<link rel="alternate" type="application/rss+xml" title="Comments" href="/comments/feed/">'
    assert run(f"<html><head>{comments_only}</head></html>", url="https://e.com/blog/").feed_url is None


@pytest.mark.parametrize(
    ("head_body", "want"),
    [
        ("<title>Jane Doe, Author at Site</title>", "Jane Doe"),
        ('<body><h1 class="page-title">Author: <span class="vcard">Jane Doe</span></h1></body>', "Jane Doe"),
        ('<body><h1 class="page-title">Author Archives: Jane Doe</h1></body>', "Jane Doe"),
        ("<body><p>Author: Jane Doe</p></body>", "Jane Doe"),
        ("<title>Jane Doe &#8211; Site</title>", "Jane Doe"),
    ],
)
def test_page_author(head_body, want):
    assert run(f"<html><head></head>{head_body}</html>").author == want


def test_site_title_is_not_an_author_on_other_pages():
    assert run("<html><head><title>Blog &#8211; Site</title></head></html>", url="https://e.com/blog/").author is None


def test_zero_posts_is_not_an_error():
    page = run("<html><body><p>Nothing here yet.</p></body></html>")
    assert page.posts == () and page.rule == "none" and page.kind == "html"


def test_titles_keep_typography_and_decode_entities():
    html = classic(1).replace("Title number 0", "Rajavi&#8217;s &ldquo;lies&rdquo; &#8211; a&nbsp;test&#8230;  &amp; more")
    (p,) = run(html).posts
    assert p.title == "Rajavi’s “lies” – a test… & more"


# --- hostile markup ---------------------------------------------------------------------------

def test_ten_thousand_deep_nesting_finishes_fast():
    deep = "<div>" * 10_000 + classic(2) + "</div>" * 10_000
    start = time.perf_counter()
    page = run(deep)
    assert time.perf_counter() - start < 30  # a hang guard, not a speed target
    assert page.kind == "html"


def test_unclosed_tags_do_not_crash():
    html = "<html><body>" + '<div class="x"><p><a href="/a">' * 3000 + "<h2><a href='/t/'>Title"
    start = time.perf_counter()
    page = run(html)
    assert time.perf_counter() - start < 30  # a hang guard, not a speed target
    assert page.kind == "html"
    broken = classic(2).replace("</article>", "").replace("</p>", "").replace("</h2>", "")
    assert [p.title for p in run(broken).posts][:1] == ["Title number 0"]


def test_one_megabyte_title():
    huge = "MEK " * 250_000
    html = classic(2).replace("Title number 0", huge)
    start = time.perf_counter()
    page = run(html)
    assert time.perf_counter() - start < 30  # a hang guard, not a speed target
    assert len(page.posts[0].title) == len(huge.strip()) and page.posts[1].title == "Title number 1"


# --- the entry point --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "headers", "want"),
    [
        (b'<?xml version="1.0"?><rss version="2.0">', {}, "feed"),
        (b"\xef\xbb\xbf  \n<feed xmlns='http://www.w3.org/2005/Atom'>", {}, "feed"),
        (b"<!-- generator --><rdf:RDF xmlns:rdf='x'>", {}, "feed"),
        (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">]><rss>', {"content-type": "text/html"}, "feed"),
        (b'<?xml version="1.0"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml">', {"content-type": "text/xml"}, "html"),
        (b"<!doctype html><html>", {"content-type": "application/rss+xml"}, "html"),
        ("<?xml version='1.0'?><rss>".encode("utf-16"), {}, "feed"),
        (b"<p>fragment</p>", {"content-type": "application/atom+xml; charset=utf-8"}, "feed"),
        (b"<p>fragment</p>", {}, "html"),
        (b"plain text", {"Content-Type": "text/html"}, "html"),
    ],
)
def test_sniff_kind(body, headers, want):
    assert sniff_kind(body, headers) == want


def test_auto_dispatches_to_the_feed_reader():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>A</title><link>https://e.com/a</link></item></channel></rss>'
    page = extract(body, url="https://e.com/feed/", tz=TZ)
    assert page.kind == "feed" and page.rule == "rss" and page.posts[0].origin == "feed"


def test_forced_kind_wins_over_sniffing():
    with pytest.raises(FeedError):
        extract(b"<html><body>x</body></html>", url=URL, tz=TZ, kind="feed")
    assert extract(b"<rss><channel></channel></rss>", url=URL, tz=TZ, kind="html").kind == "html"


@pytest.mark.parametrize(
    ("body", "headers"),
    [(b"", {}), (b"   \n ", {}), (b"\x89PNG\r\n\x1a\n\x00\x00\x00", {"content-type": "image/png"}),
     (b"%PDF-1.4 \x00\x01", {"content-type": "application/pdf"})],
)
def test_empty_or_binary_bodies_are_extract_errors(body, headers):
    with pytest.raises(ExtractError) as info:
        extract(body, url=URL, tz=TZ, headers=headers)
    assert info.value.url == URL and not isinstance(info.value, FeedError)


# --- a title that reads like a byline -------------------------------------------------------
# Iran Interlink ran "By Ahmad Jafar Alsaedi – Translated by Habilian" as a post title. A byline is
# "By <a>Jane Doe</a>": its "By" is never part of a link, so a linked "By …" is a title.

BY_TITLE = "By Ahmad Jafar Alsaedi – Translated by Habilian"
BODY = "The MEK recruits its new members in Albania through front companies and paid agents."


@pytest.mark.parametrize("theme", ["classic", "block", "text", "wordpress"])
def test_a_title_starting_with_by_is_a_post_on_every_sample_theme(theme):
    site = SampleSite.from_seeds(per_page=10)
    slug = "massoud-khodabandeh"
    site.set_source(slug, theme=theme)
    base = "https://www.iran-interlink.org"
    before = len(site.posts(slug))
    site.add_post(slug, BY_TITLE, "2021-11-02", f"Habilian, November 02 2021:… {BODY} {BY_TITLE}")
    url = site.author_url(slug, base_url=base)
    r = site.render(url[len(base):], base)
    page = extract(r.body, url=url, tz=TZ, headers={"content-type": r.content_type})
    titles = [p.title for p in page.posts]
    assert titles[0] == BY_TITLE, titles
    assert len(titles) == min(10, before + 1)
    assert page.posts[0].published.date() == dt.date(2021, 11, 2)
    assert page.posts[0].excerpt == BODY  # the title repeated at its end removed
    assert page.posts[0].author == "Habilian"


def test_a_linked_by_title_on_a_markup_free_page():
    html = f"""<html><body><div id="content">
    <a href="/by-ahmad/">{BY_TITLE}</a><br>Posted on: 2021/11/02<br>Habilian, November 02 2021:… First body.<br>
    <a href="/second/">A second post of the same day</a><br>Posted on:<br>Second body.
    </div></body></html>"""
    page = run(html)
    assert page.rule == "text"
    assert [(p.title, p.url) for p in page.posts] == [
        (BY_TITLE, "https://e.com/by-ahmad/"), ("A second post of the same day", "https://e.com/second/")]
    assert page.posts[0].excerpt == "First body." and page.posts[0].author == "Habilian"


def test_a_linked_name_after_by_is_still_a_byline_not_a_title():
    html = """<html><body><div id="content">
    <p><a href="/a/">The post title</a></p><p>By <a href="/author/jane/">Jane Doe</a></p><p>Posted on: 2021/11/02</p>
    <p>The body of the post.</p>
    <p><a href="/b/">Another post title</a></p><p>By <a href="/author/jane/">Jane Doe</a></p><p>Posted on:</p>
    <p>Another body.</p></div></body></html>"""
    page = run(html)
    assert page.rule == "text"
    assert [(p.title, p.excerpt) for p in page.posts] == [
        ("The post title", "The body of the post."), ("Another post title", "Another body.")]


def test_a_by_title_in_unknown_markup():
    page = run(boxes(3, title="By Ahmad Jafar Alsaedi – Translated by Habilian, part {i}"))
    assert page.rule == "generic"
    assert [p.title for p in page.posts] == [
        f"By Ahmad Jafar Alsaedi – Translated by Habilian, part {i}" for i in range(3)]
    assert [p.excerpt for p in page.posts] == [EXCERPT] * 3


# --- a trailing "Continue reading" is looked for in the excerpt's tail only --------------------

_MORE_PIECES = ["Continue reading", "continue reading →", "Read more", "READ MORE »", "[Read more…]", "keep reading",
                "Keep Reading: the rest", "reading", "more", ".", "!", "?", " ", "word", "x" * 60, "İ", "ſ", "…",
                "The MEK is now based in Albania, where"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_MORE_PIECES), max_size=40), st.sampled_from([" ", "", "<br>"]))
def test_property_trailing_more_is_removed_as_by_the_whole_text_regex(pieces, glue):
    root = LexborHTMLParser("<p>" + glue.join(pieces) + "</p>").body
    lines = H._lines([root], H._is_post_meta)
    text, _ = H._excerpt_from_lines(lines)
    whole = collapse(" ".join(ln.text for ln in lines if not H._is_noise_line(ln.text)))
    assert text == H._TRAILING_MORE.sub("", whole)
