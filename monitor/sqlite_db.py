"""The part of sqlite-utils the store uses, without importing sqlite-utils on every start.

Why: importing ``sqlite_utils`` costs more than a whole ``monitor status`` should (its ``db``
module loads its plugin machinery and, when numpy is installed anywhere in the environment,
numpy: 0.1-0.2 s). The store needs very little of it: ``execute`` that commits a lone write,
``atomic()`` transactions, ``executescript`` and ``query``, with the same semantics as
sqlite-utils 4 (copied below), and its migrations. Migrations are still sqlite-utils' own (same
``_sqlite_migrations`` table, same records), but sqlite-utils is imported only when one is pending:
on a database's first open and after an upgrade, never on an ordinary start.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["Database", "Migrations"]

_QUOTE_FTS = re.compile(r'\s+|(".*?")')
_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def _first_keyword(sql: str) -> str:
    for word in sql.lstrip().split(None, 1)[:1]:
        return word.rstrip(";").upper()
    return ""


class Database:
    """A :class:`sqlite3.Connection` with sqlite-utils 4's transaction rules (``conn`` is public)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._savepoints = 0
        # as sqlite-utils does: a row removed by INSERT OR REPLACE fires its DELETE triggers (the
        # full-text index of posts is kept by triggers)
        conn.execute("PRAGMA recursive_triggers=on")

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        """Run one statement. A write outside a transaction is committed at once (as sqlite-utils
        does); inside :meth:`atomic` it is part of that transaction."""
        was_in_transaction = self.conn.in_transaction
        try:
            cursor = self.conn.execute(sql, parameters) if parameters is not None else self.conn.execute(sql)
        except Exception:
            if not was_in_transaction and self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        if (not was_in_transaction and self.conn.in_transaction and cursor.description is None
                and _first_keyword(sql) not in _TRANSACTION_CONTROL):
            self.conn.execute("COMMIT")
        return cursor

    def executescript(self, sql: str) -> sqlite3.Cursor:
        """Several statements; inside a transaction they join it (sqlite3's executescript would
        commit it first), as in sqlite-utils."""
        if not self.conn.in_transaction:
            return self.conn.executescript(sql)
        cursor, statement = self.conn.cursor(), ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                cursor.execute(statement)
                statement = ""
        if statement.strip():
            cursor.execute(statement)
        return cursor

    @staticmethod
    def quote_fts(query: str) -> str:
        """A full-text query with every token quoted, so no FTS syntax can fail (sqlite-utils')."""
        if query.count('"') % 2:
            query += '"'
        bits = [b for b in _QUOTE_FTS.split(query) if b and b != '""']
        return " ".join(f'"{bit}"' if not bit.startswith('"') else bit for bit in bits)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        keys = [d[0] for d in cursor.description or ()]
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """A transaction (a savepoint when nested): committed on success, rolled back on any error."""
        if self.conn.in_transaction:
            self._savepoints += 1
            name = f"monitor_sp_{self._savepoints}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    self.conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            else:
                self.conn.execute(f"RELEASE SAVEPOINT {name}")
            finally:
                self._savepoints -= 1
            return
        self.conn.execute("BEGIN")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


Migration = Callable[[Any], None]


@dataclass(frozen=True)
class Pending:
    name: str
    fn: Migration


class Migrations:
    """A named, ordered set of migrations, applied by sqlite-utils' ``Migrations`` when (and only
    when) one of them is not yet recorded in ``_sqlite_migrations``."""

    table = "_sqlite_migrations"

    def __init__(self, name: str):
        self.name = name
        self._items: list[tuple[str, Migration]] = []

    def __call__(self, *, name: str | None = None) -> Callable[[Migration], Migration]:
        def register(fn: Migration) -> Migration:
            key = name or fn.__name__
            if any(k == key for k, _ in self._items):
                raise ValueError(f"migration {key!r} is already registered in {self.name!r}")
            self._items.append((key, fn))
            return fn

        return register

    def applied(self, conn: sqlite3.Connection) -> set[str]:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              [self.table]).fetchone()
        if not exists:
            return set()
        return {r[0] for r in conn.execute(f"SELECT name FROM {self.table} WHERE migration_set = ?", [self.name])}

    def pending(self, db: Any) -> list[Pending]:
        """The migrations not yet applied, in order (each with ``name``, as sqlite-utils')."""
        done = self.applied(db.conn)
        return [Pending(k, fn) for k, fn in self._items if k not in done]

    def apply(self, db: Any, *, stop_before: str | Iterable[str] | None = None) -> None:
        """Apply what is pending (``db``: ours or a sqlite-utils ``Database``)."""
        if stop_before is None and not self.pending(db):
            return
        from sqlite_utils import Database as SUDatabase
        from sqlite_utils.migrations import Migrations as SUMigrations

        engine = SUMigrations(self.name)
        for key, fn in self._items:
            engine(name=key)(fn)
        engine.apply(db if isinstance(db, SUDatabase) else SUDatabase(db.conn), stop_before=stop_before)
