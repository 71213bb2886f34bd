"""Author archives of real blog engines, read end to end and scored field by field.

tests/data/corpus/ holds the author archive pages that real generators (Pelican, Nikola, MkDocs
Material's blog, ABlog, Hugo; their default themes) made from one content set whose truth is in
expected.json (see build.py there, which rebuilds them). Each setup is served from a real HTTP
server on 127.0.0.1 and read by the real pipeline into a real SQLite file, one source per author,
with no per-site configuration: every post of every page must come back with every field right,
nothing else, nothing twice, nothing from another author's archive. Then the "edited" rebuild
must be reported as exactly the field that was edited, and the "chrome" rebuild (tagline, menu,
build time) as nothing at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml

from monitor.config import load_config
from monitor.extract import extract
from monitor.models import SourceResult, StoredPost
from monitor.pipeline import run_once
from monitor.store import Store

CORPUS = Path(__file__).parent / "data" / "corpus"
TRUTH = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))

#: Where each engine puts an author's first archive page ({slug}: the author's slug).
FIRST_PAGE = {
    "pelican": "/author/{slug}.html",
    "nikola": "/authors/{slug}/",
    "mkdocs": "/blog/author/{slug}/",
    "ablog": "/blog/author/{slug}.html",
    "hugo": "/authors/{slug}/",
    "puput": "/author/{user}/",  # puput's author route takes \w+ user names: anne_singleton
}

#: What a setup's archive pages show of a post (the rest is checked where shown).
SHOWS_ALL = frozenset(("title", "url", "day", "excerpt", "author", "outlet", "original_date"))
SHOWS = {"hugo-basic": frozenset(("title", "url"))}

#: The rule that reads each setup (README "Sites it reads" names it): a change of rule is a change
#: of what the README promises, so it fails here first.
RULE = {
    "ablog-alabaster": "generic",
    "hugo-basic": "generic",
    "mkdocs-material": "generic",
    "nikola-base": "mf2",
    "nikola-bootblog4": "mf2",
    "nikola-bootstrap4": "mf2",
    "pelican-notmyidea": "hatom",
    "pelican-simple": "generic",
    "puput-default": "generic",
}

#: How a setup shows an author's name where it differs from the name given (Puput shows the user name).
SHOWN_NAME = {"puput-default": lambda slug: slug.replace("-", "_")}

SETUPS = sorted(p.name for p in CORPUS.iterdir() if (p / "base").is_dir())


@dataclass
class Corpus:
    """A static server over one setup's pages; ``variant`` picks which rebuild it serves."""

    setup: str
    variant: str = "base"
    hits: list[str] = field(default_factory=list)
    root: Path | None = None  # serve this folder instead (a test's own changed copy of a page)

    def path_for(self, target: str) -> Path | None:
        parts = urlsplit(target)
        path = parts.path
        if path.endswith("/"):
            path += "index.html"
        if parts.query:  # a page the CMS served as ?page=2 is saved as index@page=2.html
            path = path.removesuffix(".html") + f"@{parts.query}.html"
        root = (self.root or CORPUS / self.setup / self.variant).resolve()
        file = (root / path.lstrip("/")).resolve()
        return file if file.is_file() and root in file.parents else None


