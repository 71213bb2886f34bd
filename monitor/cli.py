"""The ``monitor`` command line: a thin shell over :mod:`monitor.pipeline`.

Exit codes: 0 all good; 1 a source (or a build) failed, the rest still stored;
2 bad config or bad arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import __version__
from .checking import CheckReport
from .cli_sources import add, export_opml, import_opml, init, remove, resolve_config_path, search, sources
from .config import Config, load_config, parse_config
from .errors import AlreadyRunning, ConfigError, MonitorError
from .lock import DatabaseLock
from .models import SourceResult
from .output import choose_format, emit, human_time, json_time, plural
from .report import result_word

UTC = dt.UTC


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--config PATH`` on every command (also accepted before the command name)."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Config file [default: ./config.yaml].")
    @click.pass_context
    @wraps(f)
    def inner(ctx: click.Context, config_path: Path | None, *args: Any, **kwargs: Any) -> Any:
        path, _named = resolve_config_path(ctx, config_path)
        try:
            config = load_config(path)
        except ConfigError as e:
            click.echo(f"config error: {e}", err=True)
            ctx.exit(2)
        return ctx.invoke(f, config, *args, **kwargs)

    return inner


def _open(config: Config, *, register: bool = True) -> Any:
    """The application over the config's database (:class:`monitor.pipeline.Monitor`)."""
    from .pipeline import Monitor

    return Monitor.open(config, register=register)


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _need_sources(config: Config) -> None:
    if not config.sources:
        where = f" in {config.path}" if config.path else ""
        _fail(f"no sources{where} yet: add one with `monitor add URL`", 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Config file [default: ./config.yaml].")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              default="warning", show_default=True, help="How much to log on stderr.")
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, log_level: str) -> None:
    """Watch author pages and feeds, store every post and edit, publish a weekly digest.

    Start with `monitor init`, then `monitor add URL` for each author page or feed; then
    `monitor run` as a service (or `monitor fetch` then `monitor digest --all`).
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["log_level"] = log_level
    _setup_logging(log_level)


# -- fetch ------------------------------------------------------------------------------


def _result_line(r: SourceResult) -> str:
    if r.status == "error":
        return f"{r.source}: error ({r.error_type}) {r.error}"
    if r.status == "skipped":
        return f"{r.source}: skipped" + (f" ({r.error})" if r.error else "")
    if r.status == "not_modified":
        return f"{r.source}: not modified"
    line = (f"{r.source}: new {r.new}, changed {r.changed}, unchanged {r.unchanged} "
            f"({plural(r.pages, 'page')}, {r.duration:.1f} s)")
    for w in r.warnings:
        line += f"\n  warning: {w}"
    return line


def _result_json(r: SourceResult) -> dict[str, Any]:
    return {"name": r.source, "result": result_word(r.status), "ok": r.ok, "new": r.new, "changed": r.changed,
            "unchanged": r.unchanged, "pages": r.pages, "http_status": r.http_status, "error_type": r.error_type,
            "error": r.error, "duration": round(r.duration, 3), "warnings": list(r.warnings)}


@cli.command()
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: per source what was found and written, then the totals.")
@config_option
def fetch(config: Config, sources: tuple[str, ...], fmt: str) -> None:
    """Fetch every source once and store what is new or changed.

    Prints new / changed / unchanged / error per source, then totals. Exit 0 if
    every source succeeded, 1 if any failed (the others are still stored), 2 on a
    config error.
    """
    _need_sources(config)
    try:
        names = [config.source(n).name for n in sources] or None
    except ConfigError as e:
        _fail(str(e), 2)
    results: list[SourceResult] = []
    total = len(names) if names else len(config.sources)
    try:
        with _open(config) as app:
            if sys.stdout.isatty() and fmt == "text":
                from rich.progress import Progress

                with Progress(transient=True) as progress:
                    task = progress.add_task("fetching", total=total)

                    def tick(r: SourceResult) -> None:
                        progress.advance(task)
                        progress.console.print(_result_line(r), markup=False, highlight=False)

                    results = app.fetch_sync(names, on_result=tick)
            else:
                results = app.fetch_sync(names)
                if fmt == "text":
                    for r in results:
                        click.echo(_result_line(r))
    except MonitorError as e:
        _fail(e.reason)
    failed = [r for r in results if r.status == "error"]
    totals = {"sources": len(results), "new": sum(r.new for r in results),
              "changed": sum(r.changed for r in results), "unchanged": sum(r.unchanged for r in results),
              "failed": len(failed)}
    if fmt == "json":
        click.echo(json.dumps({"sources": [_result_json(r) for r in results], "total": totals},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(f"total: {plural(totals['sources'], 'source')}, {totals['new']} new, {totals['changed']} changed, "
                   f"{totals['unchanged']} unchanged, {totals['failed']} failed")
    sys.exit(1 if failed else 0)


# -- posts / history / status ----------------------------------------------------------------


def _parse_since(value: str | None, config: Config) -> dt.datetime | None:
    if not value:
        return None
    try:
        d = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint="--since") from None
    return d if d.tzinfo else d.replace(tzinfo=config.timezone)


@cli.command()
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only posts of this source (repeatable; a source removed from the config still has its posts).")
@click.option("--since", default=None, metavar="DATE", help="Only posts published on or after DATE (YYYY-MM-DD).")
@click.option("--changed", is_flag=True, help="Only posts that were edited after first seen.")
@click.option("--format", "fmt", type=click.Choice(["table", "tsv", "json"]), default=None,
              help="[default: table on a terminal, tsv in a pipe]")
@config_option
def posts(config: Config, sources: tuple[str, ...], since: str | None, changed: bool, fmt: str | None) -> None:
    """List stored posts, newest first."""
    since_dt = _parse_since(since, config)
    tz = config.timezone
    with _open(config, register=False) as app:
        if sources:
            stored = app.post_counts()
            unknown = [n for n in sources if n not in stored and n not in {s.name for s in config.sources}]
            if unknown:
                have = sorted({s.name for s in config.sources} | set(stored))
                _fail(f"--source: no source named {unknown[0]!r} (have: {', '.join(have)})", 2)
            rows = [p for n in dict.fromkeys(sources) for p in app.posts(source=n, since=since_dt, changed=changed)]
            rows.sort(key=lambda p: (p.published is not None, p.published or dt.datetime.min.replace(tzinfo=UTC),
                                     p.id), reverse=True)
        else:
            rows = app.posts(since=since_dt, changed=changed)
    fmt = choose_format(fmt)
    json_rows = [
        {
            "id": p.id, "source": p.source, "url": p.url, "title": p.title, "author": p.author, "outlet": p.outlet,
            "published": json_time(p.published, tz), "date_only": p.date_only,
            "original_date": p.original_date.isoformat() if p.original_date else None,
            "excerpt": p.excerpt, "first_seen": json_time(p.first_seen, tz),
            "last_changed": json_time(p.last_changed, tz), "versions": p.versions,
        }
        for p in rows
    ]
    table = [{"published": (p.published.astimezone(tz).date().isoformat() if p.date_only
                            else human_time(p.published, tz, empty="")) if p.published else "",
              "source": p.source, "title": p.title, "author": p.author, "outlet": p.outlet, "v": p.versions,
              "url": p.url}
             for p in rows]
    columns = ["published", "source", "title", "author", "outlet", "v"] + (["url"] if fmt == "tsv" else [])
    emit(table, columns, fmt, json_rows=json_rows)
    if fmt == "table":
        click.echo(plural(len(rows), "post"))


@cli.command()
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_option
def history(config: Config, url: str, fmt: str) -> None:
    """Show every stored version of the post at URL, with what changed."""
    with _open(config, register=False) as app:
        data = app.history(url)
    if not data:
        _fail(f"no stored post has the URL {url}")
    if fmt == "json":
        click.echo(json.dumps([
            {"source": p.source, "url": p.url, "title": p.title, "versions": [
                {"number": v.number, "seen_at": json_time(v.seen_at, config.timezone), "title": v.title,
                 "excerpt": v.excerpt, "published": json_time(v.published, config.timezone),
                 "changes": [{"field": c.field, "label": c.label, "old": c.old, "new": c.new, "diff": c.diff}
                             for c in v.changes]}
                for v in versions]}
            for p, versions in data], ensure_ascii=False, indent=2))
        return
    for p, versions in data:
        click.echo(f"{p.title}\n{p.url}  (source: {p.source}, {plural(len(versions), 'version')})")
        for v in versions:
            click.echo(f"\n  v{v.number}  seen {human_time(v.seen_at, config.timezone)}")
            if v.number == 1:
                click.echo(f"    first seen: {v.title}")
            for c in v.changes:
                click.echo(f"    {c.label}: {c.diff}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "table", "json"]), default="text", show_default=True,
              help="json: the /healthz document.")
@config_option
def status(config: Config, fmt: str) -> None:
    """Per source: result of the last run, posts, last run, next due, last error; the publishing
    state, the last digest and the deliveries. The same report as /healthz. Only reads the database."""
    from .pipeline import Monitor
    from .report import StatusInputs, status_lines, status_report

    try:
        app = Monitor.open_readonly(config)
        if app is None:  # never fetched: every source "never run"
            inputs = StatusInputs({}, {})
        else:
            with app:
                inputs = app.status_inputs()
    except MonitorError as e:
        _fail(e.reason)
    report = status_report(config.sources, inputs)
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for line in status_lines(report, config.timezone):
        click.echo(line)
    if report.get("deliveries"):
        from .deliver import format_deliveries

        for line in format_deliveries(report["deliveries"]):
            click.echo(line)


@cli.command()
@click.argument("url")
@click.option("--type", "kind", type=click.Choice(["auto", "html", "feed"]), default="auto", show_default=True)
@click.option("--no-robots", is_flag=True, help="Ignore robots.txt for this check.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Config file [default: ./config.yaml if there is one, else the defaults].")
@click.pass_context
def check(ctx: click.Context, url: str, kind: str, no_robots: bool, fmt: str, config_path: Path | None) -> None:
    """Fetch URL and print what would be extracted, storing nothing.

    The verdict is fetch's: exit 0 when the URL gives posts, 1 when fetch would fail it (no
    posts: NoPostsFound; not found; robots.txt), 2 on bad arguments. Needs no config file.
    """
    from .cli_sources import check_json, load_or_default, print_documents, print_verdict, run_check

    try:
        config = load_or_default(ctx, config_path)
        normalized = parse_config({"site": {"title": "x"}, "sources": [{"name": "x", "url": url}]}).sources[0].url
    except ConfigError as e:
        _fail(str(e), 2)
    try:
        report = run_check(config, normalized, kind, robots=not no_robots)
    except MonitorError as e:
        _fail(e.reason)
    if fmt == "json":
        click.echo(check_json(report, config))
    else:
        print_documents(report, config)
        _print_explanations(report, config)
        print_verdict(report)
    sys.exit(0 if report.ok else 1)


def _print_explanations(report: CheckReport, config: Config) -> None:
    """Why each HTML page was read as it was: the rule that matched and on what, the next page and
    why, the look-alike links not followed, the blocks skipped as chrome (extract.explain, pure)."""
    from .extract import explain

    for r in report.readings:
        if r.page is None or r.page.kind != "html":
            continue
        why = explain(r.response.content, url=r.response.url, headers=r.response.headers, tz=config.timezone)
        if why is not None:
            click.echo(f"how {r.response.url} was read:")
            for line in why.lines():
                click.echo(f"  {line}")


# -- digest / run / demo --------------------------------------------------------------------


def _week_ending(value: str | None) -> dt.date | None:
    """``--week-ending YYYY-MM-DD`` as a date (any day of the wanted week)."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint="--week-ending") from None


