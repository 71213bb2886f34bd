"""monitor.sqlite_db: sqlite-utils' transaction rules without importing sqlite-utils, and its
migrations run (by sqlite-utils) only when one is pending. Real SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.sqlite_db import Database, Migrations

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db(tmp_path):
    d = Database(sqlite3.connect(tmp_path / "t.db"))
    d.execute("CREATE TABLE t (x INTEGER)")
    yield d
    d.close()


def _other(tmp_path) -> list[int]:
    """What another connection sees: only committed rows."""
    conn = sqlite3.connect(tmp_path / "t.db")
    try:
        return [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")]
    finally:
        conn.close()


def test_a_lone_write_is_committed_at_once(db, tmp_path):
    db.execute("INSERT INTO t VALUES (?)", [1])
    assert _other(tmp_path) == [1]
    assert next(db.query("SELECT count(*) AS n FROM t"))["n"] == 1


def test_atomic_commits_or_rolls_back_everything(db, tmp_path):
    with db.atomic():
        db.execute("INSERT INTO t VALUES (1)")
        db.execute("INSERT INTO t VALUES (2)")
        assert _other(tmp_path) == []  # not before the end of the block
    assert _other(tmp_path) == [1, 2]
    with pytest.raises(RuntimeError), db.atomic():
        db.execute("INSERT INTO t VALUES (3)")
        db.executescript("INSERT INTO t VALUES (4);\nINSERT INTO t VALUES (5);")  # joins, no commit
        raise RuntimeError("power cut")
    assert _other(tmp_path) == [1, 2] and not db.conn.in_transaction


def test_a_nested_block_is_a_savepoint(db, tmp_path):
    with db.atomic():
        db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError), db.atomic():
            db.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("inner fails")
        db.execute("INSERT INTO t VALUES (3)")
    assert _other(tmp_path) == [1, 3]


def test_a_failed_lone_write_leaves_no_transaction_open(db, tmp_path):
    db.execute("CREATE UNIQUE INDEX t_x ON t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO t VALUES (1)")
    assert not db.conn.in_transaction
    db.execute("INSERT INTO t VALUES (2)")
    assert _other(tmp_path) == [1, 2]


def test_migrations_are_sqlite_utils_records_and_run_once(tmp_path):
    calls: list[str] = []
    m = Migrations("test-set")

    @m(name="0001_a")
    def _a(d):
        calls.append("a")
        d.execute("CREATE TABLE a (x)")

    @m(name="0002_b")
    def _b(d):
        calls.append("b")
        d.executescript("CREATE TABLE b (x); CREATE TABLE c (x);")

    path = tmp_path / "m.db"
    d = Database(sqlite3.connect(path))
    assert [p.name for p in m.pending(d)] == ["0001_a", "0002_b"]
    m.apply(d)
    assert calls == ["a", "b"] and m.pending(d) == []
    m.apply(d)
    assert calls == ["a", "b"]  # nothing twice
    d.close()
    # the records are sqlite-utils' own: its Migrations sees them as applied
    from sqlite_utils import Database as SUDatabase
    from sqlite_utils.migrations import Migrations as SUMigrations

    su = SUMigrations("test-set")
    su(name="0001_a")(_a)
    su(name="0002_b")(_b)
    conn = sqlite3.connect(path)
    assert su.pending(SUDatabase(conn)) == []
    conn.close()


def test_a_migrated_database_opens_without_importing_sqlite_utils(tmp_path):
    path = tmp_path / "m.db"
    code = ("import sys; from monitor.store import Store; s = Store.open(sys.argv[1]); s.close(); "
            "print('sqlite_utils' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                           cwd=ROOT, timeout=60, check=True)
    again = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                           cwd=ROOT, timeout=60, check=True)
    assert first.stdout.strip() == "True"  # a new database: sqlite-utils creates the schema
    assert again.stdout.strip() == "False"  # nothing pending: not imported


@pytest.mark.parametrize("query", ["hello world", "NOT this", '"a phrase" and more', 'odd " quote', " spaced  out ",
                                   "a OR b", "", 'x""y'])
def test_quote_fts_is_sqlite_utils_quote_fts(query):
    from sqlite_utils import Database as SUDatabase

    assert Database.quote_fts(query) == SUDatabase(memory=True).quote_fts(query)
