#!/usr/bin/env python
"""Benchmark ``monitor run`` (the service) as users run it: whole processes on loopback.

::

    python bench/service.py                   every row below (~30 min on 2 cores)
    python bench/service.py --quick           small and short (~4 min), to see that it works
    python bench/service.py --rows 1,3,5      some rows only (the others are kept from the last file)
    python bench/run.py --service ...         the same, from the main benchmark's entry point

Each row is measured within one run against its own peer, so a busy shared machine changes the
figures less than the ratios::

    1 cold      a fresh ``monitor run`` (1,000 sources, all ``every: 1h``) until every source has
                run once (polled in its database), against a cold ``monitor fetch`` of the same
                config: both whole processes from exec, medians of --runs, and their ratio
    2 steady    the service at N and at 10 x N sources, the intervals scaled so both run the same
                number of sources per second (all warm: 304s after the first cycle): CPU seconds
                (service + parse workers) per source run, which must not grow with N; peak RSS;
                the first (cold) cycle separately; and CPU seconds per hour at 10 x N sources
                due hourly (the measured cost per run x runs per hour + the idle cost)
    3 idle      everything fetched, nothing due for an hour: the cores the service keeps busy
    4 memory    N sources every 30 s for --memory-minutes: RSS (process + workers) sampled, and
                its slope in MB per minute after the first cycle and the catch-up publish
    5 short     sources ``every: 5s``: the gaps between a source's runs (fetch_log), p50 / p95

The site is bench/run.py's (``generate_site`` behind ``monitor.sample.server.serve`` in its own
process, bodies rendered before anything is measured). The service is started as
``python -m monitor --config <file> run`` with this checkout on PYTHONPATH; CPU and RSS are read
from /proc for it and its parse workers. Next to every figure: ``background_cores``, the cores
other processes of the machine kept busy meanwhile (the service, the site server and this script
subtracted); wall times are only comparable when that is near zero.

A fresh service also publishes the catch-up (every past week with posts) after its first cycle;
rows 2-4 wait until that is over (the digests table unchanged for a while and the service quiet)
before they open their window.

Results: a table on stdout and ``<out>/service-latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = HERE / "results"
sys.path.insert(0, str(HERE))

import run as benchrun  # noqa: E402 -- bench/run.py: the site server and the machine figures

TARGETS = {"cold_vs_fetch": 1.2, "idle_cores": 0.01}
#: Source runs per second in row 2, the same at N and at 10 x N (the intervals scale with N), so
#: the CPU per run compares the same load.
STEADY_RUNS_PER_S = 1000 / 12
CLK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# =================================================================================================
# a process watched from outside, through /proc
# =================================================================================================


def _stat_cpu(pid: int) -> tuple[float, float]:
    """(own CPU seconds, CPU seconds of its waited-for children) of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK, (int(fields[13]) + int(fields[14])) / CLK


def _status_kb(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        out: list[int] = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
        return out
    except (OSError, ValueError):
        pass
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(d))
            except (OSError, ValueError, IndexError):
                continue
    return found


@dataclass
class Sample:
    t: float  # seconds since the process started
    cpu_s: float  # the process, its live children and its reaped children
    rss_mb: float  # current RSS, process + live children
    main_rss_mb: float
    workers: int


