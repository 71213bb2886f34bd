"""The demo's own small site: the three seed authors, each in a common WordPress markup, on 127.0.0.1.

``monitor demo`` must work from a wheel with no network, so it needs something real to fetch: this
module renders the seed posts (:mod:`monitor.demo.seeds`) as a read-only site and serves it with
``http.server`` in a thread. It is deliberately plain — no faults, no changing page chrome, no
conditional GET, no generator: the test suite's simulator does that and is not part of the product.

One author per markup, as the demo's sources point at them::

    /                                                   index: the authors, their pages and feeds
    /robots.txt
    /classic/author/iran-interlink/[page/N/]            classic theme, hAtom (article.post,
                                                        h2.entry-title a, time.entry-date)
    /block/author/ali-alavi/[page/N/]                   block theme (ul.wp-block-post-template)
    /wordpress/author/[page/N/]?author=massoud-khodabandeh&authorid=4
                                                        Iran Interlink's text layout, query-style
                                                        URLs, text dates ("Posted on: 2020/10/28")
    /{mount}/author/{slug}/feed/                        RSS 2.0 author feed, the newest 10 posts
    /{mount}/{yyyy}/{mm}/{dd}/{post-slug}/              single post (where the digest links go)
"""

from __future__ import annotations

import email.utils
import html
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

from .seeds import SampleAuthor, SamplePost, excerpt_html, load_seed_authors

__all__ = ["DemoSite", "Response", "RunningSite"]

NAME = "Iran Interlink"
TAGLINE = "Mojahedin Khalq cult: news, analysis and help for former members"
#: author slug -> URL mount = markup. ``wordpress`` is the text layout with query-style author URLs.
MOUNTS = {"massoud-khodabandeh": "wordpress", "iran-interlink": "classic", "ali-alavi": "block"}
PER_PAGE = 5
FEED_ITEMS = 10
HTML_TYPE = "text/html; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=UTF-8"
ROBOTS = "User-agent: *\nDisallow: /wp-admin/\n"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
_PAGE = re.compile(r"^page/(\d+)/$")
_POST = re.compile(r"^\d{4}/\d{2}/\d{2}/([^/]+)/$")


def esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def _cdata(s: str) -> str:
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: str
    content_type: str = HTML_TYPE


@dataclass(frozen=True, slots=True)
class _Urls:
    """The URLs of one author's mount on one base (the server's address)."""

    base: str
    mount: str

    def author(self, a: SampleAuthor, page: int = 1) -> str:
        root = f"{self.base}/{self.mount}/author/"
        more = f"page/{page}/" if page > 1 else ""
        if self.mount == "wordpress":
            return f"{root}{more}?author={a.slug}&authorid={a.author_id}"
        return f"{root}{a.slug}/{more}"

    def feed(self, a: SampleAuthor) -> str:
        return f"{self.base}/{self.mount}/author/{a.slug}/feed/"

    def post(self, p: SamplePost) -> str:
        d = p.posted_on
        return f"{self.base}/{self.mount}/{d.year:04d}/{d.month:02d}/{d.day:02d}/{p.slug}/"


def _long_date(p: SamplePost) -> str:
    return f"{MONTHS[p.posted_on.month - 1]} {p.posted_on.day}, {p.posted_on.year}"


def _excerpt(u: _Urls, p: SamplePost) -> str:
    """The excerpt as WordPress prints it: its lines, then the repeated title as a link."""
    lead, tail = p.excerpt_parts
    inner = "<br>\n".join(esc(ln) for ln in lead.split("\n"))
    return inner + (f' <a href="{esc(u.post(p))}">{esc(tail)}</a>' if tail else "")


def _page(u: _Urls, title: str, main: str, author: SampleAuthor | None = None, canonical: str = "") -> str:
    feed = (f'<link rel="alternate" type="application/rss+xml" title="{esc(NAME)} » Posts by '
            f'{esc(author.name)} Feed" href="{esc(u.feed(author))}">\n') if author else ""
    canon = f'<link rel="canonical" href="{esc(canonical)}">\n' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<title>{esc(title)}</title>
{feed}{canon}</head>
<body>
<header class="site-header"><p class="site-title"><a href="{esc(u.base)}/">{esc(NAME)}</a></p>
<p class="site-description">{esc(TAGLINE)}</p></header>
<main id="main" class="site-main">
{main}
</main>
<footer class="site-footer">A sample site for <code>monitor demo</code>, built from the seeds.</footer>
</body>
</html>
"""


# The three markups: an author archive page's main content -------------------------------------------


def _classic(u: _Urls, a: SampleAuthor, posts: Sequence[SamplePost], page: int, pages: int) -> str:
    """twentytwentyone-like, with hAtom classes."""
    out = [f'<header class="page-header"><h1 class="page-title">Author: <span class="vcard">{esc(a.name)}'
           f'</span></h1>\n<div class="archive-description"><p>{esc(a.bio)}</p></div></header>']
    for p in posts:
        url, when = esc(u.post(p)), p.published.isoformat()
        out.append(f"""<article id="post-{p.post_id}" class="post-{p.post_id} post type-post hentry entry">
