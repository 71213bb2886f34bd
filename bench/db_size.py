#!/usr/bin/env python
"""How big the database gets per source per year: measured, not guessed.

::

    python bench/db_size.py                         20 sources, hourly, 90 simulated days (~1-2 min)
    python bench/db_size.py --sources 50 --days 120 --posts-per-week 3 --retention 30d

A generated sample site (half WordPress-like author pages, half RSS author feeds, full-content
items of ~2 KB HTML) is served on 127.0.0.1 and polled by one :class:`monitor.pipeline.Monitor`
whose clock is fake: each cycle moves it on by ``--every``, so months pass in a minute and every
source runs as often as it would in production (each run a real conditional GET: a 304, or a
200 when the author posted). Every author posts ``--posts-per-week`` new posts (spread over the
week) and edits one old post a week.

The size is the database file after a WAL checkpoint, sampled every simulated day. ``fetch_log``
grows until ``fetch.log_retention`` and then stays level, so the growth after the retention
window is what posts and versions cost; a year is extrapolated from that slope:
``size(retention) + slope * (365 - retention days)``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))  # the sample site

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, 0, tzinfo=UTC)  # a Monday


def _size(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return db.stat().st_size


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def measure(n_sources: int, days: int, every_s: float, posts_per_week: int, retention: str,
            work: Path) -> dict[str, Any]:
    from sample_site.server import serve
    from sample_site.site import generate_site

    from monitor.config import parse_config
    from monitor.pipeline import Monitor

    site = generate_site(n_sources, posts_per_source=10, feed_fraction=0.5, content_bytes=2000, seed=0,
                         per_page=10)
    authors = site.authors
    filler = ("<p>" + "A paragraph of the kind an author writes, with a link or two and some names. " * 25
              + "</p>")
    with serve(site) as server:
        config = parse_config({
            "site": {"title": "Size"}, "database": str(work / "m.db"), "output_dir": str(work / "site"),
            "fetch": {"per_host": 16, "concurrency": 32, "log_retention": retention},
            "sources": [{"name": n, "url": u, "type": k, "every": f"{every_s}s", "robots": False}
                        for n, u, k in site.source_urls(server.url)],
        }, base_dir=work)
        now = [T0]
        app = Monitor.open(config, clock=lambda: now[0])
        db = config.database
        cycles_per_day = round(86400 / every_s)
        post_every = 7 * cycles_per_day / posts_per_week if posts_per_week else None
        samples: list[dict[str, Any]] = []
        t_start = time.monotonic()
        next_post = post_every or 0.0
        try:
            for cycle in range(days * cycles_per_day):
                now[0] = T0 + dt.timedelta(seconds=cycle * every_s)
                if post_every is not None and cycle >= next_post:
                    next_post += post_every
                    for a in authors:
                        site.add_post(a.slug, f"{a.name}: a post of {now[0]:%Y-%m-%d %H:%M}", now[0],
                                      f"{a.name}, {now[0]:%d %B %Y}: what happened this week, in brief.",
                                      filler)
                if cycle % (7 * cycles_per_day) == 3 * cycles_per_day:  # one edit per author a week
                    for a in authors:
                        p = a.posts[len(a.posts) // 2]
                        site.edit_post(p.post_id, title=p.title + " (corrected)")
                results = app.fetch_sync()
                failed = [r for r in results if not r.ok]
                if failed:
                    raise SystemExit(f"day {cycle / cycles_per_day:.1f}: {failed[0].source}: {failed[0].error}")
                if (cycle + 1) % cycles_per_day == 0:
                    day = (cycle + 1) // cycles_per_day
                    samples.append({"day": day, "bytes": _size(db),
                                    "fetch_log_rows": _count(db, "SELECT count(*) FROM fetch_log"),
                                    "posts": _count(db, "SELECT count(*) FROM posts"),
                                    "versions": _count(db, "SELECT count(*) FROM versions")})
                    print(f"day {day:4d}: {samples[-1]['bytes'] / 1e6:7.2f} MB, "
                          f"{samples[-1]['fetch_log_rows']} log rows, {samples[-1]['posts']} posts "
                          f"({time.monotonic() - t_start:.0f} s)", file=sys.stderr, flush=True)
        finally:
            app.close()
    ret_days = config.fetch.log_retention / 86400
    after = [s for s in samples if s["day"] >= ret_days + 1]
    if len(after) < 2:
        raise SystemExit(f"--days must be at least the retention ({ret_days:g} days) + 2")
    first, last = after[0], after[-1]
    slope = (last["bytes"] - first["bytes"]) / (last["day"] - first["day"])  # bytes per day, all sources
    year = first["bytes"] + slope * (365 - first["day"])
    posts_per_day = (last["posts"] - first["posts"]) / (last["day"] - first["day"])
    return {
        "sources": n_sources, "days": days, "every_s": every_s, "posts_per_week": posts_per_week,
        "retention_days": ret_days, "samples": samples,
        "bytes_per_day": slope, "bytes_per_year_extrapolated": year,
        "bytes_per_source_per_year": year / n_sources,
        "bytes_per_new_post": slope / posts_per_day if posts_per_day else None,
        "fetch_log_rows_steady": last["fetch_log_rows"],
    }


def main(argv: list[str] | None = None) -> int:
    from monitor.config import parse_duration

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=20)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--every", default="1h", help="polling interval of every source [1h]")
    ap.add_argument("--posts-per-week", type=int, default=7, help="new posts per author per week [7]")
    ap.add_argument("--retention", default="30d", help="fetch.log_retention [30d]")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="monitor-dbsize-") as tmp:
        res = measure(args.sources, args.days, parse_duration(args.every, "--every"), args.posts_per_week,
                      args.retention, Path(tmp))
    print(f"{res['sources']} sources polled every {args.every} for {res['days']} days, "
          f"{res['posts_per_week']} new posts per source per week, fetch_log kept {res['retention_days']:g} days:")
    print(f"  after the retention window: +{res['bytes_per_day'] / 1e3:.0f} kB/day "
          f"({res['bytes_per_new_post'] / 1e3:.1f} kB per new post)" if res["bytes_per_new_post"] else "")
    print(f"  one year: {res['bytes_per_year_extrapolated'] / 1e6:.1f} MB = "
          f"{res['bytes_per_source_per_year'] / 1e6:.2f} MB per source per year")
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