@cli.command()
@click.option("--week-ending", default=None, metavar="YYYY-MM-DD",
              help="Build the week ending on this date [default: the last complete week].")
@click.option("--all", "all_weeks", is_flag=True, help="Build every week that has posts.")
@click.option("--lead", "lead_url", default=None, metavar="URL",
              help="Use this post as the lead (remembered for its week).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: weeks built, files written, weeks skipped.")
@config_option
def digest(config: Config, week_ending: str | None, all_weeks: bool, lead_url: str | None, fmt: str) -> None:
    """Build weekly digests (HTML pages, feed.xml, atom.xml) into output_dir.

    Prints each file written. A week with no posts builds nothing and says so.
    """
    week = _week_ending(week_ending)
    if week and all_weeks:
        raise click.UsageError("--week-ending and --all cannot be used together")
    try:
        with _open(config) as app:
            report = app.publish(week_ending=week, all_weeks=all_weeks, lead_url=lead_url,
                                 now=dt.datetime.now(UTC))
    except MonitorError as e:
        _fail(e.reason)
    if fmt == "json":
        click.echo(json.dumps({
            "weeks_built": [w.isoformat() for w in report.weeks_built],
            "files_written": [str(p) for p in report.files_written],
            "skipped": [{"week_ending": w.isoformat(), "reason": why} for w, why in report.skipped],
        }, ensure_ascii=False, indent=2))
        return
    for line in report.lines():
        click.echo(line)
    if not report.files_written and not report.skipped:
        click.echo("nothing to write: every file is up to date")


