"""The static server for output_dir: content types, validators, 304s, traversal, HEAD, /healthz."""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import json
import logging
import os
import re
import socket
from pathlib import Path

import pytest

from monitor.config import parse_config
from monitor.store import Store
from monitor.web import SiteServer, content_type, health_report, is_loopback, resolve_path

UTC = dt.UTC
RSS = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<rss version="2.0"><channel><title>t</title></channel></rss>\n')
ATOM = (b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>\n')
INDEX = "<!doctype html><title>Weekly Digest</title><p>caf\u00e9</p>\n".encode()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "2020" / "10-30").mkdir(parents=True)
    (root / "feed.xml").write_bytes(RSS)
    (root / "atom.xml").write_bytes(ATOM)
    (root / "index.html").write_bytes(INDEX)
    (root / "2020" / "10-30" / "index.html").write_bytes(b"<!doctype html><title>week</title>\n")
    (root / "style.css").write_text("body{}\n")
    (root / ".feed.xml.tmp").write_bytes(b"<half")
    (root / "empty").mkdir()
    (tmp_path / "secret.txt").write_text("top secret\n")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "escape-dir")
    os.symlink(root / "feed.xml", root / "alias.xml")  # a symlink that stays inside is fine
    return root


@pytest.fixture
def server(site: Path):
    with SiteServer(site, "127.0.0.1", 0) as s:
        yield s


def request(server: SiteServer, method: str, path: str, headers: dict[str, str] | None = None):
    """A raw request: http.client sends the path exactly as given (no normalisation)."""
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


@pytest.mark.parametrize(("path", "ctype", "body"), [
    ("/feed.xml", "application/rss+xml", RSS),
    ("/atom.xml", "application/atom+xml", ATOM),
    ("/index.html", "text/html; charset=utf-8", INDEX),
    ("/", "text/html; charset=utf-8", INDEX),
    ("/2020/10-30/", "text/html; charset=utf-8", b"<!doctype html><title>week</title>\n"),
    ("/style.css", "text/css; charset=utf-8", b"body{}\n"),
    ("/feed.xml?utm=1", "application/rss+xml", RSS),
    ("/alias.xml", "application/rss+xml", RSS),  # typed by the file it resolves to
])
def test_content_types_and_bodies(server, path, ctype, body):
    status, headers, got = request(server, "GET", path)
    assert status == 200
    assert headers["content-type"] == ctype
    assert got == body
    assert int(headers["content-length"]) == len(body)
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["etag"])  # strong: no W/
    email.utils.parsedate_to_datetime(headers["last-modified"])


def test_content_type_by_name():
    assert content_type("feed.xml") == "application/rss+xml"
    assert content_type("x/atom.xml") == "application/atom+xml"
    assert content_type("a.HTML") == "text/html; charset=utf-8"
    assert content_type("blob.bin") == "application/octet-stream"


def test_head_has_headers_and_no_body(server):
    status, headers, body = request(server, "HEAD", "/feed.xml")
    get_status, get_headers, _ = request(server, "GET", "/feed.xml")
    assert status == get_status == 200 and body == b""
    assert headers["content-length"] == str(len(RSS))
    assert headers["etag"] == get_headers["etag"]
    assert headers["content-type"] == "application/rss+xml"
    assert request(server, "HEAD", "/nope.xml")[0] == 404


def test_conditional_get_etag_and_last_modified(server, site):
    _, first, _ = request(server, "GET", "/feed.xml")
    etag, lm = first["etag"], first["last-modified"]
    status, headers, body = request(server, "GET", "/feed.xml", {"If-None-Match": etag})
    assert status == 304 and body == b"" and headers["etag"] == etag
    assert request(server, "GET", "/feed.xml", {"If-Modified-Since": lm})[0] == 304
    assert request(server, "GET", "/feed.xml", {"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert request(server, "GET", "/feed.xml", {"If-None-Match": "*"})[0] == 304
    # If-None-Match wins over If-Modified-Since (RFC 9110): a different tag means 200
    assert request(server, "GET", "/feed.xml", {"If-None-Match": '"old"', "If-Modified-Since": lm})[0] == 200
    an_hour_before = email.utils.parsedate_to_datetime(lm) - dt.timedelta(hours=1)
    older = email.utils.format_datetime(an_hour_before, usegmt=True)
    assert request(server, "GET", "/feed.xml", {"If-Modified-Since": older})[0] == 200
    assert request(server, "GET", "/feed.xml", {"If-Modified-Since": "garbage"})[0] == 200

    # a new file (written as publish does: temp + rename) gets a new tag and a 200
    tmp = site / ".feed.xml.new"
    tmp.write_bytes(RSS.replace(b"<title>t</title>", b"<title>u</title>"))
    later = os.stat(site / "feed.xml").st_mtime + 5
    os.utime(tmp, (later, later))
    os.replace(tmp, site / "feed.xml")
    both = {"If-None-Match": etag, "If-Modified-Since": lm}
    status, headers, body = request(server, "GET", "/feed.xml", both)
    assert status == 200 and b"<title>u</title>" in body and headers["etag"] != etag
    assert request(server, "GET", "/feed.xml", {"If-Modified-Since": lm})[0] == 200


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/2020/../../secret.txt",
    "/2020/%2e%2e/%2e%2e/secret.txt",
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "//etc/passwd",
    "/etc/passwd",
    "/%2fetc%2fpasswd",
    "/escape.txt",
    "/escape-dir/secret.txt",
    "/escape-dir/",
    "/.feed.xml.tmp",
    "/feed.xml%00.html",
    "/%ff%fe",
    "/empty/",
    "/missing.html",
    "http://evil/../secret.txt",
])
def test_traversal_and_hidden_paths_are_404(server, path):
    status, _, body = request(server, "GET", path)
    assert status == 404, path
    assert b"secret" not in body


