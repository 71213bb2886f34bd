"""An in-memory WordPress-like site, its renderers, and a bulk generator.

:class:`SampleSite` holds authors and posts and renders any URL of the site
to bytes (:meth:`SampleSite.render`); :mod:`sample_site.server` puts it
behind a real HTTP server. Tests change the "web" through its methods
(``add_post``, ``edit_post``, ``remove_post``), add page chrome that changes on
every load without any post changing (``set_noise``), and inject faults
(``fail``, ``delay``, ``break_feed``, ``empty_page``).

URL layout (one server hosts every author in every theme; ``{mount}`` is a
theme name, or ``wordpress`` = the text theme with Iran Interlink's real
query-style author URLs)::

    /robots.txt
    /                                           index of authors, pages and feeds
    /{mount}/author/{slug}/                     author page, newest first, per_page posts
    /{mount}/author/{slug}/page/{n}/            older pages; past the last one -> 404
    /{mount}/author/{slug}/feed/                RSS 2.0 author feed (last feed_items posts)
    /{mount}/author/{slug}/feed/atom/           Atom author feed
    /{mount}/feed/  /{mount}/feed/atom/         site-wide feeds
    /{mount}/{yyyy}/{mm}/{dd}/{post-slug}/      single post
    /wordpress/author/?author={slug}&authorid={k}           (any mount accepts this form)
    /wordpress/author/page/{n}/?author={slug}&authorid={k}
    /?p={post_id}                               shortlink -> 301 to the post

Rendered bodies are cached per (base URL, request target) together with their
ETag and Last-Modified, and dropped when something they show changes.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import gzip
import hashlib
import heapq
import html
import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.demo.seeds import (
    SEEDS_DIR,
    SampleAuthor,
    SamplePost,
    excerpt_html,
    load_seed_authors,
    slugify,
    unique_slug,
)

__all__ = ["MOUNTS", "THEMES", "Rendered", "SampleSite", "generate_site"]

THEMES: tuple[str, ...] = ("classic", "block", "text")
#: URL prefix -> theme. ``wordpress`` is the text theme with query-style author URLs.
MOUNTS: dict[str, str] = {"classic": "classic", "block": "block", "text": "text", "wordpress": "text"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
HTML_TYPE = "text/html; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=UTF-8"
ATOM_TYPE = "application/atom+xml; charset=UTF-8"
WP_VERSION = "6.4.3"
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_CACHE_MAX = 50_000  # rendered bodies kept (200s only); more are rendered on every request
_STATUS_TEXT = {
    400: ("Bad Request", "Your browser sent a request that this server could not understand."),
    401: ("Unauthorized", "This server could not verify that you are authorized to access the document."),
    403: ("Forbidden", "You don't have permission to access this resource."),
    404: ("Not Found", "The requested URL was not found on this server."),
    410: ("Gone", "The requested resource is no longer available on this server."),
    429: ("Too Many Requests", "You have sent too many requests in a given amount of time."),
    500: ("Critical error", "There has been a critical error on this website."),
    502: ("Bad Gateway", "The proxy server received an invalid response from an upstream server."),
    503: ("Briefly unavailable", "Briefly unavailable for scheduled maintenance. Check back in a minute."),
    504: ("Gateway Timeout", "The upstream server did not answer in time."),
}


def esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def cdata(s: str) -> str:
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def long_date(d: dt.date) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def http_date(t: dt.datetime) -> str:
    return email.utils.format_datetime(t.astimezone(dt.UTC), usegmt=True)


@dataclass(slots=True)
class Rendered:
    """One response body with its validators (what the server sends for a GET)."""

    status: int
    body: bytes
    content_type: str = HTML_TYPE
    etag: str | None = None  # strong, quoted: hash of body
    last_modified: dt.datetime | None = None
    headers: tuple[tuple[str, str], ...] = ()
    _gzipped: bytes | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=1, mtime=0)
        return self._gzipped


def _finish(status: int, body: str, content_type: str = HTML_TYPE, last_modified: dt.datetime | None = None,
            headers: tuple[tuple[str, str], ...] = ()) -> Rendered:
    raw = body.encode("utf-8")
    etag = None
    if status == 200:
        etag = '"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"'
    lm = last_modified.replace(microsecond=0) if last_modified else None
    return Rendered(status, raw, content_type, etag, lm if status == 200 else None, headers)


@dataclass(frozen=True, slots=True)
class _Noise:
    """Page chrome for one noise generation (all derived from the generation number)."""

    ver: str
    nonce: str
    visitors: int
    ago: str
    comment_salt: int  # the generation: every comment count moves on each bump
    popular_seed: int

    @classmethod
    def make(cls, seed: int, generation: int) -> _Noise:
        r = random.Random(f"noise:{seed}:{generation}")
        n = r.randint(1, 59)
        unit = r.choice(("minutes", "hours", "days"))
        return cls(
            ver=f"{r.getrandbits(32):08x}", nonce=f"{r.getrandbits(40):010x}",
            visitors=r.randint(100_000, 999_999), ago=f"{n} {unit} ago",
            comment_salt=generation, popular_seed=r.getrandbits(32),
        )

    def comments(self, post_id: int) -> int:
        return (post_id * 7 + self.comment_salt) % 9


def _comment_label(n: int) -> str:
    return "No Comments" if n == 0 else "1 Comment" if n == 1 else f"{n} Comments"


def _cf_email(address: str) -> str:
    """Cloudflare email-protection encoding (``data-cfemail``)."""
    key = 0x5A
    return f"{key:02x}" + "".join(f"{ord(c) ^ key:02x}" for c in address)


class _View:
    """Everything a renderer needs for one request: URLs, the site, noise."""

    def __init__(self, site: SampleSite, base: str, mount: str, noise: _Noise | None):
        self.site, self.base, self.mount, self.noise = site, base.rstrip("/"), mount, noise
        self.theme = MOUNTS.get(mount, "classic")
        self.root = f"{self.base}/{mount}"

    # URLs ---------------------------------------------------------------
    def home(self) -> str:
        return self.root + "/"

    def author_url(self, a: SampleAuthor, page: int = 1) -> str:
        if self.mount == "wordpress":
            p = f"page/{page}/" if page > 1 else ""
            return f"{self.root}/author/{p}?author={a.slug}&authorid={a.author_id}"
        return f"{self.root}/author/{a.slug}/" + (f"page/{page}/" if page > 1 else "")

    def feed_url(self, a: SampleAuthor | None, atom: bool = False) -> str:
        head = f"{self.root}/author/{a.slug}/feed/" if a else f"{self.root}/feed/"
        return head + ("atom/" if atom else "")

    def post_url(self, p: SamplePost) -> str:
        d = p.posted_on
        return f"{self.root}/{d.year:04d}/{d.month:02d}/{d.day:02d}/{p.slug}/"

    def shortlink(self, p: SamplePost) -> str:
        return f"{self.base}/?p={p.post_id}"

    def asset(self, path: str) -> str:
        ver = self.noise.ver if self.noise else WP_VERSION
        return f"{self.root}/{path}?ver={ver}"

    # Shared chrome --------------------------------------------------------
    def head(self, title: str, author: SampleAuthor | None, *, canonical: str = "",
             shortlink: str = "", extra: str = "") -> str:
        s = self.site
        out = [
            "<!DOCTYPE html>",
            '<html lang="en-US">',
            "<head>",
            '<meta charset="UTF-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title>",
            '<meta name="robots" content="max-image-preview:large">',
            (f'<link rel="alternate" type="application/rss+xml" title="{esc(s.name)} » Feed" '
             f'href="{esc(self.feed_url(None))}">'),
        ]
        if author is not None:
            out.append(
                f'<link rel="alternate" type="application/rss+xml" title="{esc(s.name)} » Posts by '
                f'{esc(author.name)} Feed" href="{esc(self.feed_url(author))}">'
            )
        out.append(f'<link rel="stylesheet" id="theme-style-css" href="{esc(self.asset("style.css"))}" '
                   'media="all">')
        out.append(f'<script src="{esc(self.asset("wp-includes/js/jquery/jquery.min.js"))}" '
                   'id="jquery-core-js"></script>')
        if self.noise:
            out.append(f'<script id="wp-api-fetch-js-after">wp.apiFetch.use( wp.apiFetch.createNonce'
                       f'Middleware( "{self.noise.nonce}" ) );</script>')
        else:
            out.append("<script>document.documentElement.className = "
                       "document.documentElement.className.replace( 'no-js', 'js' );</script>")
        if canonical:
            out.append(f'<link rel="canonical" href="{esc(canonical)}">')
        if shortlink:
            out.append(f'<link rel="shortlink" href="{esc(shortlink)}">')
        out.append(f'<meta name="generator" content="WordPress {WP_VERSION}">')
        if extra:
            out.append(extra)
        out.append("</head>")
        return "\n".join(out)

    def menu_items(self) -> list[tuple[str, str]]:
        return [("Home", self.home()), ("Weekly Digest", f"{self.root}/category/weekly-digest/"),
                ("About", f"{self.root}/about/"), ("Contact", f"{self.root}/contact/")]

    def search_form(self) -> str:
        return (f'<form role="search" method="get" class="search-form" action="{esc(self.home())}">'
                '<label>Search&#8230; <input type="search" class="search-field" name="s"></label>'
                '<input type="submit" class="search-submit" value="Search"></form>')

    def noise_widgets(self, tag: str = "section") -> str:
        """Sidebar widgets that change without any post changing (only when noise is on)."""
        if not self.noise:
            return ""
        recent = self.site._recent_posts()
        popular_pool = self.site._recent_posts(30)
        popular = random.Random(self.noise.popular_seed).sample(popular_pool, min(5, len(popular_pool)))
        rec = "".join(f'<li><a href="{esc(self.post_url(p))}">{esc(p.title)}</a></li>' for p in recent)
        pop = "".join(
            f'<li><a href="{esc(self.post_url(p))}">{esc(p.title)}</a> '
            f'<span class="comment-count">({self.noise.comments(p.post_id)})</span></li>'
            for p in popular
        )
        return (
            f'<{tag} id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">'
            f'Recent Posts</h2><nav aria-label="Recent Posts"><ul>{rec}</ul></nav></{tag}>\n'
            f'<{tag} id="popular-posts-3" class="widget popular-posts"><h2 class="widget-title">Popular '
            f'Posts</h2><ul>{pop}</ul></{tag}>\n'
            f'<{tag} id="custom_html-4" class="widget_text widget widget_custom_html"><div class="textwidget'
            f' custom-html-widget">Site updated <span class="time-ago">{self.noise.ago}</span></div></{tag}>\n'
            f'<{tag} id="visitor-counter-5" class="widget widget_visitor_counter"><p>Visitors: '
            f"{self.noise.visitors:,}</p></{tag}>"
        )

    def excerpt_inner(self, p: SamplePost) -> str:
        lead, tail = p.excerpt_parts
        inner = "<br>\n".join(esc(ln) for ln in lead.split("\n"))
        if tail:
            inner += f' <a href="{esc(self.post_url(p))}">{esc(tail)}</a>'
        return inner

    def time_tags(self, p: SamplePost, cls: str = "entry-date published") -> str:
        """``<time>`` for the publish date, plus a separate ``updated`` one after an edit."""
        pub = p.published
        if p.modified is None or p.modified <= pub:
            return f'<time class="{cls} updated" datetime="{pub.isoformat()}">{long_date(pub)}</time>'
        mod = p.modified
        return (f'<time class="{cls}" datetime="{pub.isoformat()}">{long_date(pub)}</time>'
                f'<time class="updated" datetime="{mod.isoformat()}">{long_date(mod)}</time>')


# Themes -------------------------------------------------------------------------------------------


class _Classic:
    """twentytwentyone-like classic theme with hAtom classes."""

    @staticmethod
    def page(v: _View, title: str, body_class: str, main: str, author: SampleAuthor | None,
             canonical: str = "", shortlink: str = "") -> str:
        site = v.site
        menu = "".join(f'<li class="menu-item"><a href="{esc(u)}">{esc(t)}</a></li>' for t, u in v.menu_items())
        return f"""{v.head(title, author, canonical=canonical, shortlink=shortlink)}