@cli.command()
@click.option("--week-ending", default=None, metavar="YYYY-MM-DD",
              help="Deliver this published week [default: every week that is due].")
@click.option("--resend", is_flag=True, help="Send again to recipients who have it [default week: the newest].")
@click.option("--dry-run", is_flag=True, help="Write each message as a file (.eml / .json) instead of sending.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Where --dry-run writes [default: outbox/ next to output_dir].")
@config_option
def deliver(config: Config, week_ending: str | None, resend: bool, dry_run: bool, out_dir: Path | None) -> None:
    """Mail the published digests and send the notifications (deliver: in the config), each once.

    Without --week-ending: every published week that a recipient is due (what `monitor run`
    does after publishing). Prints each message sent or failed. Exit 0 when all went out, 1 when
    any failed (temporary failures are retried by the next run).
    """
    import asyncio

    week = _week_ending(week_ending)
    if config.deliver.email is None and not config.deliver.notify:
        _fail("nothing to deliver to: add deliver.email or deliver.notify to the config", 2)
    if dry_run and out_dir is None:
        out_dir = config.output_dir.parent / "outbox"
    # Sending takes the database lock that `monitor run` holds: two processes delivering from one
    # ledger could both send a row before either records it.
    lock = DatabaseLock(config.database)
    try:
        if not dry_run:
            lock.acquire()
        with _open(config) as app:
            report = asyncio.run(app.deliver(week_ending=week, resend=resend, dry_run=out_dir if dry_run else None))
    except AlreadyRunning as e:
        _fail(f"{e.reason}: it delivers each week itself (stop it to deliver by hand)")
    except MonitorError as e:
        _fail(e.reason)
    except OSError as e:
        _fail(f"cannot create the lock file {lock.path}: {e}")
    finally:
        lock.release()
    for line in report.lines() or ["nothing to deliver: every recipient has every due week"]:
        click.echo(line)
    sys.exit(0 if report.ok else 1)


