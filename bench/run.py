#!/usr/bin/env python
"""Benchmark Digest Monitor against lemon24's ``reader`` and against the parsing floor.

::

    python bench/run.py                  N=1,000 sources, 3 runs, medians  (~4 min on 2 cores)
    python bench/run.py --quick          1 run, reader with 4 workers only  (~1.5 min)
    python bench/run.py --n 200 --runs 5 --out /tmp/bench --profile
    python bench/run.py --service [...]  the service (`monitor run`) rows instead: bench/service.py

``--profile`` writes pyinstrument profiles of run 1 to ``<out>/profiles/`` (to read, not to
quote: the profiler slows what it profiles, so that run's numbers are pessimistic).
``results/baseline-before-optimizations.json`` is the run before issue 5's changes.

What runs where (every measurement in its own fresh process, so each one's peak RSS is its own)::

    parent (this script)            drives, never measures itself
    +-- _serve   child              generate_site(N, per_page=10) behind sample_site.server.serve;
    |                               JSON commands on stdin: edit (edit_fraction), stats, stop
    +-- _monitor child  x cycles    Store.open -> run_once -> close, timed; reports VmHWM
    +-- _reader  child  x cycles    make_reader -> update_feeds(scheduled=False, workers=W), timed
    +-- _floor   child              monitor.extract.extract on pre-downloaded bodies, one process
    +-- _digest  child              publish_digests for a week of 10,000 posts, timed

The site: N sources, half WordPress-like author pages (10 posts on one page, rotating the
classic, block, text and query-style themes), half RSS author feeds of 10 full-content items
(~2 KB of HTML each). It answers conditional GETs (ETag / Last-Modified -> 304).

Per run: our monitor on the feed half (cold into an empty DB, warm with nothing changed) and on
the full mixed site (cold, warm); reader on the feed half (cold, warm) for each worker count;
then the server edits 5% of all posts and both of our DBs run an edit cycle, whose changed posts
(``versions > 1``) must be exactly the edited posts in scope. Medians over the runs.

Results: a table on stdout, ``<out>/latest.json`` and a dated copy ``<out>/YYYY-MM-DD.json``.
Besides wall times the JSON has the CPU seconds of every measured process (parse workers
included) and how many cores other processes kept busy meanwhile (``background_cores``): on a
shared VM the wall times of two runs are only comparable when that is near zero.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import pickle
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Self

HERE = Path(__file__).resolve().parent
# the sample site (generator and server) is test support, not part of the package
sys.path.insert(0, str(HERE.parent / "tests"))
DEFAULT_OUT = HERE / "results"
EDIT_FRACTION = 0.05
READER_WORKERS = (1, 4, 8, 16)
QUICK_READER_WORKERS = (4,)
#: Fetch settings for our monitor in the benchmark. Every source sits on one local host, so the
#: default politeness (2 requests in flight per host) would measure politeness, not the code;
#: reader gets its best worker count too.
BENCH_FETCH = {"per_host": 16, "concurrency": 32}

TARGETS = {
    "cold_feed_vs_reader": 2.0,  # ours throughput / reader's >= 2
    "cold_feed_vs_floor": 1.3,  # ours wall / floor <= 1.3
    "warm_vs_reader": 3.0,  # reader wall / ours >= 3
    "peak_rss_mb": 200.0,  # <= 200 MB
    "digest_s": 1.0,  # < 1 s
}


# =================================================================================================
# children
# =================================================================================================


def _vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak resident set size of a process, from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds of this process and of its (finished) children: the work, whatever the load."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class _TreeSampler:
    """Watches this process's children (the parse workers) every 50 ms, in a thread of this
    process costing it ~0.1 ms a time (listing and reading every process of the machine instead
    cost ~2 ms, and held the event loop's GIL as long): each one's peak RSS
    (VmHWM, read until it exits) and the largest sum of current RSS over the whole tree.

    (RUSAGE_CHILDREN cannot say this: a child that forks then execs keeps the parent's RSS at
    the fork as its own maximum.)"""

    def __init__(self) -> None:
        import threading

        self.me = os.getpid()
        with open("/proc/self/cmdline", "rb") as f:
            self._my_cmdline = f.read()
        self.child_hwm: dict[int, float] = {}
        self.tree_max = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @staticmethod
    def _status(pid: int | str) -> dict[str, float]:
        out = {}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:", "PPid:")):
                        key, value = line.split(":", 1)
                        out[key] = float(value.split()[0])
        except (OSError, ValueError):
            pass
        return out

    def _execed(self, pid: int) -> bool:
        """Between fork and exec a child still shows this process's memory: not counted."""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read() != self._my_cmdline
        except OSError:
            return False

    def _children(self) -> list[int]:
        """This process's children: from /proc/self/task/*/children (a few small reads, so the
        sampler costs the measured process next to nothing), else by scanning every process."""
        try:
            pids: list[int] = []
            for tid in os.listdir("/proc/self/task"):
                with open(f"/proc/self/task/{tid}/children") as f:
                    pids += [int(p) for p in f.read().split()]
            return pids
        except (OSError, ValueError):
            pass
        try:
            return [pid for pid in (int(d) for d in os.listdir("/proc") if d.isdigit())
                    if self._status(pid).get("PPid") == self.me]
        except OSError:
            return []

    def _sample(self) -> None:
        total = self._status("self").get("VmRSS", 0.0) / 1024
        for pid in self._children():
            st = self._status(pid)
            if "VmHWM" in st and self._execed(pid):
                self.child_hwm[pid] = st["VmHWM"] / 1024
                total += st.get("VmRSS", 0.0) / 1024
        self.tree_max = max(self.tree_max, total)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()


def _profiled(spec: dict[str, Any], fn):  # type: ignore[no-untyped-def]
    """Run ``fn()``; with spec["profile"] set, under pyinstrument, writing text + HTML there."""
    path = spec.get("profile")
    if not path:
        return fn()
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="enabled")
    profiler.start()
    try:
        return fn()
    finally:
        profiler.stop()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path + ".txt").write_text(profiler.output_text(unicode=True, show_all=False))
        Path(path + ".html").write_text(profiler.output_html())


