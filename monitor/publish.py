"""Render and write the published files: HTML pages, RSS and Atom feeds, post histories.

Handed plain values by :mod:`monitor.pipeline.publishing` (which reads the store and decides what
a build is about); this module never reads the store::

    render_site(config, views, digests, entries, histories, in_feed) -> SiteFiles (bytes by path)
      render (jinja2, autoescape, StrictUndefined)        each page rendered once, in memory; a digest's
                                                          body (_digest_body.html) rendered once for its
                                                          page and its feed entries
      feeds (feedgen)                                     each entry's content: sanitize(body), which
                                                          feedgen escapes
    write_files(output_dir, files)                        temp file + fsync (in parallel) + os.replace each;
                                                          unchanged bytes are not rewritten;
                                                          any failure rolls the replaced files back

Output under ``config.output_dir``::

    index.html                  every digest, newest first
    digests/YYYY-MM-DD.html     one page per week (the week-ending date)
    posts/{id}.html             the versions and diffs of every updated post
    feed.xml, atom.xml          the last ``digest.feed_size`` digests

Rebuilding unchanged weeks gives byte-identical files: nothing depends on the
clock (the feeds' lastBuildDate / updated is the newest digest's end of week),
and every list has a stable order. Text from the web is escaped by the
templates, and cleaned on its way out (:func:`_finalize`) unless it is a
:class:`~monitor.digest.Clean` text from :func:`~monitor.digest.present`.
HTML goes through :func:`sanitize` (nh3, strict allow-list, no ``javascript:``,
``rel="nofollow noopener"``): post content from elsewhere on history pages, and
each digest's body on its way into the feeds. The digest's plain-text form is
:func:`monitor.digest.render_text`, from the same :class:`~monitor.digest.DigestView`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.resources
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from html import escape as html_escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nh3
from feedgen.feed import FeedGenerator
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from . import digest as dg
from .config import Config
from .detect import content_text
from .errors import PublishError
from .markup import too_complex
from .models import Digest, StoredPost, Version

__all__ = [
    "TEMPLATES_DIR",
    "Rendered",
    "SiteFiles",
    "digest_page_path",
    "environment",
    "render_digest",
    "render_feeds",
    "render_history",
    "render_index",
    "render_site",
    "sanitize",
    "write_files",
]

#: The templates: the package ``monitor.templates`` (the repository's top-level templates/,
#: mapped into the package by pyproject.toml), so a wheel, pipx or editable install all find them.
TEMPLATES_DIR = Path(str(importlib.resources.files("monitor.templates")))

#: Tags kept by :func:`sanitize`; everything else is unwrapped (its text kept) ...
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "del", "em", "h2", "h3", "h4", "h5", "h6",
    "i", "ins", "li", "ol", "p", "pre", "q", "section", "strong", "sub", "sup", "time", "ul",
})
#: ... except these, which go with their content.
DROPPED_TAGS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript",
    "template", "svg", "math", "form", "textarea", "select", "button", "title", "head",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "time": {"datetime"}, "abbr": {"title"}, "q": {"cite"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"


# -- small pieces -------------------------------------------------------------------------------


def sanitize(html: str, base_url: str | None = None) -> str:
    """HTML made harmless: strict allow-list, no scripts, no ``javascript:``, every link
    ``rel="nofollow noopener"``; the result is clean text (:func:`~monitor.digest.clean_text`).

    Relative links are resolved against ``base_url``, or dropped without one (they would
    point into our own site) or when nh3 cannot take it as a base (a hostile post's URL with a
    port out of range, say: never a reason to stop publishing).

    HTML from elsewhere (a ``str``) is cleaned first, and markup too deep for any parser to
    handle in reasonable time (:mod:`monitor.markup`) is published as its text, escaped.
    :class:`~markupsafe.Markup` is HTML our templates wrote (a digest's body, :func:`render_body`):
    every text in it already clean and escaped, its nesting ours; it goes through nh3 as it is,
    and is not normalized as a whole (NFC would join a text's leading combining mark to the
    ``>`` of the tag before it).
    """
    if isinstance(html, Markup):
        return _nh3_clean(html, base_url) if html else ""
    html = dg.clean_text(html)
    if not html:
        return ""
    if too_complex(html):  # nesting no parser handles in reasonable time: publish its text instead
        html = f"<p>{html_escape(content_text(html))}</p>"
    else:
        html = _nh3_clean(html, base_url)
    # the parsers write the characters that entities stood for ("e&#x301;", "&#1;"): cleaned again
    return dg.clean_text(html)


@lru_cache(maxsize=1024)
def _nh3_takes_base(url: str) -> bool:
    """Whether nh3 can resolve links against ``url`` (it raises ValueError for a URL its parser refuses,
    a port out of range or an empty host, which :func:`~monitor.digest.safe_url` lets through)."""
    try:
        nh3.clean("", url_relative=("rewrite_with_base", url))
    except ValueError:
        return False
    return True


def _nh3_clean(html: str, base_url: str | None) -> str:
    if base_url and not _nh3_takes_base(base_url):
        base_url = None  # relative links dropped, as with no base
    kwargs: dict[str, Any] = {"url_relative": ("rewrite_with_base", base_url) if base_url else "deny"}
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        **kwargs,
    )


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` of every template loses XML-invalid code points on its way out
    (but a :class:`~monitor.digest.Clean` text, which has none: it goes out as the plain str; and
    :class:`~markupsafe.Markup`, HTML made here: :func:`sanitize`'s output, which is clean, or a
    body rendered from our templates, whose every text went through this already)."""
    cls = type(value)
    if cls is dg.Clean:  # most values of a digest page (digest.present's)
        return str(value)
    if cls is str:
        return dg.clean_text(value)
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return dg.clean_text(value)
    return value


@lru_cache(maxsize=4)
def environment(templates_dir: Path = TEMPLATES_DIR) -> Environment:
    """The one jinja2 environment: autoescape on, StrictUndefined, templates/ on disk."""
    return Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def digest_page_path(week_ending: dt.date) -> str:
    """``digests/2020-10-30.html`` (relative to the output dir and to site.url)."""
    return f"digests/{week_ending.isoformat()}.html"


def _feed_time(view: dg.DigestView, tz: dt.tzinfo) -> dt.datetime:
    """The fixed publication instant of a digest: the last second of its week, local time."""
    return dt.datetime.combine(view.week_ending, dt.time(23, 59, 59), tzinfo=tz)


def _source_links(config: Config) -> list[dict[str, Any]]:
    return [{"name": dg.clean_line(s.name), "href": dg.safe_url(s.url)} for s in config.sources]


# -- rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One digest, rendered once: its view, its page bytes and its body (the page's and the feeds')."""

    view: dg.DigestView
    page: bytes
    digest: Digest | None = None
    body: Markup | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.page).hexdigest()


