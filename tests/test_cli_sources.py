"""A first day without hand-editing YAML: init, add, remove, sources, and check = fetch.

Through the real CLI (click's CliRunner for output, a subprocess where the process matters)
against the sample site served on 127.0.0.1 and, for what no blog serves (robots.txt, a JSON
API), pytest-httpserver. Config files are real files; comments are checked byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from sample_site.server import serve
from sample_site.site import SampleSite

from monitor.cli import cli
from monitor.config import load_config
from monitor.sourcelist import starter_text


@pytest.fixture(scope="module")
def site():
    s = SampleSite.from_seeds()
    with serve(s) as running:
        s.running = running
        yield s


def invoke(*args: str, cwd: Path):
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args), obj={}, catch_exceptions=False)
    finally:
        os.chdir(old)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_init_writes_the_commented_starter_and_never_overwrites(tmp_path):
    r = invoke("init", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    text = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    assert text == starter_text() and "# Next steps:" in text
    assert "monitor add URL" in r.output and "monitor run" in r.output
    config = load_config(tmp_path / "config.yaml")  # valid as written, with no sources yet
    assert config.sources == ()
    (tmp_path / "config.yaml").write_text(text + "# mine\n", encoding="utf-8")
    r = invoke("init", cwd=tmp_path)
    assert r.exit_code == 2 and "already exists" in r.output
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8").endswith("# mine\n")
    # a named path, and fetch with no sources says what to do instead of fetching nothing
    r = invoke("init", str(tmp_path / "sub" / "watch.yaml"), cwd=tmp_path)
    assert r.exit_code == 0 and "--config " in r.output
    r = invoke("fetch", "--config", str(tmp_path / "sub" / "watch.yaml"), cwd=tmp_path)
    assert r.exit_code == 2 and "monitor add URL" in r.output


def test_first_day_init_add_fetch_as_processes(site, tmp_path):
    """The newcomer's path: init, add three sources, fetch: no YAML edited by hand."""
    base = site.running.url
    assert run_cli("init", cwd=tmp_path).returncode == 0
    page = site.author_url("ali-alavi", "block", base_url=base)
    r = run_cli("add", page, "--every", "2h", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # what check shows: the rule, the posts, pagination, the feed; the name is the page's author
    assert "rule: block, 5 posts" in r.stdout and "next page: " in r.stdout and "feed: " in r.stdout
    assert "added 'Ali Alavi'" in r.stdout
    r = run_cli("add", site.author_url("iran-interlink", "classic", base_url=base), "--type", "html",
                "--name", "Iran Interlink (classic)", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cli("add", site.feed_url("massoud-khodabandeh", "wordpress", base_url=base), "--type", "feed",
                "--name", "Massoud feed", cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    text = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    starter = starter_text()
    # every comment of the starter is still there, in order, before the sources
    head = starter[: starter.index("sources: []")]
    assert text.startswith(head)
    entries = yaml.safe_load(text)["sources"]
    assert [e["name"] for e in entries] == ["Ali Alavi", "Iran Interlink (classic)", "Massoud feed"]
    assert entries[0] == {"name": "Ali Alavi", "url": page, "type": "auto", "every": "2h"}

    # the service, once (as cron would run it): every source fetched, the due weeks published
    r = run_cli("run", "--once", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "feed.xml").exists() and list((tmp_path / "site" / "digests").glob("*.html"))
    status = json.loads(run_cli("status", "--format", "json", cwd=tmp_path).stdout)
    assert status["status"] == "ok" and [s["result"] for s in status["sources"]] == ["ok", "ok", "ok"]
    assert all(s["posts"] > 0 for s in status["sources"])

    r = run_cli("sources", "--format", "tsv", cwd=tmp_path)
    lines = r.stdout.splitlines()
    assert lines[0] == "name\ttype\tevery\tmax_pages\turl"
    assert lines[1] == f"Ali Alavi\tauto\t2h\t5\t{page}"


def test_add_refuses_a_duplicate_name_or_url_and_keeps_the_file(site, tmp_path):
    base = site.running.url
    page = site.author_url("ali-alavi", "block", base_url=base)
    cfg = tmp_path / "config.yaml"
    assert invoke("init", cwd=tmp_path).exit_code == 0
    assert invoke("add", page, "--name", "Ali", cwd=tmp_path).exit_code == 0
    before = cfg.read_text(encoding="utf-8")
    hits = len(site.running.log)
    # the same URL, spelled differently (trailing slash, fragment): refused before any fetch
    r = invoke("add", page.rstrip("/") + "#top", "--name", "Other", cwd=tmp_path)
    assert r.exit_code == 2 and "already watched as 'Ali'" in r.output
    assert len(site.running.log) == hits
    r = invoke("add", site.author_url("iran-interlink", "classic", base_url=base), "--name", "Ali", cwd=tmp_path)
    assert r.exit_code == 2 and "a source named 'Ali' is already listed" in r.output
    assert cfg.read_text(encoding="utf-8") == before  # refused: the file is as it was
    # a name taken from the page (its author) that is already listed: the fix is named
    assert invoke("add", site.feed_url("ali-alavi", "block", base_url=base), "--type", "feed",
                  cwd=tmp_path).exit_code == 0  # named "Ali Alavi" after the feed's author
    r = invoke("add", site.author_url("ali-alavi", "classic", base_url=base), cwd=tmp_path)
    assert r.exit_code == 2 and "'Ali Alavi' is already listed" in r.output and "--name" in r.output
    assert [e["name"] for e in yaml.safe_load(cfg.read_text(encoding="utf-8"))["sources"]] == ["Ali", "Ali Alavi"]


def test_add_refuses_a_url_without_posts(site, tmp_path):
    assert invoke("init", cwd=tmp_path).exit_code == 0
    before = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    r = invoke("add", site.running.url + "/robots.txt", cwd=tmp_path)
    assert r.exit_code == 1
    assert "verdict: error (NoPostsFound)" in r.output and "not added" in r.output
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8") == before


def test_add_keeps_comments_of_an_existing_hand_written_config(site, tmp_path):
    """The repository's own config.yaml style (trailing comments, indented list) survives."""
    repo_config = Path(__file__).resolve().parent.parent / "config.yaml"
    original = repo_config.read_text(encoding="utf-8")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(original, encoding="utf-8")
    page = site.author_url("ali-alavi", "block", base_url=site.running.url)
    r = invoke("add", page, "--name", "Local Ali", "--every", "30m", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    text = cfg.read_text(encoding="utf-8")
    assert text.startswith(original)  # nothing above changed, not even alignment of comments
    assert text[len(original):] == (f"  - name: Local Ali\n    url: {page}\n    type: auto\n    every: 30m\n")

    r = invoke("remove", "Iran Interlink", cwd=tmp_path)
    assert r.exit_code == 0 and "stored posts are kept" in r.output
    names = [s.name for s in load_config(cfg).sources]
    assert names == ["Massoud Khodabandeh", "Ali Alavi", "Local Ali"]
    assert "type: auto                     # auto | html | feed" in cfg.read_text(encoding="utf-8")
    r = invoke("remove", "Nobody", cwd=tmp_path)
    assert r.exit_code == 2 and "no source named 'Nobody'" in r.output


def test_remove_keeps_stored_posts(site, tmp_path):
    page = site.author_url("ali-alavi", "block", base_url=site.running.url)
    assert invoke("init", cwd=tmp_path).exit_code == 0
    assert invoke("add", page, "--name", "Ali", cwd=tmp_path).exit_code == 0
    assert invoke("fetch", cwd=tmp_path).exit_code == 0
    assert invoke("remove", "Ali", cwd=tmp_path).exit_code == 0
    assert yaml.safe_load((tmp_path / "config.yaml").read_text(encoding="utf-8"))["sources"] == []
    import sqlite3

    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert conn.execute("SELECT count(*) FROM posts WHERE source = 'Ali'").fetchone()[0] == 6


# -- check = fetch, without storing ----------------------------------------------------------------


@pytest.fixture
def odd_server():
    with HTTPServer(host="127.0.0.1") as server:
        server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n",
                                                               content_type="text/plain")
        server.expect_request("/api/posts").respond_with_json({"posts": [{"title": "a", "url": "/a"}]})
        yield server


def test_check_needs_no_config_and_agrees_with_fetch(site, odd_server, tmp_path):
    """0 posts is NoPostsFound, exit 1, with fetch's own words; the other reading is suggested."""
    base = site.running.url
    feed = site.feed_url("ali-alavi", "block", base_url=base)
    cases = {
        "robots": (odd_server.url_for("/robots.txt"), "auto", "text/plain"),
        "json": (odd_server.url_for("/api/posts"), "auto", "application/json"),
        "feed as html": (feed, "html", "application/rss+xml"),
    }
    for label, (url, kind, ctype) in cases.items():
        r = invoke("check", url, "--type", kind, cwd=tmp_path)
        assert not (tmp_path / "config.yaml").exists()
        assert r.exit_code == 1, (label, r.output)
        assert f"verdict: error (NoPostsFound) no posts found on {url}" in r.output, label
        assert ctype in r.output, label
        r = invoke("check", url, "--type", kind, "--format", "json", cwd=tmp_path)
        doc = json.loads(r.output)
        assert (doc["verdict"], doc["posts"], doc["content_type"]) == ("NoPostsFound", 0, ctype), label
        assert doc["suggestion"], label
    assert "--type feed" in json.loads(invoke("check", feed, "--type", "html", "--format", "json",
                                              cwd=tmp_path).output)["suggestion"]

    # fetch reaches the same verdict with the same words
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"site": {"title": "t"}, "sources": [
        {"name": "robots", "url": odd_server.url_for("/robots.txt")},
        {"name": "feed as html", "url": feed, "type": "html"}]}), encoding="utf-8")
    r = invoke("fetch", "--config", str(cfg), cwd=tmp_path)
    assert r.exit_code == 1
    assert (f"robots: error (NoPostsFound) no posts found on {odd_server.url_for('/robots.txt')}"
            in r.output)
    assert f"feed as html: error (NoPostsFound) no posts found on {feed}" in r.output