def child_serve(spec: dict[str, Any]) -> None:
    """Serve the sample site; answer JSON commands on stdin, one per line."""
    from sample_site.server import serve
    from sample_site.site import generate_site

    site = generate_site(spec["n"], posts_per_source=10, feed_fraction=0.5, content_bytes=2000, seed=0,
                         per_page=10)
    server = serve(site)
    kinds = {a.slug: a.kind for a in site.authors}
    print(json.dumps({"url": server.url, "sources": site.source_urls(), "posts": len(site.all_posts())}),
          flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "edit":
            ids = site.edit_fraction(cmd["fraction"], seed=cmd["seed"])
            edited = []
            for pid in ids:
                p = site.post(pid)
                edited.append({"id": pid, "url": site.post_url(pid), "what": site.last_edits[pid],
                               "kind": kinds[p.author_slug]})
            out: dict[str, Any] = {"edited": edited}
        elif cmd["cmd"] == "prime":
            # render (and gzip) every source body now, so no measurement pays the server's first
            # render (edit_fraction drops the server's cache)
            for _, url, _ in site.source_urls():
                target = url[len(server.url):]
                site.render(target, server.url).gzipped()
            out = {"primed": True}
        elif cmd["cmd"] == "stats":
            with server._lock:
                statuses: dict[str, int] = {}
                for r in server.log:
                    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
            server.reset_hits()
            out = {"statuses": statuses, "errors": [repr(e) for e in server.errors]}
        elif cmd["cmd"] == "stop":
            server.stop()
            print(json.dumps({"stopped": True}), flush=True)
            return
        else:
            out = {"error": f"unknown command {cmd!r}"}
        print(json.dumps(out), flush=True)


def child_monitor(spec: dict[str, Any]) -> dict[str, Any]:
    """One poll cycle of our monitor over the configured sources, timed.

    The modules a cycle uses are imported before the clock starts, as in the peer's child (which
    imports reader up front): the package imports its parsers and HTTP client lazily, so a
    process's start-up would otherwise land inside the first cycle. Start-up is measured on its
    own by the whole-process rows (bench/whole_process.py).
    """
    import aiohttp  # noqa: F401 -- imported before the clock, see above

    import monitor.extract
    import monitor.fetch
    import monitor.pipeline.ingest
    import monitor.workers  # noqa: F401
    from monitor.config import parse_config
    from monitor.pipeline import run_once
    from monitor.store import Store

    config = parse_config(spec["config"], base_dir=Path(spec["config"]["database"]).parent)

    def cycle() -> tuple[float, list[Any]]:
        t0 = time.perf_counter()
        store = Store.open(config.database)
        try:
            results = run_once(config, store)
        finally:
            store.close()
        return time.perf_counter() - t0, results

    cpu0 = _cpu_s()
    with _TreeSampler() as tree:
        wall, results = _profiled(spec, cycle)
    cpu = _cpu_s() - cpu0
    rss = _vm_hwm_mb()
    workers = len(tree.child_hwm)
    statuses: dict[str, int] = {}
    errors = []
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if r.error:
            errors.append(f"{r.source}: {r.error}")
    conn = sqlite3.connect(config.database)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    posts = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    changed_urls = [u for (u,) in conn.execute("SELECT url FROM posts WHERE versions > 1")]
    conn.close()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "sources": len(results),
        "statuses": statuses,
        "errors": errors[:10],
        "new": sum(r.new for r in results),
        "changed": sum(r.changed for r in results),
        "unchanged": sum(r.unchanged for r in results),
        "posts_in_db": posts,
        "changed_urls": changed_urls,
        "db_bytes": os.path.getsize(config.database),
        "peak_rss_mb": rss,
        "children_peak_rss_mb": max(tree.child_hwm.values(), default=0.0),
        "parse_workers": workers,
        # the whole process tree: each process at its own peak, summed (an upper bound) ...
        "tree_peak_rss_mb": rss + sum(tree.child_hwm.values()),
        # ... and the largest sum of current RSS seen (sampled every 50 ms)
        "tree_sampled_rss_mb": tree.tree_max,
    }


def child_reader(spec: dict[str, Any]) -> dict[str, Any]:
    """reader updating the feeds: cold (fresh DB, add_feed untimed) or warm (same DB)."""
    import logging

    from reader import make_reader

    logging.getLogger("reader").setLevel(logging.CRITICAL)
    reader = make_reader(spec["db"])
    if spec["phase"] == "cold":
        for url in spec["urls"]:
            reader.add_feed(url, exist_ok=True)

    def cycle() -> float:
        t0 = time.perf_counter()
        reader.update_feeds(scheduled=False, workers=spec["workers"])
        return time.perf_counter() - t0

    cpu0 = _cpu_s()
    wall = _profiled(spec, cycle)
    cpu = _cpu_s() - cpu0
    counts = reader.get_entry_counts()
    errors = sum(1 for f in reader.get_feeds() if f.last_exception)
    reader.close()
    return {"wall_s": wall, "cpu_s": cpu, "entries": counts.total, "feed_errors": errors, "peak_rss_mb": _vm_hwm_mb()}