<header class="entry-header"><h2 class="entry-title"><a href="{url}" rel="bookmark">{esc(p.title)}</a></h2></header>
<div class="entry-summary"><p>{_excerpt(u, p)}</p></div>
<footer class="entry-footer"><span class="posted-on">Published <time class="entry-date published updated" datetime="{when}">{_long_date(p)}</time></span>
<span class="byline">By <span class="author vcard"><a class="url fn n" href="{esc(u.author(a))}">{esc(a.name)}</a></span></span></footer>
</article>""")
    nav = []
    if page < pages:
        nav.append(f'<div class="nav-previous"><a href="{esc(u.author(a, page + 1))}">Older posts</a></div>')
    if page > 1:
        nav.append(f'<div class="nav-next"><a href="{esc(u.author(a, page - 1))}">Newer posts</a></div>')
    if nav:
        out.append(f'<nav class="navigation posts-navigation"><div class="nav-links">{"".join(nav)}</div></nav>')
    return "\n".join(out)


def _block(u: _Urls, a: SampleAuthor, posts: Sequence[SamplePost], page: int, pages: int) -> str:
    """twentytwentyfour-like: a query loop of ``li.wp-block-post``."""
    out = [f'<h1 class="wp-block-query-title">Author: <span>{esc(a.name)}</span></h1>\n'
           f'<div class="wp-block-post-author-biography">{esc(a.bio)}</div>\n<div class="wp-block-query">\n'
           '<ul class="wp-block-post-template">']
    for p in posts:
        url = esc(u.post(p))
        out.append(f"""<li class="wp-block-post post-{p.post_id} post type-post">
<h2 class="wp-block-post-title"><a href="{url}" target="_self">{esc(p.title)}</a></h2>
<div class="wp-block-post-excerpt"><p class="wp-block-post-excerpt__excerpt">{_excerpt(u, p)} </p><p class="wp-block-post-excerpt__more-text"><a class="wp-block-post-excerpt__more-link" href="{url}">Continue reading</a></p></div>
<div class="wp-block-post-date"><time datetime="{p.published.isoformat()}"><a href="{url}">{_long_date(p)}</a></time></div>
</li>""")
    out.append("</ul>")
    if pages > 1:
        nav = ['<nav class="wp-block-query-pagination" aria-label="Pagination">']
        if page > 1:
            nav.append(f'<a href="{esc(u.author(a, page - 1))}" class="wp-block-query-pagination-previous">'
                       "Previous Page</a>")
        if page < pages:
            nav.append(f'<a href="{esc(u.author(a, page + 1))}" class="wp-block-query-pagination-next">'
                       "Next Page</a>")
        out.append("".join(nav) + "</nav>")
    return "\n".join([*out, "</div>"])


def _text(u: _Urls, a: SampleAuthor, posts: Sequence[SamplePost], page: int, pages: int) -> str:
    """Iran Interlink's own layout: few classes, the date as text."""
    out = [f"<h1>Author: {esc(a.name)}</h1>", f'<div class="author-box"><h2>{esc(a.name)}</h2>',
           f"<p>{esc(a.bio)}</p>"]
    if a.twitter:
        out.append(f'<p>Twitter: <a href="https://twitter.com/{esc(a.twitter)}">{esc(a.twitter)}</a></p>')
    out.append("</div>")
    out += [f"""<div class="post">
<h3><a href="{esc(u.post(p))}">{esc(p.title)}</a></h3>
<p class="date">Posted on: {p.posted_on.strftime("%Y/%m/%d")}</p>
<p>{_excerpt(u, p)}</p>
</div>""" for p in posts]
    nav = []
    if page < pages:
        nav.append(f'<a href="{esc(u.author(a, page + 1))}">Older posts</a>')
    if page > 1:
        nav.append(f'<a href="{esc(u.author(a, page - 1))}">Newer posts</a>')
    if nav:
        out.append(f'<div class="navigation">{" ".join(nav)}</div>')
    return "\n".join(out)


_LAYOUTS = {"classic": _classic, "block": _block, "wordpress": _text}