def test_check_page_without_posts_suggests_its_feed(tmp_path):
    with HTTPServer(host="127.0.0.1") as server:
        feed_url = server.url_for("/feed/")
        server.expect_request("/about/").respond_with_data(
            f'<html><head><link rel="alternate" type="application/rss+xml" href="{feed_url}"></head>'
            "<body><p>About me: nothing listed here.</p></body></html>", content_type="text/html")
        server.expect_request("/feed/").respond_with_data(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>'
            f'{server.url_for("/")}</link><item><title>One</title><link>{server.url_for("/one")}</link>'
            "<pubDate>Wed, 28 Oct 2020 09:04:00 +0000</pubDate></item></channel></rss>",
            content_type="application/rss+xml")
        server.expect_request("/empty.xml").respond_with_data(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>'
            f'{server.url_for("/")}</link></channel></rss>', content_type="application/rss+xml")
        r = invoke("check", server.url_for("/about/"), cwd=tmp_path)
        assert r.exit_code == 1
        assert f"try: the page links a feed (1 post there): monitor check {feed_url} --type feed" in r.output
        # an empty feed is a warning for fetch, so for check too, and it names the feed's site
        r = invoke("check", server.url_for("/empty.xml"), cwd=tmp_path)
        assert r.exit_code == 0, r.output
        assert "warning: the feed lists no entries" in r.output
        assert f"try: the feed's site is {server.url_for('/')}" in r.output


