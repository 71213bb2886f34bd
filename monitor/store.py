"""SQLite storage (sqlite-utils semantics, :mod:`monitor.sqlite_db`): the schema, its migrations, and every query.

No post is ever deleted: a post that disappears from a page stays, and every
observed version of a post is kept with when it was seen and what changed. Only
the run log is bounded: a run deletes its source's rows older than the cutoff the
pipeline passes (``RunWrites.prune_log_before``, from ``fetch.log_retention``).

Tables::

    sources     one row per configured source: schedule and last result
    http_cache  ETag / Last-Modified / body hash per fetched URL
    posts       one row per (source, post identity): the latest version
    versions    every observed version of a post (1 = first seen) + its diff
    fetch_log   one row per source run: status, HTTP code, timings, counts, error (bounded)
    digests     one row per built week: title, lead, posts, content hash
    deliveries  the delivery ledger: one row per (week, channel, recipient) and its state
    delivery_starts  per (channel, recipient): the first week it is due (a new recipient
                never gets the back catalogue)

All timestamps are stored as ISO 8601 UTC text with microseconds, so they sort
as text. Writes of one source run happen in one transaction
(:meth:`Store.apply_run`): a crash mid-run leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import StorageError
from .models import (
    Delivery,
    FieldChange,
    PostWrite,
    PublishingState,
    RunWrites,
    SourceResult,
    SourceState,
    StoredPost,
    Version,
)
from .sqlite_db import Database, Migrations  # sqlite-utils' semantics; sqlite-utils only to migrate

if TYPE_CHECKING:  # what a migration is handed: sqlite-utils' own Database (monitor.sqlite_db.Migrations)
    from sqlite_utils import Database as MigrationDb

UTC = dt.UTC

migrations = Migrations("digest-monitor")


@migrations(name="0001_initial")
def _m0001(db: MigrationDb) -> None:
    db.executescript(
        """
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            type TEXT NOT NULL,
            added_at TEXT NOT NULL,
            last_run_at TEXT,
            last_status TEXT,
            last_error TEXT,
            last_error_type TEXT,
            last_http_status INTEGER,
            last_ok_at TEXT,
            next_due_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            retry_after_until TEXT,
            last_post_count INTEGER,
            feed_url TEXT
        );
        CREATE TABLE http_cache (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            checked_at TEXT
        );
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            identity TEXT NOT NULL,
            url_key TEXT NOT NULL,
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            published TEXT,
            date_only INTEGER NOT NULL DEFAULT 0,
            excerpt TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            outlet TEXT NOT NULL DEFAULT '',
            original_date TEXT,
            guid TEXT,
            wp_id INTEGER,
            origin TEXT NOT NULL DEFAULT 'page',
            hash TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            last_changed TEXT,
            versions INTEGER NOT NULL DEFAULT 1,
            UNIQUE (source, identity)
        );
        CREATE INDEX posts_url_key ON posts (source, url_key);
        CREATE INDEX posts_published ON posts (published);
        CREATE INDEX posts_last_changed ON posts (last_changed);
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            post_id INTEGER NOT NULL REFERENCES posts(id),
            number INTEGER NOT NULL,
            seen_at TEXT NOT NULL,
            title TEXT NOT NULL,
            excerpt TEXT NOT NULL,
            content TEXT NOT NULL,
            published TEXT,
            date_only INTEGER NOT NULL DEFAULT 0,
            author TEXT NOT NULL DEFAULT '',
            outlet TEXT NOT NULL DEFAULT '',
            hash TEXT NOT NULL,
            changes TEXT NOT NULL DEFAULT '[]',
            UNIQUE (post_id, number)
        );
        CREATE INDEX versions_seen_at ON versions (seen_at);
        CREATE TABLE fetch_log (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            duration REAL NOT NULL,
            status TEXT NOT NULL,
            http_status INTEGER,
            pages INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            changed INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            error_type TEXT
        );
        CREATE INDEX fetch_log_source ON fetch_log (source, id);
        CREATE TABLE digests (
            week_ending TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            lead_url TEXT,
            post_ids TEXT NOT NULL,
            updated_ids TEXT NOT NULL,
            built_at TEXT NOT NULL,
            content_hash TEXT NOT NULL
        );
        """
    )


@migrations(name="0002_full_sweep")
def _m0002(db: MigrationDb) -> None:
    # when each source last read every page up to max_pages (edits on older pages)
    db.execute("ALTER TABLE sources ADD COLUMN last_full_at TEXT")


@migrations(name="0003_http_cache_per_source")
def _m0003(db: MigrationDb) -> None:
    # validators belong to a source's run: two sources with the same URL must not answer each
    # other's conditional GETs (one would see 304 for what only the other has read)
    db.executescript(
        """
        CREATE TABLE http_cache_by_source (
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            checked_at TEXT,
            PRIMARY KEY (source, url)
        );
        INSERT OR IGNORE INTO http_cache_by_source
            SELECT s.name, c.url, c.etag, c.last_modified, c.body_hash, c.checked_at
            FROM http_cache c JOIN sources s ON c.url IN (s.url, s.feed_url);
        DROP TABLE http_cache;
        ALTER TABLE http_cache_by_source RENAME TO http_cache;
        """
    )


@migrations(name="0004_shrunk_count")
def _m0004(db: MigrationDb) -> None:
    # a first page with far fewer posts than before, and how many runs in a row have seen it
    db.execute("ALTER TABLE sources ADD COLUMN shrunk_count INTEGER")
    db.execute("ALTER TABLE sources ADD COLUMN shrunk_runs INTEGER NOT NULL DEFAULT 0")


@migrations(name="0005_publishing_state")
def _m0005(db: MigrationDb) -> None:
    # the service's last publish pass: a failing publish shows in `monitor status` and /healthz
    # (from any process) until a pass succeeds
    db.execute("CREATE TABLE publishing (id INTEGER PRIMARY KEY CHECK (id = 1), attempted_at TEXT, "
               "ok INTEGER NOT NULL, last_error TEXT, retry_at TEXT)")


@migrations(name="0006_deliveries")
def _m0006(db: MigrationDb) -> None:
    # the delivery ledger (monitor/deliver/): a row is written "queued" before a message is sent
    # and "sent" after, so a crash never loses track of who has the week
    db.executescript(
        """
        CREATE TABLE deliveries (
            week_ending TEXT NOT NULL,
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            state TEXT NOT NULL,
            message_id TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            generation INTEGER NOT NULL DEFAULT 0,
            permanent INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt_at TEXT,
            created_at TEXT,
            updated_at TEXT,
            sent_at TEXT,
            PRIMARY KEY (week_ending, channel, recipient)
        );
        CREATE TABLE delivery_starts (
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            since_week TEXT NOT NULL,
            added_at TEXT NOT NULL,
            PRIMARY KEY (channel, recipient)
        );
        """
    )


@migrations(name="0007_search")
def _m0007(db: MigrationDb) -> None:
    # full-text search (monitor search), SQLite FTS5, kept OFF the ingest path as reader does: a
    # post is written with indexed = 0 (new, or a new version) and the index catches up in batches
    # (Monitor.update_search: before a search, and by the service when idle), so indexing never
    # slows a fetch. The index holds the content's text, not its HTML.
    db.execute("ALTER TABLE posts ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX posts_to_index ON posts (id) WHERE indexed = 0")
    db.execute("CREATE VIRTUAL TABLE search USING fts5(title, excerpt, body, "
               "tokenize = 'porter unicode61 remove_diacritics 2')")


@migrations(name="0008_chosen_lead")
def _m0008(db: MigrationDb) -> None:
    # the lead picked by hand (monitor digest --lead) for a week: later builds (digest --all, the
    # service's weekly publish) keep it instead of reverting to the automatic choice
    db.execute("ALTER TABLE digests ADD COLUMN chosen_lead TEXT")


@migrations(name="0009_fetch_log_by_time")
def _m0009(db: MigrationDb) -> None:
    # each run deletes its source's rows older than the retention: a range of this index, so the
    # delete costs what it removes, not the source's whole history
    db.execute("CREATE INDEX IF NOT EXISTS fetch_log_source_started ON fetch_log (source, started_at)")


def iso(value: dt.datetime | None) -> str | None:
    """A datetime as sortable UTC text (microseconds always present)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: every datetime must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _changes_json(changes: Sequence[FieldChange]) -> str:
    return json.dumps(
        [{"field": c.field, "old": c.old, "new": c.new, "diff": c.diff, "label": c.label} for c in changes],
        ensure_ascii=False,
    )


