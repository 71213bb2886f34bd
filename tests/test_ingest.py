"""Ingest end to end: a real WordPress-like site on 127.0.0.1, real SQLite files.

The sample site serves the seed authors in classic, block and Iran Interlink
text markups, paginated, with author feeds. These tests drive the real pipeline
(fetch -> extract -> detect -> store) and the real CLI as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sample_site.server import serve
from sample_site.site import SampleSite

from monitor.config import load_config
from monitor.demo.seeds import load_seed_authors
from monitor.pipeline import run_once
from monitor.store import Store

SEEDS = {a.slug: a for a in load_seed_authors()}


@pytest.fixture
def site():
    s = SampleSite.from_seeds()
    with serve(s) as running:
        s.running = running
        yield s


def write_config(tmp_path: Path, sources: list[dict], **extra) -> Path:
    data = {
        "site": {"title": "Iran Interlink", "url": "http://127.0.0.1:8000/"},
        "database": "monitor.db",
        "output_dir": "site",
        "timezone": "Europe/London",
        "fetch": {"timeout": "2s", "deadline": "2s"},
        "sources": sources,
    }
    data.update(extra)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def standard_sources(site: SampleSite) -> list[dict]:
    base = site.running.url
    return [
        # Iran Interlink's real query-style URLs, text markup, page + discovered feed
        {"name": "Massoud (text)", "type": "auto",
         "url": site.author_url("massoud-khodabandeh", "wordpress", base_url=base)},
        # a classic hAtom theme, pages only
        {"name": "Iran Interlink (classic)", "type": "html",
         "url": site.author_url("iran-interlink", "classic", base_url=base)},
        # a block theme, page + feed
        {"name": "Ali (block)", "type": "auto", "url": site.author_url("ali-alavi", "block", base_url=base)},
        # the author feed alone
        {"name": "Iran Interlink (feed)", "type": "feed",
         "url": site.feed_url("iran-interlink", "classic", base_url=base)},
    ]


def ingest(config_path: Path, names=None):
    config = load_config(config_path)
    with Store.open(config.database) as store:
        results = {r.source: r for r in run_once(config, store, names)}
        return config, results, store.posts()


def test_every_post_across_pages_is_stored_once(site, tmp_path):
    path = write_config(tmp_path, standard_sources(site))
    config, results, posts = ingest(path)
    assert all(r.status == "ok" for r in results.values()), results
    by_source = {}
    for p in posts:
        by_source.setdefault(p.source, []).append(p)
    expected = {
        "Massoud (text)": SEEDS["massoud-khodabandeh"].posts,
        "Iran Interlink (classic)": SEEDS["iran-interlink"].posts,
        "Ali (block)": SEEDS["ali-alavi"].posts,
        "Iran Interlink (feed)": SEEDS["iran-interlink"].posts[:10],
    }
    for name, seed_posts in expected.items():
        got = sorted(p.title for p in by_source[name])
        assert got == sorted(sp.title for sp in seed_posts), name
        assert results[name].new == len(seed_posts)
        # paginated sources really went past page 1 (5 posts per page)
        if results[name].rule != "rss" and len(seed_posts) > 5:
            assert results[name].pages >= 2
    # dates are the "Posted on" dates in the site's time zone, authors and outlets from the source line
    massoud = {p.title: p for p in by_source["Massoud (text)"]}
    troll = massoud["Trump Campaign Uses Mujahedin-e-Khalq ( MEK ) Troll Farm In Albania"]
    assert troll.published.astimezone(config.timezone).date().isoformat() == "2020-10-28"
    assert (troll.author, troll.outlet) == ("Massoud Khodabandeh", "Iran Interlink")
    statecraft = massoud["MEK cult in Albania poses public health risk"]
    assert (statecraft.author, statecraft.outlet) == ("Massoud Khodabandeh", "Responsible Statecraft")
    assert not statecraft.excerpt.startswith("Massoud Khodabandeh")
    assert all(p.versions == 1 for p in posts)
    # type: auto merged the feed in: full content arrived for the feed's posts, still one post each
    ali = {p.title: p for p in by_source["Ali (block)"]}
    assert len(ali) == len(SEEDS["ali-alavi"].posts)
    assert sum(1 for p in ali.values() if p.content) >= 5 and all(p.origin == "both" for p in ali.values())

    # a second pass over an unchanged site stores nothing new and costs no parsing
    site.running.reset_hits()
    _, again, posts2 = ingest(path)
    assert sum(r.new + r.changed for r in again.values()) == 0
    assert len(posts2) == len(posts)
    assert all(r.status in ("ok", "not_modified") for r in again.values())
    assert all(r.pages == 0 for r in again.values()), "304s must not be parsed"


def test_an_edit_is_exactly_one_change_with_its_diff(site, tmp_path):
    path = write_config(tmp_path, standard_sources(site))
    ingest(path)
    ali = SEEDS["ali-alavi"].posts
    retitled, rewritten = ali[0], ali[1]
    site.edit_post(retitled.post_id, title=retitled.title + " (updated)")
    new_line = rewritten.body_line.replace("In its 57-year existence", "In its whole 57-year existence")
    assert new_line != rewritten.body_line
    site.edit_post(rewritten.post_id, body_line=new_line)
    config, results, _posts = ingest(path, ["Ali (block)"])
    assert (results["Ali (block)"].changed, results["Ali (block)"].new) == (2, 0)
    with Store.open(config.database) as store:
        changed = {p.title: store.versions(p.id) for p in store.posts(changed=True)}
    assert set(changed) == {retitled.title + " (updated)", rewritten.title}
    t_versions = changed[retitled.title + " (updated)"]
    assert [c.field for c in t_versions[1].changes] == ["title"]
    assert t_versions[1].changes[0].old == retitled.title
    assert "{+(updated)+}" in t_versions[1].changes[0].diff
    e_versions = changed[rewritten.title]
    assert [c.label for c in e_versions[1].changes] == ["excerpt rewritten"]
    assert "{+whole+}" in e_versions[1].changes[0].diff
    # and the next pass sees nothing new
    _, results, _ = ingest(path, ["Ali (block)"])
    assert results["Ali (block)"].changed == 0


def test_page_noise_is_never_a_change(site, tmp_path):
    path = write_config(tmp_path, standard_sources(site))
    ingest(path)
    site.set_noise(True, every_request=True)
    site.bump_noise()
    _, results, posts = ingest(path)
    assert all(r.status in ("ok", "not_modified") for r in results.values()), results
    assert sum(r.changed + r.new for r in results.values()) == 0
    assert all(p.versions == 1 for p in posts)
    assert sum(r.pages for r in results.values()) > 0, "noise changed the bodies, so pages were parsed"


def test_failures_are_per_source_and_others_still_ingest(site, tmp_path):
    base = site.running.url
    sources = [
        {"name": "good", "type": "html", "url": site.author_url("massoud-khodabandeh", "classic", base_url=base)},
        {"name": "server error", "type": "html", "url": site.author_url("ali-alavi", "classic", base_url=base)},
        {"name": "slow", "type": "html", "url": site.author_url("ali-alavi", "block", base_url=base)},
        {"name": "broken feed", "type": "feed", "url": site.feed_url("ali-alavi", "text", base_url=base)},
        {"name": "empties", "type": "html", "url": site.author_url("iran-interlink", "text", base_url=base)},
    ]
    path = write_config(tmp_path, sources)
    _, first, _ = ingest(path, ["empties"])
    assert first["empties"].new == 10
    site.fail("/classic/author/ali-alavi/", 500)
    site.delay("/block/author/ali-alavi/", 5)
    site.break_feed("ali-alavi")
    site.empty_page("iran-interlink")
    config, results, posts = ingest(path)
    assert results["good"].status == "ok" and results["good"].new == len(SEEDS["massoud-khodabandeh"].posts)
    r = results["server error"]
    assert (r.status, r.error_type, r.http_status) == ("error", "HTTPStatusError", 500)
    assert "HTTP 500" in r.error
    r = results["slow"]
    assert (r.status, r.error_type) == ("error", "FetchTimeout") and "gave up after" in r.error
    r = results["broken feed"]
    assert (r.status, r.error_type) == ("error", "FeedError") and "malformed" in r.error.lower()
    r = results["empties"]
    assert (r.status, r.error_type) == ("error", "NoPostsFound")
    assert r.error == "no posts found on a page that had 5"
    # nothing stored earlier was lost; nothing half-read was stored
    assert sum(p.source == "empties" for p in posts) == 10
    assert {p.source for p in posts} == {"good", "empties"}
    with Store.open(config.database) as store:
        states = store.source_states()
        assert states["server error"].failures == 1 and states["server error"].last_error.startswith("HTTP 500")
        assert states["empties"].last_post_count == 5, "a failed read must not lower the baseline"
        assert store.integrity_check() == "ok"


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_cli_fetch_then_posts_json(site, tmp_path):
    path = write_config(tmp_path, standard_sources(site))
    r = run_cli("fetch", "--config", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Massoud (text): new 8" in r.stdout
    assert "total: 4 sources, 34 new, 0 changed, 0 unchanged, 0 failed" in r.stdout
    r = run_cli("--config", str(path), "posts", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    posts = json.loads(r.stdout)
    assert len(posts) == 34
    keys = {"source", "url", "title", "author", "outlet", "published", "excerpt", "first_seen",
            "last_changed", "versions"}
    assert all(keys <= set(p) for p in posts)
    troll = next(p for p in posts if p["source"] == "Massoud (text)" and p["title"].startswith("Trump Campaign"))
    assert troll["published"].startswith("2020-10-28") and troll["author"] == "Massoud Khodabandeh"
    assert troll["outlet"] == "Iran Interlink" and troll["versions"] == 1

    # one failing source: exit 1, the others stored
    site.fail("/block/author/ali-alavi/", 503)
    site.add_post("massoud-khodabandeh", "A brand new post", "2021/11/01",
                  "Massoud Khodabandeh, Iran Interlink, November 01 2021:… Something new happened.")
    r = run_cli("fetch", "--config", str(path), cwd=tmp_path)
    assert r.returncode == 1
    assert "Ali (block): error (RateLimited)" in r.stdout
    assert "Massoud (text): new 1" in r.stdout
    r = run_cli("posts", "--config", str(path), "--format", "json", "--source", "Massoud (text)", cwd=tmp_path)
    assert json.loads(r.stdout)[0]["title"] == "A brand new post"

    r = run_cli("status", "--config", str(path), "--format", "json", cwd=tmp_path)
    status = {s["name"]: s for s in json.loads(r.stdout)["sources"]}
    assert status["Ali (block)"]["result"] == "error" and "503" in status["Ali (block)"]["last_error"]
    assert status["Massoud (text)"]["result"] == "ok" and status["Massoud (text)"]["next_due"]


def test_cli_history_and_check(site, tmp_path):
    path = write_config(tmp_path, standard_sources(site))
    assert run_cli("fetch", "--config", str(path), cwd=tmp_path).returncode == 0
    post = SEEDS["massoud-khodabandeh"].posts[1]
    site.edit_post(post.post_id, title="MEK cult in Albania poses a public health risk")
    assert run_cli("fetch", "--config", str(path), cwd=tmp_path).returncode == 0
    url = site.post_url(post.post_id, "wordpress", base_url=site.running.url)
    r = run_cli("history", url, "--config", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "v2" in r.stdout and "title edited: MEK cult in Albania poses {+a+} public health risk" in r.stdout

    r = run_cli("check", site.author_url("ali-alavi", "block", base_url=site.running.url),
                "--config", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "rule: block, 5 posts" in r.stdout and "rss, 6 posts" in r.stdout
    assert "Mike Pence From Anti Saddam To lobbying for Saddam Private Army" in r.stdout
    assert "feed: " in r.stdout and "next page: " in r.stdout
    with Store.open(tmp_path / "monitor.db") as store:
        before = store.count_posts()
    assert before == 34  # check stored nothing


def test_cli_config_error_names_the_key(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "site": {"title": "X"},
        "sources": [{"name": "a", "url": "http://127.0.0.1/"}, {"name": "b", "url": "http://127.0.0.1/"},
                    {"name": "c", "url": "gopher://old.example/"}],
    }))
    for cmd in (["fetch"], ["posts"], ["status"], ["digest"]):
        r = run_cli(*cmd, "--config", str(path), cwd=tmp_path)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert "sources[2].url: not an http(s) URL" in r.stderr
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "monitor.db").exists()


def test_known_source_stops_at_first_page_with_nothing_new(site, tmp_path):
    base = site.running.url
    src = {"name": "Iran Interlink (classic)", "type": "html", "max_pages": 5,
           "url": site.author_url("iran-interlink", "classic", base_url=base)}
    path = write_config(tmp_path, [src])
    _, first, _ = ingest(path)
    assert first[src["name"]].pages == 2  # 10 posts, 5 per page: a cold run reads every page
    page2 = site.author_url("iran-interlink", "classic", page=2, base_url=base)
    site.add_post("iran-interlink", "Fresh news from Tirana", "2021/11/02",
                  "Iran Interlink, November 02 2021:… Something happened in Tirana.")
    site.running.reset_hits()
    _, second, posts = ingest(path)
    r = second[src["name"]]
    assert (r.new, r.changed, r.pages) == (1, 0, 2)  # page 1 had the new post, page 2 nothing new: stop
    page3 = site.author_url("iran-interlink", "classic", page=3, base_url=base)
    assert site.running.hits[page3.removeprefix(base)] == 0, "a page after one with nothing new was fetched"
    assert site.running.hits[page2.removeprefix(base)] == 1
    assert len(posts) == 11


def test_edits_on_older_pages_are_found_by_the_daily_full_sweep(site, tmp_path):
    import datetime as dt

    base = site.running.url
    src = {"name": "Iran Interlink (classic)", "type": "html", "max_pages": 5,
           "url": site.author_url("iran-interlink", "classic", base_url=base)}
    path = write_config(tmp_path, [src])
    config = load_config(path)
    t0 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    old = SEEDS["iran-interlink"].posts[7]  # on page 2 (5 posts per page)
    with Store.open(config.database) as store:
        assert run_once(config, store, clock=lambda: t0)[0].new == 10
        site.edit_post(old.post_id, title=old.title + " (corrected)")
        # an hour later: page 1 is unchanged, so the run stops there and cannot see page 2
        r = run_once(config, store, clock=lambda: t0 + dt.timedelta(hours=1))[0]
        assert (r.changed, r.pages) == (0, 0)
        # a day later the full sweep reads every page and finds the edit, exactly once
        r = run_once(config, store, clock=lambda: t0 + dt.timedelta(hours=25))[0]
        assert (r.changed, r.new, r.pages) == (1, 0, 2)
        (p,) = store.posts(changed=True)
        assert p.title == old.title + " (corrected)" and p.versions == 2
        r = run_once(config, store, clock=lambda: t0 + dt.timedelta(hours=26))[0]
        assert r.changed == 0


def test_feed_entries_without_links_are_separate_posts(tmp_path):
    # two guid-only entries (no <link>): the second must not be taken for an edit of the first
    from pytest_httpserver import HTTPServer

    def feed(items):
        body = "".join(f"<item><title>{t}</title><guid isPermaLink=\"false\">{g}</guid>"
                       f"<pubDate>Wed, 28 Oct 2020 10:00:00 +0000</pubDate><description>{t} text</description></item>"
                       for t, g in items)
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{body}</channel></rss>'

    with HTTPServer(host="127.0.0.1") as server:
        server.expect_request("/feed").respond_with_data(feed([("Post A", "tag:x,2020:a")]),
                                                         content_type="application/rss+xml")
        path = write_config(tmp_path, [{"name": "guids", "type": "feed", "url": server.url_for("/feed")}])
        _, r1, _ = ingest(path)
        assert r1["guids"].new == 1
        server.clear()
        server.expect_request("/feed").respond_with_data(
            feed([("Post B", "tag:x,2020:b"), ("Post A", "tag:x,2020:a")]), content_type="application/rss+xml")
        _, r2, posts = ingest(path)
    assert (r2["guids"].new, r2["guids"].changed) == (1, 0)
    assert sorted(p.title for p in posts) == ["Post A", "Post B"] and all(p.versions == 1 for p in posts)


def test_links_to_other_hosts_are_not_followed(tmp_path):
    """A page's "Older posts" link and its advertised feed are followed on its own host only."""
    from pytest_httpserver import HTTPServer

    def page(title: str, next_url: str | None = None, feed: str | None = None) -> str:
        head = f'<link rel="alternate" type="application/rss+xml" href="{feed}">' if feed else ""
        nxt = f'<a class="next page-numbers" href="{next_url}">Older posts</a>' if next_url else ""
        posts = "".join(
            f'<article class="post hentry"><h2 class="entry-title"><a href="/p/{title}-{i}/">{title} {i}</a></h2>'
            f'<time class="entry-date published" datetime="2020-10-2{i}T10:00:00+00:00">Oct 2{i}, 2020</time>'
            f'<div class="entry-summary"><p>Text of {title} {i}.</p></div></article>' for i in range(1, 4))
        return f"<html><head>{head}</head><body><main>{posts}</main>{nxt}</body></html>"

    with HTTPServer(host="127.0.0.1") as elsewhere, HTTPServer(host="127.0.0.1") as blog:
        elsewhere.expect_request("/author/a/feed/").respond_with_data("<rss/>", content_type="application/rss+xml")
        elsewhere.expect_request("/page/2").respond_with_data(page("Other"), content_type="text/html")
        # same address, other host name: "localhost" vs "127.0.0.1"
        other = elsewhere.url_for("/").replace("127.0.0.1", "localhost")
        blog.expect_request("/author/a/").respond_with_data(
            page("Mine", next_url=other + "page/2", feed=other + "author/a/feed/"), content_type="text/html")
        path = write_config(tmp_path, [{"name": "a", "url": blog.url_for("/author/a/")}])
        _, results, posts = ingest(path)
        assert elsewhere.log == []
    r = results["a"]
    assert r.status == "ok" and r.new == 3 and r.pages == 1
    assert sorted(p.title for p in posts) == ["Mine 1", "Mine 2", "Mine 3"]
    assert any("older-posts link" in w and "another host" in w for w in r.warnings), r.warnings
    assert any("feed" in w and "another host" in w for w in r.warnings), r.warnings