@dataclass
class Watched:
    """A ``monitor`` process and its parse workers; a thread samples CPU and RSS."""

    proc: subprocess.Popen[bytes]
    t0: float
    stderr_path: Path
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    peak_tree_mb: float = 0.0
    peak_main_mb: float = 0.0
    peak_worker_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, argv: list[str], cwd: Path, name: str, interval: float = 0.5) -> Watched:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        err = cwd / f"{name}.stderr"
        with open(err, "wb") as f:
            proc = subprocess.Popen([sys.executable, "-m", "monitor", *argv], cwd=cwd, env=env,
                                    stdout=subprocess.DEVNULL, stderr=f)
        w = cls(proc, time.monotonic(), err, interval)
        threading.Thread(target=w._loop, daemon=True).start()
        return w

    def sample(self) -> Sample | None:
        pid = self.proc.pid
        try:
            own, reaped = _stat_cpu(pid)
            main = _status_kb(pid, "VmRSS") / 1024
            hwm = _status_kb(pid, "VmHWM") / 1024
        except (OSError, ValueError, IndexError):
            return None
        cpu, rss, n = own + reaped, main, 0
        for c in _children(pid):
            try:
                cpu += sum(_stat_cpu(c))
                r = _status_kb(c, "VmRSS") / 1024
                self.peak_worker_mb = max(self.peak_worker_mb, _status_kb(c, "VmHWM") / 1024)
            except (OSError, ValueError, IndexError):
                continue
            rss += r
            n += 1
        s = Sample(time.monotonic() - self.t0, cpu, rss, main, n)
        with self._lock:
            self.samples.append(s)
            self.peak_tree_mb = max(self.peak_tree_mb, rss)
            self.peak_main_mb = max(self.peak_main_mb, hwm)
        return s

    def _loop(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            self.sample()
            self._stop.wait(self.interval)

    def cpu_now(self) -> float:
        s = self.sample()
        if s is None:
            raise RuntimeError(f"the service exited ({self.proc.poll()}):\n{self.stderr()[-3000:]}")
        return s.cpu_s

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> dict[str, Any]:
        """SIGTERM; the exit code and whether stderr holds a traceback."""
        self.sample()
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        text = self.stderr()
        return {"exit_code": code, "traceback": "Traceback" in text, "stderr_tail": text[-1500:]}


class Load:
    """What the rest of the machine did over a window: cores busy outside the measured processes."""

    def __init__(self, bench: benchrun.Bench, watched: Watched | None = None):
        self.bench, self.watched = bench, watched
        self.t0 = time.monotonic()
        self.busy0 = benchrun._busy_s()
        self.server0 = bench.server_cpu()
        self.me0 = time.process_time()
        self.cpu0 = watched.cpu_now() if watched else 0.0

    def end(self, measured_cpu: float | None = None) -> dict[str, Any]:
        """``measured_cpu``: CPU of a process that has exited (else the watched one's, now)."""
        wall = time.monotonic() - self.t0
        busy1, server1 = benchrun._busy_s(), self.bench.server_cpu()
        cpu = measured_cpu if measured_cpu is not None else (
            self.watched.cpu_now() - self.cpu0 if self.watched else 0.0)
        out: dict[str, Any] = {"wall_s": wall, "cpu_s": cpu}
        if None not in (self.busy0, busy1, self.server0, server1):
            server = server1 - self.server0  # type: ignore[operator]
            me = time.process_time() - self.me0
            others = busy1 - self.busy0 - server - me - cpu  # type: ignore[operator]
            out["server_cpu_s"] = server
            out["background_cores"] = max(0.0, others) / wall
        return out


# =================================================================================================
# the database, read from outside (read-only; WAL lets the service write meanwhile)
# =================================================================================================


def _ro(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)


def _query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    try:
        conn = _ro(db)
    except sqlite3.OperationalError:
        return []
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()


def ran_once(db: Path) -> int:
    rows = _query(db, "SELECT count(*) FROM sources WHERE last_run_at IS NOT NULL")
    return rows[0][0] if rows else 0


def last_log_id(db: Path) -> int:
    rows = _query(db, "SELECT coalesce(max(id), 0) FROM fetch_log")
    return rows[0][0] if rows else 0


def digests(db: Path) -> int:
    rows = _query(db, "SELECT count(*) FROM digests")
    return rows[0][0] if rows else 0


def statuses(db: Path, after_id: int, upto_id: int) -> dict[str, int]:
    return dict(_query(db, "SELECT status, count(*) FROM fetch_log WHERE id > ? AND id <= ? GROUP BY status",
                       (after_id, upto_id)))


def wait_first_cycle(w: Watched, db: Path, n: int, timeout: float, poll: float = 0.1) -> float:
    """Seconds from exec until every source has run once (``sources.last_run_at`` set)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ran_once(db) >= n:
            return time.monotonic() - w.t0
        if w.proc.poll() is not None:
            raise RuntimeError(f"the service exited ({w.proc.returncode}):\n{w.stderr()[-3000:]}")
        time.sleep(poll)
    raise RuntimeError(f"not every source ran within {timeout:.0f} s ({ran_once(db)}/{n}):\n{w.stderr()[-3000:]}")


def to_index(db: Path) -> int:
    """Posts the search index has not caught up with (the service indexes them in idle ticks)."""
    rows = _query(db, "SELECT count(*) FROM posts WHERE indexed = 0")
    return rows[0][0] if rows else 0


def wait_settled(w: Watched, db: Path, *, quiet_s: float = 8.0, busy_cores: float | None = None,
                 timeout: float = 300.0) -> dict[str, Any]:
    """Wait for the catch-up publish to end: the digests table unchanged for ``quiet_s`` and, with
    ``busy_cores``, the service below that many cores over the same stretch; and for the search
    index to have caught up (the idle ticks index 200 posts each)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    count, since, cpu0 = digests(db), time.monotonic(), w.cpu_now()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        c = digests(db)
        if to_index(db):
            since, cpu0 = time.monotonic(), w.cpu_now()
            continue
        if c != count:
            count, since, cpu0 = c, time.monotonic(), w.cpu_now()
            continue
        stretch = time.monotonic() - since
        if stretch >= quiet_s and count > 0:  # 0: the publish has not written its first week yet
            rate = (w.cpu_now() - cpu0) / stretch
            if busy_cores is None or rate <= busy_cores:
                return {"waited_s": time.monotonic() - t0, "digests": count}
            since, cpu0 = time.monotonic(), w.cpu_now()
    return {"waited_s": time.monotonic() - t0, "digests": count, "timed_out": True}


# =================================================================================================
# the rows
# =================================================================================================


def _q(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


class ServiceBench:
    def __init__(self, args: argparse.Namespace, work: Path):
        self.args = args
        self.work = work
        self.bench: benchrun.Bench | None = None
        self.n_site = 0

    # -- helpers ---------------------------------------------------------------------------------

    def site(self, n: int) -> benchrun.Bench:
        """The sample site with ``n`` sources (restarted when ``n`` changes)."""
        if self.bench is not None and self.n_site == n:
            return self.bench
        if self.bench is not None:
            self.bench.stop_server()
        log(f"site: generating and rendering {n:,} sources")
        self.bench = benchrun.Bench(argparse.Namespace(n=n), self.work)
        self.bench.start_server()
        self.n_site = n
        return self.bench

    def config(self, name: str, n: int, every: str) -> tuple[Path, Path]:
        """A fresh database and a config file for the first ``n`` sources of the site, ``every``."""
        bench = self.site(max(n, self.n_site))
        db = self.work / f"{name}.db"
        for p in (db, *db.parent.glob(db.name + "-*"), db.with_name(db.name + ".lock")):
            p.unlink(missing_ok=True)
        cfg = bench.monitor_config(db, ("feed", "html"))
        cfg["sources"] = [dict(s, every=every) for s in cfg["sources"][:n]]
        cfg["output_dir"] = str(self.work / f"{name}-site")
        path = self.work / f"{name}.yaml"
        path.write_text(json.dumps(cfg, indent=1))  # JSON is YAML
        return path, db

    def server_stats(self) -> dict[str, Any]:
        assert self.bench is not None
        return self.bench.command(cmd="stats")

    def service(self, cfg: Path, name: str, interval: float = 0.5) -> Watched:
        return Watched.start(["--config", str(cfg), "run"], self.work, name, interval)

    def fetch(self, cfg: Path, name: str) -> dict[str, Any]:
        """A cold ``monitor fetch`` as one process: wall from exec to exit, CPU (workers included)."""
        assert self.bench is not None
        os.sync()
        load = Load(self.bench)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t0 = time.monotonic()
        with open(self.work / f"{name}.stderr", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "fetch"],
                                    cwd=self.work, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = ru.ru_utime + ru.ru_stime
        res = load.end(measured_cpu=cpu)
        res.update(wall_s=wall, exit_code=proc.returncode, peak_rss_main_mb=ru.ru_maxrss / 1024,
                   server=self.server_stats())
        return res

    # -- row 1 (+ row 3 in the first run) -------------------------------------------------------

    def row_cold(self, n: int, runs: int, idle_s: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
        fetches, services = [], []
        idle: dict[str, Any] | None = None
        for k in range(runs):
            log(f"row 1, run {k + 1}/{runs}: cold monitor fetch vs cold monitor run, {n:,} sources")
            cfg, _ = self.config(f"cold-fetch-{k}", n, "1h")
            f = self.fetch(cfg, f"cold-fetch-{k}")
            if f["exit_code"] != 0:
                raise RuntimeError(f"monitor fetch exited {f['exit_code']}")
            fetches.append(f)
            cfg, db = self.config(f"cold-run-{k}", n, "1h")
            assert self.bench is not None
            os.sync()
            w = self.service(cfg, f"cold-run-{k}", interval=0.25)
            load = Load(self.bench)
            first = wait_first_cycle(w, db, n, timeout=600)
            s: dict[str, Any] = load.end(measured_cpu=w.cpu_now())
            s.update(wall_s=first, peak_tree_rss_mb=w.peak_tree_mb, statuses=statuses(db, 0, last_log_id(db)),
                     server=self.server_stats())
            log(f"  fetch {f['wall_s']:.2f} s, run (first cycle) {first:.2f} s = {first / f['wall_s']:.2f}x "
                f"(background {f.get('background_cores', 0):.2f} / {s.get('background_cores', 0):.2f} cores)")
            if k == 0 and idle_s > 0:
                idle = self.idle(w, db, idle_s)
            s["stop"] = w.stop()
            services.append(s)
        fw = statistics.median(f["wall_s"] for f in fetches)
        sw = statistics.median(s["wall_s"] for s in services)
        ratios = [s["wall_s"] / f["wall_s"] for f, s in zip(fetches, services, strict=True)]
        row = {
            "sources": n, "runs": runs,
            "fetch_wall_s": fw, "service_first_cycle_s": sw, "ratio": sw / fw, "ratios_per_run": ratios,
            "fetch_cpu_s": statistics.median(f["cpu_s"] for f in fetches),
            "service_first_cycle_cpu_s": statistics.median(s["cpu_s"] for s in services),
            "background_cores": [[f.get("background_cores"), s.get("background_cores")]
                                 for f, s in zip(fetches, services, strict=True)],
            "target": f"<= {TARGETS['cold_vs_fetch']}x", "met": sw / fw <= TARGETS["cold_vs_fetch"],
            "fetches": fetches, "services": services,
        }
        return row, idle

    def idle(self, w: Watched, db: Path, seconds: float) -> dict[str, Any]:
        """Row 3: every source fetched, next due in ~1 h: the cores the service keeps busy."""
        log("row 3: waiting for the catch-up publish, then nothing due")
        settled = wait_settled(w, db, busy_cores=0.05)
        assert self.bench is not None
        id0 = last_log_id(db)
        load = Load(self.bench, w)
        time.sleep(seconds)
        res = load.end()
        cores = res["cpu_s"] / res["wall_s"]
        log(f"  idle: {cores * 100:.2f}% of a core over {res['wall_s']:.0f} s "
            f"(background {res.get('background_cores', 0):.2f} cores)")
        return {"sources": ran_once(db), "window_s": res["wall_s"], "cpu_s": res["cpu_s"], "cores": cores,
                "source_runs_in_window": last_log_id(db) - id0, "settle": settled,
                "rss_mb": w.samples[-1].rss_mb if w.samples else None,
                "background_cores": res.get("background_cores"),
                "target": "< 1% of a core", "met": cores < TARGETS["idle_cores"]}

    # -- row 2 -------------------------------------------------------------------------------------

    def steady(self, n: int, window: float) -> dict[str, Any]:
        every = max(5.0, round(n / STEADY_RUNS_PER_S))
        log(f"row 2: {n:,} sources every {every:.0f} s: cold cycle, then a {window:.0f} s warm window")
        cfg, db = self.config(f"steady-{n}", n, f"{every:g}s")
        assert self.bench is not None
        self.server_stats()
        os.sync()
        w = self.service(cfg, f"steady-{n}")
        load = Load(self.bench)
        first = wait_first_cycle(w, db, n, timeout=1800, poll=0.5)
        cold = load.end(measured_cpu=w.cpu_now())
        cold.update(wall_s=first, peak_tree_rss_mb=w.peak_tree_mb)
        cold_peak = w.peak_tree_mb
        log(f"  cold cycle {first:.1f} s, {cold['cpu_s']:.1f} CPU s (background {cold.get('background_cores', 0):.2f})")
        # publishing a catch-up week of 20,000 posts takes longer than the quiet stretch: the
        # service's CPU tells a publish (a core) from warm runs (a few % of one)
        settled = wait_settled(w, db, quiet_s=10.0, busy_cores=0.25, timeout=900)
        self.server_stats()
        id0 = last_log_id(db)
        load = Load(self.bench, w)
        time.sleep(window)
        res = load.end()
        id1 = last_log_id(db)
        st = statuses(db, id0, id1)
        runs = id1 - id0
        server = self.server_stats()
        stop = w.stop()
        per_run_ms = res["cpu_s"] / runs * 1000 if runs else None
        log(f"  warm: {runs} runs in {res['wall_s']:.0f} s, {res['cpu_s']:.1f} CPU s = "
            f"{per_run_ms or 0:.2f} ms per run; peak RSS {w.peak_tree_mb:.0f} MB "
            f"(background {res.get('background_cores', 0):.2f})")
        return {"sources": n, "every_s": every, "cold": {**cold, "per_source_ms": cold["cpu_s"] / n * 1000},
                "cold_peak_tree_rss_mb": cold_peak, "settle": settled,
                "warm": {"window_s": res["wall_s"], "cpu_s": res["cpu_s"], "source_runs": runs,
                         "statuses": st, "cpu_ms_per_run": per_run_ms, "runs_per_s": runs / res["wall_s"],
                         "cores": res["cpu_s"] / res["wall_s"], "server_statuses": server.get("statuses"),
                         "background_cores": res.get("background_cores")},
                "peak_tree_rss_mb": w.peak_tree_mb, "peak_main_rss_mb": w.peak_main_mb,
                "peak_worker_rss_mb": w.peak_worker_mb, "stop": stop}

    # -- row 4 -------------------------------------------------------------------------------------

    def memory(self, n: int, minutes: float) -> dict[str, Any]:
        log(f"row 4: {n:,} sources every 30 s for {minutes:g} min, RSS sampled every 5 s")
        cfg, db = self.config("memory", n, "30s")
        assert self.bench is not None
        self.server_stats()
        w = self.service(cfg, "memory", interval=5.0)
        load = Load(self.bench)
        first = wait_first_cycle(w, db, n, timeout=600, poll=0.5)
        settled = wait_settled(w, db, quiet_s=10.0, busy_cores=0.25, timeout=900)
        t_settled = time.monotonic() - w.t0
        id0 = last_log_id(db)
        cpu0 = w.cpu_now()
        end = w.t0 + minutes * 60
        while time.monotonic() < end and w.proc.poll() is None:
            time.sleep(1.0)
        cpu1 = w.cpu_now()
        id1 = last_log_id(db)
        res = load.end(measured_cpu=cpu1)
        stop = w.stop()
        samples = [s for s in w.samples if s.workers or s.t > 0]
        after = [s for s in samples if s.t >= t_settled]
        tree = [(s.t / 60, s.rss_mb) for s in after]
        main = [(s.t / 60, s.main_rss_mb) for s in after]
        half = len(after) // 2
        runs = id1 - id0
        out = {
            "sources": n, "every_s": 30, "minutes": minutes, "first_cycle_s": first, "settle": settled,
            "settled_at_s": t_settled,
            "slope_mb_per_min": _slope(tree), "slope_main_mb_per_min": _slope(main),
            "slope_second_half_mb_per_min": _slope(tree[half:]),
            "rss_mb_at_settle": after[0].rss_mb if after else None, "rss_mb_end": after[-1].rss_mb if after else None,
            "rss_mb_min": min((s.rss_mb for s in after), default=None),
            "rss_mb_max": max((s.rss_mb for s in after), default=None),
            "peak_tree_rss_mb": w.peak_tree_mb, "warm_source_runs": runs,
            "warm_cpu_ms_per_run": (cpu1 - cpu0) / runs * 1000 if runs else None,
            "statuses": statuses(db, id0, id1), "db_bytes": os.path.getsize(db),
            "background_cores": res.get("background_cores"),
            "samples": [[round(s.t, 1), round(s.rss_mb, 2), round(s.main_rss_mb, 2), s.workers] for s in samples],
            "stop": stop,
        }
        log(f"  RSS {out['rss_mb_at_settle']:.1f} -> {out['rss_mb_end']:.1f} MB, slope "
            f"{out['slope_mb_per_min']:+.3f} MB/min (second half {out['slope_second_half_mb_per_min']:+.3f}); "
            f"background {res.get('background_cores', 0):.2f} cores")
        return out

    # -- row 5 -------------------------------------------------------------------------------------

    def short(self, n: int, seconds: float) -> dict[str, Any]:
        log(f"row 5: {n} sources every 5 s for {seconds:.0f} s")
        cfg, db = self.config("short", n, "5s")
        assert self.bench is not None
        self.server_stats()
        w = self.service(cfg, "short")
        load = Load(self.bench)
        wait_first_cycle(w, db, n, timeout=300, poll=0.5)
        time.sleep(seconds)
        res = load.end(measured_cpu=w.cpu_now())
        stop = w.stop()
        by_source: dict[str, list[dt.datetime]] = {}
        for source, started in _query(db, "SELECT source, started_at FROM fetch_log ORDER BY id"):
            by_source.setdefault(source, []).append(dt.datetime.fromisoformat(started))
        gaps = []
        for starts in by_source.values():
            starts.sort()
            # the first run is cold; gaps between warm runs are the schedule's own
            gaps += [(b - a).total_seconds() for a, b in itertools.pairwise(starts[1:])]
        out = {"sources": n, "every_s": 5, "window_s": res["wall_s"], "gaps": len(gaps),
               "p50_s": _q(gaps, 0.5) if gaps else None, "p95_s": _q(gaps, 0.95) if gaps else None,
               "min_s": min(gaps, default=None), "max_s": max(gaps, default=None),
               "mean_s": statistics.fmean(gaps) if gaps else None,
               "background_cores": res.get("background_cores"), "stop": stop,
               "note": "a run is due every ±10% jitter after the previous one finished; ticks are 1 s apart"}
        log(f"  gaps: p50 {out['p50_s'] or 0:.2f} s, p95 {out['p95_s'] or 0:.2f} s over {len(gaps)} gaps "
            f"(background {res.get('background_cores', 0):.2f})")
        return out

    # -- all -----------------------------------------------------------------------------------------

    def run(self, rows: set[int]) -> dict[str, Any]:
        a = self.args
        out: dict[str, Any] = {}
        try:
            if rows & {1, 3}:
                cold, idle = self.row_cold(a.n, a.runs if 1 in rows else 1, a.idle_seconds if 3 in rows else 0)
                if 1 in rows:
                    out["cold"] = cold
                    cold["cpu_ratio"] = cold["service_first_cycle_cpu_s"] / cold["fetch_cpu_s"]
                if idle is not None:
                    out["idle"] = idle
            if 5 in rows:
                out["short"] = self.short(min(a.n, 100), a.short_seconds)
            if 2 in rows:
                small = self.steady(a.n, a.steady_window)
                large = self.steady(a.n * 10, a.steady_window * 3)
                out["steady"] = self.summarize_steady(small, large, out.get("idle"))
            if 4 in rows:
                out["memory"] = self.memory(a.n, a.memory_minutes)
        finally:
            if self.bench is not None:
                self.bench.stop_server()
        return out

    @staticmethod
    def summarize_steady(small: dict[str, Any], large: dict[str, Any], idle: dict[str, Any] | None) -> dict[str, Any]:
        s, b = small["warm"]["cpu_ms_per_run"], large["warm"]["cpu_ms_per_run"]
        growth = b / s if s and b else None
        n = large["sources"]
        idle_cores = idle["cores"] if idle else 0.0
        per_hour = (b or 0) / 1000 * n + idle_cores * 3600
        return {"small": small, "large": large, "per_run_growth": growth,
                "hourly": {"sources": n, "cpu_s_per_hour": per_hour, "cores": per_hour / 3600,
                           "how": "warm CPU per source run at this N x N runs + the idle cores (row 3) x 3600 s",
                           "peak_rss_mb": large["peak_tree_rss_mb"],
                           "first_cold_cycle_s": large["cold"]["wall_s"],
                           "first_cold_cycle_cpu_s": large["cold"]["cpu_s"]},
                "target": "CPU per source run does not grow with N",
                "met": growth is not None and growth <= 1.25}


# =================================================================================================
# output
# =================================================================================================


def table(res: dict[str, Any]) -> str:
    r = res["rows"]
    mark = {True: "yes", False: "NO"}

    def bg(v: Any) -> str:
        if isinstance(v, list):
            flat = [x for pair in v for x in (pair if isinstance(pair, list) else [pair]) if x is not None]
            return f"{statistics.median(flat):.2f}-{max(flat):.2f}" if flat else "-"
        return f"{v:.2f}" if isinstance(v, float) else "-"

    lines = ["| Service measurement | Result | Target | Background cores |", "|---|---|---|---|"]
    if c := r.get("cold"):
        lines.append(f"| Fresh `monitor run`, {c['sources']:,} sources: first cycle vs cold `monitor fetch` "
                     f"(whole processes, median of {c['runs']}) | {c['service_first_cycle_s']:.2f} s vs "
                     f"{c['fetch_wall_s']:.2f} s = **{c['ratio']:.2f}x** (CPU {c['service_first_cycle_cpu_s']:.1f} s vs "
                     f"{c['fetch_cpu_s']:.1f} s) | <= 1.2x: {mark[c['met']]} | "
                     f"{bg(c['background_cores'])} |")
    if s := r.get("steady"):
        sm, lg, h = s["small"], s["large"], s["hourly"]
        lines.append(f"| Warm source run (304), CPU incl. parse workers: {sm['sources']:,} vs {lg['sources']:,} "
                     f"sources at {sm['warm']['runs_per_s']:.0f} runs/s | {sm['warm']['cpu_ms_per_run']:.2f} ms vs "
                     f"{lg['warm']['cpu_ms_per_run']:.2f} ms ({s['per_run_growth'] or 0:.2f}x) | does not grow: "
                     f"{mark[s['met']]} | {bg(sm['warm']['background_cores'])} / "
                     f"{bg(lg['warm']['background_cores'])} |")
        lines.append(f"| {h['sources']:,} sources due hourly: CPU per hour, peak RSS (process + workers) | "
                     f"{h['cpu_s_per_hour']:.1f} CPU s/h ({h['cores'] * 100:.1f}% of a core), "
                     f"{h['peak_rss_mb']:.0f} MB | report | - |")
        for x in (sm, lg):
            lines.append(f"| First (cold) cycle of a fresh service, {x['sources']:,} sources | "
                         f"{x['cold']['wall_s']:.1f} s, {x['cold']['cpu_s']:.1f} CPU s "
                         f"({x['cold']['per_source_ms']:.1f} ms per source) | report | "
                         f"{bg(x['cold'].get('background_cores'))} |")
    if i := r.get("idle"):
        lines.append(f"| Nothing due ({i['sources']:,} sources fetched, next due in ~1 h), {i['window_s']:.0f} s | "
                     f"{i['cores'] * 100:.2f}% of a core | < 1%: {mark[i['met']]} | {bg(i['background_cores'])} |")
    if m := r.get("memory"):
        lines.append(f"| RSS over {m['minutes']:g} min, {m['sources']:,} sources every 30 s (after the first "
                     f"cycle) | {m['rss_mb_at_settle']:.1f} -> {m['rss_mb_end']:.1f} MB, slope "
                     f"{m['slope_mb_per_min']:+.3f} MB/min | no growth | {bg(m['background_cores'])} |")
    if (sh := r.get("short")) and sh["gaps"]:
        lines.append(f"| `every: 5s`, {sh['sources']} sources: gap between runs | p50 {sh['p50_s']:.2f} s, "
                     f"p95 {sh['p95_s']:.2f} s ({sh['gaps']} gaps) | ~5 s | {bg(sh['background_cores'])} |")
    mc = res["machine"]
    lines.append("")
    lines.append(f"{mc['nproc']} cores, {mc['cpu']}, Python {mc['python']}, SQLite {mc['sqlite']}; {res['date']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="sources (row 2 also runs 10 x n; default 1000)")
    ap.add_argument("--runs", type=int, default=None, help="row 1 runs to take the median of (default 3)")
    ap.add_argument("--rows", default="1,2,3,4,5", help="rows to measure (default all)")
    ap.add_argument("--quick", action="store_true", help="small and short: to see that it works")
    ap.add_argument("--idle-seconds", type=float, default=None, help="row 3 window (default 60)")
    ap.add_argument("--steady-window", type=float, default=None,
                    help="row 2 warm window at n, x3 at 10 x n (default 60)")
    ap.add_argument("--memory-minutes", type=float, default=None, help="row 4 length (default 10)")
    ap.add_argument("--short-seconds", type=float, default=None, help="row 5 window (default 60)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="where service-latest.json goes")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    # every child (the site server of bench/run.py too) imports ``monitor`` from this checkout
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    quick = args.quick
    args.runs = args.runs or (1 if quick else 3)
    args.idle_seconds = args.idle_seconds if args.idle_seconds is not None else (10 if quick else 60)
    args.steady_window = args.steady_window if args.steady_window is not None else (10 if quick else 60)
    args.memory_minutes = args.memory_minutes if args.memory_minutes is not None else (1 if quick else 10)
    args.short_seconds = args.short_seconds if args.short_seconds is not None else (15 if quick else 60)
    rows = {int(x) for x in args.rows.split(",") if x.strip()}
    if not rows <= {1, 2, 3, 4, 5} or args.n < 10:
        ap.error("--rows takes numbers 1-5; --n must be >= 10")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "service-latest.json"
    work = Path(tempfile.mkdtemp(prefix="monitor-service-bench-"))
    try:
        measured = ServiceBench(args, work).run(rows)
    finally:
        if args.keep:
            log(f"scratch kept in {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    previous: dict[str, Any] = {}
    if path.exists() and rows != {1, 2, 3, 4, 5}:
        try:
            previous = json.loads(path.read_text()).get("rows", {})
        except (OSError, ValueError):
            previous = {}
    for row in measured.values():
        row["date"] = date
    rows_out = {**previous, **measured}
    if "steady" in measured and "idle" in rows_out:  # the hourly figure adds the idle cost (row 3)
        st = measured["steady"]
        rows_out["steady"] = {**ServiceBench.summarize_steady(st["small"], st["large"], rows_out["idle"]),
                              "date": date}
    result = {"date": date, "machine": benchrun.machine(),
              "params": {"n": args.n, "runs": args.runs, "quick": quick, "rows": sorted(rows),
                         "monitor_fetch": benchrun.BENCH_FETCH, "steady_runs_per_s": STEADY_RUNS_PER_S},
              "rows": rows_out}
    path.write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
