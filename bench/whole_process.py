#!/usr/bin/env python
"""Whole-process timings: what a user (or cron) pays, start-up included.

::

    python bench/whole_process.py                  --help, status at 1,000 sources, warm fetch of 300 feeds
    python bench/whole_process.py --runs 5 --feeds 300 --status-sources 1000

``bench/run.py`` times the work inside one process; this times ``python -m monitor ...`` from
exec to exit, the way ``run --once`` from cron runs it, against reader's whole process doing the
same work (a script that opens reader and calls ``update_feeds(scheduled=False, workers=W)``, W
tried in 1, 4, 8, 16 and the best kept; reader has sgmllib3k, as feedparser wants). Rows:

- ``monitor --help``
- ``monitor status`` over a config of 1,000 sources (database already created and registered)
- warm ``monitor fetch`` of 300 RSS feeds (every answer a 304) vs reader's warm update of the same

Each figure is the median of ``--runs`` processes, wall and CPU (user + system of the child, from
``wait4``); on a shared machine the CPU figure is the steadier one. The sample site runs in a
thread of this (driver) process. Called by ``bench/run.py`` too (its ``whole_process`` key).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
READER_WORKERS = (1, 4, 8, 16)
#: as in bench/run.py: every source is on one local host, so politeness limits are lifted
BENCH_FETCH = {"per_host": 16, "concurrency": 32}
TARGETS = {"help_s": 0.150, "status_s": 0.150, "fetch_vs_reader": 3.0}

READER_SCRIPT = """
import json, logging, sys
from reader import make_reader
logging.getLogger("reader").setLevel(logging.CRITICAL)
db, workers, urls = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]) if len(sys.argv) > 3 else []
reader = make_reader(db)
for url in urls:
    reader.add_feed(url, exist_ok=True)
reader.update_feeds(scheduled=False, workers=workers)
errors = sum(1 for f in reader.get_feeds() if f.last_exception)
reader.close()
sys.exit(1 if errors else 0)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("MONITOR_FAKE_NOW", None)
    # as users run it: .pyc files written on the warm-up run and used after (a CI or agent
    # environment may set this, and then every start compiles the package from source)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(cmd: list[str], cwd: Path, *, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one process run to completion."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def median_of(cmd: list[str], cwd: Path, runs: int, *, warmup: int = 1) -> dict[str, Any]:
    for _ in range(warmup):  # the page cache and .pyc files, not what we measure
        timed(cmd, cwd)
    samples = [timed(cmd, cwd) for _ in range(runs)]
    return {"wall_s": statistics.median(s[0] for s in samples), "cpu_s": statistics.median(s[1] for s in samples),
            "walls": [round(s[0], 4) for s in samples]}


def _write_config(path: Path, sources: list[dict[str, Any]], db: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"site": {"title": "Bench"}, "database": str(db),
                                    "output_dir": str(path.parent / "site"), "fetch": BENCH_FETCH,
                                    "sources": sources}, allow_unicode=True))
    return path


