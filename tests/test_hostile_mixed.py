"""The whole promise in one run: good sources next to every hostile endpoint.

``monitor fetch`` over a config that mixes the sample WordPress-like site's sources with every case
of :mod:`tests.hostile_server` must exit 1 within a minute (a hang bound, not a speed target),
store every good post exactly as a run without the hostile sources would, name the reason for every
bad one (in the fetch output and in ``monitor status``), keep its memory bounded, and leave a
database that passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import pytest
from hostile_server import (
    CASES,
    SECRET,
    all_text,
    check_database,
    db_rows,
)
from sample_site.server import serve
from sample_site.site import SampleSite

from monitor.demo.seeds import load_seed_authors

SEEDS = {a.slug: a for a in load_seed_authors()}
HANG_BOUND = 60  # seconds: the slowest hostile case is bounded by fetch.deadline (4 s), not by the server
MEMORY_BOUND_MB = 300


def _interleave(hostile_sources: list, good: list) -> list:
    """Good and hostile interleaved, so good sources share the run with hostile ones at every point."""
    sources = []
    for i, src in enumerate(hostile_sources):
        sources.append(src)
        if i % 11 == 0 and good:
            sources.append(good.pop(0))
    return sources + good


@pytest.fixture(scope="module")
def world(tmp_path_factory, hostile_world):
    tmp = tmp_path_factory.mktemp("mixed")
    site = SampleSite.from_seeds()
    with serve(site) as running:
        base = running.url
        good = [
            {"name": "Massoud (text)", "type": "auto",
             "url": site.author_url("massoud-khodabandeh", "wordpress", base_url=base)},
            {"name": "Iran Interlink (classic)", "type": "html",
             "url": site.author_url("iran-interlink", "classic", base_url=base)},
            {"name": "Ali (block)", "type": "auto", "url": site.author_url("ali-alavi", "block", base_url=base)},
            {"name": "Iran Interlink (feed)", "type": "feed",
             "url": site.feed_url("iran-interlink", "classic", base_url=base)},
        ]
        expected = {
            "Massoud (text)": SEEDS["massoud-khodabandeh"].posts,
            "Iran Interlink (classic)": SEEDS["iran-interlink"].posts,
            "Ali (block)": SEEDS["ali-alavi"].posts,
            "Iran Interlink (feed)": SEEDS["iran-interlink"].posts[:10],
        }
        with hostile_world(tmp, CASES, extra=good, order=_interleave) as w:
            # the pages that stop showing their posts need a run that saw them first
            first = w.fetch("vanishing", "shrinking")
            assert first.returncode == 0, first.stdout
            w.hostile.flip("vanishing")
            w.hostile.flip("shrinking")
            fetch = w.fetch(timeout=HANG_BOUND + 30)
            yield {"tmp": tmp, "db": w.db, "fetch": fetch, "expected": expected, "status": w.status()}


def test_mixed_run_exits_1_within_a_minute_stores_every_good_post_and_names_every_reason(world):
    run = world["fetch"]
    run.assert_no_traceback()
    assert run.returncode == 1
    assert run.elapsed < HANG_BOUND, f"the run took {run.elapsed:.0f} s"
    lines = run.lines()
    assert len(lines) == len(CASES) + len(world["expected"])

    # every good source ingested normally, every post of it stored once
    for name, seed_posts in world["expected"].items():
        assert lines[name].startswith(f"{name}: new {len(seed_posts)}, changed 0, unchanged 0"), lines[name]
        titles = sorted(r["title"] for r in db_rows(world["db"], "SELECT title FROM posts WHERE source = ?", [name]))
        assert titles == sorted(p.title for p in seed_posts), name

    # every hostile source: its own line, with its reason
    for case in CASES:
        line = lines[case.name]
        if case.expect == "ok":
            assert line.startswith(f"{case.name}: new "), line
            continue
        assert case.matches(line), line
        row = world["status"][case.name]
        assert row["result"] == "error" and row["last_error"] and row["last_error"] in line, row

    failed = sum(c.expect != "ok" for c in CASES)
    assert f", {failed} failed" in run.stdout.splitlines()[-1]
    check_database(world["db"])
    assert SECRET not in all_text(world["db"])


def test_mixed_run_memory_is_bounded(world):
    run = world["fetch"]
    assert run.maxrss_mb < MEMORY_BOUND_MB, f"peak RSS {run.maxrss_mb:.0f} MB"
    # parsing may happen in worker processes: the whole tree, shared pages counted once
    assert run.tree_peak_mb < MEMORY_BOUND_MB, f"peak of the process tree {run.tree_peak_mb:.0f} MB"
