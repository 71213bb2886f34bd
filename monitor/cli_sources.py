"""The commands that start and grow a watch list: ``init``, ``add``, ``remove``, ``sources``,
``check`` (its report) and OPML import/export.

They edit the user's config file through :mod:`monitor.sourcelist` (comments and layout kept)
and look at a URL through :func:`monitor.pipeline.check_url`, the extraction ``fetch`` runs,
so ``add`` shows what ``fetch`` will find. :mod:`monitor.cli` registers them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click

from .checking import CheckReport
from .config import Config, load_config, parse_config
from .errors import ConfigError, MonitorError
from .output import choose_format, emit, human_time, json_time, plural

__all__ = ["add", "check_report_json", "init", "load_or_default", "print_check", "remove", "sources"]

DEFAULT_CONFIG = Path("config.yaml")


def resolve_config_path(ctx: click.Context, given: Path | None) -> tuple[Path, bool]:
    """The config file a command works on, and whether the user named it."""
    named = given or (ctx.obj or {}).get("config_path")
    return (Path(named), True) if named else (DEFAULT_CONFIG, False)


def path_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--config PATH`` (also accepted before the command name), passed on as a Path."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Config file [default: ./config.yaml].")
    @click.pass_context
    @wraps(f)
    def inner(ctx: click.Context, config_path: Path | None, *args: Any, **kwargs: Any) -> Any:
        path, _ = resolve_config_path(ctx, config_path)
        return ctx.invoke(f, path, *args, **kwargs)

    return inner


def load_or_default(ctx: click.Context, given: Path | None) -> Config:
    """The config, or -- for a command that needs none, like ``check`` -- the defaults when there
    is no ./config.yaml. A config file the user named must exist."""
    path, named = resolve_config_path(ctx, given)
    if named or path.exists():
        return load_config(path)
    return parse_config({"site": {"title": "Digest Monitor"}, "sources": []})


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# -- check's report ------------------------------------------------------------------------------


def check_report_json(report: CheckReport, config: Config) -> dict[str, Any]:
    tz = config.timezone
    docs = []
    for r in report.readings:
        p = r.page
        docs.append({
            "url": r.response.url, "http_status": r.response.status, "bytes": len(r.response.content),
            "content_type": r.content_type,
            "kind": p.kind if p else None, "rule": p.rule if p else None,
            "post_count": len(p.posts) if p else 0,
            "author": p.author if p else None, "feed": p.feed_url if p else None,
            "next_page": p.next_url if p else None, "warnings": list(p.warnings) if p else [],
            "posts": [{"title": x.title, "url": x.url, "published": json_time(x.published, tz),
                       "author": x.author, "outlet": x.outlet} for x in (p.posts if p else ())],
        })
    return {"url": report.url, "verdict": report.verdict, "ok": report.ok, "error": report.error,
            "content_type": report.content_type, "posts": report.posts, "suggestion": report.suggestion,
            "documents": docs}


def print_documents(report: CheckReport, config: Config) -> None:
    """Each document read: status, size, content type, kind, rule, posts, links, the posts."""
    for r in report.readings:
        resp, page = r.response, r.page
        head = f"{resp.url}\n  HTTP {resp.status}, {plural(len(resp.content), 'byte')}, {r.content_type}"
        if page is None:
            click.echo(head)
            continue
        click.echo(f"{head}, {page.kind}, rule: {page.rule}, {plural(len(page.posts), 'post')}")
        if page.author:
            click.echo(f"  page author: {page.author}")
        if page.feed_url:
            click.echo(f"  feed: {page.feed_url}")
        if page.next_url:
            click.echo(f"  next page: {page.next_url}")
        for w in page.warnings:
            click.echo(f"  warning: {w}")
        for p in page.posts:
            if p.published is None:
                day = "no date"
            elif p.date_only:
                day = p.published.astimezone(config.timezone).date().isoformat()
            else:
                day = human_time(p.published, config.timezone)
            who = ", ".join(x for x in (p.author, p.outlet) if x)
            click.echo(f"  - {day}  {p.title}\n      {p.url}" + (f"\n      {who}" if who else ""))


def print_verdict(report: CheckReport) -> None:
    """The last lines: what fetch would say (same words as fetch), and what to try instead."""
    shown = {w for r in report.readings if r.page for w in r.page.warnings}
    for w in report.warnings:
        if w not in shown:
            click.echo(f"warning: {w}")
    if report.ok:
        click.echo(f"verdict: ok, {plural(report.posts, 'post')} ({report.content_type})")
    else:
        click.echo(f"verdict: error ({report.error_type}) {report.error}")
    if report.suggestion:
        click.echo(f"  try: {report.suggestion}")


def print_check(report: CheckReport, config: Config) -> None:
    print_documents(report, config)
    print_verdict(report)


def run_check(config: Config, url: str, kind: str, robots: bool = True) -> CheckReport:
    import asyncio  # here: `monitor status` and `--help` load no event loop machinery

    from .pipeline import check_url

    return asyncio.run(check_url(config, url, kind, robots=robots))


# -- init / add / remove / sources ---------------------------------------------------------------


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, path: Path | None) -> None:
    """Write a commented starter config to PATH [default: ./config.yaml] and say what to do next.

    An existing file is never overwritten.
    """
    from .sourcelist import write_starter

    path = path or resolve_config_path(ctx, None)[0]
    try:
        write_starter(path)
    except ConfigError as e:
        _fail(str(e), 2)
    cfg = "" if path == DEFAULT_CONFIG else f" --config {path}"
    click.echo(f"wrote {path}: a starter config with no sources yet (edit site.title and timezone there)")
    click.echo("next:")
    click.echo(f"  monitor add URL{cfg}        check an author page or feed and add it as a source")
    click.echo(f"  monitor fetch{cfg}          read every source once")
    click.echo(f"  monitor run{cfg}            run as a service (fetch on schedule, publish weekly, serve)")


def _default_name(report: CheckReport | None, url: str) -> str:
    page = report.readings[0].page if report and report.readings else None
    if page is not None and page.author:
        return page.author
    parts = urlsplit(url)
    return (parts.hostname or url) + parts.path.rstrip("/")


@click.command()
@click.argument("url")
@click.option("--name", default=None, help="The source's name [default: the page's author, else host/path].")
@click.option("--type", "kind", type=click.Choice(["auto", "html", "feed"]), default="auto", show_default=True)
@click.option("--every", default="1h", show_default=True, help="Polling interval (30m, 1h, 1d).")
@click.option("--no-check", is_flag=True, help="Add without fetching the URL first.")
@path_option
def add(path: Path, url: str, name: str | None, kind: str, every: str, no_check: bool) -> None:
    """Check URL as fetch would read it, show what was found, and add it to the config's sources.

    The config file keeps its comments and layout. A name or URL that is already listed is
    refused. Exit 1 (nothing added) when the URL gives no posts, 2 on a config problem.
    """
    from .sourcelist import ConfigFile

    try:
        cf = ConfigFile.load(path)
        config = cf.validate()
        why = cf.find_duplicate(name or "\0", url)  # the URL first: no fetch for a known one
        if why:
            raise ConfigError("sources", why)
        entry: dict[str, Any] = {"name": name or "", "url": url, "type": kind, "every": every}
        probe = parse_config({"site": {"title": "x"}, "sources": [{**entry, "name": name or "x"}]})
    except ConfigError as e:
        _fail(str(e), 2)
    report = None
    if not no_check:
        try:
            report = run_check(config, probe.sources[0].url, kind, robots=True)
        except MonitorError as e:
            _fail(e.reason, 1)
        print_check(report, config)
        if not report.ok:
            _fail(f"not added: {report.error}", 1)
    entry["name"] = name or _default_name(report, url)
    entry["url"] = probe.sources[0].url
    try:
        cf.add([entry])
        cf.save()
    except ConfigError as e:
        _fail(str(e) + ("" if name else "; give it another with --name"), 2)
    except OSError as e:
        _fail(f"cannot write {path}: {e}", 1)
    n = len(cf.sources)
    click.echo(f"added {entry['name']!r} to {path} ({plural(n, 'source')}); next: monitor fetch")


@click.command()
@click.argument("name")
@path_option
def remove(path: Path, name: str) -> None:
    """Take the source NAME out of the config. Its stored posts and versions are kept."""
    from .sourcelist import ConfigFile

    try:
        cf = ConfigFile.load(path)
        cf.remove(name)
        cf.save()
    except ConfigError as e:
        _fail(str(e), 2)
    except OSError as e:
        _fail(f"cannot write {path}: {e}", 1)
    click.echo(f"removed {name!r} from {path} ({plural(len(cf.sources), 'source')} left); "
               "its stored posts are kept")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "tsv", "json"]), default=None,
              help="[default: table on a terminal, tsv in a pipe]")
@path_option
def sources(path: Path, fmt: str | None) -> None:
    """List the configured sources: name, type, interval, URL."""
    try:
        config = load_config(path)
    except ConfigError as e:
        _fail(str(e), 2)
    if not config.sources:
        click.echo(f"no sources in {path} yet: add one with `monitor add URL`", err=True)
    rows = [{"name": s.name, "type": s.type, "every": _every(s.every), "max_pages": s.max_pages, "url": s.url}
            for s in config.sources]
    emit(rows, ["name", "type", "every", "max_pages", "url"], choose_format(fmt))


def _every(seconds: float) -> str:
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= n and seconds % n == 0:
            return f"{int(seconds // n)}{unit}"
    return f"{seconds:g}s"


def check_json(report: CheckReport, config: Config) -> str:
    return json.dumps(check_report_json(report, config), ensure_ascii=False, indent=2)


# -- OPML ----------------------------------------------------------------------------------------


@click.command("import-opml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--every", default="1h", show_default=True, help="Polling interval of the imported feeds.")
@path_option
def import_opml(path: Path, file: Path, every: str) -> None:
    """Add the feeds of an OPML FILE (exported by reader, Miniflux, rss2email, ...) as sources.

    Each feed becomes a source of type feed named after its outline; a feed already watched
    is skipped, a name already taken gets the feed's host added. Nothing is fetched: run
    `monitor fetch` next. The config file keeps its comments and layout.
    """
    from .opml import OpmlError, parse
    from .sourcelist import ConfigFile

    try:
        feeds = parse(file.read_bytes())
    except OpmlError as e:
        _fail(f"{file}: {e.reason}", 2)
    try:
        cf = ConfigFile.load(path)
    except ConfigError as e:
        _fail(str(e), 2)
    added: list[str] = []
    for f in feeds:
        try:
            url = parse_config({"site": {"title": "x"}, "sources": [{"name": "x", "url": f.xml_url}]}).sources[0].url
        except ConfigError:
            click.echo(f"skipped {f.title!r}: not an http(s) URL: {f.xml_url}")
            continue
        name = f.title
        if cf.find_duplicate("\0", url):
            click.echo(f"skipped {f.title!r}: {url} is already watched")
            continue
        if cf.find_duplicate(name, url):
            name = f"{name} ({urlsplit(url).hostname})"
        why = cf.find_duplicate(name, url)
        if why:
            click.echo(f"skipped {f.title!r}: {why}")
            continue
        try:
            cf.add([{"name": name, "url": url, "type": "feed", "every": every}])
        except ConfigError as e:
            _fail(str(e), 2)
        added.append(name)
    if added:
        try:
            cf.save()
        except OSError as e:
            _fail(f"cannot write {path}: {e}", 1)
    click.echo(f"imported {plural(len(added), 'feed')} of {len(feeds)} into {path}"
               + ("; next: monitor fetch" if added else ""))


@click.command("export-opml")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file [default: stdout].")
@path_option
def export_opml(path: Path, output: Path | None) -> None:
    """Write the sources as OPML, for a feed reader. A page source is listed with the feed it
    links (once a fetch has found it), else with the page itself (readers look for its feed)."""
    import datetime as dt

    from .opml import OpmlFeed, render
    from .pipeline import Monitor

    try:
        config = load_config(path)
    except ConfigError as e:
        _fail(str(e), 2)
    found: dict[str, str] = {}
    try:
        app = Monitor.open_readonly(config)
        if app is not None:
            with app:
                found = {n: st.feed_url for n, st in app.states().items() if st.feed_url}
    except MonitorError as e:
        _fail(e.reason, 1)
    feeds = []
    for s in config.sources:
        if s.type == "feed":
            feeds.append(OpmlFeed(s.name, s.url))
        else:
            feeds.append(OpmlFeed(s.name, found.get(s.name) or s.url, s.url))
    text = render(feeds, title=config.site_title, now=dt.datetime.now(dt.UTC))
    if output is None:
        click.echo(text, nl=False)
        return
    from .sourcelist import atomic_write

    atomic_write(output, text)
    click.echo(f"wrote {plural(len(feeds), 'source')} to {output}", err=True)


# -- search --------------------------------------------------------------------------------------


def _snippet_text(snippet: str, mark: tuple[str, str]) -> str:
    """An FTS snippet as one line of text: tags of HTML content and their fragments at the cut
    ends removed, entities decoded, matches between ``mark``."""
    import html
    import re

    s = re.sub(r"^[^<>]*?\"\s*/?>", "", snippet)  # the tail of a tag cut at the snippet's start
    s = re.sub(r"<[^<>]*>", "", s)
    s = re.sub(r"<[^>]*$", "", s)  # a tag cut at its end
    s = html.unescape(s)
    s = " ".join(s.split())
    return s.replace("\x02", mark[0]).replace("\x03", mark[1])


@click.command()
@click.argument("query")
@click.option("--source", "names", multiple=True, metavar="NAME", help="Only posts of this source (repeatable).")
@click.option("--since", default=None, metavar="DATE", help="Only posts published on or after DATE (YYYY-MM-DD).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--format", "fmt", type=click.Choice(["text", "tsv", "json"]), default=None,
              help="[default: text on a terminal, tsv in a pipe]")
@path_option
def search(path: Path, query: str, names: tuple[str, ...], since: str | None, limit: int, fmt: str | None) -> None:
    """Full-text search of stored posts (titles, excerpts, content), best match first.

    Every word must match (stemmed: "recruit" finds "recruitment"); shows a snippet with the
    matches highlighted, and the post's URL.
    """
    import datetime as dt

    from .pipeline import Monitor

    try:
        config = load_config(path)
    except ConfigError as e:
        _fail(str(e), 2)
    since_dt = None
    if since:
        try:
            since_dt = dt.datetime.fromisoformat(since)
        except ValueError:
            raise click.BadParameter(f"expected YYYY-MM-DD, got {since!r}", param_hint="--since") from None
        since_dt = since_dt if since_dt.tzinfo else since_dt.replace(tzinfo=config.timezone)
    if not query.strip():
        raise click.BadParameter("give at least one word", param_hint="QUERY")
    with Monitor.open(config, register=False) as app:
        hits = app.search(query, sources=names, since=since_dt, limit=limit)
    fmt = fmt or ("text" if sys.stdout.isatty() else "tsv")
    tz = config.timezone
    if fmt == "json":
        click.echo(json.dumps([{"source": p.source, "title": p.title, "url": p.url,
                                "published": json_time(p.published, tz),
                                "snippet": _snippet_text(snip, ("**", "**")), "score": round(-rank, 3) + 0.0}
                               for p, snip, rank in hits], ensure_ascii=False, indent=2))
        return
    if fmt == "tsv":
        rows = [{"published": human_time(p.published, tz, empty=""), "source": p.source, "title": p.title,
                 "snippet": _snippet_text(snip, ("**", "**")), "url": p.url} for p, snip, _ in hits]
        emit(rows, ["published", "source", "title", "snippet", "url"], "tsv")
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    for p, snip, _ in hits:
        console.print(f"[bold]{escape(p.title)}[/bold]  ({escape(p.source)}, {human_time(p.published, tz)})")
        text = escape(_snippet_text(snip, ("\x02", "\x03")))
        console.print("  " + text.replace("\x02", "[reverse]").replace("\x03", "[/reverse]"))
        console.print(f"  {escape(p.url)}", soft_wrap=True)
    click.echo(plural(len(hits), "match", "matches"))
