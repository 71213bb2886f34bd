"""Hostile process and storage conditions: kill -9 at any moment, a locked database, a full disk,
a read-only output directory, a corrupt database file.

Whatever happens, afterwards ``PRAGMA integrity_check`` is ok, nothing stored before is lost, nothing
is duplicated (one row per post identity, version numbers 1..n without gaps), every published file is
whole (the previous version or the new one, never a torn one), and the user gets one line saying
what went wrong: never a traceback.

(``kill -9`` of ``monitor run`` is the service's suite; this one kills ``monitor fetch`` and
``monitor digest --all``.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hostile_server import (
    Run,
    check_database,
    db_rows,
    finish_monitor,
    kill,
    run_many,
    run_monitor,
    start_monitor,
    write_config,
)
from lxml import etree
from sample_site import generate_site, serve
from selectolax.lexbor import LexborHTMLParser

from monitor.config import load_config
from monitor.pipeline import run_once
from monitor.store import Store

KILLS = 15
UTC = dt.UTC


# -- a big, slow site ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_site():
    site = generate_site(24, posts_per_source=30, per_page=5, content_bytes=1500, seed=3)
    with serve(site) as running:
        site.running = running
        yield site


def site_sources(site) -> list[dict]:
    return [{"name": n, "url": u, "type": k, "max_pages": 10} for n, u, k in site.source_urls()]


def big_config(tmp_path: Path, sample, **extra) -> Path:
    return write_config(tmp_path, site_sources(sample), fetch={"timeout": "10s", "deadline": "20s", "per_host": 4},
                        **extra)


def snapshot(db: Path) -> dict[tuple[str, str], int]:
    return check_database(db) if db.exists() else {}


def assert_nothing_lost(before: dict, after: dict) -> None:
    lost = [k for k in before if k not in after]
    assert not lost, f"{len(lost)} stored posts lost, e.g. {lost[:3]}"
    fewer = [k for k in before if after[k] < before[k]]
    assert not fewer, f"versions lost for {fewer[:3]}"


def kill_at(args: list[str], cwd: Path, after: float) -> Run:
    started = time.monotonic()
    proc, out, err = start_monitor(*args, cwd=cwd)
    time.sleep(after)
    kill(proc)  # SIGKILL: no cleanup, no finally, no atexit
    return finish_monitor(proc, out, err, args, started, timeout=30)


# -- kill -9 ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_during_fetch_loses_and_duplicates_nothing(big_site, tmp_path):
    """15 ``monitor fetch`` runs against a slowed site, each killed at a random moment, the site edited
    between runs; after each: the database is consistent and holds everything it held before."""
    config = big_config(tmp_path, big_site)
    db = tmp_path / "monitor.db"
    rng = random.Random(15)
    # the first, full ingest takes a few seconds and each later run about a second: kills land mid-run
    # (start-up is ~0.2 s now, so the site, not the start, must keep a run going)
    big_site.delay("/", 0.1)
    try:
        before: dict = {}
        landed = 0
        for i in range(KILLS):
            big_site.edit_fraction(0.05, seed=i)
            if i % 4 == 0:
                author = big_site.authors[i % len(big_site.authors)]
                big_site.add_post(author.slug, f"Fresh post {i}", dt.date(2021, 11, 1) + dt.timedelta(days=i),
                                  f"{author.name}, Test Outlet, November 01 2021:… Fresh text {i}.")
            run = kill_at(["fetch", "--config", str(config)], tmp_path, rng.uniform(0.3, 2.2))
            assert "Traceback" not in run.stderr
            landed += run.returncode == -9
            after = snapshot(db)
            assert_nothing_lost(before, after)
            before = after
        assert landed >= KILLS // 2, f"only {landed} kills landed while fetch was running"
    finally:
        big_site.clear_faults()
    # the next, uninterrupted run completes and the result is what one clean run would have stored
    final = run_monitor("fetch", "--config", str(config), cwd=tmp_path, timeout=120)
    assert final.returncode == 0, (final.stdout[-2000:], final.stderr[-2000:])
    after = snapshot(db)
    assert_nothing_lost(before, after)
    ref_dir = tmp_path / "reference"
    ref_dir.mkdir()
    ref = run_monitor("fetch", "--config", str(big_config(ref_dir, big_site)), cwd=ref_dir, timeout=120)
    assert ref.returncode == 0
    reference = snapshot(ref_dir / "monitor.db")
    # the same posts, each once (their latest titles may differ: a run that stops at the first page
    # with nothing new never sees an edit on an older page, killed or not)
    assert set(after) == set(reference), "the killed database holds other posts than a clean run"


@pytest.fixture(scope="module")
def digest_db(big_site, tmp_path_factory):
    """A database with weeks of posts and of edits (seen in past weeks), filled in-process."""
    tmp = tmp_path_factory.mktemp("digest-db")
    config = load_config(big_config(tmp, big_site))
    with Store.open(config.database) as store:
        run_once(config, store, clock=lambda: dt.datetime(2021, 11, 1, 12, tzinfo=UTC))
        big_site.edit_fraction(0.2, seed=99)
        run_once(config, store, clock=lambda: dt.datetime(2021, 11, 9, 12, tzinfo=UTC))
    return config.database


def check_site(out: Path, titles: set[str]) -> dict[str, str]:
    """Every published file is whole and from one build (one of ``titles``); returns file -> title."""
    seen = {}
    for path in sorted(out.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(out).as_posix()
        if path.name.startswith("."):
            assert path.name.endswith(".tmp"), rel  # a killed build's temp file: never a published name
            continue
        data = path.read_bytes()
        if path.suffix == ".html":
            text = data.decode("utf-8")
            assert text.endswith("</html>\n"), f"{rel} is torn"
            title = LexborHTMLParser(text).css_first("p.site-title a").text()
        else:
            root = etree.fromstring(data, etree.XMLParser(recover=False))  # strict: a torn feed fails here
            node = root.find("channel/title") if root.tag == "rss" else root.find("{http://www.w3.org/2005/Atom}title")
            title = node.text
        match = [t for t in titles if title.startswith(t)]
        assert match, f"{rel} has the title {title!r}, from no build"
        seen[rel] = match[0]
    return seen


def test_kill_9_during_digest_build_leaves_every_file_whole(big_site, digest_db, tmp_path):
    """15 ``monitor digest --all`` builds, each rewriting every file (the site title changes) and
    each killed at a random moment: every file is the previous version or the new one, whole."""
    db = tmp_path / "monitor.db"
    shutil.copy(digest_db, db)
    before = snapshot(db)
    rng = random.Random(8)

    def config_for(i: int) -> Path:
        return big_config(tmp_path, big_site, site={"title": f"Kill test {i:02d}", "url": "http://127.0.0.1:8000/"})

    first = run_monitor("digest", "--all", "--config", str(config_for(0)), cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "site"
    assert len(list((out / "posts").glob("*.html"))) > 10 and len(list((out / "digests").glob("*.html"))) > 10
    titles = {"Kill test 00"}
    build = first.elapsed
    landed = 0
    for i in range(1, KILLS + 1):
        titles.add(f"Kill test {i:02d}")
        run = kill_at(["digest", "--all", "--config", str(config_for(i))], tmp_path, rng.uniform(0.1, 1.1) * build)
        assert "Traceback" not in run.stderr
        landed += run.returncode == -9
        check_site(out, titles)
        after = snapshot(db)
        assert after == before, "a digest build never changes posts"
        assert len(db_rows(db, "SELECT week_ending FROM digests")) >= 1
    assert landed >= KILLS // 3, f"only {landed} kills landed during a build"
    last = run_monitor("digest", "--all", "--config", str(config_for(99)), cwd=tmp_path, timeout=120)
    assert last.returncode == 0, last.stderr
    assert set(check_site(out, {"Kill test 99"}).values()) == {"Kill test 99"}


# -- a locked database --------------------------------------------------------------------------------------------


def _hold_lock(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def _small_world(tmp_path: Path, site) -> Path:
    config = write_config(tmp_path, site_sources(site)[:3])
    first = run_monitor("fetch", "--config", str(config), cwd=tmp_path, timeout=60)
    assert first.returncode == 0, first.stderr
    return config


def test_a_locked_database_is_waited_for(big_site, tmp_path):
    config = _small_world(tmp_path, big_site)
    db = tmp_path / "monitor.db"
    before = snapshot(db)
    conn = _hold_lock(db)
    timer = threading.Timer(2.0, lambda: conn.execute("COMMIT"))
    timer.start()
    try:
        run = run_monitor("fetch", "--config", str(config), cwd=tmp_path, timeout=60)
    finally:
        timer.join()
        conn.close()
    run.assert_no_traceback()
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert run.elapsed >= 1.5, "it did not wait for the lock"
    assert_nothing_lost(before, snapshot(db))


@pytest.mark.slow
def test_a_database_locked_for_longer_than_the_busy_timeout_is_a_clear_error(big_site, tmp_path):
    """The lock outlives the 30 s busy timeout: each command that writes says so in one line and
    exits 1; `status` only reads, and reading is never blocked by a writer (WAL)."""
    config = _small_world(tmp_path, big_site)
    db = tmp_path / "monitor.db"
    before = snapshot(db)
    conn = _hold_lock(db)
    try:
        runs = run_many([["fetch", "--config", str(config)], ["status", "--config", str(config)],
                         ["digest", "--all", "--config", str(config)]], cwd=tmp_path, timeout=120)
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    status = runs.pop(1)
    status.assert_no_traceback()
    assert status.returncode == 0 and "posts" in status.stdout, (status.stdout, status.stderr)
    for run in runs:
        run.assert_no_traceback()
        assert run.returncode == 1, (run.args, run.stdout, run.stderr)
        assert f"error: database {db} is locked by another process (gave up waiting" in run.stderr, run.stderr
        assert 25 < run.elapsed < 100
    assert_nothing_lost(before, snapshot(db))


# -- a full disk -----------------------------------------------------------------------------------------------


def _fsize_limit(n: int) -> str:
    """A prelude: files may not grow past ``n`` bytes (EFBIG, as on a full disk), SIGXFSZ ignored."""
    return ("import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({n}, {n}))\n")


def test_a_full_disk_during_fetch_is_a_clear_error_and_the_database_survives(big_site, tmp_path):
    config = _small_world(tmp_path, big_site)
    db = tmp_path / "monitor.db"
    before = snapshot(db)
    config = big_config(tmp_path, big_site)  # all 24 sources now: far more than fits
    run = run_monitor("fetch", "--config", str(config), cwd=tmp_path, timeout=90, prelude=_fsize_limit(64_000))
    run.assert_no_traceback()
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert f"error: cannot write the database {db}" in run.stderr and "is the disk full?" in run.stderr, run.stderr
    assert_nothing_lost(before, snapshot(db))
    # with space again, the next run stores everything
    again = run_monitor("fetch", "--config", str(config), cwd=tmp_path, timeout=90)
    assert again.returncode == 0, again.stderr
    assert len(snapshot(db)) > len(before)


def _hashes(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def built(big_site, digest_db, tmp_path):
    """A copy of the digest database with its site built once (title "Before")."""
    shutil.copy(digest_db, tmp_path / "monitor.db")
    site = {"title": "Before", "url": "http://127.0.0.1:8000/"}
    config = big_config(tmp_path, big_site, site=site)
    run = run_monitor("digest", "--all", "--config", str(config), cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    after = big_config(tmp_path, big_site, site={**site, "title": "After"})  # every file would change
    db = tmp_path / "monitor.db"
    return {"config": after, "db": db, "out": tmp_path / "site", "hashes": _hashes(tmp_path / "site"),
            "posts": snapshot(db), "digests": [dict(r) for r in db_rows(db, "SELECT * FROM digests")]}


def _unchanged(built) -> None:
    assert _hashes(built["out"]) == built["hashes"], "the previous site must be left exactly as it was"
    assert snapshot(built["db"]) == built["posts"]
    assert [dict(r) for r in db_rows(built["db"], "SELECT * FROM digests")] == built["digests"]


def test_a_full_disk_during_a_digest_build_leaves_the_previous_site_and_the_database(built, tmp_path):
    run = run_monitor("digest", "--all", "--config", str(built["config"]), cwd=tmp_path, timeout=60,
                      prelude=_fsize_limit(40_000))
    run.assert_no_traceback()
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.stderr.startswith("error: cannot write ") and "File too large" in run.stderr, run.stderr
    _unchanged(built)


# -- a read-only output directory ----------------------------------------------------------------------------

# As root, chmod does not stop writes (CAP_DAC_OVERRIDE): drop that capability (and its cousins) from
# the bounding set, then exec the monitor, which runs as root without them.
_DROP_DAC = """import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if os.geteuid() == 0:
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise SystemExit(f"cannot drop capability {cap}: errno {ctypes.get_errno()}")
"""
_EXEC_MONITOR = "os.execv(sys.executable, [sys.executable, '-m', 'monitor', *sys.argv[1:]])\n"


def _read_only_works(tmp_path: Path) -> bool:
    probe = tmp_path / "ro-probe"
    probe.mkdir()
    probe.chmod(0o555)
    try:
        inner = f"open({str(probe / 'x')!r}, 'w')"
        code = _DROP_DAC + f"os.execv(sys.executable, [sys.executable, '-c', {inner!r}])\n"
        r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, timeout=30)
        return r.returncode != 0 and b"PermissionError" in r.stderr
    finally:
        probe.chmod(0o755)


def test_a_read_only_output_directory_is_a_clear_error(built, tmp_path):
    if not _read_only_works(tmp_path):
        pytest.skip("cannot make a directory read-only for this user here")
    out = built["out"]
    dirs = [out, *(p for p in out.rglob("*") if p.is_dir())]
    for d in dirs:
        d.chmod(0o555)
    try:
        run = run_monitor("digest", "--all", "--config", str(built["config"]), cwd=tmp_path, timeout=60,
                          prelude=_DROP_DAC + _EXEC_MONITOR)
    finally:
        for d in dirs:
            d.chmod(0o755)
    run.assert_no_traceback()
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.stderr.startswith("error: cannot write ") and "Permission denied" in run.stderr, run.stderr
    _unchanged(built)


def test_an_output_dir_that_is_a_file_is_a_clear_error(built, tmp_path):
    config = load_config(built["config"])
    path = tmp_path / "not-a-dir"
    path.write_text("I am a file")
    cfg = write_config(tmp_path, site_sources_from(config), site={"title": "After", "url": config.site_url},
                       output_dir=str(path), fetch={"timeout": "10s", "deadline": "20s"})
    run = run_monitor("digest", "--all", "--config", str(cfg), cwd=tmp_path, timeout=60)
    run.assert_no_traceback()
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.stderr.startswith(f"error: cannot create the output directory {path}"), run.stderr
    assert path.read_text() == "I am a file"
    _unchanged(built)


def site_sources_from(config) -> list[dict]:
    return [{"name": s.name, "url": s.url, "type": s.type} for s in config.sources]


# -- a corrupt database ------------------------------------------------------------------------------------------


def test_a_corrupt_database_file_is_a_clear_error_for_every_command(big_site, tmp_path):
    config = write_config(tmp_path, site_sources(big_site)[:2])
    (tmp_path / "monitor.db").write_bytes(b"this is not SQLite " * 500)
    runs = run_many([[c, "--config", str(config)] for c in ("fetch", "status", "posts", "digest")]
                    + [["history", "http://x.example/", "--config", str(config)]], cwd=tmp_path, timeout=60)
    for run in runs:
        run.assert_no_traceback()
        assert run.returncode == 1, (run.args, run.stderr)
        assert run.stderr.startswith(f"error: database {tmp_path / 'monitor.db'} is corrupt or not a database")
    assert (tmp_path / "monitor.db").read_bytes() == b"this is not SQLite " * 500

