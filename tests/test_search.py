"""monitor search: SQLite FTS5 over titles, excerpts and content, through the real CLI, against
posts fetched from the sample site on 127.0.0.1 into a real database file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sample_site.server import serve
from sample_site.site import SampleSite

from monitor.cli import cli
from monitor.cli_sources import _snippet_text
from monitor.demo.seeds import load_seed_authors


def invoke(*args: str, cwd: Path):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture
def fetched(tmp_path):
    site = SampleSite.from_seeds()
    with serve(site) as running:
        site.running = running
        (tmp_path / "config.yaml").write_text(yaml.safe_dump({
            "site": {"title": "t"}, "timezone": "Europe/London", "fetch": {"timeout": "2s", "deadline": "2s"},
            "sources": [
                {"name": "Ali", "url": site.author_url("ali-alavi", "block", base_url=running.url)},
                {"name": "Interlink", "type": "feed",
                 "url": site.feed_url("iran-interlink", "classic", base_url=running.url)}]}), encoding="utf-8")
        assert invoke("fetch", cwd=tmp_path).exit_code == 0
        yield site, tmp_path


def test_search_is_stemmed_ranked_highlighted_and_filtered(fetched):
    _, cwd = fetched
    r = invoke("search", "recruit albania", "--format", "json", cwd=cwd)
    assert r.exit_code == 0, r.output
    hits = json.loads(r.output)
    # the post with both words in its title ranks first; stemming finds "Recruitment"
    assert hits[0]["title"] == "Afghan Refugees in Albania – Recruitment Fodder for the MEK"
    assert "**Albania**" in hits[0]["snippet"] and "**recruitment**" in hits[0]["snippet"].lower()
    assert hits[0]["url"].startswith("http://127.0.0.1:") and hits[0]["published"][-6:] in ("+00:00", "+01:00")
    assert all(h["score"] >= hits[-1]["score"] for h in hits)
    sources = {h["source"] for h in json.loads(invoke("search", "albania", "--format", "json", cwd=cwd).output)}
    assert sources == {"Ali", "Interlink"}
    only = json.loads(invoke("search", "albania", "--source", "Interlink", "--format", "json", cwd=cwd).output)
    assert only and {h["source"] for h in only} == {"Interlink"}
    late = json.loads(invoke("search", "albania", "--since", "2021-01-01", "--format", "json", cwd=cwd).output)
    assert late and all(h["published"] >= "2021-01-01" for h in late)
    # words that are FTS syntax are searched as words, not parsed
    r = invoke("search", 'zqxj OR "( NEAR', cwd=cwd)
    assert r.exit_code == 0 and r.output.splitlines() == ["published\tsource\ttitle\tsnippet\turl"]


def test_search_follows_an_edit(fetched):
    """An edited title is found by its new words, not its old."""
    site, cwd = fetched
    post = next(p for a in load_seed_authors() for p in a.posts if "Afghan Refugees" in p.title)
    site.edit_post(post.post_id, title="Zanzibar quokka parade")
    assert invoke("fetch", cwd=cwd).exit_code == 0
    r = invoke("search", "quokka", "--format", "tsv", cwd=cwd)
    lines = r.output.splitlines()
    assert len(lines) >= 2 and "**quokka**" in lines[1] and "Zanzibar quokka parade" in lines[1]


def test_snippet_text_strips_html_of_feed_content():
    snip = 'ef="http://x/">\x02Albania\x03</a> is <em>notorious</em> &amp; more <img src="x'
    assert _snippet_text(snip, ("[", "]")) == "[Albania] is notorious & more"


def test_the_index_is_off_the_ingest_path_and_catches_up_before_a_search(fetched):
    """A fetch writes no index entries (indexing never slows ingest); a search first brings the
    index up to date, and an edit marks its post to be indexed again."""
    import sqlite3

    from monitor.config import load_config
    from monitor.pipeline import Monitor

    site, cwd = fetched
    db = cwd / "monitor.db"
    with sqlite3.connect(db) as conn:
        posts = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM search").fetchone()[0] == 0  # nothing indexed by the fetch
        assert conn.execute("SELECT count(*) FROM posts WHERE indexed = 0").fetchone()[0] == posts > 0
    with Monitor.open(load_config(cwd / "config.yaml")) as app:
        hits = app.search("recruitment")
        assert hits[0][0].title == "Afghan Refugees in Albania – Recruitment Fodder for the MEK"
        assert app.update_search() == 0  # caught up
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM search").fetchone()[0] == posts
        body = conn.execute("SELECT body FROM search WHERE body != '' LIMIT 1").fetchone()[0]
        assert "<" not in body and "href" not in body  # the content's text, not its markup
    post = next(p for a in load_seed_authors() for p in a.posts if "Afghan Refugees" in p.title)
    site.edit_post(post.post_id, title="Zanzibar quokka parade")
    assert invoke("fetch", cwd=cwd).exit_code == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM posts WHERE indexed = 0").fetchone()[0] == 1
