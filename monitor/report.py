"""One status report for ``monitor status`` and ``/healthz``: the same keys, the same words.

:func:`status_report` is pure: it is handed the configured sources and :class:`StatusInputs`
(stored states, post counts, the last digest, the publishing state, the next runs) as plain
values and returns the document that ``monitor status --format json`` prints, that ``/healthz``
serves, and that ``monitor status`` shows as lines (:func:`status_lines`). The CLI reads the
inputs through a read-only connection (``Monitor.open_readonly``), so looking never writes.

Results, everywhere (fetch lines, status, JSON, /healthz): ``ok``, ``not modified``, ``error``,
``skipped``, ``never run``. Times in the document: ISO 8601 with offset, no microseconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from . import __version__
from .config import SourceConfig
from .models import PublishingState, SourceState
from .output import human_time, json_time, plural

__all__ = ["NEVER_RUN", "RESULT_WORDS", "StatusInputs", "result_word", "status_lines", "status_report"]

#: A stored run status -> the word people and JSON read for it.
RESULT_WORDS = {"ok": "ok", "not_modified": "not modified", "error": "error", "skipped": "skipped"}
NEVER_RUN = "never run"


def result_word(status: str | None) -> str:
    return RESULT_WORDS.get(status, status) if status else NEVER_RUN


@dataclass(frozen=True)
class StatusInputs:
    """Everything the report is made of, read beforehand (``Monitor.status_inputs``)."""

    states: Mapping[str, SourceState]
    post_counts: Mapping[str, int]
    last_digest: Mapping[str, Any] | None = None
    next_runs: Mapping[str, dt.datetime | None] | None = None
    publishing: PublishingState | None = None
    deliveries: Mapping[str, Any] | None = None  # per channel (monitor.deliver); None: none configured or sent


def _publishing(p: PublishingState | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"ok": p.ok, "last_attempt": json_time(p.attempted_at), "last_error": p.last_error,
            "retry_at": json_time(p.retry_at)}


def status_report(sources: Sequence[SourceConfig], inputs: StatusInputs) -> dict[str, Any]:
    """The status document. A source is failing when its last run ended in an error; one failing
    source, or a publish that failed and waits for its retry, makes the report ``degraded``."""
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
    publishing = _publishing(inputs.publishing)
    publish_ok = publishing is None or publishing["ok"]
    doc: dict[str, Any] = {
        "status": "ok" if all(r["ok"] for r in rows) and publish_ok else "degraded",
        "version": __version__,
        "sources": rows,
        "publishing": publishing,
        "last_digest": last,
        "next_runs": {k: json_time(v) for k, v in (inputs.next_runs or {}).items()},
    }
    if inputs.deliveries is not None:  # only where delivery is configured or has happened
        doc["deliveries"] = dict(inputs.deliveries)
    return doc


def status_lines(report: Mapping[str, Any], tz: ZoneInfo) -> list[str]:
    """The report for people: one line per source (times in ``tz``, to the minute), then the rest."""

    def when(value: str | None, empty: str = "-") -> str:
        return human_time(dt.datetime.fromisoformat(value), tz) if value else empty

    out = [f"status: {report['status']}"]
    p = report.get("publishing")
    if p is not None and not p["ok"]:
        retry = f", retried at {when(p['retry_at'])}" if p["retry_at"] else ""
        out.append(f"publishing: error at {when(p['last_attempt'])}: {p['last_error']}{retry}")
    for r in report["sources"]:
        line = (f"{r['name']}: {r['result']}, {plural(r['posts'], 'post')}, last run {when(r['last_run'])}, "
                f"next due {when(r['next_due'], 'now')}")
        if r["last_error"]:
            line += f"\n  last error: {r['last_error']}"
        out.append(line)
    d = report.get("last_digest")
    out.append(f"last digest: {d['title']} (built {when(d['built_at'])})" if d else "last digest: none yet")
    return out