def test_directory_without_slash_redirects(server):
    status, headers, _ = request(server, "GET", "/2020/10-30?x=1")
    assert status == 301 and headers["location"] == "/2020/10-30/?x=1"


def test_redirect_never_points_at_another_host(server):
    # "//2020/10-30" resolves to a directory; a Location of "//2020/10-30/" would mean host "2020"
    status, headers, _ = request(server, "GET", "//2020/10-30")
    assert status == 301 and headers["location"] == "/2020/10-30/"


def test_other_methods_are_405(server):
    status, headers, _ = request(server, "POST", "/feed.xml")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_resolve_path_unit(site):
    root = Path(os.path.realpath(site))
    assert resolve_path(root, "/") == root
    assert resolve_path(root, "/feed.xml") == root / "feed.xml"
    assert resolve_path(root, "/alias.xml") == root / "feed.xml"
    assert resolve_path(root, "/a/%2e%2e/feed.xml") is None
    assert resolve_path(root, "/escape.txt") is None


def test_healthz_without_provider_and_logs_url(site, caplog):
    caplog.set_level(logging.INFO, logger="monitor.web")
    with SiteServer(site, "127.0.0.1", 0) as s:
        status, headers, body = request(s, "GET", "/healthz")
        assert status == 200 and headers["content-type"] == "application/json"
        assert json.loads(body)["status"] == "ok"
        assert request(s, "HEAD", "/healthz")[2] == b""
        assert f"serving {site} at {s.url}" in caplog.text
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", s.url)


def test_healthz_provider_error_is_503(site):
    def broken():
        raise RuntimeError("database is gone")

    with SiteServer(site, "127.0.0.1", 0, health=broken) as s:
        status, _, body = request(s, "GET", "/healthz")
    assert status == 503 and json.loads(body)["status"] == "error"


def test_non_loopback_bind_warns(site, caplog):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    caplog.set_level(logging.INFO, logger="monitor.web")
    with SiteServer(site, "0.0.0.0", 0) as s:
        assert s.url.startswith("http://127.0.0.1:")
    assert any(r.levelno == logging.WARNING and "reachable from other machines" in r.message
               for r in caplog.records)


def test_port_in_use_raises(site):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            SiteServer(site, "127.0.0.1", taken.getsockname()[1]).start()


def test_health_report_marks_failing_source(tmp_path):
    from monitor.models import RunWrites, SourceResult

    config = parse_config({
        "site": {"title": "T"},
        "sources": [{"name": "good", "url": "http://127.0.0.1:1/a"},
                    {"name": "bad", "url": "http://127.0.0.1:1/b"},
                    {"name": "new", "url": "http://127.0.0.1:1/c"}],
    }, base_dir=tmp_path)
    now = dt.datetime(2020, 10, 31, 7, tzinfo=UTC)
    with Store.open(tmp_path / "m.db") as store:
        store.sync_sources(config.sources, now)
        store.apply_run(RunWrites("good", now, now, SourceResult("good", "ok", new=2),
                                  next_due_at=now + dt.timedelta(hours=1)))
        failed = SourceResult("bad", "error", http_status=500, error="HTTP 500 from x",
                              error_type="HTTPStatusError")
        store.apply_run(RunWrites("bad", now, now, failed,
                                  next_due_at=now + dt.timedelta(hours=2), failures=3))
        store.record_digest(dt.date(2020, 10, 30), "Weekly Digest", None, [1], [], now, "h")
        from monitor.pipeline import Monitor

        doc = health_report(config, Monitor(config, store).status_inputs(next_runs={"tick": now, "publish": None}))
    assert doc["status"] == "degraded"
    by = {s["name"]: s for s in doc["sources"]}
    assert by["good"]["ok"] is True and by["good"]["last_error"] is None
    assert by["bad"] == by["bad"] | {"ok": False, "last_error": "HTTP 500 from x", "failures": 3,
                                     "next_due": "2020-10-31T09:00:00+00:00"}
    assert by["new"]["ok"] is True and by["new"]["last_run"] is None and by["new"]["result"] == "never run"
    assert (by["good"]["result"], by["bad"]["result"], by["good"]["posts"]) == ("ok", "error", 0)
    assert doc["last_digest"] == {"week_ending": "2020-10-30", "title": "Weekly Digest",
                                  "built_at": "2020-10-31T07:00:00+00:00"}
    assert doc["next_runs"] == {"tick": "2020-10-31T07:00:00+00:00", "publish": None}
