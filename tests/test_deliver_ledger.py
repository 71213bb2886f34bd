"""The ledger's rules, as the pure functions they are (monitor.deliver.ledger): no database, no network.

The end-to-end proof (a real SMTP server, a real SQLite ledger, kill -9) is in test_deliver*.py; these
pin each decision down, one case at a time.
"""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.deliver import ledger
from monitor.deliver.ledger import MAX_ATTEMPTS, Due, backoff, deliveries_report, due_deliveries
from monitor.models import Delivery

UTC = dt.UTC
W1, W2, W3 = dt.date(2020, 10, 16), dt.date(2020, 10, 23), dt.date(2020, 10, 30)
NOW = dt.datetime(2020, 10, 31, 7, 0, tzinfo=UTC)
RCPT = {"email": ["a@x.org", "b@x.org"], "notify": ["ntfy://t #abc123"]}
START = {("email", "a@x.org"): W2, ("email", "b@x.org"): W3, ("notify", "ntfy://t #abc123"): W3}


def row(week: dt.date, recipient: str = "a@x.org", state: str = "sent", channel: str = "email",
        **kw: object) -> Delivery:
    return Delivery(week_ending=week, channel=channel, recipient=recipient, state=state,  # type: ignore[arg-type]
                    message_id=f"<{week}.{recipient}@x.org>", **kw)  # type: ignore[arg-type]


def keys(due: list[Due]) -> list[tuple[dt.date, str, str, str]]:
    return [(d.week_ending, d.channel, d.recipient, d.why) for d in due]


def test_nothing_before_a_recipients_first_week_and_everything_after() -> None:
    due = due_deliveries([W1, W2, W3], RCPT, [], START, now=NOW)
    assert keys(due) == [
        (W2, "email", "a@x.org", "new"),
        (W3, "email", "a@x.org", "new"), (W3, "email", "b@x.org", "new"), (W3, "notify", "ntfy://t #abc123", "new"),
    ]
    # a recipient without a first week yet gets nothing (the orchestrator records it first)
    assert due_deliveries([W3], {"email": ["new@x.org"]}, [], {}, now=NOW) == []


def test_a_week_asked_for_by_name_goes_to_everyone_who_does_not_have_it() -> None:
    due = due_deliveries([W1], RCPT, [row(W1, "a@x.org")], START, now=NOW, explicit=True)
    assert keys(due) == [(W1, "email", "b@x.org", "new"), (W1, "notify", "ntfy://t #abc123", "new")]


def test_sent_is_never_due_again_but_on_resend_as_a_new_generation() -> None:
    rows = [row(W3, "a@x.org"), row(W3, "b@x.org", generation=2)]
    assert due_deliveries([W3], {"email": ["a@x.org", "b@x.org"]}, rows, START, now=NOW) == []
    due = due_deliveries([W3], {"email": ["a@x.org", "b@x.org"]}, rows, START, now=NOW, resend=True)
    assert [(d.why, d.generation) for d in due] == [("resend", 1), ("resend", 3)]
    q = ledger.queued(due[0], "<new@x.org>", NOW)
    assert (q.state, q.attempts, q.generation, q.message_id) == ("queued", 1, 1, "<new@x.org>")


def test_a_row_left_queued_by_a_crash_is_sent_again_in_the_same_generation() -> None:
    crashed = row(W3, "a@x.org", state="queued", attempts=1, created_at=NOW)
    (due,) = due_deliveries([W3], {"email": ["a@x.org"]}, [crashed], START, now=NOW)
    assert (due.why, due.generation, due.previous) == ("unfinished", 0, crashed)
    # even with --resend: it may never have arrived, so it is not a new generation
    (due,) = due_deliveries([W3], {"email": ["a@x.org"]}, [crashed], START, now=NOW, resend=True)
    assert (due.why, due.generation) == ("unfinished", 0)
    q = ledger.queued(due, crashed.message_id, NOW + dt.timedelta(minutes=1))
    assert (q.attempts, q.created_at, q.message_id) == (2, NOW, crashed.message_id)