def _rss(u: _Urls, a: SampleAuthor, posts: Sequence[SamplePost]) -> str:
    items = "\n".join(f"""	<item>
		<title>{esc(p.title)}</title>
		<link>{esc(u.post(p))}</link>
		<dc:creator>{_cdata(a.name)}</dc:creator>
		<pubDate>{email.utils.format_datetime(p.published)}</pubDate>
		<guid isPermaLink="false">{esc(u.base)}/?p={p.post_id}</guid>
		<description>{_cdata(html.escape(p.body_line, quote=False))}</description>
		<content:encoded>{_cdata(p.content_html or excerpt_html(p.body_line))}</content:encoded>
	</item>""" for p in posts)
    built = max((p.published for p in posts), default=None)
    last_build = f"\n\t<lastBuildDate>{email.utils.format_datetime(built)}</lastBuildDate>" if built else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
	<title>{esc(a.name)} – {esc(NAME)}</title>
	<atom:link href="{esc(u.feed(a))}" rel="self" type="application/rss+xml" />
	<link>{esc(u.author(a))}</link>
	<description>{esc(TAGLINE)}</description>{last_build}
	<language>en-US</language>
{items}
</channel>
</rss>
"""


class DemoSite:
    """The seed authors and their posts (newest first), rendered on request; nothing ever changes."""

    def __init__(self, authors: Sequence[SampleAuthor]) -> None:
        self.authors = {a.slug: a for a in authors}
        self._posts = {p.slug: (p, a) for a in authors for p in a.posts}

    @classmethod
    def from_seeds(cls) -> DemoSite:
        return cls(load_seed_authors())

    def urls(self, base: str, a: SampleAuthor) -> _Urls:
        return _Urls(base.rstrip("/"), MOUNTS.get(a.slug, "classic"))

    def render(self, target: str, base: str) -> Response:
        """The response to a GET of ``target`` (path and query) on a server at ``base``."""
        parts = urlsplit(target)
        path, query = parts.path or "/", parse_qs(parts.query)
        if path == "/robots.txt":
            return Response(200, ROBOTS, "text/plain; charset=utf-8")
        if path == "/":
            return Response(200, self._index(base.rstrip("/")))
        mount, _, rest = path.strip("/").partition("/")
        rest = rest + "/" if rest else ""
        if rest.startswith("author/"):
            sub = rest.removeprefix("author/")
            if mount == "wordpress" and "author" in query:  # /wordpress/author/[page/N/]?author=slug
                m = _PAGE.match(sub)
                if sub and not m:
                    return self._not_found(base)
                return self._archive(base, mount, query["author"][0], int(m.group(1)) if m else 1)
            slug, _, after = sub.partition("/")
            if after == "":
                return self._archive(base, mount, slug, 1)
            if after == "feed/" and slug in self.authors and self.urls(base, self.authors[slug]).mount == mount:
                a = self.authors[slug]
                return Response(200, _rss(self.urls(base, a), a, a.posts[:FEED_ITEMS]), RSS_TYPE)
            if (m := _PAGE.match(after)) and int(m.group(1)) > 1:
                return self._archive(base, mount, slug, int(m.group(1)))
            return self._not_found(base)
        m = _POST.match(rest)
        found = self._posts.get(m.group(1)) if m else None
        if found is None:
            return self._not_found(base)
        p, a = found
        u = self.urls(base, a)
        if u.post(p) != base.rstrip("/") + path:
            return self._not_found(base)
        content = p.content_html or excerpt_html(p.body_line)
        main = (f'<article class="post hentry"><h1 class="entry-title">{esc(p.title)}</h1>\n'
                f'<p class="date">Posted on: {p.posted_on.strftime("%Y/%m/%d")} by '
                f'<a href="{esc(u.author(a))}">{esc(a.name)}</a></p>\n'
                f'<div class="entry-content">\n{content}\n</div></article>')
        return Response(200, _page(u, f"{p.title} – {NAME}", main, a, canonical=u.post(p)))

    def _archive(self, base: str, mount: str, slug: str, page: int) -> Response:
        a = self.authors.get(slug)
        if a is None or self.urls(base, a).mount != mount:
            return self._not_found(base)
        pages = max(1, -(-len(a.posts) // PER_PAGE))
        if not 1 <= page <= pages:
            return self._not_found(base)
        u = self.urls(base, a)
        main = _LAYOUTS[mount](u, a, a.posts[(page - 1) * PER_PAGE : page * PER_PAGE], page, pages)
        title = f"{a.name} – {NAME}" + (f" – Page {page}" if page > 1 else "")
        return Response(200, _page(u, title, main, a, canonical=u.author(a, page)))

    def _index(self, base: str) -> str:
        rows = []
        for a in self.authors.values():
            u = self.urls(base, a)
            rows.append(f'<li><a href="{esc(u.author(a))}">{esc(a.name)}</a> ({len(a.posts)} posts, '
                        f'{u.mount} markup) · <a href="{esc(u.feed(a))}">feed</a></li>')
        main = f"<h1>{esc(NAME)}</h1>\n<ul>\n" + "\n".join(rows) + "\n</ul>"
        return _page(_Urls(base, ""), NAME, main)

    def _not_found(self, base: str) -> Response:
        return Response(404, _page(_Urls(base.rstrip("/"), ""), f"Page not found – {NAME}",
                                   "<h1>Not Found</h1>\n<p>Nothing was found at this address.</p>"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        r = self.server.site.render(self.path, self.server.url)
        body = r.body.encode("utf-8")
        self.send_response(r.status)
        self.send_header("Content-Type", r.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        pass  # the demo prints its own progress; a line per request would drown it


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: DemoSite, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.site = site
        self.url = f"http://{host}:{self.server_address[1]}"


class RunningSite:
    """The site served in a daemon thread; ``url`` has no trailing slash. A context manager."""

    def __init__(self, site: DemoSite, host: str = "127.0.0.1", port: int = 0) -> None:
        self._httpd = _Server(site, host, port)
        self.url = self._httpd.url
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="demo-site", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