def render_body(view: dg.DigestView, env: Environment | None = None) -> Markup:
    """The body HTML of a digest (``_digest_body.html``), as on its page (relative links).

    Rendered once per digest: the page holds it as it is, the feeds carry what :func:`sanitize`
    makes of it.
    """
    env = env or environment()
    return Markup(env.get_template("_digest_body.html").render(view=view, root="../"))


def render_digest(view: dg.DigestView, *, site_title: str, site_url: str, sources: Sequence[dict[str, Any]] = (),
                  previous: dg.DigestView | dict[str, Any] | None = None, env: Environment | None = None,
                  digest: Digest | None = None) -> Rendered:
    """The page of one digest (``digests/YYYY-MM-DD.html``)."""
    env = env or environment()
    prev = None
    if previous is not None:
        p_week = previous.week_ending if isinstance(previous, dg.DigestView) else previous["week_ending"]
        p_title = previous.title if isinstance(previous, dg.DigestView) else previous["title"]
        prev = {"href": f"{p_week.isoformat()}.html", "title": p_title}
    body = render_body(view, env)
    page = env.get_template("digest.html").render(
        view=view, body=body, root="../", site_title=dg.clean_line(site_title),
        canonical=site_url + digest_page_path(view.week_ending), previous=prev, sources=list(sources),
    )
    return Rendered(view=view, page=page.encode("utf-8"), digest=digest, body=body)


