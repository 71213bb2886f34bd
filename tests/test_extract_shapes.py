"""The failure shapes of issue 12, each as the small piece of a real generator's default output that
caused it (Pelican notmyidea / simple, MkDocs Material, Nikola, card themes, IndieWeb themes).

The whole generated pages are in tests/data/corpus (test_corpus.py reads them end to end); these pin
each general rule on its own, with the page around it reduced to what the rule looks at.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from monitor.extract import extract
from monitor.extract.html import archive_key, explain_html

TZ = ZoneInfo("UTC")
URL = "https://blog.example/author/anne-singleton.html"
TEXT = "Story 1: The families gathered again outside the gate and asked to see their relatives."


def run(body: str, url: str = URL):
    return extract(
        f"<!doctype html><html><head><title>Anne</title></head><body>{body}</body></html>".encode(),
        url=url,
        tz=TZ,
    )


def hentry(n: int, meta: str = "") -> str:
    return (
        f'<li><article class="hentry"><header><h1><a href="/story-{n}.html" rel="bookmark">Post {n} title'
        f'</a></h1></header><div class="entry-content">{meta}<p>{TEXT}</p></div></article></li>'
    )


PELICAN_META = (
    '<footer class="post-info"><abbr class="published" title="2020-04-25T09:30:00+00:00">Published: Sat 25 '
    'April 2020</abbr><address class="vcard author">By <a class="url fn" href="/author/anne-singleton.html">'
    'Anne Singleton</a></address><p>In <a href="/category/news.html">News</a>.</p></footer>'
)


def test_a_post_inside_an_aside_is_content_and_comes_first():
    featured = (
        '<aside id="featured"><article><h1 class="entry-title"><a href="/story-0.html">Featured one'
        f"</a></h1>{PELICAN_META}<p>Tasnim News April 24 2020:… {TEXT}</p></article></aside>"
    )
    page = run(
        featured + f'<ol class="hfeed">{hentry(1)}{hentry(2)}</ol>'
        '<aside class="sidebar"><h2><a href="/story-9.html">A widget link</a></h2></aside>'
    )
    assert [p.title for p in page.posts] == ["Featured one", "Post 1 title", "Post 2 title"]
    first = page.posts[0]
    assert (first.author, first.outlet, first.original_date) == ("Tasnim News", "", dt.date(2020, 4, 24))
    assert first.excerpt.startswith("Story 1: The families")
    assert first.published == dt.datetime(2020, 4, 25, 9, 30, tzinfo=dt.UTC)


def test_post_meta_never_enters_the_excerpt_and_the_source_line_is_read():
    page = run(
        f"<ol>{hentry(1, PELICAN_META.replace('<p>', '<p>').replace('2020-04-25T09:30:00+00:00', ''))}"
        f"{hentry(2, PELICAN_META)}</ol>"
    )
    for p in page.posts:
        assert p.excerpt.startswith("Story 1: The families"), p.excerpt
        assert "Published" not in p.excerpt and "News." not in p.excerpt and "By " not in p.excerpt
    # a weekday date in text ("Published: Sat 25 April 2020") when there is no machine date
    assert page.posts[0].published == dt.datetime(2020, 4, 25, tzinfo=dt.UTC)


@pytest.mark.parametrize("arrow", ["&rang;", "›", "»", "→", "Next&nbsp;»"])
def test_an_arrow_beside_page_1_of_2_is_the_next_page(arrow):
    page = run(
        f"<ol>{hentry(1)}{hentry(2)}</ol><nav><ul><li>Page 1 / 2</li>"
        f'<li><a href="/author/anne-singleton2.html">{arrow}</a></li></ul></nav>'
    )
    assert page.next_url == "https://blog.example/author/anne-singleton2.html"


def test_numbered_pagination_follows_the_number_after_the_current_one():
    url = "https://blog.example/blog/author/anne/page/2/"
    page = run(
        f'<ol>{hentry(1)}{hentry(2)}</ol><nav class="md-pagination"><a href="../../">1</a> '
        '<span class="md-pagination__current">2</span> <a href="../3/">3</a> <a href="../4/">4</a></nav>',
        url=url,
    )
    assert page.next_url == "https://blog.example/blog/author/anne/page/3/"
    page = run(
        f'<ol>{hentry(1)}{hentry(2)}</ol><div class="page-numbers-wrap"><span aria-current="page" '
        'class="page-numbers current">1</span>'
        '<a class="page-numbers" href="/author/anne/page/2/">2</a></div>',
        url="https://blog.example/author/anne/",
    )
    assert page.next_url == "https://blog.example/author/anne/page/2/"


def test_the_last_page_of_numbers_has_no_next():
    page = run(
        f'<ol>{hentry(1)}{hentry(2)}</ol><nav class="md-pagination"><a href="../../">1</a> '
        '<span class="md-pagination__current">2</span></nav>',
        url="https://blog.example/blog/author/anne/page/2/",
    )
    assert page.next_url is None


@pytest.mark.parametrize(
    "target",
    [
        "/authors/nadia-rahimi/",  # the site's document navigation: the next author's profile
        "/author/nadia-rahimi.html",
        "https://other.example/author/anne-singleton2.html",  # another host
        "/about/",  # somewhere else on the site
    ],
)
def test_a_document_rel_next_outside_the_archive_is_not_followed(target):
    body = f"<ol>{hentry(1)}{hentry(2)}</ol>"
    html = f'<!doctype html><html><head><link rel="next" href="{target}"></head><body>{body}</body></html>'
    page = extract(html.encode(), url=URL, tz=TZ)
    assert page.next_url is None
    explained = explain_html(html, url=URL, tz=TZ)
    assert any(target.split("/")[-2] in r or target.split("/")[-1] in r for r in explained.refused_next)


def test_a_document_rel_next_inside_the_archive_is_followed():
    html = (
        f'<!doctype html><html><head><link rel="next" href="index-1.html"></head><body><ol>{hentry(1)}'
        f"{hentry(2)}</ol></body></html>"
    )
    page = extract(html.encode(), url="https://blog.example/authors/anne/", tz=TZ)
    assert page.next_url == "https://blog.example/authors/anne/index-1.html"


def test_older_posts_never_leads_into_another_authors_archive():
    page = run(
        f'<ol>{hentry(1)}{hentry(2)}</ol><div class="nav-previous"><a href="/author/nadia/page/2/">Older '
        "posts</a></div>",
        url="https://blog.example/author/anne/",
    )
    assert page.next_url is None


def test_archive_key_is_the_same_for_every_page_of_one_archive():
    pages = [
        ("https://b.example/author/anne.html", "https://b.example/author/anne2.html"),
        ("https://b.example/authors/anne/", "https://b.example/authors/anne/index-1.html"),
        ("https://b.example/blog/author/anne/", "https://b.example/blog/author/anne/page/2/"),
        (
            "https://b.example/wordpress/author/?author=anne&authorid=4",
            "https://b.example/wordpress/author/page/2/?author=anne&authorid=4",
        ),
        ("https://b.example/?author=4", "https://b.example/?author=4&paged=2"),
    ]
    for first, second in pages:
        assert archive_key(first) == archive_key(second), (first, second)
    assert archive_key("https://b.example/author/anne.html") != archive_key(
        "https://b.example/author/nadia.html"
    )
    assert archive_key("https://b.example/?author=4") != archive_key("https://b.example/?author=5")


def test_a_card_link_wrapping_heading_excerpt_and_meta_gives_the_heading_as_title():
    card = (
        '<article class="c-card"><a class="c-card-link" href="/post-{n}/"><h3>Card title {n}</h3>'
        '<p class="c-card__excerpt">Iran Interlink, October 27 2020:… ' + TEXT + "</p>"
        '<footer>By Anne Singleton <time datetime="2020-10-2{n}">2{n} Oct 2020</time></footer></a></article>'
    )
    page = run("<main>" + "".join(card.replace("{n}", str(n)) for n in (1, 2, 3)) + "</main>")
    assert [p.title for p in page.posts] == ["Card title 1", "Card title 2", "Card title 3"]
    assert all(p.excerpt.startswith("Story 1: The families") for p in page.posts)
    assert [p.author for p in page.posts] == ["Iran Interlink"] * 3
    assert page.posts[0].published == dt.datetime(2020, 10, 21, tzinfo=dt.UTC)


def test_one_mf2_post_on_the_last_page_is_enough():
    page = run(
        '<main><div class="h-entry"><h2 class="p-name"><a class="u-url" href="/2020/10/last/">The last '
        'post</a></h2><time class="dt-published" datetime="2020-10-05T10:00:00Z">Monday, October 5, '
        '2020</time><div class="p-summary">Nadia Rahimi,  Huffington Post,  October 02 2020:… '
        f"{TEXT}</div></div></main>"
    )
    assert page.rule == "mf2"
    [post] = page.posts
    assert (post.title, post.url) == ("The last post", "https://blog.example/2020/10/last/")
    assert (post.author, post.outlet, post.original_date) == (
        "Nadia Rahimi",
        "Huffington Post",
        dt.date(2020, 10, 2),
    )
    assert post.published == dt.datetime(2020, 10, 5, 10, tzinfo=dt.UTC)


def test_a_short_excerpt_after_a_source_line_is_kept():
    items = "".join(
        f'<div class="item"><h2><a href="/p{n}/">Title {n}</a></h2><p>October 2{n}, 2020</p>'
        f"<p>Iran Interlink, October 27 2020:… Families ask to visit.</p></div>"
        for n in (1, 2)
    )
    page = run(items)
    for p in page.posts:
        assert (p.excerpt, p.author, p.original_date) == (
            "Families ask to visit.",
            "Iran Interlink",
            dt.date(2020, 10, 27),
        )


def test_a_heading_author_archive_names_no_author():
    page = run(f"<h1>Author archive</h1><ol>{hentry(1)}{hentry(2)}</ol>", url="https://b.example/arch/")
    assert page.author != "archive"
    page = run(f"<h1>Author Archives: Anne Singleton</h1><ol>{hentry(1)}{hentry(2)}</ol>")
    assert page.author == "Anne Singleton"


def test_a_page_with_no_posts_stays_empty():
    page = run(
        '<main><h1>Anne</h1><p>No posts yet.</p><nav><a href="/author/anne-singleton2.html">›</a></nav>'
        "</main>"
    )
    assert page.posts == () and page.rule == "none"


def test_a_category_line_and_a_byline_are_not_excerpt():
    meta = '<p class="x">In <a href="/category/news.html">News</a>.</p><p>By Anne Singleton</p>'
    page = run(f"<ol>{hentry(1, meta)}{hentry(2, meta)}</ol>")
    assert [p.excerpt[:21] for p in page.posts] == ["Story 1: The families"] * 2


@pytest.mark.parametrize(
    "text", ["Sat 25 April 2020", "Saturday, April 25, 2020", "Published: Sat 25 Apr 2020"]
)
def test_weekday_dates(text):
    items = "".join(
        f'<div class="item"><h2><a href="/p{n}/">Title {n}</a></h2><p>{text}</p><p>{TEXT}</p></div>'
        for n in (1, 2)
    )
    assert [p.published for p in run(items).posts] == [dt.datetime(2020, 4, 25, tzinfo=dt.UTC)] * 2


def test_a_link_of_digits_that_are_not_ascii_is_no_page_number():
    # "¹" and "٣" are digits to str.isdigit() but not page numbers (a footnote, another script)
    page = run(
        f'<ol>{hentry(1)}{hentry(2)}</ol><nav class="pagination"><span class="current">1</span>'
        '<a href="/author/anne-singleton2.html">¹</a><a href="/author/anne-singleton3.html">٢</a></nav>'
    )
    assert page.next_url is None


@pytest.mark.parametrize(
    ("title", "head", "url"),
    [
        (
            "Iran Interlink - Anne Singleton",
            '<header><h1><a href="../">Iran Interlink <b>News</b></a></h1></header>',
            "https://b.example/author/anne.html",
        ),
        (
            "Anne Singleton | Iran Interlink – News and analysis",
            "<header><h1>Iran Interlink – News</h1></header>",
            "https://b.example/authors/anne/",
        ),
        (
            "Posts by Anne Singleton (old posts, page 1) | Iran Interlink",
            "",
            "https://b.example/authors/anne/",
        ),
        (
            "Anne Singleton – Page 2 – Iran Interlink",
            '<meta property="og:site_name" content="Iran Interlink">',
            "https://b.example/author/anne/page/2/",
        ),
    ],
)
def test_the_page_author_is_not_the_site_nor_a_page_note(title, head, url):
    html = (
        f"<!doctype html><html><head><title>{title}</title>{head if head.startswith('<meta') else ''}</head>"
        f"<body>{head if not head.startswith('<meta') else ''}<ol>{hentry(1)}{hentry(2)}</ol></body></html>"
    )
    assert extract(html.encode(), url=url, tz=TZ).author == "Anne Singleton"
