"""The run log (fetch_log) is bounded: each run deletes its source's rows older than
``fetch.log_retention``, in the run's own transaction, through an index (cost = rows removed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from monitor.config import FetchConfig, SourceConfig, load_config, parse_config
from monitor.detect import run_writes
from monitor.errors import ConfigError
from monitor.models import RunWrites, SourceResult
from monitor.pipeline import run_once
from monitor.store import Store

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, 9, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)


def _log_run(store: Store, source: str, when: dt.datetime, prune_before: dt.datetime | None) -> None:
    store.apply_run(RunWrites(source, when, when, SourceResult(source, "not_modified"),
                              next_due_at=when + HOUR, prune_log_before=prune_before))


def _log_times(store: Store, source: str) -> list[dt.datetime]:
    return sorted(dt.datetime.fromisoformat(r["started_at"]) for r in store.fetch_log(source, limit=10_000))


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "m.db")
    s.sync_sources([SourceConfig(name="a", url="http://a/"), SourceConfig(name="b", url="http://b/")], T0)
    yield s
    s.close()


# -- config -------------------------------------------------------------------------------------


def _config(tmp_path: Path, **fetch: object):
    return parse_config({"site": {"title": "T"}, "fetch": fetch,
                         "sources": [{"name": "a", "url": "http://a.example/"}]}, base_dir=tmp_path)


def test_retention_defaults_to_30_days_and_is_validated(tmp_path):
    assert _config(tmp_path).fetch.log_retention == 30 * 86400 == FetchConfig().log_retention
    assert _config(tmp_path, log_retention="90d").fetch.log_retention == 90 * 86400
    for bad, problem in (("forever", "expected a duration"), (0, "more than zero"), ("400d", "at most 365 days")):
        with pytest.raises(ConfigError) as exc:
            _config(tmp_path, log_retention=bad)
        assert exc.value.key == "fetch.log_retention" and problem in exc.value.problem


# -- the rule (pipeline) and the write (storage) ----------------------------------------------------


def test_the_pipeline_passes_the_cutoff_with_each_full_sweep_and_failed_run():
    w = run_writes(SourceResult("a", "ok"), None, started=T0, finished=T0 + dt.timedelta(seconds=3), posts=[],
                   http_cache={}, every=3600, backoff_max=86400, retry_after=None, full=True,
                   post_count=None, feed_url=None, shrunk=None, log_retention=7 * 86400)
    assert w.prune_log_before == T0 + dt.timedelta(seconds=3) - dt.timedelta(days=7)
    warm = run_writes(SourceResult("a", "not_modified"), None, started=T0, finished=T0, posts=[],
                      http_cache={}, every=3600, backoff_max=86400, retry_after=None, full=False,
                      post_count=None, feed_url=None, shrunk=None, log_retention=7 * 86400)
    assert warm.prune_log_before is None  # an ordinary run between sweeps pays nothing for the log
    failed = run_writes(SourceResult("a", "error", error="x"), None, started=T0, finished=T0, posts=[],
                        http_cache={}, every=3600, backoff_max=86400, retry_after=None, full=False,
                        post_count=None, feed_url=None, shrunk=None, log_retention=86400)
    assert failed.prune_log_before == T0 - dt.timedelta(days=1)  # failed runs prune too: the log stays bounded


def test_a_run_deletes_only_its_own_sources_older_rows(store):
    for i in range(10):
        _log_run(store, "a", T0 + i * HOUR, None)
        _log_run(store, "b", T0 + i * HOUR, None)
    _log_run(store, "a", T0 + 10 * HOUR, T0 + 6 * HOUR)
    assert _log_times(store, "a") == [T0 + i * HOUR for i in range(6, 11)]  # the cutoff itself stays
    assert len(_log_times(store, "b")) == 10  # another source's history is its own runs' business


def test_the_delete_is_part_of_the_runs_transaction(store, monkeypatch):
    for i in range(5):
        _log_run(store, "a", T0 + i * HOUR, None)
    real = store.db.execute

    def fail_after_delete(sql, *args, **kw):  # the power cut comes after the DELETE ran
        result = real(sql, *args, **kw)
        if sql.startswith("UPDATE sources"):
            raise RuntimeError("power cut")
        return result

    monkeypatch.setattr(store.db, "execute", fail_after_delete)
    with pytest.raises(RuntimeError):
        _log_run(store, "a", T0 + 5 * HOUR, T0 + 4 * HOUR)
    monkeypatch.undo()
    assert _log_times(store, "a") == [T0 + i * HOUR for i in range(5)]  # nothing deleted, nothing added


def test_the_delete_uses_the_index(store):
    plan = store.db.execute("EXPLAIN QUERY PLAN DELETE FROM fetch_log WHERE source = ? AND started_at < ?",
                            ["a", "2026"]).fetchall()
    assert any("fetch_log_source_started" in str(row) for row in plan), plan


# -- through the pipeline, real HTTP ------------------------------------------------------------------


def test_hourly_runs_over_ten_days_keep_three_days_of_log(tmp_path):
    from sample_site.server import serve
    from sample_site.site import SampleSite

    site = SampleSite.from_seeds()
    with serve(site) as running:
        sources = [{"name": n, "url": u, "type": k} for n, u, k in site.source_urls(running.url)]
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({"site": {"title": "T"}, "database": "m.db",
                                        "fetch": {"log_retention": "3d"}, "sources": sources}))
        config = load_config(path)
        with Store.open(config.database) as store:
            store.sync_sources(config.sources, T0)
            for h in range(0, 240, 6):  # every 6 hours for 10 days
                now = T0 + h * HOUR
                results = run_once(config, store, clock=lambda now=now: now)
                assert all(r.ok for r in results), results
                if h == 0:
                    posts = store.count_posts()
            last = T0 + 234 * HOUR
            for s in config.sources:
                times = _log_times(store, s.name)
                # 3 days of history, and at most the day since the last full sweep more
                assert times[0] >= last - dt.timedelta(days=4) and times[-1] == last
                assert 13 <= len(times) <= 17  # 72 h / 6 h + the cutoff's own run, + up to 4 runs of a day
            assert posts >= 20 and store.count_posts() == posts  # posts are never pruned