def test_a_temporary_failure_waits_for_its_time_and_a_permanent_one_for_resend() -> None:
    waiting = row(W3, "a@x.org", state="failed", attempts=2, next_attempt_at=NOW + dt.timedelta(minutes=2))
    refused = row(W3, "b@x.org", state="failed", attempts=1, permanent=True, last_error="550")
    r = {"email": ["a@x.org", "b@x.org"]}
    assert due_deliveries([W3], r, [waiting, refused], START, now=NOW) == []
    later = NOW + dt.timedelta(minutes=2)
    assert keys(due_deliveries([W3], r, [waiting, refused], START, now=later)) == [(W3, "email", "a@x.org", "retry")]
    resent = due_deliveries([W3], r, [waiting, refused], START, now=NOW, resend=True)
    assert [(d.recipient, d.why, d.generation) for d in resent] == [("a@x.org", "resend", 0), ("b@x.org", "resend", 0)]


def test_backoff_doubles_from_a_minute_to_six_hours() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff(9) == dt.timedelta(minutes=256) and backoff(10) == backoff(50) == dt.timedelta(hours=6)


@pytest.mark.parametrize("attempts, temporary, permanent, retry_in", [
    (1, True, False, dt.timedelta(minutes=1)),
    (MAX_ATTEMPTS - 1, True, False, backoff(MAX_ATTEMPTS - 1)),
    (MAX_ATTEMPTS, True, True, None),
    (1, False, True, None),
])
def test_a_failed_attempt(attempts: int, temporary: bool, permanent: bool, retry_in: dt.timedelta | None) -> None:
    q = row(W3, state="queued", attempts=attempts)
    f = ledger.failed(q, "421 busy", temporary=temporary, now=NOW)
    assert (f.state, f.permanent, f.updated_at) == ("failed", permanent, NOW)
    assert f.next_attempt_at == (NOW + retry_in if retry_in else None)
    assert f.last_error == ("421 busy" if not (permanent and temporary) else
                            f"421 busy (gave up after {MAX_ATTEMPTS} attempts)")
    s = ledger.sent(f, NOW)
    assert (s.state, s.last_error, s.next_attempt_at, s.sent_at) == ("sent", None, None, NOW)


def test_missing_starts_and_next_retry() -> None:
    assert ledger.missing_starts(RCPT, {("email", "a@x.org"): W1}, W3) == [
        ("email", "b@x.org", W3), ("notify", "ntfy://t #abc123", W3)]
    rows = [row(W3, "a@x.org", state="failed", next_attempt_at=NOW + dt.timedelta(hours=1)),
            row(W3, "b@x.org", state="failed", next_attempt_at=NOW + dt.timedelta(minutes=5)),
            row(W2, "b@x.org", state="failed", permanent=True)]
    assert ledger.next_retry(rows) == NOW + dt.timedelta(minutes=5)
    assert ledger.next_retry([row(W3)]) is None


def test_the_status_block_shows_the_last_delivery_per_channel() -> None:
    rows = [row(W2, "a@x.org", updated_at=NOW - dt.timedelta(days=7)),
            row(W3, "a@x.org", updated_at=NOW),
            row(W3, "b@x.org", state="failed", permanent=True, last_error="550 no such user",
                updated_at=NOW - dt.timedelta(minutes=1)),
            row(W3, "c@x.org", state="failed", attempts=1, last_error="421 busy",
                next_attempt_at=NOW + dt.timedelta(minutes=1), updated_at=NOW - dt.timedelta(minutes=2))]
    block = deliveries_report(["email", "notify"], rows)
    assert block["notify"] == {"last": None, "week_ending": None, "sent": 0, "queued": 0, "waiting": [],
                               "failed": []}
    e = block["email"]
    assert e["last"] == {"week_ending": "2020-10-30", "recipient": "a@x.org", "state": "sent",
                         "at": "2020-10-31T07:00:00+00:00", "attempts": 0, "error": None}
    assert (e["week_ending"], e["sent"], e["queued"]) == ("2020-10-30", 1, 0)
    assert e["failed"] == [{"week_ending": "2020-10-30", "recipient": "b@x.org", "error": "550 no such user"}]
    assert [w["recipient"] for w in e["waiting"]] == ["c@x.org"]
    assert e["waiting"][0]["next_attempt"] == "2020-10-31T07:01:00+00:00"
