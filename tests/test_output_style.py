"""One output style: times, words, plurals, JSON, TSV in a pipe, COLUMNS, through the real CLI
against the sample site on 127.0.0.1 and a real database file."""

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


def invoke(*args: str, cwd: Path, env: dict[str, str] | None = None):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False, env=env)
    finally:
        os.chdir(old)


@pytest.fixture
def world(tmp_path):
    site = SampleSite.from_seeds()
    with serve(site) as running:
        site.running = running
        (tmp_path / "config.yaml").write_text(yaml.safe_dump({
            "site": {"title": "Iran Interlink"}, "timezone": "Europe/London",
            "fetch": {"timeout": "2s", "deadline": "2s"},
            "sources": [
                {"name": "Massoud", "type": "html",  # text markup: "Posted on: 2020/10/28", a date only
                 "url": site.author_url("massoud-khodabandeh", "wordpress", base_url=running.url)},
                {"name": "Ali", "url": site.author_url("ali-alavi", "block", base_url=running.url)}]}),
            encoding="utf-8")
        yield site, tmp_path


def test_fetch_json_and_lines_use_the_same_words(world):
    _, cwd = world
    r = invoke("fetch", "--format", "json", cwd=cwd)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    by = {s["name"]: s for s in doc["sources"]}
    assert by["Massoud"]["result"] == "ok" and by["Massoud"]["new"] == 8 and by["Massoud"]["pages"] == 2
    assert doc["total"] == {"sources": 2, "new": 14, "changed": 0, "unchanged": 0, "failed": 0}
    r = invoke("fetch", cwd=cwd)
    lines = r.output.splitlines()
    # the pages did not change: a 304 or the same bytes, "not modified" everywhere
    assert "Ali: not modified" in lines
    assert lines[-1] == "total: 2 sources, 0 new, 0 changed, 0 unchanged, 0 failed"
    status = json.loads(invoke("status", "--format", "json", cwd=cwd).output)
    assert {s["name"]: s["result"] for s in status["sources"]}["Ali"] == "not modified"
    r = invoke("fetch", "--source", "Ali", cwd=cwd)
    assert "total: 1 source," in r.output


def test_posts_json_times_are_full_datetimes_with_zone_and_no_microseconds(world):
    _, cwd = world
    assert invoke("fetch", cwd=cwd).exit_code == 0
    rows = json.loads(invoke("posts", "--format", "json", cwd=cwd).output)
    dated = [p for p in rows if p["date_only"]]
    assert dated, "the text markup gives date-only posts"
    for p in rows:
        for key in ("published", "first_seen"):
            value = p[key]
            assert "T" in value and value[-6:] in ("+00:00", "+01:00") and "." not in value, (key, value)
    # a date-only post is midnight of that day in the config's zone, not a bare date
    assert all(p["published"][11:19] == "00:00:00" for p in dated)


def test_posts_in_a_pipe_are_tab_separated_and_a_table_respects_columns(world):
    _, cwd = world
    assert invoke("fetch", cwd=cwd).exit_code == 0
    lines = invoke("posts", cwd=cwd).output.splitlines()  # CliRunner's stdout is not a terminal
    assert lines[0] == "published\tsource\ttitle\tauthor\toutlet\tv\turl"
    assert len(lines) == 15 and all(line.count("\t") == 6 for line in lines)
    assert any(line.startswith("2020-10-28\tMassoud\t") for line in lines)  # a date-only post: the date
    assert any(line.split("\t")[0].endswith(("GMT", "BST")) for line in lines[1:])  # a time: to the minute
    table = invoke("posts", "--format", "table", cwd=cwd, env={"COLUMNS": "70"}).output.splitlines()
    assert max(len(line) for line in table) <= 70 and table[-1] == "14 posts"
    wide = invoke("posts", "--format", "table", cwd=cwd, env={"COLUMNS": "160"}).output.splitlines()
    assert max(len(line) for line in wide) > 70


def test_posts_source_repeats_and_accepts_a_removed_source(world):
    _, cwd = world
    assert invoke("fetch", cwd=cwd).exit_code == 0
    both = json.loads(invoke("posts", "--source", "Ali", "--source", "Massoud", "--format", "json", cwd=cwd).output)
    assert {p["source"] for p in both} == {"Ali", "Massoud"} and len(both) == 14
    assert [p["published"] for p in both] == sorted((p["published"] for p in both), reverse=True)
    assert invoke("remove", "Ali", cwd=cwd).exit_code == 0
    gone = json.loads(invoke("posts", "--source", "Ali", "--format", "json", cwd=cwd).output)
    assert len(gone) == 6 and {p["source"] for p in gone} == {"Ali"}
    r = invoke("posts", "--source", "Nobody", cwd=cwd)
    assert r.exit_code == 2 and "no source named 'Nobody'" in r.output and "Ali" in r.output


def test_digest_json_says_what_was_written(world):
    _, cwd = world
    assert invoke("fetch", cwd=cwd).exit_code == 0
    r = invoke("digest", "--all", "--format", "json", cwd=cwd)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["weeks_built"] and all(Path(p).exists() for p in doc["files_written"])
    assert any(p.endswith("feed.xml") for p in doc["files_written"])
    again = json.loads(invoke("digest", "--all", "--format", "json", cwd=cwd).output)
    assert again["files_written"] == []


def test_a_lead_chosen_by_hand_is_kept_by_digest_all(world):
    import sqlite3

    import feedparser

    _, cwd = world
    assert invoke("fetch", cwd=cwd).exit_code == 0
    assert invoke("digest", "--all", cwd=cwd).exit_code == 0
    with sqlite3.connect(cwd / "monitor.db") as conn:
        week, auto_lead, ids = conn.execute(
            "SELECT week_ending, lead_url, post_ids FROM digests WHERE json_array_length(post_ids) >= 2 "
            "ORDER BY week_ending DESC LIMIT 1").fetchone()
        other_id = next(i for i in json.loads(ids) if conn.execute(
            "SELECT url FROM posts WHERE id = ?", [i]).fetchone()[0] != auto_lead)
        other, other_title = conn.execute("SELECT url, title FROM posts WHERE id = ?", [other_id]).fetchone()
    r = invoke("digest", "--week-ending", week, "--lead", other, cwd=cwd)
    assert r.exit_code == 0, r.output

    def state() -> tuple[str, str]:
        with sqlite3.connect(cwd / "monitor.db") as conn:
            lead, title = conn.execute("SELECT lead_url, title FROM digests WHERE week_ending = ?", [week]).fetchone()
        return lead, title

    assert state()[0] == other and state()[1].startswith(other_title)
    r = invoke("digest", "--all", "--format", "json", cwd=cwd)
    assert r.exit_code == 0, r.output
    assert state()[0] == other and state()[1].startswith(other_title)  # not reverted to the automatic lead
    feed = feedparser.parse((cwd / "site" / "feed.xml").read_bytes())
    assert any(e.title.startswith(other_title) for e in feed.entries)