def render_index(entries: Sequence[dict[str, Any]], *, site_title: str, site_url: str,
                 env: Environment | None = None) -> bytes:
    """``index.html``: ``entries`` are ``{"week_ending", "title", "n_posts"}``, any order."""
    env = env or environment()
    digests = []
    for e in sorted(entries, key=lambda e: e["week_ending"], reverse=True):
        n = int(e["n_posts"])
        digests.append({
            "week_ending": e["week_ending"],
            "title": dg.clean_line(e["title"]),
            "href": digest_page_path(e["week_ending"]),
            "posted_on": e["week_ending"].strftime("%Y/%m/%d"),
            "count": "1 post" if n == 1 else f"{n} posts",
        })
    html = env.get_template("index.html").render(
        digests=digests, root="", site_title=dg.clean_line(site_title), canonical=site_url + "index.html",
    )
    return html.encode("utf-8")


def _when(value: dt.datetime | None, tz: dt.tzinfo, *, with_time: bool = True) -> str:
    if value is None:
        return ""
    local = value.astimezone(tz)
    text = local.strftime("%Y/%m/%d")
    if with_time and (local.hour, local.minute, local.second) != (0, 0, 0):
        text += local.strftime(" %H:%M ") + (local.tzname() or "")
    return text.strip()


def render_history(post: StoredPost, versions: Sequence[Version], *, site_title: str, site_url: str,
                   tz: dt.tzinfo, env: Environment | None = None) -> bytes:
    """``posts/{id}.html``: every version of a post, each with its word diff."""
    env = env or environment()
    meta = [p for p in (dg.source_head(post, tz), f"source: {dg.clean_line(post.source)}") if p]
    rows = []
    last_content = None
    for v in sorted(versions, key=lambda v: v.number):
        content = None
        if v.content and v.content != last_content:
            content = Markup(sanitize(v.content, dg.safe_url(post.url)))
        last_content = v.content or last_content
        seen = v.seen_at.astimezone(tz)
        rows.append({
            "number": v.number,
            "seen_iso": v.seen_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seen_text": f"{dg.format_mon(seen.date())} {seen.strftime('%H:%M')} {seen.tzname() or ''}".strip(),
            "title": dg.clean_line(v.title),
            "published": _when(v.published, tz),
            "excerpt": dg.clean_line(v.excerpt),
            "content": content,
            "changes": [
                {"label": dg.clean_line(c.label) or f"{c.field} changed", "segments": dg.diff_segments(c.diff)}
                for c in v.changes
            ],
        })
    html = env.get_template("history.html").render(
        post={"title": dg.clean_line(post.title) or dg.clean_line(post.url) or "(untitled)",
              "href": dg.safe_url(post.url), "meta": " · ".join(meta)},
        versions=rows, root="../", site_title=dg.clean_line(site_title),
        canonical=f"{site_url}posts/{post.id}.html",
    )
    return html.encode("utf-8")


# -- the feeds ----------------------------------------------------------------------------------------


