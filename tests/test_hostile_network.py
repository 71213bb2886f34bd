"""Hostile networks: ``monitor fetch`` against servers that refuse, reset, stall, trickle, loop and throttle.

One ``monitor fetch`` (a real subprocess) runs over every network case of
:mod:`tests.hostile_server` at once; each case then has its own named test that reads that run's
output line, ``monitor status`` and the database. Every failure must be a typed error with a reason
a user can act on, never a traceback, and the run must end in bounded time: a server that never
answers or sends one byte a second is cut off by the total per-request deadline.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from hostile_server import (
    CASE_BY_NAME,
    FAST_FETCH,
    HostileServer,
    Run,
    cases,
    check_database,
    db_rows,
    run_monitor,
)

NETWORK = cases("network")
DEADLINE = float(FAST_FETCH["deadline"].rstrip("s"))


@pytest.fixture(scope="module")
def world(tmp_path_factory, hostile_world):
    """The hostile server, a config with every network case, one ``monitor fetch`` and one ``status``."""
    tmp = tmp_path_factory.mktemp("network")
    with hostile_world(tmp, NETWORK) as w:
        fetch = w.fetch()
        status = run_monitor("status", "--config", str(w.config), "--format", "json", cwd=tmp, timeout=60)
        yield {"tmp": tmp, "config": w.config, "fetch": fetch, "status": status, "hostile": w.hostile}


def reported(world, name: str) -> tuple[str, dict]:
    """The fetch output line of a source and its ``monitor status`` row, after checking both."""
    case = CASE_BY_NAME[name]
    run: Run = world["fetch"]
    line = run.lines()[name]
    assert case.matches(line), line
    row = {r["name"]: r for r in json.loads(world["status"].stdout)["sources"]}[name]
    assert row["result"] == "error" and row["last_error"] and row["last_error"] in line, row
    assert row["failures"] == 1 and row["next_due"], row
    return line, row


def test_the_run_ends_in_bounded_time_with_exit_1_and_no_traceback(world):
    run: Run = world["fetch"]
    assert run.returncode == 1, run.stderr
    run.assert_no_traceback()
    world["status"].assert_no_traceback()
    # sources run concurrently: the slowest case is bounded by the deadline, not their sum
    assert run.elapsed < 6 * DEADLINE + 10, run.elapsed
    assert set(run.lines()) == {c.name for c in NETWORK}
    assert f"total: {len(NETWORK)} sources, 0 new, 0 changed, 0 unchanged, {len(NETWORK)} failed" in run.stdout
    check_database(world["tmp"] / "monitor.db")


def test_connection_refused(world):
    reported(world, "refused")


def test_unresolvable_host(world):
    line, _ = reported(world, "unresolvable")
    assert "no-such-host.invalid" in line


def test_connection_reset_mid_body(world):
    line, _ = reported(world, "reset-mid-body")
    assert "reading the body" in line


def test_server_that_accepts_and_never_answers(world):
    line, _ = reported(world, "never-answers")
    assert "fetch.timeout" in line or "fetch.deadline" in line


def test_one_byte_a_second_is_cut_off_by_the_total_deadline(world):
    # the read timeout (2 s) never fires: a byte arrives every second; only the deadline stops it
    line, _ = reported(world, "one-byte-a-second")
    assert f"gave up after {DEADLINE:g} s" in line and "fetch.deadline" in line
    hits = world["hostile"].hits("/net/trickle")
    assert hits == 1, "a request that timed out is not retried within the run"


def test_redirect_loop(world):
    line, _ = reported(world, "redirect-loop")
    assert "/net/loop-a -> " in line and "/net/loop-b" in line


@pytest.mark.parametrize("name", ["redirect-to-file", "redirect-to-ftp", "redirect-to-javascript"])
def test_redirect_to_a_non_http_url_is_refused(world, name):
    line, _ = reported(world, name)
    assert "non-http(s)" in line


def test_redirect_to_file_never_reads_the_file(world):
    text = "\n".join(str(tuple(r)) for r in db_rows(world["tmp"] / "monitor.db", "SELECT * FROM posts"))
    assert "root:" not in text and not db_rows(world["tmp"] / "monitor.db", "SELECT 1 FROM posts")


@pytest.mark.parametrize("name,status", [("http-403", 403), ("http-404", 404), ("http-410", 410),
                                         ("http-500", 500), ("http-502", 502)])
def test_4xx_and_5xx(world, name, status):
    line, _ = reported(world, name)
    assert f"HTTP {status}" in line
    assert db_rows(world["tmp"] / "monitor.db", "SELECT last_http_status FROM sources WHERE name = ?",
                   [name])[0][0] == status


def test_robots_txt_disallow_is_a_reason_too(world):
    line, _ = reported(world, "robots-disallowed")
    assert "robots: false" in line
    assert world["hostile"].hits("/private/page") == 0


def _retry_until(world, name: str) -> dt.datetime:
    value = db_rows(world["tmp"] / "monitor.db", "SELECT retry_after_until FROM sources WHERE name = ?", [name])[0][0]
    return dt.datetime.fromisoformat(value)


def test_429_with_retry_after_seconds_is_honoured(world):
    line, row = reported(world, "429-retry-seconds")
    assert "HTTP 429" in line
    until = _retry_until(world, "429-retry-seconds")
    left = (until - dt.datetime.now(dt.UTC)).total_seconds()
    assert 60 < left <= 120, left
    assert row["retry_after_until"]


def test_503_with_retry_after_as_an_http_date_is_honoured(world):
    line, _ = reported(world, "503-retry-date")
    m = re.search(r"retry after ([\d.]+) s", line)
    assert m and 3000 < float(m.group(1)) <= 3600, line
    left = (_retry_until(world, "503-retry-date") - dt.datetime.now(dt.UTC)).total_seconds()
    assert 3000 < left <= 3600, left


def test_absurd_retry_after_is_capped_not_a_crash(world):
    # "Retry-After: 99999999999999999999" once overflowed datetime arithmetic and aborted every source
    reported(world, "503-retry-absurd")
    left = (_retry_until(world, "503-retry-absurd") - dt.datetime.now(dt.UTC)).total_seconds()
    assert 0 < left <= 86400, "capped at fetch.backoff_max (1 day by default)"


def test_retry_after_is_remembered_across_restarts(world):
    """A second ``monitor fetch`` right after skips the throttled sources, saying why, and asks nothing."""
    hostile: HostileServer = world["hostile"]
    names = ["429-retry-seconds", "503-retry-date", "503-retry-absurd"]
    before = {n: hostile.hits(CASE_BY_NAME[n].path) for n in names}
    args = ["fetch", "--config", str(world["config"])]
    for n in names:
        args += ["--source", n]
    run = run_monitor(*args, cwd=world["tmp"], timeout=60)
    run.assert_no_traceback()
    assert run.returncode == 0, (run.stdout, run.stderr)  # skipping is not failing
    for n in names:
        line = run.lines()[n]
        assert re.fullmatch(rf"{re.escape(n)}: skipped \(server asked to wait \(Retry-After\): \d+ s left\)", line), line
        assert hostile.hits(CASE_BY_NAME[n].path) == before[n], "a throttled source must not be asked again"
    left = int(re.search(r"(\d+) s left", run.lines()["503-retry-date"]).group(1))
    assert 3000 < left <= 3600
    # status still shows the reason and the time it may be asked again
    status = run_monitor("status", "--config", str(world["config"]), cwd=world["tmp"], timeout=60)
    assert status.returncode == 0
    assert "429-retry-seconds: error" in status.stdout and "HTTP 429" in status.stdout