def test_two_sources_with_the_same_url_each_see_new_posts(site, tmp_path):
    """Validators are per source: one source's run must not make the other's next GET a 304."""
    url = site.feed_url("iran-interlink", "classic", base_url=site.running.url)
    path = write_config(tmp_path, [{"name": "one", "type": "feed", "url": url},
                                   {"name": "two", "type": "feed", "url": url}])
    ingest(path)
    site.add_post("iran-interlink", "A brand new post", "2020/10/30", "Iran Interlink, October 30 2020: news.")
    _, first, _ = ingest(path, ["one"])
    _, second, posts = ingest(path, ["two"])
    assert first["one"].new == 1
    assert second["two"].status == "ok" and second["two"].new == 1, second["two"]
    assert sorted(p.source for p in posts if p.title == "A brand new post") == ["one", "two"]


def test_a_real_mass_deletion_is_accepted_after_three_runs(tmp_path):
    """8 posts, then 2: an error (nothing deleted) twice, accepted with a warning on the third run."""
    from pytest_httpserver import HTTPServer

    def page(n: int) -> str:
        posts = "".join(
            f'<article class="post hentry"><h2 class="entry-title"><a href="/p/{i}/">Post {i}</a></h2>'
            f'<time class="entry-date published" datetime="2020-10-{i + 10}T10:00:00+00:00">Oct {i + 10}</time>'
            f'<div class="entry-summary"><p>Text {i}.</p></div></article>' for i in range(1, n + 1))
        return f"<html><body><main>{posts}</main></body></html>"

    def run_with(server: HTTPServer, n: int, path: Path):
        server.clear()
        server.expect_request("/author/a/").respond_with_data(page(n), content_type="text/html")
        _, results, posts = ingest(path)
        return results["a"], posts

    with HTTPServer(host="127.0.0.1") as server:
        path = write_config(tmp_path, [{"name": "a", "type": "html", "url": server.url_for("/author/a/")}])
        assert run_with(server, 8, path)[0].new == 8
        first, _ = run_with(server, 2, path)
        other, _ = run_with(server, 1, path)  # a different count starts the streak again
        again, _ = run_with(server, 2, path)
        second, _ = run_with(server, 2, path)
        third, _ = run_with(server, 2, path)
        fourth, posts = run_with(server, 2, path)
    assert first.status == "error" and "only 2 posts found on a page that had 8" in first.error
    assert "1 so far" in first.error and "1 so far" in other.error and "1 so far" in again.error
    assert second.status == "error" and "2 so far" in second.error
    assert third.status == "ok" and any("accepted as its new count" in w for w in third.warnings), third
    assert fourth.status == "not_modified" and fourth.error is None and fourth.warnings == ()
    assert len(posts) == 8, "nothing is ever deleted"


