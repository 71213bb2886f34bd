"""`monitor run` as users run it (the default log level, a real subprocess): it says where it
serves and what it will do, `run --once` ends with one line of totals, and bad paths are named."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from service_helpers import ServiceProcess, query, sample_sources, scalar, write_config
from test_service import FakePublisher, service_for, world  # noqa: F401 -- world is a fixture

from monitor import __version__
from monitor.banner import RunTotals, next_publish, once_summary
from monitor.config import load_config
from monitor.models import SourceResult


@pytest.fixture
def sample():
    from sample_site.server import serve
    from sample_site.site import SampleSite

    site = SampleSite.from_seeds()
    with serve(site) as server:
        yield site, server


@pytest.fixture
def procs():
    started: list[ServiceProcess] = []
    yield started
    for p in started:
        p.cleanup()


def _get(url: str) -> tuple[int, bytes]:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("GET", u.path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _monitor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, check=False)


def test_run_prints_a_start_banner_at_the_default_log_level(tmp_path, sample, procs):
    site, _server = sample
    config_path = write_config(tmp_path, sample_sources(site, every="1h"))
    config = load_config(config_path)
    svc = ServiceProcess(config_path, log_level=None)
    procs.append(svc)
    health = svc.wait_log(r"  health +(?P<url>http://127\.0\.0\.1:\d+/healthz)\n").group("url")
    text = svc.log()
    assert f"monitor {__version__}: watching 3 sources" in text
    assert f"config    {config_path.resolve()}" in text
    assert f"database  {tmp_path / 'monitor.db'}" in text
    site_url = re.search(r"  site +(http://\S+/)  \(serving (.+)\)", text)
    assert site_url and site_url.group(2) == str(tmp_path / "site")
    assert re.search(r"  feed +" + re.escape(site_url.group(1)) + r"feed\.xml\n", text)
    assert health == site_url.group(1) + "healthz"
    assert "site_url  http://127.0.0.1:8000/  (the links in the digests)" in text  # not where it serves
    week, moment = next_publish(config, dt.datetime.now(dt.UTC))
    assert (f"next digest: the week ending {week.isoformat()}, published {moment:%a %Y-%m-%d %H:%M} "
            "Europe/London") in text
    # the URLs printed are the real ones
    status, body = _get(health)
    assert status == 200 and json.loads(body)["version"] == __version__
    # nothing else at the default level: no INFO lines
    assert " INFO " not in text
    code, _took = svc.terminate()
    assert code == 0 and "Traceback" not in svc.log()


def test_once_ends_with_a_one_line_summary(tmp_path, sample, procs):
    site, server = sample
    site.fail("/failing/", 500)
    sources = sample_sources(site) + [{"name": "Broken", "url": server.url + "/failing/", "every": "1h"}]
    config = write_config(tmp_path, sources, serve=False)
    db = tmp_path / "monitor.db"
    p = ServiceProcess(config, once=True, log_level=None, log_name="first.log")
    procs.append(p)
    assert p.wait() == 1  # a source failed
    lines = p.log().splitlines()
    posts = scalar(db, "SELECT count(*) FROM posts")
    weeks = [w for (w,) in query(db, "SELECT week_ending FROM digests ORDER BY week_ending")]
    assert posts >= 20 and weeks
    assert lines[-1] == (f"monitor run --once: 4 source(s) run: 3 ok, 1 failed; {posts} new, 0 changed post(s); "
                         f"published the week(s) ending {', '.join(weeks)}")
    assert any("Broken failed" in line for line in lines)  # the failure itself is a warning above

    # a second run: nothing is due, nothing is published, and it says so
    p = ServiceProcess(config, once=True, log_level=None, log_name="second.log")
    procs.append(p)
    assert p.wait() == 0
    assert p.log().splitlines() == [
        "monitor run --once: 0 source(s) run (of 4; the rest not due): 0 ok, 0 failed; "
        "0 new, 0 changed post(s); no week published"]


def test_once_summary_counts_changed_posts_and_a_failed_publish():
    totals = RunTotals()
    for r in (SourceResult(source="a", status="ok", new=2, changed=1),
              SourceResult(source="b", status="not_modified"),
              SourceResult(source="c", status="error", error="boom")):
        totals.add(r)
    line = once_summary(totals, publish_ok=False, sources_configured=3)
    assert line == ("monitor run --once: 3 source(s) run: 2 ok, 1 failed; 2 new, 1 changed post(s); "
                    "no week published; publishing FAILED (see the log above)")


# -- bad paths are named --------------------------------------------------------------------------


def _bad_config(tmp_path: Path, **paths: str) -> Path:
    return write_config(tmp_path, [{"name": "a", "url": "http://127.0.0.1:9/a", "every": "1h"}], **paths)


@pytest.mark.parametrize("args", [("run", "--once"), ("fetch",), ("status",), ("run",)])
def test_a_database_path_that_is_a_folder_is_named(tmp_path, args):
    (tmp_path / "dbdir").mkdir()
    config = _bad_config(tmp_path, database="dbdir")
    proc = _monitor(*args, "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 1
    assert f"error: cannot open the database {tmp_path / 'dbdir'}: it is a folder, not a file" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list((tmp_path / "dbdir").iterdir()) == []  # nothing written into it


def test_a_database_under_a_file_is_named(tmp_path):
    (tmp_path / "afile").write_text("x")
    config = _bad_config(tmp_path, database="afile/m.db")
    proc = _monitor("status", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 1
    assert (f"error: cannot open the database {tmp_path / 'afile' / 'm.db'}: {tmp_path / 'afile'} "
            "is a file, not a folder") in proc.stderr


def test_an_output_dir_that_is_a_file_is_named(tmp_path):
    (tmp_path / "site").write_text("not a folder")
    config = _bad_config(tmp_path, output_dir="site")
    proc = _monitor("run", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 1
    assert f"error: cannot serve output_dir {tmp_path / 'site'}: it is a file, not a folder" in proc.stderr
    assert "File exists" not in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "site").read_text() == "not a folder"  # left alone



def test_the_log_before_publishing_names_the_weeks_actually_published(world, caplog):  # noqa: F811
    """At 2020-10-31 05:00 UTC the calendar week that just ended is 10-30 (not due until 06:00);
    the due weeks are 10-09, 10-16 and 10-23, and 10-16 has no posts: the lines before publishing
    name 10-09 and 10-23 only."""
    config, store, clock, _app = world
    publisher = FakePublisher(config, store)
    service = service_for(world, publisher)
    clock.now = dt.datetime(2020, 10, 31, 5, tzinfo=dt.UTC)
    with caplog.at_level(logging.INFO, logger="monitor.service"):
        assert asyncio.run(service.publish_due()) is True
    messages = [r.getMessage() for r in caplog.records]
    before = [m for m in messages if m.startswith("publishing the week ending")]
    assert before == ["publishing the week ending 2020-10-09", "publishing the week ending 2020-10-23"]
    assert publisher.calls == [dt.date(2020, 10, 9), dt.date(2020, 10, 23)]
    final = [m for m in messages if m.startswith("final fetch")]
    assert final == ["final fetch before publishing: 2 source(s) not fetched since 2020-10-24T06:00+01:00"]
    assert not any("2020-10-16" in m or "2020-10-30" in m for m in messages)