def child_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """The parsing our monitor does, alone: monitor.extract.extract over pre-downloaded bodies."""
    from zoneinfo import ZoneInfo

    from monitor.extract import extract

    with open(spec["bodies"], "rb") as f:
        bodies = pickle.load(f)
    tz = ZoneInfo(spec.get("tz", "UTC"))
    out: dict[str, Any] = {}
    for kind in ("feed", "html"):
        chosen = [b for b in bodies if b["kind"] == kind]

        def parse_all(chosen: list[dict[str, Any]] = chosen, kind: str = kind) -> tuple[float, float, int]:
            t0, c0 = time.perf_counter(), time.process_time()
            n = 0
            for b in chosen:
                page = extract(b["content"], url=b["url"], headers=b["headers"], tz=tz, kind=kind)
                n += len(page.posts)
            return time.perf_counter() - t0, time.process_time() - c0, n

        sub = dict(spec, profile=spec["profile"] + f"-{kind}" if spec.get("profile") else None)
        wall, cpu, n = _profiled(sub, parse_all)
        out[kind] = {"wall_s": wall, "cpu_s": cpu, "bodies": len(chosen), "posts": n}
    out["peak_rss_mb"] = _vm_hwm_mb()
    return out


def _digest_config(db: str, out_dir: str) -> dict[str, Any]:
    return {"site": {"title": "Bench Digest", "url": "http://127.0.0.1:8000/"}, "database": db,
            "output_dir": out_dir, "timezone": "UTC",
            "sources": [{"name": "bench", "url": "http://127.0.0.1:8000/"}]}


DIGEST_WEEK_ENDING = dt.date(2021, 10, 29)  # a Friday: weeks end on Fridays by default


def child_digest_build(spec: dict[str, Any]) -> dict[str, Any]:
    """Two databases for the digest of one week.

    ``db``: ``posts`` posts published in the week (5% of them edited later that week).
    ``db_updates``: the same plus ``updated`` posts of the week before, each edited in the week,
    so the digest also lists updates and writes a history page for each.
    """
    from zoneinfo import ZoneInfo

    from sample_site.site import generate_site

    from monitor import digest as dg
    from monitor.detect import decide, post_write
    from monitor.extract import post_identity
    from monitor.models import PostData, PostWrite, RunWrites, SourceResult
    from monitor.store import Store

    n_posts, n_older, per_source = spec["posts"], spec["updated"], 100
    tz = ZoneInfo("UTC")
    start, end = dg.week_window(DIGEST_WEEK_ENDING, "friday", tz)
    week = end - start
    span = week.total_seconds() - 7200
    n_sources = max(1, -(-(n_posts + n_older) // per_source))
    site = generate_site(n_sources, posts_per_source=per_source, feed_fraction=1.0, content_bytes=2000, seed=1)
    base = "https://digest.example.org"
    samples = [(a, p) for a in site.authors for p in a.posts]

    def post_data(a: Any, p: Any, published: dt.datetime) -> PostData:
        return PostData(url=site.post_url(p.post_id, base_url=base), title=p.title, published=published,
                        excerpt=p.body_line, content=p.content_html, author=a.name, wp_id=p.post_id,
                        guid=f"{base}/?p={p.post_id}", origin="feed")

    def ingest(store: Store, items: list[tuple[Any, PostData]], seen: dt.datetime) -> None:
        by_source: dict[str, list[PostWrite]] = {}
        for a, pd in items:
            identity, url_key = post_identity(pd)
            by_source.setdefault(a.name, []).append(
                post_write(pd, identity, url_key, decide(None, pd, tz=tz), None))
        for source, obs in by_source.items():
            store.sync_sources([_Src(source, base)], seen)
            store.apply_run(RunWrites(source=source, started_at=seen, finished_at=seen,
                                      result=SourceResult(source, "ok", new=len(obs)), posts=obs))

    def edit(store: Store, items: list[tuple[Any, PostData]], seen: dt.datetime) -> None:
        by_source: dict[str, list[PostData]] = {}
        for a, pd in items:
            by_source.setdefault(a.name, []).append(pd)
        for source, pds in by_source.items():
            by_id, _ = store.posts_of_source(source)
            obs = []
            for pd in pds:
                new = PostData(url=pd.url, title=pd.title + " (updated)", published=pd.published,
                               excerpt=pd.excerpt, content=pd.content + "<p><strong>Update:</strong> corrected.</p>",
                               author=pd.author, wp_id=pd.wp_id, guid=pd.guid, origin="feed")
                identity, url_key = post_identity(new)
                old = by_id[identity]
                d = decide(old, new, tz=tz)
                obs.append(post_write(new, identity, url_key, d, old))
            store.apply_run(RunWrites(source=source, started_at=seen, finished_at=seen,
                                      result=SourceResult(source, "ok", changed=len(obs)), posts=obs))

    in_week = [(a, post_data(a, p, start + dt.timedelta(seconds=span * i / n_posts)))
               for i, (a, p) in enumerate(samples[:n_posts])]
    older = [(a, post_data(a, p, start - week + dt.timedelta(seconds=span * i / max(n_older, 1))))
             for i, (a, p) in enumerate(samples[n_posts:n_posts + n_older])]
    store = Store.open(spec["db"])
    ingest(store, in_week, start + dt.timedelta(hours=1))
    edit(store, in_week[7::20], end - dt.timedelta(hours=1))
    posts, edited = store.count_posts(), len(in_week[7::20])
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    shutil.copy(spec["db"], spec["db_updates"])
    store = Store.open(spec["db_updates"])
    ingest(store, older, start - week + dt.timedelta(hours=1))
    edit(store, older, end - dt.timedelta(hours=2))
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return {"posts": posts, "edited": edited, "updated_older": len(older), "db_bytes": os.path.getsize(spec["db"])}


class _Src:
    def __init__(self, name: str, url: str):
        self.name, self.url, self.type = name, url, "feed"


def child_digest(spec: dict[str, Any]) -> dict[str, Any]:
    """publish_digests for the week of the digest DB, timed (fresh process: templates compile too)."""
    from monitor.config import parse_config
    from monitor.pipeline import publish_digests
    from monitor.store import Store

    config = parse_config(_digest_config(spec["db"], spec["out_dir"]), base_dir=Path(spec["db"]).parent)
    now = dt.datetime.combine(DIGEST_WEEK_ENDING + dt.timedelta(days=1), dt.time(6), tzinfo=dt.UTC)

    def build() -> tuple[float, Any]:
        t0 = time.perf_counter()
        store = Store.open(config.database)
        try:
            report = publish_digests(config, store, week_ending=DIGEST_WEEK_ENDING, now=now)
        finally:
            store.close()
        return time.perf_counter() - t0, report

    wall, report = _profiled(spec, build)
    record = None
    conn = sqlite3.connect(spec["db"])
    row = conn.execute("SELECT post_ids, updated_ids FROM digests WHERE week_ending = ?",
                       [DIGEST_WEEK_ENDING.isoformat()]).fetchone()
    conn.close()
    if row:
        record = {"posts": len(json.loads(row[0])), "updated": len(json.loads(row[1]))}
    page = Path(spec["out_dir"]) / "digests" / f"{DIGEST_WEEK_ENDING.isoformat()}.html"
    return {"wall_s": wall, "weeks_built": len(report.weeks_built), "files": len(report.files_written),
            "record": record, "page_bytes": page.stat().st_size if page.exists() else 0,
            "peak_rss_mb": _vm_hwm_mb()}


CHILDREN = {"monitor": child_monitor, "reader": child_reader, "floor": child_floor,
            "digest_build": child_digest_build, "digest": child_digest}


def child_main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text()) if argv[0] == "_child" else {}
    if argv[0] == "_serve":
        child_serve(json.loads(argv[1]))
        return 0
    result = CHILDREN[spec["task"]](spec)
    result["process_cpu_s"] = _cpu_s()  # the whole child, startup included
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# =================================================================================================
# parent
# =================================================================================================


def _busy_s() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (all processes, all containers)."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")