<body class="{body_class} wp-embed-responsive is-light-theme no-js hfeed has-main-navigation">
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header id="masthead" class="site-header has-title-and-tagline has-menu">
<div class="site-branding">
<p class="site-title"><a href="{esc(v.home())}" rel="home">{esc(site.name)}</a></p>
<p class="site-description">{esc(site.tagline)}</p>
</div>
<nav id="site-navigation" class="primary-navigation" aria-label="Primary menu">
<div class="primary-menu-container"><ul id="primary-menu-list" class="menu-wrapper">{menu}</ul></div>
</nav>
</header>
<div id="content" class="site-content">
<div id="primary" class="content-area">
<main id="main" class="site-main">
{main}
</main>
</div>
<aside id="secondary" class="widget-area" aria-label="Sidebar">
<section id="search-2" class="widget widget_search">{v.search_form()}</section>
{v.noise_widgets()}
<section id="categories-2" class="widget widget_categories"><h2 class="widget-title">Categories</h2><ul>
<li class="cat-item"><a href="{esc(v.root)}/category/news/">News</a></li>
<li class="cat-item"><a href="{esc(v.root)}/category/weekly-digest/">Weekly Digest</a></li></ul></section>
</aside>
</div>
<footer id="colophon" class="site-footer">
<div class="site-info"><div class="site-name"><a href="{esc(v.home())}">{esc(site.name)}</a></div>
<div class="powered-by">Proudly powered by <a href="https://wordpress.org/">WordPress</a>.</div></div>
</footer>
</div>
</body>
</html>
"""

    @staticmethod
    def article(v: _View, p: SamplePost, a: SampleAuthor) -> str:
        url = esc(v.post_url(p))
        if v.noise:
            comments = (f'<a href="{url}#comments">{_comment_label(v.noise.comments(p.post_id))}'
                        f'<span class="screen-reader-text"> on {esc(p.title)}</span></a>')
        else:
            comments = f'<a href="{url}#respond">Leave a comment<span class="screen-reader-text"> on {esc(p.title)}</span></a>'
        return f"""<article id="post-{p.post_id}" class="post-{p.post_id} post type-post status-publish format-standard hentry category-news entry">
<header class="entry-header">
<h2 class="entry-title default-max-width"><a href="{url}" rel="bookmark">{esc(p.title)}</a></h2>
</header>
<div class="entry-summary">
<p>{v.excerpt_inner(p)}</p>
</div>
<footer class="entry-footer default-max-width">
<span class="posted-on">Published {v.time_tags(p)}</span>
<span class="byline">By <span class="author vcard"><a class="url fn n" href="{esc(v.author_url(a))}">{esc(a.name)}</a></span></span>
<span class="comments-link">{comments}</span>
</footer>
</article>"""

    @classmethod
    def archive(cls, v: _View, a: SampleAuthor, posts: list[SamplePost], page: int, pages: int) -> str:
        parts = [f"""<header class="page-header alignwide">
<h1 class="page-title">Author: <span class="vcard">{esc(a.name)}</span></h1>
<div class="archive-description"><p>{esc(a.bio)}</p></div>
</header>"""]
        if posts:
            parts += [cls.article(v, p, a) for p in posts]
        else:
            parts.append("""<section class="no-results not-found">
