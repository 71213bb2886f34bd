"""One status report for ``monitor status`` and ``/healthz``: the same keys, the same words.

:func:`status_report` is pure: it is handed the configured sources, their stored states, post
counts, the last digest and the scheduler's next runs as plain values, and returns the document
both the CLI (as JSON or as lines) and the web server's ``/healthz`` show. :func:`read_status`
gathers those values through a read-only connection, so looking at the status never writes to
the database (no migration, no new file, no source rows added).

Results, everywhere (fetch lines, status, JSON, /healthz): ``ok``, ``not modified``, ``error``,
``skipped``, ``never run``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import __version__
from .config import Config, SourceConfig
from .output import json_time
from .store import SourceState, Store

__all__ = ["RESULT_WORDS", "StatusInputs", "read_feed_urls", "read_status", "result_word", "status_report"]

#: A stored run status -> the word people and JSON read for it.
RESULT_WORDS = {"ok": "ok", "not_modified": "not modified", "error": "error", "skipped": "skipped"}
NEVER_RUN = "never run"


def result_word(status: str | None) -> str:
    return RESULT_WORDS.get(status or "", status) if status else NEVER_RUN


@dataclass(frozen=True)
class StatusInputs:
    """Everything the report is made of, read beforehand (by :func:`read_status` or the service)."""

    states: Mapping[str, SourceState]
    post_counts: Mapping[str, int]
    last_digest: Mapping[str, Any] | None = None
    next_runs: Mapping[str, dt.datetime | None] | None = None


def status_report(sources: Sequence[SourceConfig], inputs: StatusInputs) -> dict[str, Any]:
    """The status document. A source is failing when its last run ended in an error; one failing
    source makes the whole report ``degraded`` (the monitor is fine: the problem is someone's site)."""
    rows = []
    for s in sources:
        st = inputs.states.get(s.name)
        rows.append({
            "name": s.name,
            "url": s.url,
            "type": s.type,
            "ok": st is None or st.last_status != "error",
            "result": result_word(st.last_status if st else None),
            "posts": inputs.post_counts.get(s.name, 0),
            "last_run": json_time(st.last_run_at) if st else None,
            "last_ok": json_time(st.last_ok_at) if st else None,
            "next_due": json_time(st.next_due_at) if st else None,
            "failures": st.failures if st else 0,
            "last_error": st.last_error if st else None,
            "retry_after_until": json_time(st.retry_after_until) if st else None,
        })
    last = None
    if inputs.last_digest:
        d = inputs.last_digest
        built = d.get("built_at")
        last = {"week_ending": d["week_ending"], "title": d["title"],
                "built_at": json_time(dt.datetime.fromisoformat(built)) if built else None}
    return {
        "status": "ok" if all(r["ok"] for r in rows) else "degraded",
        "version": __version__,
        "sources": rows,
        "last_digest": last,
        "next_runs": {k: json_time(v) for k, v in (inputs.next_runs or {}).items()},
    }


def inputs_from_store(store: Store, *, next_runs: Mapping[str, dt.datetime | None] | None = None) -> StatusInputs:
    """The report's inputs from an open store (the service's own connection, or a read-only one)."""
    digests = store.digests()
    return StatusInputs(store.source_states(), store.post_counts(), digests[0] if digests else None, next_runs)


def read_status(config: Config) -> dict[str, Any]:
    """``monitor status``: the report from a read-only look at the database (none yet: never run)."""
    store = Store.open_readonly(config.database)
    if store is None:
        return status_report(config.sources, StatusInputs({}, {}))
    with store:
        inputs = inputs_from_store(store)
    dues = [st.next_due_at for n, st in inputs.states.items() if st.next_due_at and
            any(s.name == n for s in config.sources)]
    inputs = StatusInputs(inputs.states, inputs.post_counts, inputs.last_digest,
                          {"next_source_due": min(dues) if dues else None})
    return status_report(config.sources, inputs)


def read_feed_urls(config: Config) -> dict[str, str]:
    """The author feed each source's page links, as the last fetch found it (read-only)."""
    store = Store.open_readonly(config.database)
    if store is None:
        return {}
    with store:
        return {name: st.feed_url for name, st in store.source_states().items() if st.feed_url}