def _archive_page(n: int, next_href: str | None) -> str:
    posts = "".join(
        f'<article class="post hentry"><h2 class="entry-title"><a href="/2020/10/{n}{i}/post-{n}-{i}/">'
        f'Post {n}.{i} about a loop</a></h2><time class="entry-date published" datetime="2020-10-2{i}T09:00:00+00:00">'
        f'October 2{i}, 2020</time><div class="entry-summary"><p>Iran Interlink, October 2{i} 2020:… Text of post '
        f'{n}.{i}, long enough to be an excerpt.</p></div></article>' for i in range(5))
    nav = f'<nav class="navigation"><a class="next page-numbers" href="{next_href}">Older posts</a></nav>' if next_href else ""
    return (f'<!doctype html><html><head><title>Author: X</title></head><body class="archive author">'
            f'<main>{posts}{nav}</main></body></html>')


def test_an_older_posts_link_back_to_a_page_already_read_is_not_followed(tmp_path, httpserver) -> None:
    """Page 2's "Older posts" points back at page 1 under another spelling (a tracking parameter,
    no trailing slash): page 1 is not read again, and the run ends cleanly."""
    httpserver.expect_request("/author/x/").respond_with_data(_archive_page(1, "/author/x/page/2/"),
                                                              content_type="text/html")
    httpserver.expect_request("/author/x/page/2/").respond_with_data(
        _archive_page(2, httpserver.url_for("/author/x?utm_source=loop")), content_type="text/html")
    config = load_config(write_config(tmp_path, [{"name": "X", "type": "html", "url": httpserver.url_for("/author/x/"),
                                                  "max_pages": 5}]))
    with Store.open(config.database) as store:
        (result,) = run_once(config, store)
    assert result.status == "ok" and result.pages == 2 and result.new == 10, result
    paths = [req.path for req, _resp in httpserver.log]
    assert paths.count("/author/x/") == 1 and paths.count("/author/x") == 0, paths
