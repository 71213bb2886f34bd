"""One output style for every command: times, counts and tables read the same everywhere.

* People read times in the config's time zone, to the minute: ``2020-10-28 09:04 GMT``.
* JSON carries ISO 8601 with the zone's offset and no microseconds: ``2020-10-28T09:04:00+00:00``;
  a date-only ``published`` is the full datetime of 00:00 that day (never a bare date).
* Counts say ``1 post`` / ``2 posts``.
* Lists are a table on a terminal (as wide as ``COLUMNS`` says), plain tab-separated lines when
  stdout is not a terminal or with ``--format tsv``, and a JSON array with ``--format json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import click

__all__ = ["FORMATS", "choose_format", "emit", "human_time", "json_time", "plural"]

FORMATS = ("table", "tsv", "json")


def human_time(value: dt.datetime | None, tz: ZoneInfo, *, empty: str = "-") -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if value else empty


def json_time(value: dt.datetime | None, tz: ZoneInfo | None = None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(tz) if tz else value
    return value.replace(microsecond=0).isoformat()


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def choose_format(fmt: str | None) -> str:
    """``--format`` as given, else a table on a terminal and tab-separated lines in a pipe."""
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "tsv"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str, *,
         json_rows: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Print ``rows`` (their ``columns``) as a table, TSV lines (with a header line) or JSON
    (``json_rows`` when the JSON carries more, or other types, than the table)."""
    if fmt == "json":
        click.echo(json.dumps(list(json_rows if json_rows is not None else rows), ensure_ascii=False, indent=2))
        return
    if fmt == "tsv":
        click.echo("\t".join(columns))
        for r in rows:
            click.echo("\t".join(_cell(r.get(c)) for c in columns))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # cells are text, never markup: a title may contain "[b]"

    table = Table(show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(Text(_cell(r.get(c))) for c in columns))
    width = None
    if os.environ.get("COLUMNS", "").isdigit():
        width = int(os.environ["COLUMNS"])
    elif not sys.stdout.isatty():
        width = 200
    Console(width=width, highlight=False).print(table)