def _changes_from_json(text: str) -> tuple[FieldChange, ...]:
    return tuple(FieldChange(**c) for c in json.loads(text or "[]"))


#: The columns of a post, in StoredPost's order: hot reads select these and build StoredPost from
#: the row tuple (sqlite-utils' dict per row costs more than the query on big reads).
_POST_COLUMNS = ("id", "source", "identity", "url", "title", "published", "date_only", "excerpt", "content",
                 "author", "outlet", "original_date", "guid", "wp_id", "origin", "hash", "first_seen",
                 "last_seen", "last_changed", "versions")
_POST_SELECT = ", ".join(_POST_COLUMNS)
_N_POST = len(_POST_COLUMNS)
_VERSION_COLUMNS = ("post_id", "number", "seen_at", "title", "excerpt", "content", "published", "changes")
_VERSION_SELECT = ", ".join(_VERSION_COLUMNS)


def _select(columns: Sequence[str], table: str = "", *, content: bool = True) -> str:
    """A SELECT list of ``columns`` (of ``table``); ``content=False`` reads ``''`` for content."""
    prefix = f"{table}." if table else ""
    return ", ".join("'' AS content" if c == "content" and not content else prefix + c for c in columns)


def _post_row(t: Sequence[Any]) -> StoredPost:
    """StoredPost from a row of ``_POST_COLUMNS``."""
    (id_, source, identity, url, title, published, date_only, excerpt, content, author, outlet, original_date,
     guid, wp_id, origin, hash_, first_seen, last_seen, last_changed, versions) = t
    fromiso = dt.datetime.fromisoformat
    return StoredPost(
        id_, source, identity, url, title, fromiso(published) if published else None, bool(date_only), excerpt,
        content, author, outlet, dt.date.fromisoformat(original_date) if original_date else None, guid, wp_id,
        origin, hash_, fromiso(first_seen), fromiso(last_seen), fromiso(last_changed) if last_changed else None,
        versions,
    )