@cli.command()
@click.option("--once", is_flag=True, help="Run whatever is due (fetches, a weekly digest) and exit: for cron.")
@config_option
@click.pass_context
def run(ctx: click.Context, config: Config, once: bool) -> None:
    """Run as a service: poll each source on its schedule, publish weekly, serve output_dir.

    Stops cleanly on SIGTERM or SIGINT. Only one instance may run per database.
    """
    from .service import run_service

    _need_sources(config)
    code = run_service(config, once=once)
    sys.exit(code)


@cli.command()
@click.option("--port", default=8765, show_default=True, type=int,
              help="Port for the digests (not the service's 8000, so both can run).")
@click.option("--dir", "workdir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Where to put the demo database and output [default: a temporary folder].")
@click.option("--no-serve", is_flag=True, help="Build everything, print where it is, and exit.")
def demo(port: int, workdir: Path | None, no_serve: bool) -> None:
    """A first look without network: a sample site from the seeds, fetched and digested locally."""
    from .demo import run_demo

    sys.exit(run_demo(port=port, workdir=workdir, serve=not no_serve))


for _command in (init, add, remove, sources, import_opml, export_opml, search):
    cli.add_command(_command)


def main() -> None:
    try:
        cli(obj={})
    except MonitorError as e:  # a locked, corrupt or unwritable database, say: a reason, not a traceback
        click.echo(f"error: {e.reason}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