def _proc_cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path):
        self.args = args
        self.work = work
        self.server: subprocess.Popen[str] | None = None
        self.url = ""
        self.sources: list[tuple[str, str, str]] = []

    # -- children ----------------------------------------------------------------------------------

    def child(self, task: str, **spec: Any) -> dict[str, Any]:
        spec["task"] = task
        path = self.work / f"spec-{task}-{time.monotonic_ns()}.json"
        path.write_text(json.dumps(spec))
        # write back what earlier measurements left dirty, so no measurement pays for another's
        # writes (a digest's fsyncs, say, queued behind a database's pages)
        os.sync()
        busy0, server0, t0 = _busy_s(), self.server_cpu(), time.perf_counter()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "_child", str(path)],
                              check=False, capture_output=True, text=True, cwd=self.work)
        busy1, server1, wall = _busy_s(), self.server_cpu(), time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"child {task} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith("RESULT "):
                res = json.loads(line[len("RESULT "):])
                if None not in (busy0, busy1, server0, server1):
                    # what the rest of the machine did meanwhile (other tenants of a shared VM)
                    server = server1 - server0  # type: ignore[operator]
                    others = max(0.0, busy1 - busy0 - server - res["process_cpu_s"])  # type: ignore[operator]
                    res["server_cpu_s"] = server
                    res["others_cores"] = others / wall
                return res
        raise RuntimeError(f"child {task} printed no result:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")

    def server_cpu(self) -> float | None:
        return _proc_cpu_s(self.server.pid) if self.server is not None else None

    def start_server(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "_serve", json.dumps({"n": self.args.n})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=self.work,
        )
        hello = self._read()
        self.command(cmd="prime")
        self.url = hello["url"]
        self.sources = [tuple(s) for s in hello["sources"]]  # type: ignore[misc]
        self.site_posts = hello["posts"]

    def _read(self) -> dict[str, Any]:
        assert self.server is not None and self.server.stdout is not None
        line = self.server.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server exited")
        return json.loads(line)

    def command(self, **cmd: Any) -> dict[str, Any]:
        assert self.server is not None and self.server.stdin is not None
        self.server.stdin.write(json.dumps(cmd) + "\n")
        self.server.stdin.flush()
        return self._read()

    def stop_server(self) -> None:
        if self.server is None:
            return
        try:
            self.command(cmd="stop")
        except (RuntimeError, OSError, ValueError):
            pass
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.server = None

    # -- helpers -----------------------------------------------------------------------------------

    def monitor_config(self, db: Path, kinds: tuple[str, ...]) -> dict[str, Any]:
        sources = [{"name": name, "url": url, "type": kind} for name, url, kind in self.sources if kind in kinds]
        return {"site": {"title": "Bench", "url": "http://127.0.0.1:8000/"}, "database": str(db),
                "output_dir": str(self.work / "site"), "timezone": "UTC", "fetch": dict(BENCH_FETCH),
                "sources": sources}

    def profile_path(self, name: str, run: int) -> str | None:
        if not self.args.profile or run != 0:
            return None
        return str(Path(self.args.out) / "profiles" / name)

    def monitor(self, name: str, db: Path, kinds: tuple[str, ...], run: int) -> dict[str, Any]:
        res = self.child("monitor", config=self.monitor_config(db, kinds), profile=self.profile_path(name, run))
        res["server"] = self.command(cmd="stats")
        if res["errors"]:
            raise RuntimeError(f"{name}: sources failed: {res['errors']}")
        return res

    def download_bodies(self) -> Path:
        """Every source body as our Fetcher returns it (content + lower-cased headers)."""
        from monitor.config import FetchConfig
        from monitor.fetch import Fetcher

        async def main() -> list[dict[str, Any]]:
            sem = asyncio.Semaphore(16)
            async with Fetcher(FetchConfig(per_host=16, concurrency=16)) as fetcher:
                async def one(url: str, kind: str) -> dict[str, Any]:
                    async with sem:
                        r = await fetcher.get(url)
                    return {"url": r.url, "content": r.content, "headers": dict(r.headers), "kind": kind}

                return list(await asyncio.gather(*(one(u, k) for _, u, k in self.sources)))

        bodies = asyncio.run(main())
        self.command(cmd="stats")
        path = self.work / "bodies.pickle"
        with open(path, "wb") as f:
            pickle.dump(bodies, f)
        return path

    # -- the benchmark -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        args = self.args
        workers = QUICK_READER_WORKERS if args.quick else READER_WORKERS
        self.start_server()
        feed_urls = [u for _, u, k in self.sources if k == "feed"]
        runs: list[dict[str, Any]] = []
        try:
            bodies = self.download_bodies()
            for k in range(args.runs):
                r: dict[str, Any] = {}
                log(f"run {k + 1}/{args.runs}")
                db_f, db_m = self.work / f"feed-{k}.db", self.work / f"mixed-{k}.db"
                r["feed_cold"] = self.monitor("monitor-feed-cold", db_f, ("feed",), k)
                r["feed_warm"] = self.monitor("monitor-feed-warm", db_f, ("feed",), k)
                log(f"  ours, feed half: cold {r['feed_cold']['wall_s']:.2f} s, warm {r['feed_warm']['wall_s']:.3f} s")
                r["mixed_cold"] = self.monitor("monitor-mixed-cold", db_m, ("feed", "html"), k)
                r["mixed_warm"] = self.monitor("monitor-mixed-warm", db_m, ("feed", "html"), k)
                log(f"  ours, mixed:     cold {r['mixed_cold']['wall_s']:.2f} s, warm {r['mixed_warm']['wall_s']:.3f} s")
                r["reader"] = {}
                for w in workers:
                    db_r = self.work / f"reader-{k}-{w}.db"
                    cold = self.child("reader", db=str(db_r), urls=feed_urls, workers=w, phase="cold",
                                      profile=self.profile_path(f"reader-w{w}-cold", k))
                    cold["server"] = self.command(cmd="stats")
                    warm = self.child("reader", db=str(db_r), urls=feed_urls, workers=w, phase="warm",
                                      profile=self.profile_path(f"reader-w{w}-warm", k))
                    warm["server"] = self.command(cmd="stats")
                    r["reader"][str(w)] = {"cold": cold, "warm": warm}
                    log(f"  reader workers={w:<2}: cold {cold['wall_s']:.2f} s, warm {warm['wall_s']:.3f} s")
                    for p in (db_r, *db_r.parent.glob(db_r.name + "-*")):
                        p.unlink(missing_ok=True)
                r["floor"] = self.child("floor", bodies=str(bodies), profile=self.profile_path("floor", k))
                log(f"  floor: feeds {r['floor']['feed']['wall_s']:.2f} s, pages {r['floor']['html']['wall_s']:.2f} s")
                edited = self.command(cmd="edit", fraction=EDIT_FRACTION, seed=k)["edited"]
                self.command(cmd="prime")
                self.command(cmd="stats")
                r["feed_edit"] = self.monitor("monitor-feed-edit", db_f, ("feed",), k)
                r["mixed_edit"] = self.monitor("monitor-mixed-edit", db_m, ("feed", "html"), k)
                r["feed_edit"]["check"] = _check_edits(r["feed_edit"], edited, ("feed",))
                r["mixed_edit"]["check"] = _check_edits(r["mixed_edit"], edited, ("feed", "html"))
                log(f"  5% edited: feed {r['feed_edit']['wall_s']:.2f} s "
                    f"({r['feed_edit']['check']['detected']}/{r['feed_edit']['check']['expected']} edits), "
                    f"mixed {r['mixed_edit']['wall_s']:.2f} s "
                    f"({r['mixed_edit']['check']['detected']}/{r['mixed_edit']['check']['expected']} edits)")
                for res in (r["feed_edit"], r["mixed_edit"]):
                    res.pop("changed_urls", None)
                for key in ("feed_cold", "feed_warm", "mixed_cold", "mixed_warm"):
                    r[key].pop("changed_urls", None)
                for p in (db_f, db_m):
                    for q in (p, *p.parent.glob(p.name + "-*")):
                        q.unlink(missing_ok=True)
                runs.append(r)
        finally:
            self.stop_server()
        digest = self.digest()
        return summarize(args, runs, digest, workers, self.site_posts)

    def digest(self) -> dict[str, Any]:
        db, db_updates = self.work / "digest.db", self.work / "digest-updates.db"
        log(f"digest: building a DB with {self.args.digest_posts:,} posts in one week "
            f"(+ one with {self.args.digest_updated} older posts updated in it)")
        built = self.child("digest_build", db=str(db), db_updates=str(db_updates), posts=self.args.digest_posts,
                           updated=self.args.digest_updated)
        out: dict[str, Any] = {"build": built}
        for name, source in (("week", db), ("week_with_updates", db_updates)):
            walls = []
            last: dict[str, Any] = {}
            for k in range(1 if self.args.quick else max(self.args.runs, 3)):
                copy = self.work / f"digest-{k}.db"
                shutil.copy(source, copy)
                last = self.child("digest", db=str(copy), out_dir=str(self.work / f"digest-out-{k}"),
                                  profile=self.profile_path(f"digest-{name}", k))
                walls.append(last["wall_s"])
                copy.unlink()
                shutil.rmtree(self.work / f"digest-out-{k}", ignore_errors=True)
            out[name] = {"wall_s": statistics.median(walls), "walls": walls, "last": last}
            log(f"  publish_digests ({name}): {statistics.median(walls):.3f} s (median of {len(walls)}), "
                f"{last['record']}")
        return out


