"""Storage against real SQLite files: versions kept, one transaction per run."""

import datetime as dt
import subprocess
import sys
import textwrap
from zoneinfo import ZoneInfo

import pytest

from monitor.config import SourceConfig
from monitor.detect import decide, post_write
from monitor.errors import StorageError
from monitor.models import PostData, RunWrites, SourceResult
from monitor.store import Store

TZ = ZoneInfo("Europe/London")
UTC = dt.UTC
T0 = dt.datetime(2020, 10, 29, 12, tzinfo=UTC)


def post(n, **kw):
    base = dict(url=f"http://site/p/{n}/", title=f"Post {n}", published=dt.datetime(2020, 10, 20 + n, tzinfo=TZ),
                date_only=True, excerpt=f"Excerpt of post {n}.", author="A", outlet="O", wp_id=n)
    base.update(kw)
    return PostData(**base)


def run(store, posts, now, source="s"):
    by_id, by_url = store.posts_of_source(source)
    obs = []
    for p in posts:
        identity, key = f"wp:site:{p.wp_id}", p.url
        existing = by_id.get(identity) or by_url.get(key)
        d = decide(existing, p, tz=TZ)
        obs.append(post_write(p, identity, key, d, existing))
    counts = {k: sum(o.outcome == k for o in obs) for k in ("new", "changed", "unchanged")}
    w = RunWrites(source, now, now, SourceResult(source, "ok", **counts), obs,
                  http_cache={"http://site/": ('"e1"', None, "h")}, next_due_at=now + dt.timedelta(hours=1),
                  last_post_count=len(posts))
    store.apply_run(w)
    return counts


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "m.db")
    s.sync_sources([SourceConfig(name="s", url="http://site/")], T0)
    yield s
    s.close()


def test_new_then_unchanged_then_changed_keeps_every_version(store, tmp_path):
    assert run(store, [post(1), post(2)], T0) == {"new": 2, "changed": 0, "unchanged": 0}
    assert run(store, [post(1), post(2)], T0 + dt.timedelta(hours=1)) == {"new": 0, "changed": 0, "unchanged": 2}
    later = T0 + dt.timedelta(hours=2)
    assert run(store, [post(1, title="Post one, edited"), post(2)], later)["changed"] == 1
    p = store.posts_by_url("http://site/p/1/")[0]
    assert p.title == "Post one, edited" and p.versions == 2 and p.last_changed == later
    assert p.first_seen == T0
    versions = store.versions(p.id)
    assert [v.title for v in versions] == ["Post 1", "Post one, edited"]
    assert versions[1].changes[0].label == "title edited" and versions[1].changes[0].old == "Post 1"
    assert store.count_posts() == 2
    assert [(pp.title, v.number) for pp, v in store.changes_between(T0, later + dt.timedelta(1))] == [
        ("Post one, edited", 2)]
    assert store.http_cache("s", "http://site/") == ('"e1"', None, "h")
    assert store.http_cache("another source", "http://site/") == (None, None, None)
    log = store.fetch_log("s")
    assert len(log) == 3 and log[0]["changed"] == 1
    state = store.source_state("s")
    assert state.last_status == "ok" and state.last_post_count == 2


def test_a_post_that_disappears_is_never_deleted(store):
    run(store, [post(1), post(2)], T0)
    run(store, [post(2)], T0 + dt.timedelta(hours=1))
    assert store.count_posts("s") == 2


def test_crash_mid_run_leaves_database_as_before(store, monkeypatch):
    run(store, [post(1)], T0)
    before = [(p.title, p.versions) for p in store.posts()]
    real = store._update_post
    calls = {"n": 0}

    def explode(*a, **kw):
        # new posts are written first (batched), then the changed one: the cut comes after the
        # two new posts are in, and they must be rolled back with everything else
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("power cut")
        return real(*a, **kw)

    monkeypatch.setattr(store, "_update_post", explode)
    with pytest.raises(RuntimeError):
        run(store, [post(1, title="changed"), post(2), post(3)], T0 + dt.timedelta(hours=1))
    assert calls["n"] == 1
    assert [(p.title, p.versions) for p in store.posts()] == before
    assert len(store.fetch_log()) == 1
    assert store.integrity_check() == "ok"


def test_locked_database_waits_then_clear_error(tmp_path):
    path = tmp_path / "m.db"
    Store.open(path).close()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sqlite3, time, sys
        c = sqlite3.connect({str(path)!r}, isolation_level=None)
        c.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep(3)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StorageError, match="locked by another process"):
            st = Store.open(path, busy_timeout=0.5)
            st.sync_sources([SourceConfig(name="s", url="http://site/")], T0)
    finally:
        holder.wait(timeout=10)
    # once released, the same call works: waiting long enough succeeds
    st = Store.open(path, busy_timeout=5)
    st.sync_sources([SourceConfig(name="s", url="http://site/")], T0)
    assert st.source_state("s") is not None