<header class="page-header alignwide"><h2 class="page-title">Nothing here</h2></header>
<div class="page-content default-max-width"><p>It seems we can&#8217;t find what you&#8217;re looking for. Perhaps searching can help.</p></div>
</section>""")
        links = []
        if page < pages:
            links.append(f'<div class="nav-previous"><a href="{esc(v.author_url(a, page + 1))}">Older posts</a></div>')
        if page > 1:
            links.append(f'<div class="nav-next"><a href="{esc(v.author_url(a, page - 1))}">Newer posts</a></div>')
        if links:
            parts.append('<nav class="navigation posts-navigation" aria-label="Posts">\n<h2 class="screen-reader-text">'
                         f'Posts navigation</h2>\n<div class="nav-links">{"".join(links)}</div>\n</nav>')
        title = f"{a.name} – {v.site.name}" + (f" – Page {page}" if page > 1 else "")
        return cls.page(v, title, f"archive author author-{a.slug} author-{a.author_id}" + (" paged" if page > 1 else ""),
                        "\n".join(parts), a, canonical=v.author_url(a, page))

    @classmethod
    def single(cls, v: _View, p: SamplePost, a: SampleAuthor) -> str:
        main = f"""<article id="post-{p.post_id}" class="post-{p.post_id} post type-post status-publish format-standard hentry category-news entry">
<header class="entry-header alignwide"><h1 class="entry-title">{esc(p.title)}</h1></header>
<div class="entry-content">
{p.content_html or excerpt_html(p.body_line)}
</div>
<footer class="entry-footer default-max-width">
<span class="posted-on">Published {v.time_tags(p)}</span>
<span class="byline">By <span class="author vcard"><a class="url fn n" href="{esc(v.author_url(a))}">{esc(a.name)}</a></span></span>
</footer>
</article>"""
        return cls.page(v, f"{p.title} – {v.site.name}", f"post-template-default single single-post postid-{p.post_id}",
                        main, a, canonical=v.post_url(p), shortlink=v.shortlink(p))

    @classmethod
    def not_found(cls, v: _View) -> str:
        main = f"""<header class="page-header alignwide"><h1 class="page-title">Nothing here</h1></header>
<div class="error-404 not-found default-max-width"><div class="page-content">
<p>It looks like nothing was found at this location. Maybe try a search?</p>
{v.search_form()}
</div></div>"""
        return cls.page(v, f"Page not found – {v.site.name}", "error404", main, None)


class _Block:
    """twentytwentyfour-like block theme."""

    @staticmethod
    def page(v: _View, title: str, body_class: str, main: str, author: SampleAuthor | None,
             canonical: str = "", shortlink: str = "") -> str:
        site = v.site
        menu = "".join(
            f'<li class="wp-block-navigation-item wp-block-navigation-link"><a class="wp-block-navigation-item__content"'
            f' href="{esc(u)}"><span class="wp-block-navigation-item__label">{esc(t)}</span></a></li>'
            for t, u in v.menu_items()
        )
        widgets = v.noise_widgets("div")
        extra = '<style id="wp-block-library-inline-css">.wp-block-post-template{list-style:none;padding:0}</style>'
        return f"""{v.head(title, author, canonical=canonical, shortlink=shortlink, extra=extra)}
<body class="{body_class} wp-embed-responsive">
<div class="wp-site-blocks">
<header class="wp-block-template-part">
<div class="wp-block-group alignwide is-layout-flex wp-block-group-is-layout-flex">
<p class="wp-block-site-title"><a href="{esc(v.home())}" rel="home">{esc(site.name)}</a></p>
<nav class="is-responsive wp-block-navigation is-layout-flex" aria-label="Header navigation">
<ul class="wp-block-navigation__container wp-block-navigation">{menu}</ul>
</nav>
</div>
</header>
<main class="wp-block-group is-layout-constrained wp-block-group-is-layout-constrained" id="wp--skip-link--target">
{main}
</main>
<footer class="wp-block-template-part">
<div class="wp-block-group alignwide is-layout-flow">
{widgets}
<p class="has-small-font-size">Designed with <a href="https://wordpress.org" rel="nofollow">WordPress</a></p>
</div>
</footer>
</div>
</body>
</html>
"""

    @staticmethod
    def item(v: _View, p: SamplePost) -> str:
        url = esc(v.post_url(p))
        comments = ""
        if v.noise:
            comments = (f'\n<div class="wp-block-post-comments-link"><a href="{url}#comments">'
                        f"{_comment_label(v.noise.comments(p.post_id))}</a></div>")
        return f"""<li class="wp-block-post post-{p.post_id} post type-post status-publish format-standard hentry category-news">
<div class="wp-block-group is-layout-flow wp-block-group-is-layout-flow">
<h2 class="wp-block-post-title has-x-large-font-size"><a href="{url}" target="_self">{esc(p.title)}</a></h2>
<div class="wp-block-post-excerpt"><p class="wp-block-post-excerpt__excerpt">{v.excerpt_inner(p)} </p><p class="wp-block-post-excerpt__more-text"><a class="wp-block-post-excerpt__more-link" href="{url}">Continue reading</a></p></div>
<div class="wp-block-post-date"><time datetime="{p.published.isoformat()}"><a href="{url}">{long_date(p.posted_on)}</a></time></div>{comments}
</div>
</li>"""

    @classmethod
    def archive(cls, v: _View, a: SampleAuthor, posts: list[SamplePost], page: int, pages: int) -> str:
        parts = [f"""<div class="wp-block-group alignwide is-layout-flow">
<h1 class="wp-block-query-title">Author: <span>{esc(a.name)}</span></h1>
<div class="wp-block-post-author-biography">{esc(a.bio)}</div>
</div>
<div class="wp-block-query alignwide is-layout-flow wp-block-query-is-layout-flow">"""]
        if posts:
            parts.append('<ul class="columns-3 wp-block-post-template is-layout-grid wp-block-post-template-is-layout-grid">')
            parts += [cls.item(v, p) for p in posts]
            parts.append("</ul>")
        else:
            parts.append('<div class="wp-block-query-no-results"><p>Sorry, but nothing was found. '
                         "Please try a search with different keywords.</p></div>")
        if pages > 1:
            nav = [('<nav class="wp-block-query-pagination is-content-justification-space-between is-layout-flex" '
                    'aria-label="Pagination">')]
            if page > 1:
                nav.append(f'<a href="{esc(v.author_url(a, page - 1))}" class="wp-block-query-pagination-previous">'
                           "Previous Page</a>")
            nums = "".join(
                f'<span aria-current="page" class="page-numbers current">{n}</span>' if n == page
                else f'<a class="page-numbers" href="{esc(v.author_url(a, n))}">{n}</a>'
                for n in range(1, pages + 1)
            )
            nav.append(f'<div class="wp-block-query-pagination-numbers">{nums}</div>')
            if page < pages:
                nav.append(f'<a href="{esc(v.author_url(a, page + 1))}" class="wp-block-query-pagination-next">'
                           "Next Page</a>")
            nav.append("</nav>")
            parts.append("\n".join(nav))
        parts.append("</div>")
        title = f"{a.name} – {v.site.name}" + (f" – Page {page}" if page > 1 else "")
        return cls.page(v, title, f"archive author author-{a.slug} author-{a.author_id}", "\n".join(parts), a,
                        canonical=v.author_url(a, page))

    @classmethod
    def single(cls, v: _View, p: SamplePost, a: SampleAuthor) -> str:
        main = f"""<div class="wp-block-group is-layout-constrained">
<h1 class="wp-block-post-title">{esc(p.title)}</h1>
<div class="wp-block-post-date"><time datetime="{p.published.isoformat()}">{long_date(p.posted_on)}</time></div>
<div class="wp-block-post-author-name"><a href="{esc(v.author_url(a))}" target="_self" class="wp-block-post-author-name__link">{esc(a.name)}</a></div>
</div>
<div class="entry-content wp-block-post-content is-layout-constrained">
{p.content_html or excerpt_html(p.body_line)}
</div>"""
        return cls.page(v, f"{p.title} – {v.site.name}", f"post-template-default single single-post postid-{p.post_id}",
                        main, a, canonical=v.post_url(p), shortlink=v.shortlink(p))

    @classmethod
    def not_found(cls, v: _View) -> str:
        main = f"""<div class="wp-block-group is-layout-constrained">
