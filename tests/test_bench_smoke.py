"""bench/run.py end to end on a tiny site: it runs, writes every metric, and every edit is detected.

Timings are measured but never asserted here (they depend on the machine); the targets are
checked by ``python bench/run.py`` itself, at full size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("reader")

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "run.py"

#: Every number the README table and the JSON promise.
METRICS = [
    "ours.feed_cold_s", "ours.feed_warm_s", "ours.feed_edit_s",
    "ours.mixed_cold_s", "ours.mixed_warm_s", "ours.mixed_edit_s",
    "ours.feed_cold_sources_per_s", "ours.feed_cold_posts_per_s",
    "ours.mixed_cold_sources_per_s", "ours.mixed_cold_posts_per_s",
    "reader.cold_s", "reader.warm_s", "reader.cold_sources_per_s", "reader.cold_posts_per_s",
    "floor.feed_s", "floor.html_s", "floor.mixed_s",
    "ratios.cold_feed_vs_reader", "ratios.cold_feed_vs_floor", "ratios.cold_mixed_vs_floor",
    "ratios.warm_vs_reader",
    "peak_rss_mb", "peak_rss_main_mb",
    "digest.wall_s", "digest.with_updates.wall_s",
    "db_bytes_per_10k_posts",
]


def _get(tree: dict, dotted: str):
    for key in dotted.split("."):
        tree = tree[key]
    return tree


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--n", "20", "--runs", "1", "--quick", "--digest-posts", "200",
         "--digest-updated", "10", "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    return proc, out


def test_exits_0_and_prints_the_table(bench):
    proc, _ = bench
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| Measurement | Digest Monitor |" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_whole_process_rows(bench):
    proc, out = bench
    wp = json.loads((out / "latest.json").read_text())["whole_process"]
    for key in ("help", "status", "fetch_warm", "reader_warm"):
        assert wp[key]["wall_s"] > 0 and wp[key]["cpu_s"] > 0, key
    assert wp["status_sources"] == 20 and wp["feeds"] == 20
    assert set(wp["targets"]) == {"help_s", "status_s", "fetch_vs_reader"}
    assert "| `monitor status`, 20 sources |" in proc.stdout


def test_json_has_every_metric(bench):
    _, out = bench
    latest = json.loads((out / "latest.json").read_text())
    dated = list(out.glob("20??-??-??.json"))
    assert len(dated) == 1 and json.loads(dated[0].read_text()) == latest
    for key in METRICS:
        value = _get(latest["metrics"], key)
        assert isinstance(value, (int, float)) and value > 0, (key, value)
    assert set(latest["targets"]) == {"cold_feed_vs_reader", "cold_feed_vs_floor", "warm_vs_reader",
                                      "peak_rss_mb", "digest_s", "all_edits_detected"}
    assert {"nproc", "cpu", "python"} <= set(latest["machine"])


def test_every_source_ingested_and_every_edit_detected(bench):
    _, out = bench
    latest = json.loads((out / "latest.json").read_text())
    run = latest["runs"][0]
    assert run["feed_cold"]["statuses"] == {"ok": 10}
    assert run["feed_warm"]["statuses"] == {"not_modified": 10}  # every feed answered 304
    assert run["mixed_warm"]["statuses"] == {"not_modified": 20}
    for cycle in ("feed_edit", "mixed_edit"):
        check = run[cycle]["check"]
        assert check["expected"] > 0 and check["ok"], check
    assert latest["metrics"]["edits"]["all_detected"] is True
    assert latest["metrics"]["digest"]["record"]["posts"] == 200
    assert latest["metrics"]["digest"]["with_updates"]["record"]["updated"] == 10
    assert latest["metrics"]["reader"]["by_workers"]["4"]["entries"] == 100


# -- what the benchmark measures must not change what is stored --------------------------------------------


def _ingest(site, db: Path, workers: int | str, edit_seed: int | None = None) -> list[tuple]:
    """Two runs; ``workers`` a number (each run starts and ends its own pool, as `monitor fetch`
    does) or ``"shared"`` (one pool kept across runs, as `monitor run` does)."""
    import asyncio
    import datetime as dt

    from monitor.config import parse_config
    from monitor.pipeline import Monitor
    from monitor.store import Store
    from monitor.workers import ParsePool

    sources = [{"name": n, "url": u, "type": k} for n, u, k in site.source_urls()]
    config = parse_config({"site": {"title": "t"}, "database": str(db), "sources": sources,
                           "fetch": {"per_host": 8}}, base_dir=db.parent)
    async def runs(store: Store) -> None:
        pool = ParsePool(2) if workers == "shared" else None
        app = Monitor(config, store, pool=pool, parse_workers=0 if pool else int(workers))
        try:
            for _ in range(2):  # a cold run, then (after the edits, if any) a second one
                results = await app.fetch()
                assert all(r.status in ("ok", "not_modified") for r in results), [r.error for r in results]
                if edit_seed is not None:
                    site.edit_fraction(0.1, seed=edit_seed)
        finally:
            if pool is not None:
                await pool.aclose()

    with Store.open(db) as store:
        store.sync_sources(config.sources, dt.datetime.now(dt.UTC))
        asyncio.run(runs(store))
        rows = store.db.conn.execute(
            "SELECT source, identity, title, excerpt, content, published, hash, versions FROM posts "
            "ORDER BY source, identity").fetchall()
        versions = store.db.conn.execute(
            "SELECT p.identity, v.number, v.title, v.excerpt, v.content, v.hash, v.changes FROM versions v "
            "JOIN posts p ON p.id = v.post_id ORDER BY p.identity, v.number").fetchall()
    base = site.base_url  # each server has its own port: compare everything but that
    return [tuple(v.replace(base, "BASE") if isinstance(v, str) else v for v in r) for r in rows + versions]


def test_parse_workers_store_exactly_what_inline_parsing_stores(tmp_path):
    from sample_site.server import serve
    from sample_site.site import generate_site

    from monitor.pipeline import POOL_MIN_SOURCES

    stored = {}
    for workers in (0, 2, "shared"):
        site = generate_site(POOL_MIN_SOURCES * 2, per_page=5)  # html sources span two pages
        with serve(site):
            stored[workers] = _ingest(site, tmp_path / f"w{workers}.db", workers, edit_seed=3)
    assert stored[0] and stored[0] == stored[2] == stored["shared"]


def test_no_python_for_workers_means_parsing_in_this_process(tmp_path, monkeypatch):
    import sys as _sys

    from sample_site.server import serve
    from sample_site.site import generate_site

    from monitor.pipeline import POOL_MIN_SOURCES

    site = generate_site(POOL_MIN_SOURCES, per_page=10)
    with serve(site):
        expected = _ingest(site, tmp_path / "inline.db", 0)
        monkeypatch.setattr(_sys, "executable", "/bin/false")  # the workers cannot start
        assert _ingest(site, tmp_path / "fallback.db", 2) == expected


# -- bench/service.py: the service (`monitor run`) as a whole process ---------------------------------------


@pytest.fixture(scope="module")
def service_bench(tmp_path_factory):
    """Every row of bench/service.py on a tiny site, through bench/run.py's ``--service`` flag."""
    out = tmp_path_factory.mktemp("service-bench")
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--service", "--quick", "--n", "12", "--runs", "1", "--idle-seconds", "3",
         "--steady-window", "3", "--memory-minutes", "0.4", "--short-seconds", "13", "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=400, cwd=ROOT,
    )
    return proc, out


