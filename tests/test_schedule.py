import datetime as dt

from monitor.schedule import backoff_delay, is_due, next_due

NOW = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def test_success_is_every_with_bounded_jitter():
    lo = next_due(NOW, 3600, rand=lambda: 0.0)
    hi = next_due(NOW, 3600, rand=lambda: 1.0)
    assert lo == NOW + dt.timedelta(seconds=3240)
    assert hi == NOW + dt.timedelta(seconds=3960)


def test_failures_back_off_exponentially_and_cap():
    assert backoff_delay(60, 0, 86400) == 60
    assert backoff_delay(60, 1, 86400) == 120
    assert backoff_delay(60, 3, 86400) == 480
    assert backoff_delay(60, 30, 86400) == 86400


def test_retry_after_wins_when_longer():
    due = next_due(NOW, 10, retry_after=7200, jitter=0)
    assert due == NOW + dt.timedelta(seconds=7200)
    assert next_due(NOW, 10, retry_after=1, jitter=0) == NOW + dt.timedelta(seconds=10)


def test_is_due():
    assert is_due(NOW, None, None)
    assert not is_due(NOW, NOW + dt.timedelta(seconds=1), None)
    assert is_due(NOW, NOW, None)
    assert not is_due(NOW, None, NOW + dt.timedelta(minutes=5))