<h1 class="wp-block-heading">Page Not Found</h1>
<p>The page you are looking for does not exist, or it has been moved. Please try searching using the form below.</p>
{v.search_form()}
</div>"""
        return cls.page(v, f"Page not found – {v.site.name}", "error404", main, None)


class _Text:
    """The Iran Interlink layout: text-only dates ("Posted on: 2020/10/28"), few classes."""

    @staticmethod
    def page(v: _View, title: str, body_class: str, main: str, author: SampleAuthor | None,
             canonical: str = "", shortlink: str = "") -> str:
        site = v.site
        menu = " | ".join(f'<a href="{esc(u)}">{esc(t)}</a>' for t, u in v.menu_items())
        return f"""{v.head(title, author, canonical=canonical, shortlink=shortlink)}
<body class="{body_class}">
<div id="wrapper">
<div id="header">
<div id="logo"><a href="{esc(v.home())}">{esc(site.name)}</a></div>
<div id="tagline">{esc(site.tagline)}</div>
<div id="menu">{menu}</div>
</div>
<div id="content">
{main}
</div>
<div id="sidebar">
{v.search_form()}
{v.noise_widgets("div")}
</div>
<div id="footer">Copyright © {esc(site.name)}</div>
</div>
</body>
</html>
"""

    @classmethod
    def archive(cls, v: _View, a: SampleAuthor, posts: list[SamplePost], page: int, pages: int) -> str:
        parts = [f"<h1>Author: {esc(a.name)}</h1>", '<div class="author-box">',
                 f'<img src="{esc(v.root)}/wp-content/avatars/{esc(a.slug)}.svg" alt="{esc(a.name)}" width="96" height="96">',
                 f"<h2>{esc(a.name)}</h2>", f"<p>{esc(a.bio)}</p>"]
        if a.has_email:
            enc = _cf_email(f"{a.slug}@iran-interlink.org")
            parts.append(f'<p>Email: <a href="{esc(v.base)}/cdn-cgi/l/email-protection#{enc}"><span class="__cf_email__" '
                         f'data-cfemail="{enc}">[email&#160;protected]</span></a></p>')
        if a.twitter:
            parts.append(f'<p>Twitter: <a href="https://twitter.com/{esc(a.twitter)}">{esc(a.twitter)}</a></p>')
        parts.append("</div>")
        prev_day = None
        for p in posts:
            day = p.posted_on.strftime("%Y/%m/%d") if p.posted_on != prev_day else ""
            prev_day = p.posted_on
            comments = ""
            if v.noise:
                comments = f'\n<p class="comments">{_comment_label(v.noise.comments(p.post_id))}</p>'
            parts.append(f"""<div class="post">
<h3><a href="{esc(v.post_url(p))}">{esc(p.title)}</a></h3>
<p class="date">Posted on: {day}</p>
<p>{v.excerpt_inner(p)}</p>{comments}
</div>""")
        if not posts:
            parts.append("<p>Sorry, no posts matched your criteria.</p>")
        links = []
        if page < pages:
            links.append(f'<a href="{esc(v.author_url(a, page + 1))}">Older posts</a>')
        if page > 1:
            links.append(f'<a href="{esc(v.author_url(a, page - 1))}">Newer posts</a>')
        if links:
            parts.append(f'<div class="navigation">{" ".join(links)}</div>')
        title = f"{a.name} – {v.site.name}" + (f" – Page {page}" if page > 1 else "")
        return cls.page(v, title, "archive author", "\n".join(parts), a, canonical=v.author_url(a, page))

    @classmethod
    def single(cls, v: _View, p: SamplePost, a: SampleAuthor) -> str:
        main = f"""<div class="post">
<h1>{esc(p.title)}</h1>
<p class="date">Posted on: {p.posted_on.strftime("%Y/%m/%d")}</p>
<p class="author">By <a href="{esc(v.author_url(a))}">{esc(a.name)}</a></p>
<div class="entry">
{p.content_html or excerpt_html(p.body_line)}
</div>
</div>"""
        return cls.page(v, f"{p.title} – {v.site.name}", "single", main, a, canonical=v.post_url(p),
                        shortlink=v.shortlink(p))

    @classmethod
    def not_found(cls, v: _View) -> str:
        main = "<h1>Not Found</h1>\n<p>Sorry, but you are looking for something that isn&#8217;t here.</p>"
        return cls.page(v, f"Page not found – {v.site.name}", "error404", main, None)


_THEMES: dict[str, type[_Classic | _Block | _Text]] = {"classic": _Classic, "block": _Block, "text": _Text}


# Feeds --------------------------------------------------------------------------------------------


def _rss(v: _View, author: SampleAuthor | None, posts: list[SamplePost], last_build: dt.datetime) -> str:
    site = v.site
    title = f"{author.name} – {site.name}" if author else site.name
    link = v.author_url(author) if author else v.home()
    items = []
    for p in posts:
        a = site._authors[p.author_slug]
        url = v.post_url(p)
        ncomments = v.noise.comments(p.post_id) if v.noise else 0
        items.append(f"""	<item>
		<title>{esc(p.title)}</title>
		<link>{esc(url)}</link>
		<comments>{esc(url)}#respond</comments>
		<dc:creator>{cdata(a.name)}</dc:creator>
		<pubDate>{email.utils.format_datetime(p.published)}</pubDate>
		<category>{cdata("News")}</category>
		<guid isPermaLink="false">{esc(v.shortlink(p))}</guid>
		<description>{cdata(html.escape(p.body_line, quote=False))}</description>
		<content:encoded>{cdata(p.content_html or excerpt_html(p.body_line))}</content:encoded>
		<wfw:commentRss>{esc(url)}feed/</wfw:commentRss>
		<slash:comments>{ncomments}</slash:comments>
	</item>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>

<channel>
	<title>{esc(title)}</title>
	<atom:link href="{esc(v.feed_url(author))}" rel="self" type="application/rss+xml" />
	<link>{esc(link)}</link>
	<description>{esc(site.tagline)}</description>
	<lastBuildDate>{email.utils.format_datetime(last_build)}</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v={WP_VERSION}</generator>
{chr(10).join(items)}
	</channel>