def _check_edits(res: dict[str, Any], edited: list[dict[str, Any]], kinds: tuple[str, ...]) -> dict[str, Any]:
    from monitor.extract import normalize_url

    expected = {normalize_url(e["url"]) for e in edited if e["kind"] in kinds}
    found = {normalize_url(u) for u in res["changed_urls"]}
    return {
        "expected": len(expected),
        "detected": len(expected & found),
        "missed": sorted(expected - found)[:10],
        "false_positives": sorted(found - expected)[:10],
        "ok": expected == found,
    }


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# =================================================================================================
# summary
# =================================================================================================


def _med(values: list[float]) -> float:
    return statistics.median(values)


def summarize(args: argparse.Namespace, runs: list[dict[str, Any]], digest: dict[str, Any],
              workers: tuple[int, ...], site_posts: int) -> dict[str, Any]:
    n = args.n
    feed_sources = runs[0]["feed_cold"]["sources"]
    mixed_sources = runs[0]["mixed_cold"]["sources"]

    def med(key: str, field: str = "wall_s") -> float:
        return _med([r[key][field] for r in runs])

    feed_posts = runs[0]["feed_cold"]["posts_in_db"]
    mixed_posts = runs[0]["mixed_cold"]["posts_in_db"]
    ours = {
        "feed_cold_s": med("feed_cold"), "feed_warm_s": med("feed_warm"), "feed_edit_s": med("feed_edit"),
        "mixed_cold_s": med("mixed_cold"), "mixed_warm_s": med("mixed_warm"), "mixed_edit_s": med("mixed_edit"),
    }
    ours["feed_cold_sources_per_s"] = feed_sources / ours["feed_cold_s"]
    ours["feed_cold_posts_per_s"] = feed_posts / ours["feed_cold_s"]
    ours["mixed_cold_sources_per_s"] = mixed_sources / ours["mixed_cold_s"]
    ours["mixed_cold_posts_per_s"] = mixed_posts / ours["mixed_cold_s"]
    reader_by_w = {}
    for w in workers:
        cold = _med([r["reader"][str(w)]["cold"]["wall_s"] for r in runs])
        warm = _med([r["reader"][str(w)]["warm"]["wall_s"] for r in runs])
        reader_by_w[str(w)] = {"cold_s": cold, "warm_s": warm,
                               "entries": runs[0]["reader"][str(w)]["cold"]["entries"],
                               "feed_errors": max(r["reader"][str(w)]["cold"]["feed_errors"] for r in runs),
                               "peak_rss_mb": max(r["reader"][str(w)]["cold"]["peak_rss_mb"] for r in runs)}
    best_cold_w = min(reader_by_w, key=lambda w: reader_by_w[w]["cold_s"])
    best_warm_w = min(reader_by_w, key=lambda w: reader_by_w[w]["warm_s"])
    reader = {
        "by_workers": reader_by_w,
        "cold_s": reader_by_w[best_cold_w]["cold_s"], "cold_workers": int(best_cold_w),
        "warm_s": reader_by_w[best_warm_w]["warm_s"], "warm_workers": int(best_warm_w),
    }
    reader["cold_sources_per_s"] = feed_sources / reader["cold_s"]
    reader["cold_posts_per_s"] = reader_by_w[best_cold_w]["entries"] / reader["cold_s"]
    cpu = {  # of the timed part only, parse workers included
        "ours_feed_cold_s": med("feed_cold", "cpu_s"),
        "ours_feed_warm_s": med("feed_warm", "cpu_s"),
        "ours_mixed_cold_s": med("mixed_cold", "cpu_s"),
        "reader_cold_s": _med([r["reader"][best_cold_w]["cold"]["cpu_s"] for r in runs]),
        "reader_warm_s": _med([r["reader"][best_warm_w]["warm"]["cpu_s"] for r in runs]),
        "floor_feed_s": _med([r["floor"]["feed"]["cpu_s"] for r in runs]),
        "floor_html_s": _med([r["floor"]["html"]["cpu_s"] for r in runs]),
    }
    loads = [r[k]["others_cores"] for r in runs for k in ("feed_cold", "feed_warm", "mixed_cold", "mixed_warm")
             if "others_cores" in r[k]]
    loads += [v[ph]["others_cores"] for r in runs for v in r["reader"].values() for ph in ("cold", "warm")
              if "others_cores" in v[ph]]
    floor = {"feed_s": _med([r["floor"]["feed"]["wall_s"] for r in runs]),
             "html_s": _med([r["floor"]["html"]["wall_s"] for r in runs])}
    floor["mixed_s"] = floor["feed_s"] + floor["html_s"]
    cycles = ("feed_cold", "feed_warm", "feed_edit", "mixed_cold", "mixed_warm", "mixed_edit")
    peak_main = max(r[k]["peak_rss_mb"] for r in runs for k in cycles)
    peak_worker = max(r[k]["children_peak_rss_mb"] for r in runs for k in cycles)
    peak = max(r[k]["tree_peak_rss_mb"] for r in runs for k in cycles)
    edits_ok = all(r[k]["check"]["ok"] for r in runs for k in ("feed_edit", "mixed_edit"))
    db_bytes = runs[0]["mixed_cold"]["db_bytes"]
    ratios = {
        "cold_feed_vs_reader": ours["feed_cold_sources_per_s"] / reader["cold_sources_per_s"],
        "cold_feed_vs_floor": ours["feed_cold_s"] / floor["feed_s"],
        "cold_mixed_vs_floor": ours["mixed_cold_s"] / floor["mixed_s"],
        "warm_vs_reader": reader["warm_s"] / ours["feed_warm_s"],
    }
    metrics = {
        "ours": ours,
        "reader": reader,
        "floor": floor,
        "ratios": ratios,
        # CPU seconds of the measured part (parse workers included): the work done, which other
        # tenants of a shared machine inflate less than wall time
        "cpu": cpu,
        # cores kept busy by processes outside the benchmark while it measured (shared VMs)
        "background_cores": {"median": _med(loads) if loads else None, "max": max(loads) if loads else None},
        "peak_rss_mb": peak,  # main process + parse workers, each at its peak (an upper bound)
        "peak_rss_main_mb": peak_main,
        "peak_rss_worker_mb": peak_worker,
        "parse_workers": max(r[k]["parse_workers"] for r in runs for k in cycles),
        "edits": {
            "feed": [r["feed_edit"]["check"] for r in runs],
            "mixed": [r["mixed_edit"]["check"] for r in runs],
            "all_detected": edits_ok,
        },
        "digest": {"posts": digest["build"]["posts"], "edited_same_week": digest["build"]["edited"],
                   "wall_s": digest["week"]["wall_s"], "walls": digest["week"]["walls"],
                   "page_bytes": digest["week"]["last"]["page_bytes"], "record": digest["week"]["last"]["record"],
                   "db_bytes": digest["build"]["db_bytes"],
                   "with_updates": {"updated_older": digest["build"]["updated_older"],
                                    "wall_s": digest["week_with_updates"]["wall_s"],
                                    "walls": digest["week_with_updates"]["walls"],
                                    "record": digest["week_with_updates"]["last"]["record"],
                                    "files": digest["week_with_updates"]["last"]["files"]}},
        "db_bytes_per_10k_posts": db_bytes / mixed_posts * 10_000 if mixed_posts else None,
        "digest_db_bytes_per_10k_posts": digest["build"]["db_bytes"] / digest["build"]["posts"] * 10_000,
    }
    targets = {
        "cold_feed_vs_reader": {"target": ">= 2.0x", "value": ratios["cold_feed_vs_reader"],
                                "met": ratios["cold_feed_vs_reader"] >= TARGETS["cold_feed_vs_reader"]},
        "cold_feed_vs_floor": {"target": "<= 1.3x", "value": ratios["cold_feed_vs_floor"],
                               "met": ratios["cold_feed_vs_floor"] <= TARGETS["cold_feed_vs_floor"]},
        "warm_vs_reader": {"target": ">= 3.0x", "value": ratios["warm_vs_reader"],
                           "met": ratios["warm_vs_reader"] >= TARGETS["warm_vs_reader"]},
        "peak_rss_mb": {"target": "<= 200 MB", "value": peak, "met": peak <= TARGETS["peak_rss_mb"]},
        "digest_s": {"target": "< 1 s", "value": digest["week"]["wall_s"],
                     "met": digest["week"]["wall_s"] < TARGETS["digest_s"]},
        "all_edits_detected": {"target": "all", "value": edits_ok, "met": edits_ok},
    }
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": {"n": n, "runs": args.runs, "quick": args.quick, "feed_sources": feed_sources,
                   "mixed_sources": mixed_sources, "site_posts": site_posts, "feed_posts": feed_posts,
                   "mixed_posts": mixed_posts, "edit_fraction": EDIT_FRACTION, "reader_workers": list(workers),
                   "monitor_fetch": BENCH_FETCH, "digest_posts": args.digest_posts},
        "metrics": metrics,
        "targets": targets,
        "all_targets_met": all(t["met"] for t in targets.values()),
        "runs": runs,
    }


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    import feedparser
    import reader

    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "sqlite": sqlite3.sqlite_version,
            "reader": reader.__version__, "feedparser": feedparser.__version__}