def test_service_bench_exits_0_and_prints_every_row(service_bench):
    proc, out = service_bench
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for row in ("first cycle vs cold `monitor fetch`", "Warm source run (304)", "sources due hourly",
                "Nothing due", "RSS over", "`every: 5s`"):
        assert row in proc.stdout, row
    rows = json.loads((out / "service-latest.json").read_text())["rows"]
    assert set(rows) == {"cold", "idle", "steady", "memory", "short"}


def test_service_bench_measures_what_it_says(service_bench):
    """Timings are not asserted; what the service did in each window is."""
    _, out = service_bench
    rows = json.loads((out / "service-latest.json").read_text())["rows"]
    cold = rows["cold"]
    assert cold["fetches"][0]["exit_code"] == 0
    service = cold["services"][0]
    assert service["statuses"] == {"ok": 12}  # the first cycle ingested every source, once
    assert service["stop"] == {**service["stop"], "exit_code": 0, "traceback": False}  # SIGTERM: clean
    assert cold["ratio"] > 0 and cold["fetch_wall_s"] > 0
    # nothing due: not one source ran in the idle window
    assert rows["idle"]["sources"] == 12 and rows["idle"]["source_runs_in_window"] == 0
    # the warm window holds only warm runs: every one a 304, at both sizes
    for size, n in (("small", 12), ("large", 120)):
        warm = rows["steady"][size]["warm"]
        assert rows["steady"][size]["sources"] == n
        assert warm["source_runs"] > 0 and warm["statuses"] == {"not_modified": warm["source_runs"]}
        assert isinstance(warm["cpu_ms_per_run"], float)  # CPU clock ticks are 10 ms: may be 0.0 here
    assert rows["steady"]["hourly"]["sources"] == 120 and rows["steady"]["hourly"]["peak_rss_mb"] > 0
    memory = rows["memory"]
    assert memory["samples"] and all(s[1] > 0 for s in memory["samples"])
    assert isinstance(memory["slope_mb_per_min"], float)
    short = rows["short"]
    # a source never runs before its interval (minus the 10% jitter) has passed
    assert short["gaps"] > 0 and short["min_s"] >= 4.5
