"""The publish half: select weeks -> read -> build -> present -> render -> write -> record.

::

    publish_digests(config, store, now=..., week_ending= | all_weeks=, lead_url=)
      config.calendar.weeks_to_build(now, first post)     pure: which weeks, which are skipped and why
      store.posts_published_between / changes_between    one query per week (or one for --all),
                                                          without post content (a digest never shows it)
      digest.build_digest -> digest.present              pure: what each digest says
      publish.render_digest / render_history / render_index / render_feeds
                                                          handed plain values, never the store
      publish.write_files(output_dir, files)              temp file + fsync + rename; all or none
      store.record_digest(...)                            only after the files are in place
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import digest as dg
from ..config import Config
from ..errors import PublishError
from ..models import Digest, StoredPost, Version
from ..storage import Storage

__all__ = ["BuildReport", "publish_digests", "week_has_content"]


@dataclass(frozen=True)
class BuildReport:
    weeks_built: list[dt.date]
    files_written: list[Path]
    skipped: list[tuple[dt.date, str]] = field(default_factory=list)  # (week ending, "no posts" | "not over yet")

    def lines(self) -> list[str]:
        """What the CLI prints: every file written, then every skipped week."""
        out = [str(p) for p in self.files_written]
        for week, reason in self.skipped:
            if reason == "no posts":
                out.append(f"no posts in the week ending {week.isoformat()}")
            else:
                out.append(f"week ending {week.isoformat()} skipped: {reason}")
        return out


def _record_entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "week_ending": dt.date.fromisoformat(row["week_ending"]),
        "title": row["title"],
        "lead_url": row.get("lead_url"),
        "chosen_lead": row.get("chosen_lead"),  # a lead picked with --lead: kept by later builds
        "n_posts": len(json.loads(row.get("post_ids") or "[]")),
    }


def _bucket(cal: dg.Calendar, posts: Iterable[StoredPost], changes: Iterable[tuple[StoredPost, Version]]
            ) -> tuple[dict[dt.date, list[StoredPost]], dict[dt.date, list[tuple[StoredPost, Version]]]]:
    by_week: dict[dt.date, list[StoredPost]] = {}
    ch_week: dict[dt.date, list[tuple[StoredPost, Version]]] = {}
    for p in posts:
        if p.published is not None:
            by_week.setdefault(cal.week_of(p.published), []).append(p)
    for pv in changes:
        ch_week.setdefault(cal.week_of(pv[1].seen_at), []).append(pv)
    return by_week, ch_week


def _published_and_changed(store: Storage, start: dt.datetime, end: dt.datetime
                           ) -> tuple[list[StoredPost], list[tuple[StoredPost, Version]]]:
    """What a digest of [start, end) is made of, without post content (a digest never shows it)."""
    return (store.posts_published_between(start, end, content=False),
            store.changes_between(start, end, content=False))


def week_has_content(config: Config, store: Storage, week: dt.date) -> bool:
    """Whether a week has posts or updates (an empty week is published only with ``empty_weeks``)."""
    start, end = config.calendar.window(week)
    return (bool(store.posts_published_between(start, end, content=False))
            or bool(store.changes_between(start, end, content=False)))


def publish_digests(config: Config, store: Storage, *, week_ending: dt.date | None = None,
                    all_weeks: bool = False, lead_url: str | None = None, now: dt.datetime) -> BuildReport:
    """Build the digest of one week (default: the last complete week before ``now``) or of all weeks.

    ``week_ending`` may be any day of the wanted week. ``all_weeks`` builds every week that has
    posts (or updates), from the first published post to the last complete week. ``lead_url``
    picks the lead by hand (it must be a post of the week when one week is built).
    index.html, feed.xml and atom.xml are always re-rendered from every recorded digest plus this
    build.

    Raises :class:`PublishError` when files cannot be written (the previous files are then left
    as they were and nothing is recorded).
    """
    from .. import publish  # jinja2, feedgen, nh3: only the commands that publish load them

    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cal, tz = config.calendar, config.timezone
    site = config.site_title
    out_dir = Path(config.output_dir)
    publish.remove_stale_temp_files(out_dir)
    records = {e["week_ending"]: e for e in map(_record_entry, store.digests())}

    # -- which weeks, and their posts (a bounded number of queries, never one per post)
    weeks, skipped = cal.weeks_to_build(now, store.first_published(), week_ending=week_ending,
                                        all_weeks=all_weeks)
    posts_by_week: dict[dt.date, list[StoredPost]] = {}
    changes_by_week: dict[dt.date, list[tuple[StoredPost, Version]]] = {}
    if all_weeks and weeks:
        start, _ = cal.window(weeks[0])
        _, end = cal.window(weeks[-1])
        posts_by_week, changes_by_week = _bucket(cal, *_published_and_changed(store, start, end))
        if not config.digest.empty_weeks:
            weeks = [w for w in weeks if w in posts_by_week or w in changes_by_week]
    for week in weeks if not all_weeks else ():
        posts_by_week[week], changes_by_week[week] = _published_and_changed(store, *cal.window(week))

    # -- build each week (pure)
    digests: dict[dt.date, Digest] = {}
    chosen_leads: dict[dt.date, str | None] = {}

    def leads(d: Digest | None, url: str | None) -> bool:
        return bool(url and d is not None and d.lead is not None and dg.url_key(d.lead.url) == dg.url_key(url))

    for week in weeks:
        # the lead: the one asked for now, else the one picked by hand for this week before
        chosen = records.get(week, {}).get("chosen_lead")

        def build(lead: str | None, week: dt.date = week) -> Digest | None:
            return dg.build_digest(week, posts_by_week.get(week, []), changes_by_week.get(week, []),
                                   site_title=site, tz=tz, week_ends_on=cal.week_ends_on, lead_url=lead,
                                   empty_weeks=config.digest.empty_weeks)

        d = build(lead_url or chosen)
        if lead_url and chosen and not leads(d, lead_url):
            d = build(chosen)  # --lead is another week's post: this week keeps its own choice
        chosen_leads[week] = lead_url if leads(d, lead_url) else (chosen if leads(d, chosen) else None)
        if d is None:
            if not all_weeks:
                skipped.append((week, "no posts"))
            continue
        if lead_url and not all_weeks and (d.lead is None or dg.url_key(d.lead.url) != dg.url_key(lead_url)):
            raise PublishError(f"--lead {lead_url} is not a post of the week ending {week.isoformat()}")
        digests[week] = d

    if lead_url and all_weeks and not any(d.lead and dg.url_key(d.lead.url) == dg.url_key(lead_url)
                                          for d in digests.values()):
        raise PublishError(f"--lead {lead_url} is not a post of any week built")

    views = {w: dg.present(d, tz=tz, group_by=config.digest.group_by) for w, d in digests.items()}
    entries = dict(records)
    for w, v in views.items():
        entries[w] = {"week_ending": w, "title": v.title, "lead_url": v.lead_url, "n_posts": v.n_posts}

    # -- render (publish is handed values; it never reads the store)
    updated = {item.post.id: item.post for w in sorted(digests) for item in digests[w].updated}
    histories = [(updated[pid], versions) for pid, versions in store.versions_of(updated).items()]
    in_feed: list[tuple[dg.DigestView, Digest]] = []
    for w in sorted(entries, reverse=True)[: config.digest.feed_size]:
        if w in views:
            in_feed.append((views[w], digests[w]))
            continue
        # an older week in the feed: rebuilt from today's database, with the lead it was published with
        d = dg.build_digest(w, *_published_and_changed(store, *cal.window(w)), site_title=site, tz=tz,
                            week_ends_on=cal.week_ends_on, lead_url=entries[w].get("lead_url"),
                            empty_weeks=True)
        assert d is not None
        in_feed.append((dg.present(d, tz=tz, group_by=config.digest.group_by), d))
    site_files = publish.render_site(config, views, digests, entries, histories, in_feed)

    # -- write, then record
    written = publish.write_files(out_dir, site_files.files)
    for w in sorted(site_files.pages):
        r, d = site_files.pages[w], digests[w]
        store.record_digest(w, r.view.title, d.lead.url if d.lead else None, [i.post.id for i in d.items],
                            [i.post.id for i in d.updated], now, r.content_hash,
                            chosen_lead=chosen_leads.get(w))
    return BuildReport(weeks_built=sorted(site_files.pages), files_written=written, skipped=skipped)