def table(s: dict[str, Any]) -> str:
    m, p, t = s["metrics"], s["params"], s["targets"]
    o, r, f, ra = m["ours"], m["reader"], m["floor"], m["ratios"]
    mark = {True: "yes", False: "NO"}
    rows = [
        (f"Cold ingest, feed half ({p['feed_sources']} feeds, {p['feed_posts']} posts)",
         (f"{o['feed_cold_s']:.2f} s = {o['feed_cold_sources_per_s']:.0f} sources/s, "
          f"{o['feed_cold_posts_per_s']:.0f} posts/s"),
         f"{r['cold_s']:.2f} s (workers={r['cold_workers']}) = {r['cold_sources_per_s']:.0f} sources/s",
         f"{f['feed_s']:.2f} s",
         (f"{ra['cold_feed_vs_reader']:.2f}x reader's throughput (>= 2), {ra['cold_feed_vs_floor']:.2f}x floor "
          f"(<= 1.3): {mark[t['cold_feed_vs_reader']['met'] and t['cold_feed_vs_floor']['met']]}")),
        ("Warm cycle, feed half, nothing changed", f"{o['feed_warm_s']:.3f} s",
         f"{r['warm_s']:.3f} s (workers={r['warm_workers']})", "-",
         f"{ra['warm_vs_reader']:.1f}x faster than reader (>= 3): {mark[t['warm_vs_reader']['met']]}"),
        ("Cycle after 5% of posts edited, feed half", f"{o['feed_edit_s']:.3f} s", "-", "-",
         "edits detected: " + ", ".join(f"{c['detected']}/{c['expected']}" for c in m["edits"]["feed"])),
        (f"Cold ingest, full mixed site ({p['mixed_sources']} sources, {p['mixed_posts']} posts)",
         (f"{o['mixed_cold_s']:.2f} s = {o['mixed_cold_sources_per_s']:.0f} sources/s, "
          f"{o['mixed_cold_posts_per_s']:.0f} posts/s"), "-", f"{f['mixed_s']:.2f} s",
         f"{ra['cold_mixed_vs_floor']:.2f}x floor"),
        ("Warm cycle, full mixed site", f"{o['mixed_warm_s']:.3f} s", "-", "-", ""),
        ("Cycle after 5% of posts edited, full mixed site", f"{o['mixed_edit_s']:.3f} s", "-", "-",
         "edits detected: " + ", ".join(f"{c['detected']}/{c['expected']}" for c in m["edits"]["mixed"])),
        ("Peak RSS of a monitor run: process + parse workers (max of all cycles)",
         (f"{m['peak_rss_mb']:.0f} MB ({m['peak_rss_main_mb']:.0f} + {m['parse_workers']} x "
          f"{m['peak_rss_worker_mb']:.0f})"),
         f"{max(v['peak_rss_mb'] for v in r['by_workers'].values()):.0f} MB", "-",
         f"<= 200 MB: {mark[t['peak_rss_mb']['met']]}"),
        (f"Digest of a week of {m['digest']['posts']:,} posts (publish_digests)",
         f"{m['digest']['wall_s']:.3f} s", "-", "-", f"< 1 s: {mark[t['digest_s']['met']]}"),
        (f"... the same week + {m['digest']['with_updates']['updated_older']} older posts updated in it",
         f"{m['digest']['with_updates']['wall_s']:.3f} s", "-", "-",
         f"{m['digest']['with_updates']['files']} files written"),
        ("DB size per 10,000 posts (mixed ingest)",
         f"{m['db_bytes_per_10k_posts'] / 1e6:.1f} MB" if m["db_bytes_per_10k_posts"] else "-", "-", "-", ""),
    ]
    head = ("Measurement", "Digest Monitor", "reader " + s["machine"]["reader"], "Parsing floor", "Target")
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    by_w = ", ".join(f"{w}: {v['cold_s']:.2f} s / {v['warm_s']:.3f} s" for w, v in r["by_workers"].items())
    c, bg = m["cpu"], m["background_cores"]
    out.append("")
    out.append(f"reader by workers (cold / warm): {by_w}")
    out.append(f"CPU seconds, feed half cold: ours {c['ours_feed_cold_s']:.1f} (process + parse workers), "
               f"reader {c['reader_cold_s']:.1f}, floor {c['floor_feed_s']:.1f}; warm: ours "
               f"{c['ours_feed_warm_s']:.2f}, reader {c['reader_warm_s']:.2f}")
    if bg["median"] is not None:
        out.append(f"Other processes on the machine kept {bg['median']:.2f} cores busy (median; max {bg['max']:.2f}) "
                   "while this ran" + (": wall times are pessimistic" if bg["median"] > 0.25 else ""))
    mc = s["machine"]
    out.append(f"{mc['nproc']} cores, {mc['cpu']}, Python {mc['python']}, SQLite {mc['sqlite']}; "
               f"N={p['n']}, medians of {p['runs']} run(s); {s['date']}")
    out.append("All targets met." if s["all_targets_met"] else
               "Targets NOT met: " + ", ".join(k for k, v in t.items() if not v["met"]))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("_child", "_serve"):
        return child_main(argv)
    if argv and argv[0] == "--service":  # the service's rows: bench/service.py (see its --help)
        import service

        return service.main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="sources on the sample site (default 1000)")
    ap.add_argument("--runs", type=int, default=None, help="runs to take the median of (default 3; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="one run, reader with 4 workers only")
    ap.add_argument("--digest-posts", type=int, default=10_000, help="posts in the digest week (default 10000)")
    ap.add_argument("--digest-updated", type=int, default=500,
                    help="older posts updated in the digest week, for the second digest measurement (default 500)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="where latest.json and the dated copy go")
    ap.add_argument("--profile", action="store_true", help="pyinstrument profiles of run 1 into <out>/profiles/")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--no-whole-process", action="store_true",
                    help="skip the whole-process rows (bench/whole_process.py: --help, status, warm fetch)")
    args = ap.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.n < 2 or args.runs < 1:
        ap.error("--n must be >= 2 and --runs >= 1")
    work = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    try:
        summary = Bench(args, work).run()
        if not args.no_whole_process:
            import whole_process  # bench/whole_process.py

            feeds = min(300, args.n)
            log(f"whole process: monitor --help, status at {args.n:,} sources, warm fetch of {feeds} feeds vs reader")
            (work / "whole").mkdir()
            summary["whole_process"] = whole_process.measure(
                runs=3 if args.quick else 7, status_sources=args.n, feeds=feeds, work=work / "whole", log=log,
                reader_workers=QUICK_READER_WORKERS if args.quick else READER_WORKERS)
    finally:
        if args.keep:
            log(f"scratch kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary, indent=2, sort_keys=False)
    (out / "latest.json").write_text(text)
    (out / f"{summary['date'][:10]}.json").write_text(text)
    print(table(summary))
    if "whole_process" in summary:
        import whole_process

        print("\n" + whole_process.table(summary["whole_process"]))
    print(f"\nwrote {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