def measure(*, runs: int = 7, status_sources: int = 1000, feeds: int = 300, work: Path,
            log: Any = None, reader_workers: tuple[int, ...] = READER_WORKERS) -> dict[str, Any]:
    from sample_site.server import serve
    from sample_site.site import generate_site

    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    monitor = [sys.executable, "-m", "monitor"]
    out: dict[str, Any] = {"runs": runs, "status_sources": status_sources, "feeds": feeds}

    out["help"] = median_of([*monitor, "--help"], work, runs)
    say(f"  monitor --help: {out['help']['wall_s'] * 1000:.0f} ms wall, {out['help']['cpu_s'] * 1000:.0f} ms CPU")

    status_cfg = _write_config(work / "status.yaml", [
        {"name": f"source {i}", "url": f"http://127.0.0.1:9/{i}/feed/", "type": "feed", "every": "1h"}
        for i in range(status_sources)], work / "status.db")
    cmd = [*monitor, "--config", str(status_cfg), "status"]
    timed(cmd, work)  # creates the database and registers the sources (as any first command does)
    out["status"] = median_of(cmd, work, runs)
    say(f"  monitor status ({status_sources} sources): {out['status']['wall_s'] * 1000:.0f} ms wall, "
        f"{out['status']['cpu_s'] * 1000:.0f} ms CPU")

    site = generate_site(feeds, posts_per_source=10, feed_fraction=1.0, content_bytes=2000, seed=0, per_page=10)
    with serve(site) as server:
        sources = [{"name": n, "url": u, "type": k} for n, u, k in site.source_urls(server.url)]
        urls = [s["url"] for s in sources]
        fetch_cfg = _write_config(work / "fetch.yaml", sources, work / "fetch.db")
        cmd = [*monitor, "--config", str(fetch_cfg), "fetch"]
        timed(cmd, work)  # cold: fills the database; every later run is all 304s
        out["fetch_warm"] = median_of(cmd, work, runs)
        say(f"  monitor fetch, warm, {feeds} feeds: {out['fetch_warm']['wall_s']:.3f} s wall, "
            f"{out['fetch_warm']['cpu_s']:.3f} s CPU")
        script = work / "reader_update.py"
        script.write_text(READER_SCRIPT)
        by_workers: dict[str, Any] = {}
        for w in reader_workers:
            db = work / f"reader-{w}.db"
            timed([sys.executable, str(script), str(db), str(w), json.dumps(urls)], work)  # cold
            by_workers[str(w)] = median_of([sys.executable, str(script), str(db), str(w)], work, runs)
            say(f"  reader update_feeds(workers={w}), warm: {by_workers[str(w)]['wall_s']:.3f} s wall, "
                f"{by_workers[str(w)]['cpu_s']:.3f} s CPU")
        best = min(by_workers, key=lambda k: by_workers[k]["wall_s"])
        out["reader_warm"] = {**by_workers[best], "workers": int(best), "by_workers": by_workers}
    out["ratios"] = {
        "fetch_vs_reader": out["reader_warm"]["wall_s"] / out["fetch_warm"]["wall_s"],
        "fetch_vs_reader_cpu": out["reader_warm"]["cpu_s"] / out["fetch_warm"]["cpu_s"],
    }
    out["targets"] = {
        "help_s": {"target": TARGETS["help_s"], "value": out["help"]["wall_s"],
                   "met": out["help"]["wall_s"] <= TARGETS["help_s"]},
        "status_s": {"target": TARGETS["status_s"], "value": out["status"]["wall_s"],
                     "met": out["status"]["wall_s"] <= TARGETS["status_s"]},
        "fetch_vs_reader": {"target": TARGETS["fetch_vs_reader"], "value": out["ratios"]["fetch_vs_reader"],
                            "met": out["ratios"]["fetch_vs_reader"] >= TARGETS["fetch_vs_reader"]},
    }
    return out


def table(wp: dict[str, Any]) -> str:
    mark = {True: "yes", False: "NO"}
    t, r = wp["targets"], wp["reader_warm"]

    def ms(x: dict[str, Any]) -> str:
        return f"{x['wall_s'] * 1000:.0f} ms (CPU {x['cpu_s'] * 1000:.0f} ms)"

    rows = [
        ("`monitor --help`", ms(wp["help"]), "-", f"<= 150 ms: {mark[t['help_s']['met']]}"),
        (f"`monitor status`, {wp['status_sources']:,} sources", ms(wp["status"]), "-",
         f"<= 150 ms: {mark[t['status_s']['met']]}"),
        (f"warm `monitor fetch`, {wp['feeds']} feeds (all 304)",
         f"{wp['fetch_warm']['wall_s']:.3f} s (CPU {wp['fetch_warm']['cpu_s']:.3f} s)",
         f"{r['wall_s']:.3f} s (CPU {r['cpu_s']:.3f} s, workers={r['workers']})",
         f"{wp['ratios']['fetch_vs_reader']:.1f}x faster than reader (>= 3): {mark[t['fetch_vs_reader']['met']]}"),
    ]
    head = ("Whole process (exec to exit, median)", "Digest Monitor", "reader", "Target")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="processes per figure, median taken (default 7)")
    ap.add_argument("--status-sources", type=int, default=1000)
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the package and the sample site
    with tempfile.TemporaryDirectory(prefix="monitor-whole-") as tmp:
        res = measure(runs=args.runs, status_sources=args.status_sources, feeds=args.feeds, work=Path(tmp))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