def test_migrations_are_idempotent_and_wal(tmp_path):
    path = tmp_path / "m.db"
    Store.open(path).close()
    s = Store.open(path)
    assert next(s.db.query("PRAGMA journal_mode"))["journal_mode"] == "wal"
    assert [r["name"] for r in s.db.query("SELECT name FROM _sqlite_migrations")] == [
        "0001_initial", "0002_full_sweep", "0003_http_cache_per_source", "0004_shrunk_count",
        "0005_publishing_state", "0006_deliveries", "0007_search", "0008_chosen_lead",
        "0009_fetch_log_by_time"]
    s.close()


def test_migration_0003_gives_each_source_its_own_validators(tmp_path):
    """A database from before 0003 keeps its validators, now under the source(s) with that URL."""
    import sqlite3

    from sqlite_utils import Database

    from monitor.store import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="0003_http_cache_per_source")
    db.execute("INSERT INTO sources (name, url, type, added_at, feed_url) VALUES "
               "('a', 'http://site/a/', 'auto', 'x', 'http://site/a/feed/'), "
               "('a twin', 'http://site/a/', 'html', 'x', NULL), ('b', 'http://site/b/', 'html', 'x', NULL)")
    db.execute("INSERT INTO http_cache (url, etag, last_modified, body_hash, checked_at) VALUES "
               "('http://site/a/', '\"pa\"', NULL, 'h1', 'x'), ('http://site/a/feed/', '\"fa\"', NULL, 'h2', 'x'), "
               "('http://site/a/page/2/', '\"p2\"', NULL, 'h3', 'x')")
    db.conn.commit()
    db.close()
    with Store.open(path) as store:
        assert store.http_cache("a", "http://site/a/") == ('"pa"', None, "h1")
        assert store.http_cache("a twin", "http://site/a/") == ('"pa"', None, "h1")
        assert store.http_cache("a", "http://site/a/feed/") == ('"fa"', None, "h2")
        assert store.http_cache("b", "http://site/a/") == (None, None, None)
        # a page 2 has no source to go to: it is read once more without validators
        assert store.http_caches([("a", "http://site/a/page/2/"), ("a", "http://site/a/")]) == {
            ("a", "http://site/a/"): ('"pa"', None, "h1")}


def test_naive_datetimes_are_refused(store):
    with pytest.raises(ValueError, match="naive"):
        run(store, [post(1, published=dt.datetime(2020, 1, 1))], T0)


def test_unreadable_database_is_a_storage_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="corrupt or not a database"):
        Store.open(bad)


def test_feed_and_page_sightings_alternating_never_flap(store):
    feed = post(1, excerpt="The feed summary, worded by the feed.", origin="feed", published=None)
    page = post(1, excerpt="The excerpt as the author page shows it.", origin="page")
    counts = [run(store, [p], T0 + dt.timedelta(hours=i)) for i, p in enumerate([feed, page, feed, page, feed])]
    assert counts[0]["new"] == 1
    assert all(c == {"new": 0, "changed": 0, "unchanged": 1} for c in counts[1:])
    p = store.posts()[0]
    assert p.versions == 1
    assert p.excerpt == page.excerpt, "the page's excerpt replaces the feed-only one"
    assert p.origin == "both"
    assert p.published is not None, "the date arrived with the page"


def test_opening_the_application_registers_only_new_or_changed_sources(tmp_path):
    from monitor.config import parse_config
    from monitor.pipeline import Monitor

    def config(*sources):
        return parse_config({"site": {"title": "t"}, "database": str(tmp_path / "m.db"),
                             "sources": [{"name": n, "url": u} for n, u in sources]}, base_dir=tmp_path)

    with Monitor.open(config(("a", "http://x/a"), ("b", "http://x/b"))) as app:
        assert set(app.states()) == {"a", "b"}
    with Monitor.open(config(("a", "http://x/a"), ("b", "http://x/b"))) as app:
        assert app.store.db.conn.total_changes == 0  # nothing new: nothing written
    with Monitor.open(config(("a", "http://x/a2"), ("b", "http://x/b"), ("c", "http://x/c"))) as app:
        assert app.store.db.conn.total_changes == 2  # a's URL changed, c is new
        states = app.states()
        assert states["a"].url == "http://x/a2" and "c" in states