def _version_row(t: Sequence[Any]) -> Version:
    """Version from a row of ``_VERSION_COLUMNS``."""
    post_id, number, seen_at, title, excerpt, content, published, changes = t
    return Version(post_id=post_id, number=number, seen_at=dt.datetime.fromisoformat(seen_at), title=title,
                   excerpt=excerpt, content=content, published=parse_iso(published),
                   changes=_changes_from_json(changes) if changes and changes != "[]" else ())


def _source_state(row: dict[str, Any]) -> SourceState:
    return SourceState(
        name=row["name"], url=row["url"], type=row["type"],
        last_run_at=parse_iso(row["last_run_at"]), last_status=row["last_status"],
        last_error=row["last_error"], last_error_type=row["last_error_type"],
        last_http_status=row["last_http_status"], last_ok_at=parse_iso(row["last_ok_at"]),
        next_due_at=parse_iso(row["next_due_at"]), failures=row["failures"],
        retry_after_until=parse_iso(row["retry_after_until"]), last_post_count=row["last_post_count"],
        feed_url=row["feed_url"], last_full_at=parse_iso(row["last_full_at"]),
        shrunk_count=row["shrunk_count"], shrunk_runs=row["shrunk_runs"],
    )


def _wrap(e: sqlite3.Error, what: str, path: Path | str) -> StorageError:
    msg = str(e)
    if "unable to open" in msg or "disk I/O" in msg:  # a folder, a missing parent, no permission, ...
        from .paths import path_problem

        problem = path_problem(path, folder=False, what="cannot open the database")
        if problem:
            return StorageError(problem)
    if "locked" in msg or "busy" in msg:
        return StorageError(f"database {path} is locked by another process (gave up waiting while {what})")
    if "disk is full" in msg or "disk I/O" in msg:
        return StorageError(f"cannot write the database {path}: {msg} (is the disk full?)")
    if "readonly" in msg or "read-only" in msg:
        return StorageError(f"cannot write the database {path}: it is read-only")
    if "malformed" in msg or "not a database" in msg:
        return StorageError(f"database {path} is corrupt or not a database: {msg}")
    if "unable to open" in msg:
        return StorageError(f"cannot open the database {path}: {msg}")
    return StorageError(f"database {path}: error while {what}: {msg}")


T = TypeVar("T")