def render_feeds(rendered: Sequence[Rendered], *, site_title: str, site_url: str,
                 tz: dt.tzinfo, env: Environment | None = None) -> tuple[bytes, bytes]:
    """``(feed.xml, atom.xml)``: one entry per digest, newest first, no build timestamp.

    Each entry's content is the digest's body (:func:`render_body`, the one its page holds; rendered
    here for a digest not built in this run) as :func:`sanitize` leaves it: no ``class``, every link
    absolute (resolved against the page's URL) and ``rel="nofollow noopener"``. feedgen (lxml)
    escapes it for XML.
    """
    items = sorted(rendered, key=lambda r: r.view.week_ending, reverse=True)
    site = dg.clean_line(site_title)
    host = urlsplit(site_url).hostname or "localhost"
    newest = _feed_time(items[0].view, tz) if items else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    contents = []
    for r in items:
        body = r.body if r.body is not None else render_body(r.view, env)
        contents.append(sanitize(body, site_url + digest_page_path(r.view.week_ending)))
    out = []
    for kind, self_name in (("rss", "feed.xml"), ("atom", "atom.xml")):
        fg = FeedGenerator()
        fg.title(f"{site} Weekly Digest")
        fg.id(site_url)
        fg.link(href=site_url + self_name, rel="self")
        fg.link(href=site_url + "index.html", rel="alternate")  # last: feedgen's RSS <link> is the last link
        fg.description(f"The week’s posts from {site}, every week.")
        fg.subtitle(f"The week’s posts from {site}, every week.")
        fg.language("en")
        fg.generator("Digest Monitor")
        if kind == "atom":
            fg.author({"name": site})  # an Atom feed needs an author
        fg.lastBuildDate(newest)  # NOT now: an unchanged rebuild must be byte-identical
        for r, content in zip(items, contents, strict=True):
            v = r.view
            page_url = site_url + digest_page_path(v.week_ending)
            when = _feed_time(v, tz)
            fe = fg.add_entry(order="append")
            fe.title(v.title)
            fe.link(href=page_url, rel="alternate")
            if kind == "rss":
                fe.guid(v.guid, permalink=False)
            else:
                fe.id(f"tag:{host},{v.week_ending.year}:{v.guid}")
            fe.pubDate(when)
            fe.updated(when)
            # RSS readers take <description> as HTML, so our plain text goes in escaped; Atom's
            # <summary> is type="text" and carries it as it is
            fe.description(html_escape(v.intro, quote=False) if kind == "rss" else v.intro, isSummary=True)
            fe.content(content, type="html")
        try:
            xml = fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)
        except ValueError as e:  # lxml refuses text that is not XML
            raise PublishError(f"cannot write the {kind} feed: {e}") from e
        out.append(xml)
    return out[0], out[1]


# -- writing ------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


#: A temp file older than this was left by a build that died (kill -9, power cut); a live build
#: renames its temp files within seconds.
STALE_TEMP_AGE = 3600.0


def remove_stale_temp_files(out_dir: Path, *, max_age: float = STALE_TEMP_AGE,
                            now: float | None = None) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files a killed build left behind; never a live build's."""
    if not out_dir.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for tmp in out_dir.rglob(".*.tmp"):
        try:
            if tmp.is_file() and not tmp.is_symlink() and now - tmp.stat().st_mtime > max_age:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # gone already, or not ours to remove: the build itself will say if it cannot write
    return removed


@dataclass(frozen=True)
class SiteFiles:
    """What a build writes: every file's bytes by path under output_dir, and each built week's page."""

    files: dict[str, bytes]
    pages: dict[dt.date, Rendered]


