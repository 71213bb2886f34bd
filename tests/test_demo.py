"""`monitor demo`: a first look with no network, as a real subprocess."""

import json
import re
import signal
import subprocess
import sys
import time

import feedparser
import httpx


def test_demo_builds_digests_from_the_sample_site(tmp_path):
    r = subprocess.run([sys.executable, "-m", "monitor", "demo", "--no-serve", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "fetched Massoud Khodabandeh: 8 new posts" in r.stdout
    assert "fetched Iran Interlink: 10 new posts" in r.stdout
    assert "fetched Ali Alavi: 6 new posts" in r.stdout
    weeks = int(re.search(r"built (\d+) weekly digests", r.stdout).group(1))
    pages = sorted((tmp_path / "site" / "digests").glob("*.html"))
    assert weeks == len(pages) and weeks >= 10
    # its config is next to its database: posts, history and status work on the demo data afterwards
    config = tmp_path / "demo.yaml"
    assert f"config: {config}" in r.stdout
    for args in (["posts", "--format", "json"], ["status", "--format", "json"]):
        out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), *args],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        if args[0] == "posts":
            assert len(doc) == 24
        else:
            assert [s["posts"] for s in doc["sources"]] == [8, 10, 6]
    html = (tmp_path / "site" / "digests" / "2020-10-30.html").read_text(encoding="utf-8")
    assert "Trump Campaign Uses Mujahedin-e-Khalq ( MEK ) Troll Farm In Albania – Iran Interlink Weekly Digest – Oct 30, 2020" in html
    feed = feedparser.parse((tmp_path / "site" / "feed.xml").read_bytes())
    assert feed.bozo == 0 and len(feed.entries) == min(weeks, 20)


def test_demo_serves_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "demo", "--port", "0", "--dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.match(r"Open (http://127\.0\.0\.1:\d+/)", line)
            if m:
                url = m.group(1)
                break
        assert url, proc.stderr.read() if proc.poll() is not None else "no URL printed"
        index = httpx.get(url, timeout=5)
        assert index.status_code == 200 and "Weekly Digest" in index.text
        feed = httpx.get(url + "feed.xml", timeout=5)
        assert feed.headers["content-type"].startswith("application/rss+xml")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def test_demo_port_is_not_the_services():
    from click.testing import CliRunner

    from monitor.cli import cli

    out = CliRunner().invoke(cli, ["demo", "--help"]).output
    assert "[default: 8765]" in out
