"""OPML import and export through the real CLI, with Miniflux's own test documents (tests/data/opml)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import cli
from monitor.opml import OpmlError, OpmlFeed, parse, render

DATA = Path(__file__).parent / "data" / "opml"


def invoke(*args: str, cwd: Path):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)
    finally:
        os.chdir(old)


def test_parse_reads_a_latin1_document_and_nested_categories():
    feeds = parse((DATA / "miniflux_without_categories.opml").read_bytes())
    assert len(feeds) == 13
    assert feeds[0] == OpmlFeed("CNET News.com", "http://news.com.com/2547-1_3-0-5.xml", "http://news.com.com/")
    assert feeds[9].title == "NYT > Business"  # entities decoded
    assert feeds[3].html_url == "http://news.yahoo.com/news?tmpl=index&cid=738"
    nested = parse((DATA / "miniflux_with_categories.opml").read_bytes())
    assert [(f.title, f.xml_url, f.category) for f in nested] == [
        ("Feed 1", "http://example.org/feed1/", "My Category 1"),
        ("Feed 2", "http://example.org/feed2/", "My Category 1"),
        ("Feed 3", "http://example.org/feed3/", "My Category 2"),
    ]


@pytest.mark.parametrize("data, why", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml><body/></opml>', "DTD"),
    (b"<rss><channel/></rss>", "root element is <rss>"),
    (b"<opml><body><outline", "not well-formed"),
])
def test_parse_refuses_what_is_not_opml(data, why):
    with pytest.raises(OpmlError, match=why):
        parse(data)


def test_import_then_export_round_trips_and_keeps_the_config(tmp_path):
    assert invoke("init", cwd=tmp_path).exit_code == 0
    cfg = tmp_path / "config.yaml"
    r = invoke("import-opml", str(DATA / "miniflux_without_categories.opml"), "--every", "6h", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert "imported 13 feeds of 13" in r.output
    text = cfg.read_text(encoding="utf-8")
    assert "# Next steps:" in text  # the starter's comments survive
    sources = yaml.safe_load(text)["sources"]
    assert sources[0] == {"name": "CNET News.com", "url": "http://news.com.com/2547-1_3-0-5.xml",
                          "type": "feed", "every": "6h"}
    assert sources[9]["name"] == "NYT > Business"

    # again: every feed is already watched, nothing is written
    before = cfg.read_text(encoding="utf-8")
    r = invoke("import-opml", str(DATA / "miniflux_without_categories.opml"), cwd=tmp_path)
    assert r.exit_code == 0 and "imported 0 feeds of 13" in r.output and r.output.count("already watched") == 13
    assert cfg.read_text(encoding="utf-8") == before

    r = invoke("export-opml", cwd=tmp_path)
    assert r.exit_code == 0
    again = parse(r.output.encode("utf-8"))
    assert [(f.title, f.xml_url) for f in again] == [(s["name"], s["url"]) for s in sources]

    # a page source is exported with the page as htmlUrl; a name already taken gets the host
    (tmp_path / "o.opml").write_text(render([OpmlFeed("CNET News.com", "https://other.example/feed")],
                                            title="t"), encoding="utf-8")
    r = invoke("import-opml", str(tmp_path / "o.opml"), cwd=tmp_path)
    assert "imported 1 feed of 1" in r.output
    assert yaml.safe_load(cfg.read_text(encoding="utf-8"))["sources"][-1]["name"] == "CNET News.com (other.example)"


def test_import_of_a_bad_file_changes_nothing(tmp_path):
    assert invoke("init", cwd=tmp_path).exit_code == 0
    before = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    (tmp_path / "x.opml").write_bytes(b"<html><body>not opml</body></html>")
    r = invoke("import-opml", str(tmp_path / "x.opml"), cwd=tmp_path)
    assert r.exit_code == 2 and "not an OPML document" in r.output
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8") == before


def test_export_lists_a_page_with_the_feed_a_fetch_found(tmp_path):
    from sample_site.server import serve
    from sample_site.site import SampleSite

    site = SampleSite.from_seeds()
    with serve(site) as running:
        page = site.author_url("ali-alavi", "block", base_url=running.url)
        assert invoke("init", cwd=tmp_path).exit_code == 0
        assert invoke("add", page, "--name", "Ali", "--no-check", cwd=tmp_path).exit_code == 0
        before = parse(invoke("export-opml", cwd=tmp_path).output.encode())
        assert before == [OpmlFeed("Ali", page, page)]  # not fetched yet: the page itself
        assert invoke("fetch", cwd=tmp_path).exit_code == 0
    after = parse(invoke("export-opml", cwd=tmp_path).output.encode())
    assert after == [OpmlFeed("Ali", site.feed_url("ali-alavi", "block", base_url=running.url), page)]
