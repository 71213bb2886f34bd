"""Delivery by the real service: `monitor run` as a subprocess, a real SMTP server (STARTTLS, AUTH),
`kill -9` in the middle of a delivery, then a restart: no recipient gets the week twice, none is skipped.
Also `monitor deliver` (--dry-run, the lock, --resend) and `monitor status` as real commands."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from service_helpers import ServiceProcess, query, sample_sources, wait_for, write_config
from smtp_helpers import PASSWORD, USER, Handler, SMTPServer, self_signed

from monitor.service import FAKE_NOW_ENV

RECIPIENTS = [f"reader{i}@example.org" for i in range(1, 6)]
ENV = "MONITOR_TEST_SMTP_PASSWORD"


@pytest.fixture
def procs():
    started: list[ServiceProcess] = []
    yield started
    for p in started:
        p.cleanup()


def _ledger(db: Path) -> dict[str, tuple[str, int, str]]:
    return {r: (state, attempts, mid) for r, state, attempts, mid in query(
        db, "SELECT recipient, state, attempts, message_id FROM deliveries WHERE week_ending = '2020-10-30'")}


def _monitor(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "monitor", *args, "--config", str(config)], capture_output=True,
                          text=True, timeout=60, check=False, cwd=config.parent, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_kill_9_during_a_delivery_then_a_restart_sends_each_recipient_the_week_once(tmp_path, procs) -> None:
    from sample_site.server import serve
    from sample_site.site import SampleSite

    site = SampleSite()
    site.add_author("Test Author", "test-author", theme="classic", kind="feed")
    site.add_post("test-author", "Week three post – گزارش", dt.date(2020, 10, 28),
                  "Test Author, October 28 2020:… Third.")
    cert = self_signed(tmp_path)
    hold = threading.Event()
    handler = Handler(hold=hold, hold_after=2)  # the third message waits in DATA: the kill comes then
    db = tmp_path / "monitor.db"
    env = {ENV: PASSWORD}
    with serve(site), SMTPServer(handler, cert=cert) as smtp:
        email = {"host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": USER,
                 "password_env": ENV, "ca_file": str(cert[0]), "from": "Digest <digest@example.org>",
                 "to": RECIPIENTS, "timeout": "20s", "unsubscribe": "mailto:leave@example.org"}
        config = write_config(tmp_path, sample_sources(site), serve=False, deliver={"email": email})

        def start(now: str, *, once: bool = False) -> ServiceProcess:
            p = ServiceProcess(config, once=once, env={FAKE_NOW_ENV: now, **env})
            procs.append(p)
            return p

        first = start("2020-10-31T07:00:00+00:00")
        assert handler.holding.wait(60), first.log()
        # mid-delivery: two recipients recorded sent, the third queued (its message in the server's DATA)
        rows = wait_for(lambda: (r := _ledger(db)) and r.get(RECIPIENTS[2], ("",))[0] == "queued" and r,
                        what="the third recipient queued")
        assert [rows[a][0] for a in RECIPIENTS[:2]] == ["sent", "sent"] and len(rows) == 3
        # meanwhile `monitor deliver` refuses: the service holds the database and delivers itself
        busy = _monitor(config, "deliver", env=env)
        assert busy.returncode == 1 and "already using" in busy.stderr and "delivers each week itself" in busy.stderr
        first.kill9()
        wait_for(lambda: handler.dropped == 1, what="the server to see the client gone")
        hold.set()
        assert len(handler.received) == 2

        second = start("2020-10-31T07:01:00+00:00")
        wait_for(lambda: len(handler.received) == 5, timeout=60, what="every recipient's message")
        wait_for(lambda: all(v[0] == "sent" for v in _ledger(db).values()) and len(_ledger(db)) == 5,
                 what="the ledger to record every message sent")
        assert second.terminate()[0] == 0
        # a third start delivers nothing more
        third = start("2020-10-31T07:05:00+00:00", once=True)
        assert third.wait(60) == 0, third.log()

    by = handler.by_recipient()
    assert sorted(by) == sorted(RECIPIENTS)
    assert all(len(v) == 1 for v in by.values()), {a: len(v) for a, v in by.items()}  # nobody twice
    assert all(v[0].tls and v[0].authenticated for v in by.values())
    ledger = _ledger(db)
    for a in RECIPIENTS:
        state, attempts, mid = ledger[a]
        assert state == "sent" and by[a][0].message["Message-ID"] == mid
        assert attempts == (2 if a == RECIPIENTS[2] else 1)  # the one in flight at the kill: sent again
        assert by[a][0].message["Subject"] == "Week three post – گزارش – Iran Interlink Weekly Digest – Oct 30, 2020"
    log2 = second.log()
    assert f"to {RECIPIENTS[2]} (again: unfinished before)" in log2
    assert all(f"by email to {a}" not in log2 for a in RECIPIENTS[:2])
    for p in (first, second, third):
        assert PASSWORD not in p.log() and "Traceback" not in p.log()
    assert "delivered" not in third.log()

    # `monitor status` shows the channel's last delivery, never the password
    status = _monitor(config, "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "deliveries:" in status.stdout and "week ending 2020-10-30: 5 sent, 0 queued" in status.stdout
    assert PASSWORD not in status.stdout + status.stderr

    # by hand: nothing is due; --resend --dry-run writes the messages a resend would send
    nothing = _monitor(config, "deliver", "--week-ending", "2020-10-30", env=env)
    assert nothing.returncode == 0 and "nothing to deliver" in nothing.stdout
    dry = _monitor(config, "deliver", "--week-ending", "2020-10-30", "--resend", "--dry-run",
                   "--out", str(tmp_path / "outbox"), env=env)
    assert dry.returncode == 0, dry.stderr
    emls = sorted((tmp_path / "outbox" / "2020-10-30").glob("*.eml"))
    assert [p.name for p in emls] == sorted(f"email-{a}.eml" for a in RECIPIENTS)
    from email import message_from_bytes
    from email.policy import default

    data = emls[0].read_bytes()
    assert data.split(b"\r\n\r\n", 1)[0].isascii() and PASSWORD.encode() not in data
    msg = message_from_bytes(data, policy=default)
    assert msg["Subject"] == "Week three post – گزارش – Iran Interlink Weekly Digest – Oct 30, 2020"
    assert msg["Message-ID"] == ledger[RECIPIENTS[0]][2].replace("@", ".r1@")  # a resend: its own id
    assert _ledger(db) == ledger  # a dry run changes nothing


@pytest.mark.slow
def test_sigterm_during_a_delivery_lets_the_message_finish_and_records_it(tmp_path, procs) -> None:
    from sample_site.server import serve
    from sample_site.site import SampleSite

    site = SampleSite()
    site.add_author("Test Author", "test-author", theme="classic", kind="feed")
    site.add_post("test-author", "Week three post", dt.date(2020, 10, 28), "Test Author, October 28 2020:… Third.")
    hold = threading.Event()
    handler = Handler(hold=hold, hold_after=0)  # the first message waits in DATA
    db = tmp_path / "monitor.db"
    with serve(site), SMTPServer(handler, auth=False) as smtp:
        email = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "digest@example.org",
                 "to": RECIPIENTS[:3]}
        config = write_config(tmp_path, sample_sources(site), serve=False, deliver={"email": email})
        first = ServiceProcess(config, env={FAKE_NOW_ENV: "2020-10-31T07:00:00+00:00"})
        procs.append(first)
        assert handler.holding.wait(60), first.log()
        first.proc.send_signal(signal.SIGTERM)
        first.wait_log(r"SIGTERM: stopping")
        hold.set()  # the server answers 250 while the service is stopping
        assert first.wait(30) == 0, first.log()
        assert [r.rcpt for r in handler.received] == [[RECIPIENTS[0]]]
        assert _ledger(db)[RECIPIENTS[0]][:2] == ("sent", 1)  # recorded: not "queued", not sent again
        assert RECIPIENTS[1] not in _ledger(db)  # the stop came before the next message

        handler.hold = None
        second = ServiceProcess(config, env={FAKE_NOW_ENV: "2020-10-31T07:01:00+00:00"})
        procs.append(second)
        wait_for(lambda: len(handler.received) == 3, timeout=60, what="the other two recipients")
        assert second.terminate()[0] == 0
    assert sorted(a for r in handler.received for a in r.rcpt) == sorted(RECIPIENTS[:3])  # each once