</rss>
"""


def _atom(v: _View, author: SampleAuthor | None, posts: list[SamplePost], updated: dt.datetime) -> str:
    site = v.site
    title = f"{author.name} – {site.name}" if author else site.name
    link = v.author_url(author) if author else v.home()
    entries = []
    for p in posts:
        a = site._authors[p.author_slug]
        url = v.post_url(p)
        entries.append(f"""	<entry>
		<author>
			<name>{esc(a.name)}</name>
			<uri>{esc(v.author_url(a))}</uri>
		</author>
		<title type="html">{cdata(html.escape(p.title, quote=False))}</title>
		<link rel="alternate" type="text/html" href="{esc(url)}" />
		<id>{esc(v.shortlink(p))}</id>
		<updated>{p.last_modified.strftime("%Y-%m-%dT%H:%M:%SZ")}</updated>
		<published>{p.published.strftime("%Y-%m-%dT%H:%M:%SZ")}</published>
		<category scheme="{esc(v.home())}" term="News" />
		<summary type="html">{cdata(html.escape(p.body_line, quote=False))}</summary>
		<content type="html" xml:base="{esc(url)}">{cdata(p.content_html or excerpt_html(p.body_line))}</content>
	</entry>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?><feed
	xmlns="http://www.w3.org/2005/Atom"
	xmlns:thr="http://purl.org/syndication/thread/1.0"
	xml:lang="en-US"
	>
	<title type="text">{esc(title)}</title>
	<subtitle type="text">{esc(site.tagline)}</subtitle>
	<updated>{updated.strftime("%Y-%m-%dT%H:%M:%SZ")}</updated>
	<link rel="alternate" type="text/html" href="{esc(link)}" />
	<id>{esc(v.feed_url(author, atom=True))}</id>
	<link rel="self" type="application/atom+xml" href="{esc(v.feed_url(author, atom=True))}" />
	<generator uri="https://wordpress.org/" version="{WP_VERSION}">WordPress</generator>
{chr(10).join(entries)}
</feed>
"""


def _break_xml(body: str) -> str:
    """A feed as a broken plugin or a cut connection leaves it: bad entity, stray tag, truncated."""
    i = body.find("<item>") if "<item>" in body else body.find("<entry>")
    broken = body.replace("</title>", " & more <br></title>", 2)
    return broken[: max(i + 200, len(broken) * 2 // 3)]


_CSS = """body{font:17px/1.6 Georgia,serif;max-width:70em;margin:0 auto;padding:1em;color:#222}
a{color:#1a4f8b}.screen-reader-text,.skip-link{position:absolute;left:-9999px}
#secondary,#sidebar{border-top:1px solid #ccc;margin-top:2em;font-size:.9em}
article,.post,.wp-block-post{margin:1.5em 0}.wp-block-post-template{list-style:none;padding:0}
"""
_AVATAR_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
               '<rect width="96" height="96" fill="#c9d3dc"/><circle cx="48" cy="36" r="18" fill="#fff"/>'
               '<rect x="18" y="62" width="60" height="34" rx="17" fill="#fff"/></svg>')
_ROBOTS = "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n"
_PAGE_RE = re.compile(r"^page/(\d+)/$")
_DATE_POST_RE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/([^/]+)/$")


@dataclass
class _Fail:
    prefix: str
    status: int
    times: int | None  # uses left; None = for ever
    retry_after: int | None


@dataclass
class _Faults:
    fail: list[_Fail] = field(default_factory=list)
    delay: list[tuple[str, float]] = field(default_factory=list)
    broken_feeds: set[str] = field(default_factory=set)
    empty_pages: set[str] = field(default_factory=set)


class SampleSite:
    """A mutable, thread-safe WordPress-like site: authors, posts, noise and faults."""

    def __init__(self, authors: Iterable[SampleAuthor] = (), *, name: str = "Iran Interlink",
                 tagline: str = "Mojahedin Khalq cult: news, analysis and help for former members",
                 per_page: int = 5, feed_items: int = 10, noise_seed: int = 0):
        if per_page < 1 or feed_items < 1:
            raise ValueError("per_page and feed_items must be >= 1")
        self.name, self.tagline = name, tagline
        self.per_page, self.feed_items = per_page, feed_items
        self.base_url: str | None = None  # set by serve(); used by source_urls() and URL helpers
        self.robots_txt = _ROBOTS
        self.last_edits: dict[int, str] = {}  # post id -> "title" | "excerpt" | "content" (edit_fraction)
        self._lock = threading.RLock()
        self._authors: dict[str, SampleAuthor] = {}
        self._posts: dict[int, SamplePost] = {}
        self._slugs: dict[str, int] = {}
        self._changed: dict[str, dt.datetime] = {}  # author slug -> last add/remove on that author
        self._last_tick = _EPOCH
        self._noise_on, self._noise_every, self._noise_gen, self._noise_seed = False, False, 0, noise_seed
        self._faults = _Faults()
        self._cache: dict[tuple[str, str], tuple[str | None, Rendered]] = {}
        self._recent: list[SamplePost] | None = None
        for a in authors:
            self._add_author_obj(a)

    # Construction -------------------------------------------------------------------------------
    @classmethod
    def from_seeds(cls, **kwargs: Any) -> SampleSite:
        """The three seed authors. Default sources (see :meth:`source_urls`): Massoud Khodabandeh as
        an Iran Interlink query-style text page, Iran Interlink as an RSS feed, Ali Alavi as a
        block-theme page."""
        authors = load_seed_authors()
        plan = {"massoud-khodabandeh": ("wordpress", "html"), "iran-interlink": ("classic", "feed"),
                "ali-alavi": ("block", "html")}
        for a in authors:
            a.theme, a.kind = plan.get(a.slug, ("classic", "html"))
        return cls(authors, **kwargs)

    def _add_author_obj(self, a: SampleAuthor) -> None:
        if a.slug in self._authors:
            raise ValueError(f"duplicate author slug {a.slug!r}")
        if a.theme not in MOUNTS or a.kind not in ("html", "feed"):
            raise ValueError(f"author {a.slug!r}: theme must be one of {sorted(MOUNTS)}, kind html|feed")
        ids, slugs = {p.post_id for p in a.posts}, {p.slug for p in a.posts}
        if len(ids) < len(a.posts) or len(slugs) < len(a.posts) or ids & self._posts.keys() or slugs & self._slugs.keys():
            raise ValueError(f"author {a.slug!r}: duplicate post ids or slugs")
        if not a.author_id:
            a.author_id = max((x.author_id for x in self._authors.values()), default=0) + 1
        a.posts = sorted((replace(p, author_slug=a.slug) if p.author_slug != a.slug else p for p in a.posts),
                         key=_newest_first)
        for p in a.posts:
            self._posts[p.post_id] = p
            self._slugs[p.slug] = p.post_id
        self._authors[a.slug] = a
        newest = max((p.last_modified for p in a.posts), default=_EPOCH)
        self._changed[a.slug] = newest

    def add_author(self, name: str, slug: str | None = None, bio: str = "", twitter: str = "", *,
                   theme: str = "classic", kind: str = "html", author_id: int = 0) -> SampleAuthor:
        with self._lock:
            a = SampleAuthor(name=name, slug=slug or slugify(name), bio=bio, twitter=twitter,
                             has_email=False, author_id=author_id, theme=theme, kind=kind)
            self._add_author_obj(a)
            self._changed[a.slug] = self._tick()
            self._invalidate(a.slug)
            return a

    def set_source(self, author_slug: str, *, theme: str | None = None, kind: str | None = None) -> None:
        """Choose how :meth:`source_urls` lists an author (theme mount, ``html`` or ``feed``)."""
        with self._lock:
            a = self.author(author_slug)
            if theme is not None:
                if theme not in MOUNTS:
                    raise ValueError(f"unknown theme {theme!r}")
                a.theme = theme
            if kind is not None:
                if kind not in ("html", "feed"):
                    raise ValueError("kind must be 'html' or 'feed'")
                a.kind = kind

    # Reading ------------------------------------------------------------------------------------
    @property
    def authors(self) -> list[SampleAuthor]:
        with self._lock:
            return list(self._authors.values())

    def author(self, slug: str) -> SampleAuthor:
        try:
            return self._authors[slug]
        except KeyError:
            raise KeyError(f"no author {slug!r}") from None

    def posts(self, author_slug: str) -> list[SamplePost]:
        """The author's posts, newest first (a copy)."""
        with self._lock:
            return list(self.author(author_slug).posts)

    def post(self, post_id: int) -> SamplePost:
        try:
            return self._posts[post_id]
        except KeyError:
            raise KeyError(f"no post {post_id}") from None

    def all_posts(self) -> list[SamplePost]:
        with self._lock:
            return sorted(self._posts.values(), key=_newest_first)

    def _recent_posts(self, n: int = 5) -> list[SamplePost]:
        if self._recent is None:
            self._recent = heapq.nsmallest(30, self._posts.values(), key=_newest_first)
        return self._recent[:n]

    # URLs ---------------------------------------------------------------------------------------
    def _base(self, base_url: str | None) -> str:
        base = base_url or self.base_url
        if not base:
            raise RuntimeError("pass base_url, or serve() the site first")
        return base.rstrip("/")

    def author_url(self, author_slug: str, theme: str | None = None, page: int = 1,
                   base_url: str | None = None) -> str:
        a = self.author(author_slug)
        return _View(self, self._base(base_url), theme or a.theme, None).author_url(a, page)

    def feed_url(self, author_slug: str, theme: str | None = None, atom: bool = False,
                 base_url: str | None = None) -> str:
        a = self.author(author_slug)
        return _View(self, self._base(base_url), theme or a.theme, None).feed_url(a, atom)

    def post_url(self, post_id: int, theme: str | None = None, base_url: str | None = None) -> str:
        p = self.post(post_id)
        return _View(self, self._base(base_url), theme or self.author(p.author_slug).theme, None).post_url(p)

    def source_urls(self, base_url: str | None = None) -> list[tuple[str, str, str]]:
        """``(name, url, type)`` per author: its author page (``html``) or author feed (``feed``)."""
        base = self._base(base_url)
        with self._lock:
            out = []
            for a in self._authors.values():
                v = _View(self, base, a.theme, None)
                out.append((a.name, v.feed_url(a) if a.kind == "feed" else v.author_url(a), a.kind))
            return out

    # Changing the web ---------------------------------------------------------------------------
    def _tick(self) -> dt.datetime:
        """A modification time, strictly after the previous one (whole seconds, for Last-Modified)."""
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self._last_tick = max(now, self._last_tick + dt.timedelta(seconds=1))
        return self._last_tick

    def _invalidate(self, author_slug: str | None = None) -> None:
        """Drop cached bodies that may show this author (and site-wide ones); all when noise is on."""
        self._recent = None
        if author_slug is None or self._noise_on:
            self._cache.clear()
            return
        for k in [k for k, (tag, _) in self._cache.items() if tag is None or tag == author_slug]:
            del self._cache[k]

    def add_post(self, author_slug: str, title: str, posted_on: dt.date | dt.datetime | str,
                 body_line: str, content_html: str = "", *, slug: str | None = None,
                 post_id: int | None = None) -> SamplePost:
        """Publish a post; same-day posts get a later time so they come first on the page."""
        with self._lock:
            a = self.author(author_slug)
            day, tod = _parse_day(posted_on)
            if tod is None:
                same_day = [p.time_of_day for p in a.posts if p.posted_on == day]
                if same_day:
                    m = min(max(t.hour * 60 + t.minute for t in same_day) + 60, 23 * 60 + 59)
                    tod = dt.time(m // 60, m % 60)
                else:
                    tod = dt.time(9, 0)
            if post_id is None:
                post_id = max(self._posts, default=1000) + 3
            elif post_id in self._posts:
                raise ValueError(f"post id {post_id} exists")
            slug = unique_slug(slug or slugify(title), self._slugs)
            now = self._tick()
            p = SamplePost(post_id=post_id, slug=slug, title=title, posted_on=day, body_line=body_line,
                           content_html=content_html, author_slug=a.slug, time_of_day=tod, modified=now)
            self._posts[post_id] = p
            self._slugs[slug] = post_id
            a.posts = sorted([*a.posts, p], key=_newest_first)
            self._changed[a.slug] = now
            self._invalidate(a.slug)
            return p

    def edit_post(self, post_id: int, title: str | None = None, body_line: str | None = None,
                  content_html: str | None = None, posted_on: dt.date | dt.datetime | str | None = None,
                  ) -> SamplePost:
        """Change a post in place (its id and slug stay); returns the new version."""
        with self._lock:
            return self._edit(post_id, title=title, body_line=body_line, content_html=content_html,
                              posted_on=posted_on, now=None)

    def _edit(self, post_id: int, *, title: str | None = None, body_line: str | None = None,
              content_html: str | None = None, posted_on: dt.date | dt.datetime | str | None = None,
              now: dt.datetime | None, invalidate: bool = True) -> SamplePost:
        old = self.post(post_id)
        changes: dict[str, object] = {}
        if title is not None and title != old.title:
            changes["title"] = title
        if body_line is not None and body_line != old.body_line:
            changes["body_line"] = body_line
        if content_html is not None and content_html != old.content_html:
            changes["content_html"] = content_html
        if posted_on is not None:
            day, tod = _parse_day(posted_on)
            if day != old.posted_on or (tod is not None and tod != old.time_of_day):
                changes["posted_on"] = day
                changes["time_of_day"] = tod or old.time_of_day
        if not changes:
            return old
        new = replace(old, **changes, modified=now or self._tick())  # type: ignore[arg-type]
        self._posts[post_id] = new
        a = self._authors[new.author_slug]
        a.posts = sorted((new if p.post_id == post_id else p for p in a.posts), key=_newest_first)
        if "posted_on" in changes:  # the order changed: other pages may show other posts now
            self._changed[a.slug] = new.last_modified
        if invalidate:
            self._invalidate(a.slug)
        return new

    def remove_post(self, post_id: int) -> None:
        with self._lock:
            p = self._posts.pop(post_id, None)
            if p is None:
                raise KeyError(f"no post {post_id}")
            del self._slugs[p.slug]
            a = self._authors[p.author_slug]
            a.posts = [q for q in a.posts if q.post_id != post_id]
            self._changed[a.slug] = self._tick()
            self._invalidate(a.slug)

    def edit_fraction(self, fraction: float, seed: int = 0) -> list[int]:
        """Edit ``fraction`` of all posts (deterministic for a seed); returns the edited ids, sorted.

        Each edit is visible where the post is watched: HTML sources get a title or excerpt
        edit, feed sources a title, excerpt or content edit. ``last_edits`` says which.
        """
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be in [0, 1]")
        with self._lock:
            rng = random.Random(f"edit:{seed}")
            ids = sorted(self._posts)
            chosen = sorted(rng.sample(ids, round(fraction * len(ids))))
            now = self._tick()
            pool = _pools()
            self.last_edits = {}
            touched: set[str] = set()
            for pid in chosen:
                p = self._posts[pid]
                a = self._authors[p.author_slug]
                what = rng.choice(("title", "excerpt", "content") if a.kind == "feed" else ("title", "excerpt"))
                if what == "title":
                    self._edit(pid, title=p.title + rng.choice(_TITLE_EDITS), now=now, invalidate=False)
                elif what == "excerpt":
                    lead, tail = p.excerpt_parts
                    body = f"{lead} {rng.choice(pool.sentences)}" + (f" {tail}" if tail else "")
                    self._edit(pid, body_line=body, now=now, invalidate=False)
                else:
                    extra = f"\n<p><strong>Update:</strong> {html.escape(rng.choice(pool.sentences))}</p>"
                    self._edit(pid, content_html=(p.content_html or excerpt_html(p.body_line)) + extra,
                               now=now, invalidate=False)
                self.last_edits[pid] = what
                touched.add(a.slug)
            if len(touched) > 50:
                self._invalidate(None)
            else:
                for slug in touched:
                    self._invalidate(slug)
            return chosen

    # Noise --------------------------------------------------------------------------------------
    def set_noise(self, enabled: bool = True, *, every_request: bool = False) -> None:
        """Page chrome that changes without any post changing: "3 Comments", "2 days ago",
        ``?ver=`` on CSS/JS, a nonce in an inline script, Recent/Popular posts lists and a
        visitor counter (feeds: ``slash:comments``). It changes on :meth:`bump_noise`, or on
        every request when ``every_request`` (like an uncached WordPress)."""
        with self._lock:
            self._noise_on, self._noise_every = enabled, enabled and every_request
            self._invalidate(None)

    def bump_noise(self) -> None:
        """Next noise generation (turns noise on if it was off)."""
        with self._lock:
            self._noise_on = True
            self._noise_gen += 1
            self._invalidate(None)

    # Faults -------------------------------------------------------------------------------------
    def fail(self, path_prefix: str, status: int = 500, *, times: int | None = None,
             retry_after: int | None = None) -> None:
        """Requests whose target (path + query) starts with ``path_prefix`` get ``status``;
        only the next ``times`` ones when given. ``retry_after`` adds a Retry-After header."""
        with self._lock:
            self._faults.fail.append(_Fail(path_prefix, status, times, retry_after))

    def delay(self, path_prefix: str, seconds: float) -> None:
        """Requests whose target starts with ``path_prefix`` wait ``seconds`` before the answer."""
        with self._lock:
            self._faults.delay.append((path_prefix, seconds))

    def break_feed(self, author_slug: str) -> None:
        """Serve this author's feeds (RSS and Atom, every mount) as malformed XML."""
        with self._lock:
            self.author(author_slug)
            self._faults.broken_feeds.add(author_slug)
            self._invalidate(author_slug)

    def empty_page(self, author_slug: str) -> None:
        """Serve this author's HTML pages as a valid page with no posts (page 2+ -> 404)."""
        with self._lock:
            self.author(author_slug)
            self._faults.empty_pages.add(author_slug)
            self._invalidate(author_slug)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = _Faults()
            self._invalidate(None)

    def fault_for(self, target: str) -> tuple[float, Rendered | None]:
        """For the server: ``(seconds to wait, error response or None)`` for a request target.
        Consumes one use of a ``times``-limited failure."""
        with self._lock:
            wait = sum(s for prefix, s in self._faults.delay if target.startswith(prefix))
            for f in self._faults.fail:
                if not target.startswith(f.prefix) or f.times == 0:
                    continue
                if f.times is not None:
                    f.times -= 1
                headers = (("Retry-After", str(f.retry_after)),) if f.retry_after is not None else ()
                return wait, self._error_page(f.status, headers)
            return wait, None

    def _error_page(self, status: int, headers: tuple[tuple[str, str], ...] = ()) -> Rendered:
        title, text = _STATUS_TEXT.get(status, ("Error", "The server could not handle the request."))
        body = (f'<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="UTF-8">\n<title>{esc(title)} '
                f"&#8211; {esc(self.name)}</title>\n</head>\n<body id=\"error-page\">\n<div class=\"wp-die-message\">"
                f"<p>{esc(text)}</p></div>\n</body>\n</html>\n")
        return _finish(status, body, headers=headers)

    # Rendering ----------------------------------------------------------------------------------
    def render(self, target: str, base_url: str | None = None) -> Rendered:
        """The response for a request target (path + query), as the server would send it."""
        base = self._base(base_url)
        with self._lock:
            key = (base, target)
            hit = self._cache.get(key)
            if hit is not None:
                return hit[1]
            noise = None
            if self._noise_on:
                if self._noise_every:
                    self._noise_gen += 1
                noise = _Noise.make(self._noise_seed, self._noise_gen)
            tag, out = self._route(target, base, noise)
            if out.status == 200 and not self._noise_every and len(self._cache) < _CACHE_MAX:
                self._cache[key] = (tag, out)
            return out

    def _route(self, target: str, base: str, noise: _Noise | None) -> tuple[str | None, Rendered]:
        parts = urlsplit(target)
        path, query = parts.path or "/", parse_qs(parts.query)
        if path == "/robots.txt":
            return None, _finish(200, self.robots_txt, "text/plain; charset=utf-8")
        if path.endswith(".css"):
            return None, _finish(200, _CSS, "text/css; charset=utf-8", _EPOCH)
        if path.endswith(".js"):
            return None, _finish(200, "/* sample */\n", "application/javascript; charset=utf-8", _EPOCH)
        if path.endswith(".svg"):
            return None, _finish(200, _AVATAR_SVG, "image/svg+xml", _EPOCH)
        segs = [s for s in path.split("/") if s]
        mount = segs[0] if segs else ""
        v = _View(self, base, mount if mount in MOUNTS else "classic", noise)
        theme = _THEMES[v.theme]
        if not segs:
            if "p" in query:
                p = self._posts.get(_int(query["p"][0]))
                if p is None:
                    return None, _finish(404, theme.not_found(v))
                a = self._authors[p.author_slug]
                return a.slug, _redirect(_View(self, base, a.theme, None).post_url(p))
            return None, _finish(200, self._index(base))
        if mount not in MOUNTS:
            return None, _finish(404, theme.not_found(v))
        if not path.endswith("/"):
            return None, _redirect(base + path + "/" + (f"?{parts.query}" if parts.query else ""))
        rest = "/".join(segs[1:]) + "/" if len(segs) > 1 else ""
        if rest == "":
            return None, _finish(200, self._index(base))
        if rest in ("feed/", "feed/atom/"):
            return None, self._feed(v, None, rest == "feed/atom/")
        if rest.startswith("author/"):
            sub = rest.removeprefix("author/")
            if "author" in query:  # Iran Interlink: /wordpress/author/[page/N/]?author=slug&authorid=K
                slug = query["author"][0]
                m = _PAGE_RE.match(sub)
                if sub and not m:
                    return slug, _finish(404, theme.not_found(v))
                return slug, self._archive(v, slug, int(m.group(1)) if m else 1)
            slug, _, after = sub.partition("/")
            if after == "":
                return slug, self._archive(v, slug, 1)
            if after in ("feed/", "feed/atom/"):
                if slug not in self._authors:
                    return slug, _finish(404, theme.not_found(v))
                return slug, self._feed(v, self._authors[slug], after == "feed/atom/")
            m = _PAGE_RE.match(after)
            if m:
                n = int(m.group(1))
                if n == 1 and slug in self._authors:
                    return slug, _redirect(v.author_url(self._authors[slug]))
                return slug, self._archive(v, slug, n)
            return slug, _finish(404, theme.not_found(v))
        m = _DATE_POST_RE.match(rest)
        if m and m.group(4) in self._slugs:
            p = self._posts[self._slugs[m.group(4)]]
            a = self._authors[p.author_slug]
            if v.post_url(p) != base + path:  # date changed: WordPress redirects to the new permalink
                return a.slug, _redirect(v.post_url(p))
            lm = max(p.last_modified, self._changed.get(a.slug, _EPOCH))
            return a.slug, _finish(200, theme.single(v, p, a), last_modified=lm)
        return None, _finish(404, theme.not_found(v))

    def _archive(self, v: _View, slug: str, page: int) -> Rendered:
        theme = _THEMES[v.theme]
        a = self._authors.get(slug)
        if a is None or page < 1:
            return _finish(404, theme.not_found(v))
        posts = [] if slug in self._faults.empty_pages else a.posts
        pages = max(1, -(-len(posts) // self.per_page))
        if page > pages:
            return _finish(404, theme.not_found(v))
        shown = posts[(page - 1) * self.per_page : page * self.per_page]
        lm = max([self._changed.get(slug, _EPOCH), *(p.last_modified for p in shown)])
        return _finish(200, theme.archive(v, a, shown, page, pages), last_modified=lm)

    def _feed(self, v: _View, a: SampleAuthor | None, atom: bool) -> Rendered:
        if a is not None:
            posts = a.posts[: self.feed_items]
            lm = max([self._changed.get(a.slug, _EPOCH), *(p.last_modified for p in posts)])
        else:
            posts = heapq.nsmallest(self.feed_items, self._posts.values(), key=_newest_first)
            lm = max([*self._changed.values(), *(p.last_modified for p in posts)], default=_EPOCH)
        body = _atom(v, a, posts, lm) if atom else _rss(v, a, posts, lm)
        if a is not None and a.slug in self._faults.broken_feeds:
            body = _break_xml(body)
        return _finish(200, body, ATOM_TYPE if atom else RSS_TYPE, last_modified=lm)

    def _index(self, base: str) -> str:
        rows = []
        for a in self._authors.values():
            links = " · ".join(
                f'<a href="{esc(_View(self, base, m, None).author_url(a))}">{m}</a>' for m in MOUNTS
            )
            feed = esc(_View(self, base, a.theme, None).feed_url(a))
            rows.append(f'<li>{esc(a.name)} ({len(a.posts)} posts): {links} · <a href="{feed}">feed</a></li>')
        return (f'<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="UTF-8">\n<title>{esc(self.name)}'
                f"</title>\n</head>\n<body>\n<h1>{esc(self.name)}</h1>\n<p>{esc(self.tagline)}</p>\n"
                f"<ul>\n{chr(10).join(rows)}\n</ul>\n</body>\n</html>\n")


def _newest_first(p: SamplePost) -> tuple[dt.timedelta, int]:
    return (_NEG_ORIGIN - p.published, -p.post_id)  # ascending sort key = newest first


_NEG_ORIGIN = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def _redirect(location: str) -> Rendered:
    return _finish(301, "", headers=(("Location", location),))


def _int(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        return -1


def _parse_day(value: dt.date | dt.datetime | str) -> tuple[dt.date, dt.time | None]:
    """``date`` / aware or naive ``datetime`` (UTC) / "YYYY/MM/DD" / "YYYY-MM-DD"."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date(), value.time().replace(microsecond=0, tzinfo=None)
    if isinstance(value, dt.date):
        return value, None
    return dt.date.fromisoformat(value.strip().replace("/", "-")), None


# Bulk generation ----------------------------------------------------------------------------------

_TITLE_EDITS = (" (Updated)", " – Corrected", " [Video]", " – Part 2", " (Revised)")
_FIRST = ("Ahmad", "Ali", "Anne", "Arash", "Azadeh", "Babak", "Bahar", "Dariush", "Elham", "Farah", "Farid",
          "Hadi", "Hamid", "Hassan", "Jamal", "Kamran", "Laleh", "Leila", "Mahnaz", "Maryam", "Massoud",
          "Mehdi", "Mina", "Mohammad", "Nasrin", "Negar", "Omid", "Parisa", "Reza", "Saeed", "Sara", "Shirin",
          "Soraya", "Ted", "Juan", "Gjergji", "Elizabeth", "Alice", "Mazda", "Ebrahim")
_LAST = ("Abdollahi", "Alavi", "Bazazi", "Bidi", "Cole", "Ghashghavi", "Haeri", "Heyrani", "Hosseini",
         "Jafari", "Karami", "Khodabandeh", "Khoshhal", "Mortazavi", "Mousavi", "Niknam", "Parsi", "Rad",
         "Rastgoo", "Razaghi", "Rezaian", "Rubin", "Sani Khani", "Sarrafpour", "Shahsavandi", "Shams",
         "Singleton", "Snider", "Sobhani", "Taylor", "Thanasi", "Torabi", "Vafa", "Yaghmai", "Zahiri",
         "Ahmadi", "Ebrahimi", "Farahani", "Golestani", "Kazemi")
_OUTLETS = ("Iran Interlink", "Responsible Statecraft", "Lobe Log", "Middle East Strategy Consultants",
            "Mondoweiss", "Ashraf News", "Common Dreams", "Faragh Society", "Medium", "Habilian",
            "Tasnim News", "The Intercept", "Balkans Post", "exit.al", "Human Rights Watch",
            "Middle East Strategy Consultants, UK")
_TITLE_FORMS = ("{t}", "{t}", "{t}", "{t} – Part {k}", "{t} ({y})", "Analysis: {t}", "{t}: What Next?",
                "Interview: {t}", "{t} (Video)")


@dataclass(frozen=True)
class _Pools:
    titles: tuple[str, ...]
    sentences: tuple[str, ...]
    paragraphs: tuple[str, ...]
    bios: tuple[str, ...]


@functools.cache
def _pools() -> _Pools:
    """Text from the seeds to build realistic synthetic posts from."""
    authors = load_seed_authors()
    texts = [p.body_line.partition(":…")[2] or p.body_line for a in authors for p in a.posts]
    texts += [p.read_text(encoding="utf-8") for p in sorted(SEEDS_DIR.glob("00[34]_*.txt"))]
    sentences = []
    for t in texts:
        for s in re.split(r"(?<=[.!?])\s+", " ".join(t.split())):
            if 40 <= len(s) <= 260 and s[0].isupper():
                sentences.append(s)
    titles = [p.title for a in authors for p in a.posts]
    titles += [" ".join(s.split()[:9]).rstrip(",.;:") for s in sentences[::7]]
    rng = random.Random("pools")
    paragraphs = []
    for _ in range(240):
        n = rng.randint(2, 5)
        paragraphs.append("<p>" + html.escape(" ".join(rng.sample(sentences, n)), quote=False) + "</p>")
    return _Pools(tuple(titles), tuple(sentences), tuple(paragraphs), tuple(a.bio for a in authors))


def generate_site(n_sources: int, posts_per_source: int = 10, feed_fraction: float = 0.5,
                  content_bytes: int = 2000, seed: int = 0, *, per_page: int = 5,
                  newest: dt.date = dt.date(2021, 10, 29)) -> SampleSite:
    """``n_sources`` synthetic authors built from seed text, deterministic for ``seed``.

    ``feed_fraction`` of them are listed by :meth:`SampleSite.source_urls` as RSS feeds
    (with ~``content_bytes`` of HTML content per item), the rest as author pages rotating
    through the classic, block, text and query-style (``wordpress``) layouts. Post dates
    run back from about ``newest``, sometimes several on one day.
    """
    if n_sources < 0 or posts_per_source < 0 or not 0 <= feed_fraction <= 1:
        raise ValueError("n_sources, posts_per_source >= 0 and 0 <= feed_fraction <= 1")
    pool = _pools()
    rng = random.Random(f"generate:{seed}")
    combos = len(_FIRST) * len(_LAST)
    picks = rng.sample(range(combos), min(n_sources, combos))
    html_themes = ("classic", "block", "text", "wordpress")
    authors: list[SampleAuthor] = []
    used_slugs: set[str] = set()
    post_id = 100_000
    n_html = 0
    for i in range(n_sources):
        k = picks[i] if i < len(picks) else rng.randrange(combos)
        name = f"{_FIRST[k // len(_LAST)]} {_LAST[k % len(_LAST)]}" + (f" {i}" if i >= combos else "")
        slug = slugify(name)
        is_feed = int((i + 1) * feed_fraction) > int(i * feed_fraction)
        if is_feed:
            theme = ("classic", "block")[i % 2]
        else:
            theme, n_html = html_themes[n_html % len(html_themes)], n_html + 1
        a = SampleAuthor(name=name, slug=slug, bio=rng.choice(pool.bios), twitter=slug.replace("-", "_")[:15],
                         has_email=rng.random() < 0.7, author_id=100 + i, theme=theme,
                         kind="feed" if is_feed else "html")
        # Dates newest first, then build oldest first so ids and same-day times increase with time.
        day = newest - dt.timedelta(days=rng.randint(0, 20))
        days = []
        for _ in range(posts_per_source):
            days.append(day)
            day -= dt.timedelta(days=rng.choice((0, 1, 1, 2, 3, 5, 7)))
        posts = []
        per_day: dict[dt.date, int] = {}
        for day in reversed(days):
            nth = per_day.get(day, 0)
            per_day[day] = nth + 1
            post_id += rng.randint(1, 4)
            title = rng.choice(_TITLE_FORMS).format(t=rng.choice(pool.titles), k=rng.randint(2, 4), y=day.year)
            pslug = unique_slug(slugify(title), used_slugs)
            used_slugs.add(pslug)
            posts.append(SamplePost(
                post_id=post_id, slug=pslug, title=title, posted_on=day,
                body_line=_source_line(rng, name, day) + " ".join(rng.sample(pool.sentences, rng.randint(2, 4)))
                + f" {title}",
                content_html=_content(rng, pool, content_bytes), author_slug=slug,
                time_of_day=dt.time(8 + min(nth * 2, 14), (post_id * 7) % 60),
            ))
        a.posts = posts
        authors.append(a)
    return SampleSite(authors, per_page=per_page)


def _source_line(rng: random.Random, author: str, day: dt.date) -> str:
    d = day - dt.timedelta(days=rng.choice((0, 0, 0, 1, 2)))
    when = f"{MONTHS[d.month - 1]} {d.day:02d} {d.year}"
    outlet = rng.choice(_OUTLETS)
    form = rng.random()
    if form < 0.7:
        return f"{author}, {outlet}, {when}:… "
    if form < 0.85:
        return f"{outlet} {when}:… "
    if form < 0.92:
        return f"{author},, {when}:… "
    return ""


def _content(rng: random.Random, pool: _Pools, size: int) -> str:
    out: list[str] = []
    total = 0
    while total < size:
        p = rng.choice(pool.paragraphs)
        out.append(p)
        total += len(p) + 1
    return "\n".join(out)