def render_site(config: Config, views: Mapping[dt.date, dg.DigestView], digests: Mapping[dt.date, Digest],
                entries: Mapping[dt.date, dict[str, Any]],
                histories: Sequence[tuple[StoredPost, Sequence[Version]]],
                in_feed: Sequence[tuple[dg.DigestView, Digest]]) -> SiteFiles:
    """Render a build in memory: the built weeks' pages, the updated posts' history pages, the
    index of every digest (``entries``: recorded ones plus this build), and the feeds of the
    ``in_feed`` digests, newest first. Handed plain values; reads nothing."""
    env = environment()
    site, site_url, tz = config.site_title, config.site_url, config.timezone
    sources = _source_links(config)
    ordered = sorted(entries)
    feed_weeks = {v.week_ending for v, _d in in_feed}
    files: dict[str, bytes] = {}
    pages: dict[dt.date, Rendered] = {}
    for w, v in views.items():
        i = ordered.index(w)
        previous = entries[ordered[i - 1]] if i > 0 else None
        r = render_digest(v, site_title=site, site_url=site_url, sources=sources, previous=previous, env=env,
                          digest=digests[w])
        if w not in feed_weeks:  # its body is kept for the feeds only: not held through a long --all build
            r = dataclasses.replace(r, body=None)
        pages[w] = r
        files[digest_page_path(w)] = r.page
    for post, versions in histories:
        files[f"posts/{post.id}.html"] = render_history(post, versions, site_title=site, site_url=site_url,
                                                       tz=tz, env=env)
    files["index.html"] = render_index(list(entries.values()), site_title=site, site_url=site_url, env=env)
    if in_feed:
        rendered = [pages.get(v.week_ending) or Rendered(view=v, page=b"", digest=d) for v, d in in_feed]
        files["feed.xml"], files["atom.xml"] = render_feeds(rendered, site_title=site, site_url=site_url, tz=tz,
                                                              env=env)
    return SiteFiles(files, pages)


def write_files(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Put every file under ``out_dir`` in place, or none (see :func:`_commit`); the paths written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from .paths import path_problem

        raise PublishError(path_problem(out_dir, folder=True, what="cannot create the output directory")
                           or f"cannot create the output directory {out_dir}: {e}") from e
    return _commit(out_dir, files)


#: Temp files written (and fsynced) at once: fsync waits for the disk, not for Python, and a disk
#: syncs many files about as fast as one, so a week's history pages reach the disk together.
WRITERS = 16


def _commit(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Put every file in place, or none: a failure restores the files already replaced.

    Files whose bytes are already on disk are left alone (their mtime stays, so
    subscribers' conditional requests keep getting 304). Every new file is
    written to a temp file in its directory and fsynced (up to :data:`WRITERS`
    at a time) before any is renamed over its target; if a rename fails, the
    files already renamed get their old bytes (and mtimes) back. Returns the
    paths written, sorted.
    """
    changed: list[tuple[Path, bytes, bytes | None, os.stat_result | None]] = []
    for rel in sorted(files):
        path = out_dir / rel
        data = files[rel]
        try:
            old: bytes | None = path.read_bytes()
            st: os.stat_result | None = path.stat()
        except FileNotFoundError:
            old, st = None, None
        except OSError as e:
            raise PublishError(f"cannot read {path}: {e}") from e
        if old != data:
            changed.append((path, data, old, st))
    if not changed:
        return []
    writes: list[Future[Path]] = []
    done: list[tuple[Path, bytes | None, os.stat_result | None]] = []
    try:
        for d in sorted({path.parent for path, _d, _o, _s in changed}):
            d.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=min(WRITERS, len(changed))) as pool:
            for path, data, _old, st in changed:
                writes.append(pool.submit(_write_temp, path, data, (st.st_mode & 0o777) if st else 0o644))
        temps = [w.result() for w in writes]  # the first failure, if any, is raised here
        for tmp, (path, _d, old, st) in zip(temps, changed, strict=True):
            os.replace(tmp, path)
            done.append((path, old, st))
    except BaseException as e:
        for path, old, st in reversed(done):  # roll back, best effort
            try:
                if old is None or st is None:
                    path.unlink(missing_ok=True)
                else:
                    os.replace(_write_temp(path, old, st.st_mode & 0o777), path)
                    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
            except OSError:
                pass
        for w in writes:
            if w.done() and not w.cancelled() and w.exception() is None:
                w.result().unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise PublishError(f"cannot write {getattr(e, 'filename', None) or out_dir}: {e.strerror or e}") from e
        raise
    for d in sorted({p.parent for p, _d, _o, _s in changed}):
        _fsync_dir(d)
    return [p for p, _d, _o, _s in changed]