@contextlib.contextmanager
def serve_corpus(corpus: Corpus) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``corpus``; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            corpus.hits.append(self.path)
            file = corpus.path_for(self.path)
            body = file.read_bytes() if file else b"<html><body><h1>Not found</h1></body></html>"
            self.send_response(200 if file else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def corpus_server(request) -> Iterator[tuple[Corpus, str]]:
    corpus = Corpus(request.param)
    with serve_corpus(corpus) as base:
        yield corpus, base


def first_page(setup: str, slug: str) -> str:
    return FIRST_PAGE[setup.split("-")[0]].format(slug=slug, user=slug.replace("-", "_"))


def write_config(tmp_path: Path, setup: str, base: str) -> Path:
    data = {
        "site": {"title": "Iran Interlink", "url": "http://127.0.0.1:9/"},
        "database": "monitor.db",
        "output_dir": "site",
        "timezone": "UTC",
        "fetch": {"timeout": "5s", "deadline": "20s"},
        "sources": [
            {"name": a["slug"], "type": "html", "url": base + first_page(setup, a["slug"])}
            for a in TRUTH["authors"]
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def ingest(config_path: Path, clock: dt.datetime) -> tuple[dict[str, SourceResult], list[StoredPost]]:
    config = load_config(config_path)
    with Store.open(config.database) as store:
        results = {r.source: r for r in run_once(config, store, clock=lambda: clock)}
        return results, store.posts()


def changes(config_path: Path) -> dict[str, set[str]]:
    """Post slug -> the fields reported changed, over every run so far."""
    config = load_config(config_path)
    with Store.open(config.database) as store:
        far = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
        out: dict[str, set[str]] = {}
        for post, version in store.changes_between(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), far):
            out.setdefault(slug_of(post.url) or post.url, set()).update(c.field for c in version.changes)
        return out


def slug_of(url: str) -> str | None:
    m = re.search(r"/(story-\d\d)(?:\.html|/|/index\.html)$", urlsplit(url).path)
    return m.group(1) if m else None


def score(setup: str, results: dict[str, SourceResult], posts: list[StoredPost], base: str) -> list[str]:
    """Every way the stored posts differ from the truth, one line each ([] when perfect)."""
    shows = SHOWS.get(setup, SHOWS_ALL)
    problems = [f"{name}: {r.status} {r.error}" for name, r in results.items() if r.status != "ok"]
    truth = {p["slug"]: p for p in TRUTH["posts"]}
    seen: dict[tuple[str, str], int] = {}
    for post in posts:
        slug = slug_of(post.url)
        if slug is None or not post.url.startswith(base):
            problems.append(f"{post.source}: extra post {post.title!r} {post.url}")
            continue
        seen[post.source, slug] = seen.get((post.source, slug), 0) + 1
        want = truth[slug]
        if want["author_page"] != post.source:
            problems.append(f"{post.source}: {slug} belongs to {want['author_page']}'s archive")
            continue
        got = {
            "title": post.title,
            "day": post.published.date().isoformat() if post.published else None,
            "author": post.author,
            "outlet": post.outlet,
            "original_date": post.original_date.isoformat() if post.original_date else None,
        }
        if setup in SHOWN_NAME and want["original_date"] is None:  # no source line: the page's author
            want = {**want, "author": SHOWN_NAME[setup](want["author_page"])}
        for key in ("title", "day", "author", "outlet", "original_date"):
            if key in shows and got[key] != want[key]:
                problems.append(f"{post.source}: {slug} {key} {got[key]!r} != {want[key]!r}")
        if "excerpt" in shows and not post.excerpt.startswith(want["excerpt_start"]):
            problems.append(
                f"{post.source}: {slug} excerpt {post.excerpt[:80]!r} does not start "
                f"{want['excerpt_start']!r}"
            )
    for (source, slug), n in seen.items():
        if n > 1:
            problems.append(f"{source}: {slug} stored {n} times")
    for slug, want in truth.items():
        if (want["author_page"], slug) not in seen:
            problems.append(f"{want['author_page']}: {slug} {want['title']!r} missed")
    return problems


T0 = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize("corpus_server", SETUPS, indirect=True)
def test_every_post_every_field_every_page(corpus_server, tmp_path):
    corpus, base = corpus_server
    config = write_config(tmp_path, corpus.setup, base)
    results, posts = ingest(config, T0)
    assert score(corpus.setup, results, posts, base) == []
    # each author's pages were all read (2 for the paginated engines), no other author's
    assert {r.rule for r in results.values()} == {RULE[corpus.setup]}
    for name, result in results.items():
        assert result.pages == (1 if corpus.setup.startswith(("ablog", "hugo")) else 2), (name, result)
    # nothing but archive pages was fetched: no look-alike link (a profile, another page) was followed
    assert [h for h in corpus.hits if h != "/robots.txt" and corpus.path_for(h) is None] == []
    assert len([h for h in corpus.hits if h != "/robots.txt"]) == sum(r.pages for r in results.values())


@pytest.mark.parametrize("corpus_server", SETUPS, indirect=True)
def test_edits_are_that_field_and_a_chrome_rebuild_is_nothing(corpus_server, tmp_path):
    corpus, base = corpus_server
    config = write_config(tmp_path, corpus.setup, base)
    ingest(config, T0)
    corpus.variant = "chrome"
    results, _ = ingest(config, T0 + dt.timedelta(days=2))  # past a full sweep: every page is read
    assert all(r.status == "ok" for r in results.values()), results
    assert changes(config) == {}, "a rebuild that changed only the chrome reported changes"
    assert sum(r.new for r in results.values()) == 0
    corpus.variant = "edited"
    results, posts = ingest(config, T0 + dt.timedelta(days=4))
    assert all(r.status == "ok" for r in results.values()), results
    shows = SHOWS.get(corpus.setup, SHOWS_ALL)
    edits = TRUTH["edited"]["slugs"]
    want = {edits["title"]: {"title"}}
    if "excerpt" in shows:
        want[edits["excerpt"]] = {"excerpt"}
    assert changes(config) == want  # the body edit is on no archive page: nothing to report
    assert sum(r.new for r in results.values()) == 0
    edited = [p for p in posts if slug_of(p.url) == edits["title"]]
    assert [p.title for p in edited] == [TRUTH["edited"]["title"]]


@pytest.mark.parametrize("setup", SETUPS)
def test_every_archive_page_names_its_author(setup):
    """The page's author (what a post with no source line and no byline is credited to, and what
    ``monitor check`` prints): the archive's author on every page, not the site ("Iran Interlink -
    Anne Singleton"), not a page note ("Posts by Anne (old posts, page 1)")."""
    shown = SHOWN_NAME.get(setup, lambda slug: {a["slug"]: a["name"] for a in TRUTH["authors"]}[slug])
    pages = sorted((CORPUS / setup / "base").rglob("*.html"))
    assert len(pages) >= 3
    for file in pages:
        slug = next(
            a["slug"]
            for a in TRUTH["authors"]
            if a["slug"].replace("-", "_") in file.as_posix() or a["slug"] in file.as_posix()
        )
        rel = file.relative_to(CORPUS / setup / "base").as_posix()
        page = extract(file.read_bytes(), url=f"http://127.0.0.1:8000/{rel}", tz=ZoneInfo("UTC"))
        assert page.author == shown(slug), rel