def test_check_a_good_page_exits_0_with_posts(site, tmp_path):
    r = invoke("check", site.author_url("ali-alavi", "block", base_url=site.running.url), "--format", "json",
               cwd=tmp_path)
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert doc["verdict"] == "ok" and doc["posts"] == 5 and doc["content_type"] == "text/html"
    assert [d["rule"] for d in doc["documents"]] == ["block", "rss"]
    assert doc["documents"][0]["posts"][0]["published"].endswith("+00:00")
    r = invoke("check", "gopher://x/", cwd=tmp_path)
    assert r.exit_code == 2 and "not an http(s) URL" in r.output


# -- status: one report, read only ----------------------------------------------------------------


def test_status_only_reads_and_is_the_healthz_document(site, tmp_path):
    import hashlib
    import sqlite3

    from monitor.pipeline import Monitor
    from monitor.web import health_report

    page = site.author_url("ali-alavi", "block", base_url=site.running.url)
    assert invoke("init", cwd=tmp_path).exit_code == 0
    # no database yet: status says so and creates none
    assert invoke("add", page, "--name", "Ali", "--no-check", cwd=tmp_path).exit_code == 0
    r = invoke("status", "--format", "json", cwd=tmp_path)
    assert r.exit_code == 0 and not (tmp_path / "monitor.db").exists()
    assert json.loads(r.output)["sources"][0]["result"] == "never run"

    assert invoke("fetch", cwd=tmp_path).exit_code == 0
    # a source added after the fetch: status shows it never ran, and does not register it
    assert invoke("add", site.author_url("iran-interlink", "classic", base_url=site.running.url),
                  "--name", "New", "--no-check", cwd=tmp_path).exit_code == 0
    db = tmp_path / "monitor.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    r = invoke("status", "--format", "json", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (tmp_path / "monitor.db-wal").exists() or (tmp_path / "monitor.db-wal").stat().st_size == 0
    with sqlite3.connect(db) as conn:
        assert [n for (n,) in conn.execute("SELECT name FROM sources")] == ["Ali"]
    by = {s["name"]: s for s in doc["sources"]}
    assert (by["Ali"]["result"], by["Ali"]["posts"], by["New"]["result"]) == ("ok", 6, "never run")
    assert "." not in by["Ali"]["last_run"] and by["Ali"]["last_run"].endswith("+00:00")  # no microseconds
    config = load_config(tmp_path / "config.yaml")
    app = Monitor.open_readonly(config)
    assert app is not None
    with app:
        assert health_report(config, app.status_inputs()) == doc
    lines = invoke("status", cwd=tmp_path).output.splitlines()
    assert lines[0] == "status: ok"
    assert lines[1].startswith("Ali: ok, 6 posts, last run 20") and lines[2].startswith("New: never run, 0 posts")


def test_status_on_a_database_of_an_older_version_says_so_and_changes_nothing(site, tmp_path):
    import sqlite3

    page = site.author_url("ali-alavi", "block", base_url=site.running.url)
    assert invoke("init", cwd=tmp_path).exit_code == 0
    assert invoke("add", page, "--name", "Ali", "--no-check", cwd=tmp_path).exit_code == 0
    assert invoke("fetch", cwd=tmp_path).exit_code == 0
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        conn.execute("ALTER TABLE digests DROP COLUMN chosen_lead")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0008_chosen_lead'")
    r = invoke("status", cwd=tmp_path)
    assert r.exit_code == 1 and "from an older version (to do: 0008_chosen_lead)" in r.output
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert not conn.execute("SELECT 1 FROM _sqlite_migrations WHERE name = '0008_chosen_lead'").fetchall()
    assert invoke("fetch", cwd=tmp_path).exit_code == 0  # a writing command upgrades it
    assert invoke("status", cwd=tmp_path).exit_code == 0