class Store:
    """The monitor's database. Open with :meth:`open`; close when done."""

    def __init__(self, db: Database, path: Path | str, busy_timeout: float = 30.0):
        self.db = db
        self.path = path
        self.busy_timeout = busy_timeout

    @classmethod
    def open(cls, path: Path | str, *, busy_timeout: float = 30.0) -> Store:
        """Open (creating if needed) and migrate. Waits up to ``busy_timeout`` s for a lock."""
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=False)
            db = Database(conn)
            store = cls(db, path, busy_timeout)
            store._retry(lambda: db.execute("PRAGMA journal_mode=WAL"), "enabling WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            store._retry(lambda: migrations.apply(db), "migrating the schema")
            return store
        except sqlite3.Error as e:
            raise _wrap(e, "opening", path) from e
        except OSError as e:
            from .paths import path_problem

            raise StorageError(path_problem(path, folder=False, what="cannot open the database")
                               or f"cannot open the database {path}: {e}") from e

    @classmethod
    def open_readonly(cls, path: Path | str, *, busy_timeout: float = 5.0) -> Store | None:
        """Open an existing database for reading only (no migration, no write, no file created):
        for commands that only look, like ``monitor status``. None when there is no database yet."""
        if str(path) == ":memory:" or not Path(path).exists():
            from .paths import path_problem

            problem = path_problem(path, folder=False, what="cannot open the database")
            if problem:  # not "no database yet": one can never be created there
                raise StorageError(problem)
            return None
        try:
            conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout,
                                   check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            db = Database(conn)
            pending = [m.name for m in migrations.pending(db)]
        except sqlite3.Error as e:
            raise _wrap(e, "opening", path) from e
        if pending:
            db.close()
            raise StorageError(f"database {path} is from an older version (to do: {', '.join(pending)}); "
                               "a command that writes (monitor fetch, monitor run) upgrades it")
        return cls(db, path, busy_timeout)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retry(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn``; on 'database is locked' retry with backoff until busy_timeout."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if ("locked" not in str(e) and "busy" not in str(e)) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """Rows of a SELECT as dicts. Not ``db.query``: sqlite-utils 4 wraps every query in a
        SAVEPOINT (to roll back a statement that turns out to write), which makes each read a
        transaction of its own; these statements are ours and only read."""
        cursor = self.db.conn.execute(sql, params)
        keys = [d[0] for d in cursor.description]
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise _wrap(e, what, self.path) from e

    # -- sources ---------------------------------------------------------------

    def sync_sources(self, sources: Iterable[Any], now: dt.datetime) -> None:
        """Make sure every configured source has a row (url/type kept current)."""
        with self._errors("registering sources"), self.db.atomic():
            for s in sources:
                self.db.execute(
                    "INSERT INTO sources (name, url, type, added_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET url = excluded.url, type = excluded.type",
                    [s.name, s.url, s.type, iso(now)],
                )

    def source_states(self, names: Iterable[str] | None = None) -> dict[str, SourceState]:
        """The state of every registered source, or of ``names`` only (a few queries for many)."""
        with self._errors("reading sources"):
            if names is None:
                return {r["name"]: _source_state(r) for r in self._rows("SELECT * FROM sources ORDER BY name")}
            wanted = list(dict.fromkeys(names))
            out: dict[str, SourceState] = {}
            for i in range(0, len(wanted), 500):
                chunk = wanted[i:i + 500]
                out.update((r["name"], _source_state(r)) for r in self._rows(
                    f"SELECT * FROM sources WHERE name IN ({', '.join(['?'] * len(chunk))})", chunk))
            return out

    def source_state(self, name: str) -> SourceState | None:
        with self._errors("reading a source"):
            rows = list(self._rows("SELECT * FROM sources WHERE name = ?", [name]))
        return _source_state(rows[0]) if rows else None

    # -- http cache --------------------------------------------------------------

    def http_cache(self, source: str, url: str) -> tuple[str | None, str | None, str | None]:
        """(etag, last_modified, body_hash) remembered for ``url`` by ``source``'s runs."""
        return self.http_caches([(source, url)]).get((source, url), (None, None, None))

    def http_caches(self, keys: Iterable[tuple[str, str]]
                    ) -> dict[tuple[str, str], tuple[str | None, str | None, str | None]]:
        """:meth:`http_cache` for many (source, url) pairs in a few queries (those never fetched
        are left out)."""
        keys = list(dict.fromkeys(keys))
        out: dict[tuple[str, str], tuple[str | None, str | None, str | None]] = {}
        with self._errors("reading the HTTP cache"):
            for i in range(0, len(keys), 400):
                chunk = keys[i:i + 400]
                rows = self.db.conn.execute(
                    "SELECT source, url, etag, last_modified, body_hash FROM http_cache WHERE (source, url) IN "
                    f"(VALUES {', '.join(['(?, ?)'] * len(chunk))})", [x for k in chunk for x in k])
                out.update(((r[0], r[1]), (r[2], r[3], r[4])) for r in rows)
        return out

    # -- posts -------------------------------------------------------------------

    def posts_of_source(self, source: str) -> tuple[dict[str, StoredPost], dict[str, StoredPost]]:
        """Every stored post of a source, indexed by identity and by url_key."""
        by_id: dict[str, StoredPost] = {}
        by_url: dict[str, StoredPost] = {}
        with self._errors("reading posts"):
            for r in self.db.conn.execute(f"SELECT {_POST_SELECT}, url_key FROM posts WHERE source = ?", [source]):
                p = _post_row(r[:_N_POST])
                by_id[p.identity] = p
                by_url.setdefault(r[_N_POST], p)
        return by_id, by_url

    def post_counts(self) -> dict[str, int]:
        """Stored posts per source, in one query."""
        with self._errors("counting posts"):
            return {r["source"]: r["n"] for r in self._rows("SELECT source, count(*) AS n FROM posts GROUP BY source")}

    def count_posts(self, source: str | None = None) -> int:
        sql, params = "SELECT count(*) AS n FROM posts", []
        if source:
            sql, params = sql + " WHERE source = ?", [source]
        with self._errors("counting posts"):
            return int(next(self._rows(sql, params))["n"])

    def posts(self, *, source: str | None = None, since: dt.datetime | None = None,
              changed: bool = False) -> list[StoredPost]:
        where: list[str] = []
        params: list[Any] = []
        if source:
            where.append("source = ?")
            params.append(source)
        if since:
            where.append("published >= ?")
            params.append(iso(since))
        if changed:
            where.append("versions > 1")
        sql = f"SELECT {_POST_SELECT} FROM posts" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY published DESC, id DESC"
        with self._errors("reading posts"):
            return [_post_row(r) for r in self.db.conn.execute(sql, params)]

    def search(self, query: str, *, sources: Sequence[str] = (), since: dt.datetime | None = None,
               limit: int = 50) -> list[tuple[StoredPost, str, float]]:
        """Posts matching ``query`` (every word, stemmed; quoted as given, so no FTS syntax can
        fail), best first: (post, snippet with matches between \x02 and \x03, rank)."""
        where: list[str] = ["search MATCH ?"]
        params: list[Any] = [self.db.quote_fts(query)]
        if sources:
            where.append(f"p.source IN ({', '.join('?' * len(sources))})")
            params.extend(sources)
        if since:
            where.append("p.published >= ?")
            params.append(iso(since))
        sql = (f"SELECT {_select(_POST_COLUMNS, 'p')}, "
               "snippet(search, -1, char(2), char(3), '…', 16) AS snippet, search.rank AS rank "
               "FROM search JOIN posts p ON p.id = search.rowid "
               f"WHERE {' AND '.join(where)} ORDER BY search.rank, p.published DESC LIMIT ?")
        with self._errors("searching posts"):
            return [(_post_row(r[:_N_POST]), r[_N_POST], r[_N_POST + 1])
                    for r in self.db.conn.execute(sql, [*params, limit])]

    def posts_to_index(self, limit: int) -> list[tuple[int, str, str, str]]:
        """Up to ``limit`` posts written since the search index last saw them: (id, title, excerpt, content)."""
        with self._errors("reading posts"):
            return list(self.db.conn.execute(
                "SELECT id, title, excerpt, content FROM posts WHERE indexed = 0 ORDER BY id LIMIT ?", [limit]))

    def index_posts(self, rows: Sequence[tuple[int, str, str, str]]) -> None:
        """Put (id, title, excerpt, body text) in the search index, as given, in one transaction."""
        ids = [r[0] for r in rows]
        marks = ", ".join("?" * len(ids))
        with self._errors("updating the search index"), self.db.atomic():
            self.db.execute(f"DELETE FROM search WHERE rowid IN ({marks})", ids)
            self.db.conn.executemany("INSERT INTO search (rowid, title, excerpt, body) VALUES (?, ?, ?, ?)", rows)
            self.db.execute(f"UPDATE posts SET indexed = 1 WHERE id IN ({marks})", ids)

    def posts_by_url(self, url: str, url_key: str | None = None) -> list[StoredPost]:
        with self._errors("reading posts"):
            rows = self.db.conn.execute(
                f"SELECT {_POST_SELECT} FROM posts WHERE url = ? OR url_key = ? ORDER BY id", [url, url_key or url]
            )
            return [_post_row(r) for r in rows]

    def posts_published_between(self, start: dt.datetime, end: dt.datetime, *,
                                content: bool = True) -> list[StoredPost]:
        """Posts whose published instant is in [start, end). ``content=False``: without their
        content (``""``), which a digest never shows and which is most of a post's bytes."""
        with self._errors("reading posts"):
            rows = self.db.conn.execute(
                f"SELECT {_select(_POST_COLUMNS, content=content)} FROM posts "
                "WHERE published >= ? AND published < ? "
                "ORDER BY published DESC, id ASC",
                [iso(start), iso(end)],
            )
            return [_post_row(r) for r in rows]

    def changes_between(self, start: dt.datetime, end: dt.datetime, *,
                        content: bool = True) -> list[tuple[StoredPost, Version]]:
        """Versions > 1 seen in [start, end), with their post, oldest first (``content=False``:
        post and version without their content, as in :meth:`posts_published_between`)."""
        # one query (the post joined in), not one more per changed post
        version_cols = _select(_VERSION_COLUMNS, "v", content=content)
        post_cols = _select(_POST_COLUMNS, "p", content=content)
        with self._errors("reading versions"):
            rows = self.db.conn.execute(
                f"SELECT {version_cols}, {post_cols} FROM versions v JOIN posts p ON p.id = v.post_id "
                "WHERE v.number > 1 AND v.seen_at >= ? AND v.seen_at < ? ORDER BY v.seen_at, v.id",
                [iso(start), iso(end)],
            )
            out = []
            cache: dict[int, StoredPost] = {}
            n = len(_VERSION_COLUMNS)
            for r in rows:
                pid = r[0]
                post = cache.get(pid)
                if post is None:
                    post = cache[pid] = _post_row(r[n:])
                out.append((post, _version_row(r[:n])))
            return out

    def versions_of(self, post_ids: Iterable[int]) -> dict[int, list[Version]]:
        """:meth:`versions` of many posts in a few queries (every id is a key)."""
        ids = list(dict.fromkeys(post_ids))
        out: dict[int, list[Version]] = {i: [] for i in ids}
        with self._errors("reading versions"):
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                for r in self.db.conn.execute(
                        f"SELECT {_VERSION_SELECT} FROM versions WHERE post_id IN ({', '.join(['?'] * len(chunk))}) "
                        "ORDER BY post_id, number", chunk):
                    out[r[0]].append(_version_row(r))
        return out

    def versions(self, post_id: int) -> list[Version]:
        return self.versions_of([post_id])[post_id]

    def first_published(self) -> dt.datetime | None:
        with self._errors("reading posts"):
            r = next(self._rows("SELECT min(published) AS m FROM posts"))
        return parse_iso(r["m"])

    def apply_run(self, w: RunWrites) -> None:
        """Write everything of one source run atomically (or nothing)."""
        now = iso(w.finished_at)
        r = w.result
        with self._errors(f"storing the run of {w.source}"):
            self._retry(lambda: self._apply_run(w, now, r), f"storing the run of {w.source}")

    def _apply_run(self, w: RunWrites, now: str | None, r: SourceResult) -> None:
        db = self.db
        with db.atomic():
            # new posts and their first versions in two batched statements (a cold ingest is
            # mostly these); unchanged and changed ones one by one
            new = [o for o in w.posts if o.post_id is None]
            if new:
                self._insert_new(w.source, new, now)
            for o in w.posts:
                if o.post_id is not None:
                    self._update_post(o, now)
            for url, (etag, last_modified, body_hash) in w.http_cache.items():
                db.execute(
                    "INSERT INTO http_cache (source, url, etag, last_modified, body_hash, checked_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(source, url) DO UPDATE SET etag = excluded.etag, "
                    "last_modified = excluded.last_modified, body_hash = excluded.body_hash, "
                    "checked_at = excluded.checked_at",
                    [w.source, url, etag, last_modified, body_hash, now],
                )
            db.execute(
                "INSERT INTO fetch_log (source, started_at, finished_at, duration, status, http_status, "
                "pages, new, changed, unchanged, error, error_type) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [w.source, iso(w.started_at), now, r.duration, r.status, r.http_status, r.pages,
                 r.new, r.changed, r.unchanged, r.error, r.error_type],
            )
            if w.prune_log_before is not None:  # the pipeline's retention; a range of the index
                db.execute("DELETE FROM fetch_log WHERE source = ? AND started_at < ?",
                           [w.source, iso(w.prune_log_before)])
            db.execute(
                "UPDATE sources SET last_run_at = ?, last_status = ?, last_error = ?, last_error_type = ?, "
                "last_http_status = ?, last_ok_at = ?, next_due_at = ?, failures = ?, retry_after_until = ?, "
                "last_post_count = ?, feed_url = ?, last_full_at = ?, shrunk_count = ?, shrunk_runs = ? "
                "WHERE name = ?",
                [now, r.status, r.error, r.error_type, r.http_status, iso(w.last_ok_at), iso(w.next_due_at),
                 w.failures, iso(w.retry_after_until), w.last_post_count, w.feed_url, iso(w.last_full_at),
                 w.shrunk[0] or None, w.shrunk[1], w.source],
            )

    def _insert_new(self, source: str, new: Sequence[PostWrite], now: str | None) -> None:
        conn = self.db.conn
        rows = [(source, o.identity, o.url_key, o.url, o.title, iso(o.published), int(o.date_only), o.excerpt,
                 o.content, o.author, o.outlet, o.original_date.isoformat() if o.original_date else None, o.guid,
                 o.wp_id, o.origin, o.hash, now, now) for o in new]
        conn.executemany(
            "INSERT INTO posts (source, identity, url_key, url, title, published, date_only, excerpt, "
            "content, author, outlet, original_date, guid, wp_id, origin, hash, first_seen, last_seen, "
            "last_changed, versions) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,1)",
            rows,
        )
        conn.executemany(
            "INSERT INTO versions (post_id, number, seen_at, title, excerpt, content, published, date_only, "
            "author, outlet, hash, changes) "
            "VALUES ((SELECT id FROM posts WHERE source = ? AND identity = ?),1,?,?,?,?,?,?,?,?,?,'[]')",
            [(source, o.identity, now, r[4], r[7], r[8], r[5], r[6], r[9], r[10], o.hash)
             for o, r in zip(new, rows, strict=True)],
        )

    def _update_post(self, o: PostWrite, now: str | None) -> None:
        """A stored post's row as given; its new version when the write adds one."""
        published = iso(o.published)
        edited = o.version is not None
        self.db.execute(
            "UPDATE posts SET url = ?, title = ?, published = ?, date_only = ?, excerpt = ?, content = ?, "
            "author = ?, outlet = ?, guid = ?, wp_id = ?, origin = ?, hash = ?, last_seen = ?"
            + (", last_changed = ?, versions = ?" if edited else "")
            + (", indexed = 0" if o.reindex else "") + " WHERE id = ?",
            [o.url, o.title, published, int(o.date_only), o.excerpt, o.content, o.author, o.outlet, o.guid,
             o.wp_id, o.origin, o.hash, now, *((now, o.version) if edited else ()), o.post_id],
        )
        if edited:
            self.db.execute(
                "INSERT INTO versions (post_id, number, seen_at, title, excerpt, content, published, date_only, "
                "author, outlet, hash, changes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [o.post_id, o.version, now, o.title, o.excerpt, o.content, published, int(o.date_only),
                 o.author, o.outlet, o.hash, _changes_json(o.changes)],
            )

    # -- runs and digests --------------------------------------------------------------

    def fetch_log(self, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM fetch_log", []
        if source:
            sql, params = sql + " WHERE source = ?", [source]
        with self._errors("reading the fetch log"):
            return list(self._rows(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]))

    def record_digest(self, week_ending: dt.date, title: str, lead_url: str | None, post_ids: Sequence[int],
                      updated_ids: Sequence[int], built_at: dt.datetime, content_hash: str, *,
                      chosen_lead: str | None = None) -> bool:
        """Record a built digest and the lead picked by hand for its week (``chosen_lead``, kept for
        later builds). Returns False (and writes only ``chosen_lead``) when the same content is recorded."""
        with self._errors("recording a digest"):
            rows = list(self._rows("SELECT content_hash, chosen_lead FROM digests WHERE week_ending = ?",
                                   [week_ending.isoformat()]))
            if rows and rows[0]["content_hash"] == content_hash:
                if rows[0]["chosen_lead"] != chosen_lead:
                    with self.db.atomic():
                        self.db.execute("UPDATE digests SET chosen_lead = ? WHERE week_ending = ?",
                                        [chosen_lead, week_ending.isoformat()])
                return False
            with self.db.atomic():
                self.db.execute(
                    "INSERT INTO digests (week_ending, title, lead_url, post_ids, updated_ids, built_at, "
                    "content_hash, chosen_lead) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(week_ending) DO UPDATE SET "
                    "title = excluded.title, lead_url = excluded.lead_url, post_ids = excluded.post_ids, "
                    "updated_ids = excluded.updated_ids, built_at = excluded.built_at, "
                    "content_hash = excluded.content_hash, chosen_lead = excluded.chosen_lead",
                    [week_ending.isoformat(), title, lead_url, json.dumps(list(post_ids)),
                     json.dumps(list(updated_ids)), iso(built_at), content_hash, chosen_lead],
                )
            return True

    def digests(self) -> list[dict[str, Any]]:
        with self._errors("reading digests"):
            return list(self._rows("SELECT * FROM digests ORDER BY week_ending DESC"))

    def digest_record(self, week_ending: dt.date) -> dict[str, Any] | None:
        with self._errors("reading digests"):
            rows = list(self._rows("SELECT * FROM digests WHERE week_ending = ?", [week_ending.isoformat()]))
        return rows[0] if rows else None

    # -- the delivery ledger (what to send is decided in monitor/deliver/ledger.py) -------------

    def deliveries(self) -> list[Delivery]:
        """Every ledger row (a few per week and recipient: small)."""
        with self._errors("reading the delivery ledger"):
            rows = list(self._rows("SELECT * FROM deliveries ORDER BY week_ending, channel, recipient"))
        return [Delivery(
            week_ending=dt.date.fromisoformat(r["week_ending"]), channel=r["channel"], recipient=r["recipient"],
            state=r["state"], message_id=r["message_id"], attempts=r["attempts"], generation=r["generation"],
            permanent=bool(r["permanent"]), last_error=r["last_error"],
            next_attempt_at=parse_iso(r["next_attempt_at"]), created_at=parse_iso(r["created_at"]),
            updated_at=parse_iso(r["updated_at"]), sent_at=parse_iso(r["sent_at"]),
        ) for r in rows]

    def put_delivery(self, d: Delivery) -> None:
        """Write one ledger row as given (insert or replace), committed before this returns."""
        with self._errors("writing the delivery ledger"), self.db.atomic():
            self.db.execute(
                "INSERT OR REPLACE INTO deliveries (week_ending, channel, recipient, state, message_id, attempts, "
                "generation, permanent, last_error, next_attempt_at, created_at, updated_at, sent_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [d.week_ending.isoformat(), d.channel, d.recipient, d.state, d.message_id, d.attempts,
                 d.generation, int(d.permanent), d.last_error, iso(d.next_attempt_at), iso(d.created_at),
                 iso(d.updated_at), iso(d.sent_at)],
            )

    def delivery_starts(self) -> dict[tuple[str, str], dt.date]:
        with self._errors("reading the delivery ledger"):
            rows = self._rows("SELECT channel, recipient, since_week FROM delivery_starts")
            return {(r["channel"], r["recipient"]): dt.date.fromisoformat(r["since_week"]) for r in rows}

    def add_delivery_starts(self, starts: Iterable[tuple[str, str, dt.date]], now: dt.datetime) -> None:
        """Remember the first week of new (channel, recipient) pairs; existing ones are kept."""
        with self._errors("writing the delivery ledger"), self.db.atomic():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO delivery_starts (channel, recipient, since_week, added_at) VALUES (?,?,?,?)",
                [(c, r, w.isoformat(), iso(now)) for c, r, w in starts],
            )

    def set_publishing(self, state: PublishingState) -> None:
        """Record the service's last publish pass, as given."""
        with self._errors("recording the publishing state"):
            self._retry(lambda: self.db.execute(
                "INSERT INTO publishing (id, attempted_at, ok, last_error, retry_at) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET attempted_at = excluded.attempted_at, ok = excluded.ok, "
                "last_error = excluded.last_error, retry_at = excluded.retry_at",
                [iso(state.attempted_at), int(state.ok), state.last_error, iso(state.retry_at)]),
                "recording the publishing state")
            self.db.conn.commit()

    def publishing(self) -> PublishingState | None:
        with self._errors("reading the publishing state"):
            row = self.db.conn.execute(
                "SELECT attempted_at, ok, last_error, retry_at FROM publishing WHERE id = 1").fetchone()
        if row is None:
            return None
        return PublishingState(parse_iso(row[0]), bool(row[1]), row[2], parse_iso(row[3]))

    def integrity_check(self) -> str:
        with self._errors("checking integrity"):
            return str(next(self._rows("PRAGMA integrity_check"))["integrity_check"])
