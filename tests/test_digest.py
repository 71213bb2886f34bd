"""monitor.digest: pure unit tests (no database, no files, no clock)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from monitor import digest as dg
from monitor.models import FieldChange, StoredPost, Version

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SITE = "Iran Interlink"
TRUMP = "Trump Campaign Uses Mujahedin-e-Khalq ( MEK ) Troll Farm In Albania"
RAJAVI = "Rajavi Insults Shajarian’s Memory – Iran Interlink Weekly Digest – Oct 16, 2020"

_ids = iter(range(1, 1_000_000))


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, tz: dt.tzinfo = LONDON) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=tz).astimezone(UTC)


def post(title: str = "A post", *, day: tuple[int, int, int] = (2020, 10, 28), at: dt.datetime | None = None,
         url: str | None = None, excerpt: str = "Some words.", author: str = "Massoud Khodabandeh",
         outlet: str = "Iran Interlink", original_date: dt.date | None = None, source: str = "s1",
         identity: str | None = None, first_seen: dt.datetime | None = None, pid: int | None = None,
         versions: int = 1) -> StoredPost:
    pid = pid if pid is not None else next(_ids)
    url = url if url is not None else f"https://iran-interlink.org/wordpress/p{pid}/"
    published = at if at is not None else local(*day)
    return StoredPost(
        id=pid, source=source, identity=identity or f"url:{url}", url=url, title=title, published=published,
        date_only=at is None, excerpt=excerpt, content="", author=author, outlet=outlet,
        original_date=original_date, guid=None, wp_id=None, origin="page", hash="v1:x",
        first_seen=first_seen or published + dt.timedelta(hours=3), last_seen=published, last_changed=None,
        versions=versions,
    )


def version(p: StoredPost, number: int, seen_at: dt.datetime, *changes: FieldChange) -> Version:
    return Version(post_id=p.id, number=number, seen_at=seen_at, title=p.title, excerpt=p.excerpt, content="",
                   published=p.published, changes=changes)


def change(field: str = "title", label: str = "title edited") -> FieldChange:
    return FieldChange(field, "old words", "new words", "[-old-] {+new+} words", label)


def build(week: dt.date, posts, changes=(), **kw):
    kw.setdefault("site_title", SITE)
    kw.setdefault("tz", LONDON)
    return dg.build_digest(week, posts, changes, **kw)


# -- weeks --------------------------------------------------------------------------------------------


def test_week_window_friday_is_saturday_to_saturday_local() -> None:
    start, end = dg.week_window(dt.date(2020, 10, 30), "friday", LONDON)
    assert start == dt.datetime(2020, 10, 24, tzinfo=LONDON) and end == dt.datetime(2020, 10, 31, tzinfo=LONDON)
    assert start.tzinfo is not None and end.tzinfo is not None
    # any day of the week gives the same window
    for d in range(24, 31):
        assert dg.week_window(dt.date(2020, 10, d), "friday", LONDON) == (start, end)
    assert dg.week_window(dt.date(2020, 10, 31), "friday", LONDON)[0] == end


def test_week_window_across_a_dst_change_is_local_midnights() -> None:
    # UK clocks went back on Sunday 2020-10-25: the week is 7 local days, 169 hours
    start, end = dg.week_window(dt.date(2020, 10, 30), "friday", LONDON)
    assert start.astimezone(UTC) == dt.datetime(2020, 10, 23, 23, tzinfo=UTC)
    assert end.astimezone(UTC) == dt.datetime(2020, 10, 31, 0, tzinfo=UTC)
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == dt.timedelta(hours=169)


@pytest.mark.parametrize("weekday, expected_end", [
    ("monday", dt.date(2020, 10, 26)), ("tuesday", dt.date(2020, 10, 27)), ("wednesday", dt.date(2020, 10, 28)),
    ("thursday", dt.date(2020, 10, 29)), ("friday", dt.date(2020, 10, 30)), ("saturday", dt.date(2020, 10, 31)),
    ("sunday", dt.date(2020, 10, 25)),
])
def test_any_weekday_can_end_the_week(weekday: str, expected_end: dt.date) -> None:
    day = dt.date(2020, 10, 25)  # a Sunday
    assert dg.week_ending_of(day, weekday) == expected_end
    start, end = dg.week_window(day, weekday, UTC)
    assert end.date() == expected_end + dt.timedelta(days=1)
    assert (end - start) == dt.timedelta(days=7)
    assert (start.date() + dt.timedelta(days=6)).weekday() == dg.WEEKDAYS.index(weekday)
    with pytest.raises(ValueError):
        dg.week_ending_of(day, "fryday")


def test_week_ending_for_uses_the_local_calendar() -> None:
    # Friday 23:30 UTC in summer is Saturday 00:30 in London: next week
    assert dg.week_ending_for(dt.datetime(2020, 10, 16, 23, 30, tzinfo=UTC), "friday", LONDON) == dt.date(2020, 10, 23)
    assert dg.week_ending_for(dt.datetime(2020, 10, 16, 22, 59, tzinfo=UTC), "friday", LONDON) == dt.date(2020, 10, 16)
    assert dg.week_ending_for(dt.datetime(2020, 10, 17, 2, 0, tzinfo=UTC), "friday", NEW_YORK) == dt.date(2020, 10, 16)
    with pytest.raises(ValueError):
        dg.week_ending_for(dt.datetime(2020, 10, 16), "friday", LONDON)


def test_last_complete_week_ending() -> None:
    f = dg.last_complete_week_ending
    assert f(dt.datetime(2020, 11, 3, 12, tzinfo=UTC), "friday", LONDON) == dt.date(2020, 10, 30)
    assert f(dt.datetime(2020, 10, 31, 0, 0, tzinfo=LONDON), "friday", LONDON) == dt.date(2020, 10, 30)
    assert f(dt.datetime(2020, 10, 30, 23, 59, tzinfo=LONDON), "friday", LONDON) == dt.date(2020, 10, 23)
    assert f(dt.datetime(2020, 11, 2, tzinfo=UTC), "sunday", UTC) == dt.date(2020, 11, 1)


def test_calendar_weeks_to_build_and_weeks_between() -> None:
    cal = dg.Calendar("friday", 5, dt.time(6), LONDON)
    now = dt.datetime(2020, 10, 31, 7, tzinfo=UTC)  # Saturday: the week ending 10-30 is over
    first = local(2020, 10, 14)
    assert cal.weeks_to_build(now, first, all_weeks=True) == ([dt.date(2020, 10, 16), dt.date(2020, 10, 23),
                                                                dt.date(2020, 10, 30)], [])
    assert cal.weeks_to_build(now, None, all_weeks=True) == ([], [])
    assert cal.weeks_to_build(now, first) == ([dt.date(2020, 10, 30)], [])  # default: the last complete week
    assert cal.weeks_to_build(now, first, week_ending=dt.date(2020, 10, 20)) == ([dt.date(2020, 10, 23)], [])
    assert cal.weeks_to_build(now, first, week_ending=dt.date(2020, 11, 2)) == (
        [], [(dt.date(2020, 11, 6), "not over yet")])
    assert dg.weeks_between(dt.date(2020, 10, 10), dt.date(2020, 10, 30)) == [
        dt.date(2020, 10, 16), dt.date(2020, 10, 23), dt.date(2020, 10, 30)]
    assert dg.weeks_between(dt.date(2020, 10, 30), dt.date(2020, 10, 10)) == []


# -- selection -------------------------------------------------------------------------------------------


def test_selection_is_the_weeks_posts_newest_first_by_posted_on() -> None:
    week = dt.date(2020, 10, 30)
    a = post("Sat first minute", at=local(2020, 10, 24, 0, 0))
    b = post("Fri last minute", at=local(2020, 10, 30, 23, 59))
    c = post("Wednesday", day=(2020, 10, 28))
    before = post("Fri before", at=local(2020, 10, 23, 23, 59))
    after = post("Sat after", at=local(2020, 10, 31, 0, 0))
    # backfilled: first seen a year later, still in the week of its "Posted on" date
    late = post("Backfilled", day=(2020, 10, 26), first_seen=dt.datetime(2021, 11, 5, tzinfo=UTC))
    undated = dataclasses.replace(post("Undated"), published=None)
    d = build(week, [a, before, late, b, after, c, undated])
    assert [i.post.title for i in d.items] == ["Fri last minute", "Wednesday", "Backfilled", "Sat first minute"]
    assert d.week_start == dt.datetime(2020, 10, 24, tzinfo=LONDON)
    assert d.week_end == dt.datetime(2020, 10, 30, 23, 59, 59, 999999, tzinfo=LONDON)
    assert d.week_ending == week
    assert d.lead is b


def test_same_day_posts_keep_page_order() -> None:
    first_on_page = post("First on page", day=(2020, 10, 27), pid=10)
    second_on_page = post("Second on page", day=(2020, 10, 27), pid=11)
    d = build(dt.date(2020, 10, 30), [second_on_page, first_on_page])
    assert [i.post.title for i in d.items] == ["First on page", "Second on page"]


def test_the_same_post_under_two_sources_is_kept_once() -> None:
    one = post("Shared", source="a", pid=1, url="https://x.org/shared/")
    two = dataclasses.replace(one, id=2, source="b")  # same identity
    three = dataclasses.replace(one, id=3, source="c", identity="wp:x.org:99", url="http://www.x.org/shared")
    d = build(dt.date(2020, 10, 30), [three, two, one])
    assert [i.post.id for i in d.items] == [1]
    assert d.authors == ("Massoud Khodabandeh",)


def test_lead_is_the_newest_non_digest_post() -> None:
    digest_post = post(RAJAVI, day=(2020, 10, 29), author="Iran Interlink", outlet="")
    news = post(TRUMP, day=(2020, 10, 28))
    older = post("Older", day=(2020, 10, 25))
    d = build(dt.date(2020, 10, 30), [older, digest_post, news])
    assert d.lead is news
    assert [i.post.title for i in d.items] == [TRUMP, RAJAVI, "Older"]  # lead first, then newest first
    assert d.title == f"{TRUMP} – Iran Interlink Weekly Digest – Oct 30, 2020"


def test_a_week_of_only_digests_strips_the_lead_title() -> None:
    d = build(dt.date(2020, 10, 16), [post(RAJAVI, day=(2020, 10, 16), author="Iran Interlink", outlet="")])
    assert d.lead is not None and d.lead.title == RAJAVI
    assert d.title == "Rajavi Insults Shajarian’s Memory – Iran Interlink Weekly Digest – Oct 16, 2020"
    assert d.title.count("Weekly Digest") == 1
    # an old-style digest with no lead: no lead in ours either
    d = build(dt.date(2020, 4, 3), [post("Iran Interlink Weekly Digest – April 03, 2020", day=(2020, 4, 3))])
    assert d.title == "Iran Interlink Weekly Digest – Apr 03, 2020"


def test_lead_by_hand() -> None:
    news = post(TRUMP, day=(2020, 10, 28))
    other = post("Covert strikes", day=(2020, 10, 27), url="https://x.org/covert/")
    d = build(dt.date(2020, 10, 30), [news, other], lead_url="https://x.org/covert")
    assert d.lead is other and [i.post.title for i in d.items] == ["Covert strikes", TRUMP]
    assert d.title.startswith("Covert strikes – ")
    # a digest post chosen by hand: its suffix is stripped
    dig = post(RAJAVI, day=(2020, 10, 26), url="https://x.org/digest/")
    d = build(dt.date(2020, 10, 30), [news, dig], lead_url="https://x.org/digest/")
    assert d.title == "Rajavi Insults Shajarian’s Memory – Iran Interlink Weekly Digest – Oct 30, 2020"
    # an unknown URL falls back to the automatic choice
    assert build(dt.date(2020, 10, 30), [news, other], lead_url="https://x.org/nope/").lead is news


def test_a_quiet_week_is_none_unless_empty_weeks() -> None:
    assert build(dt.date(2020, 11, 13), [post(day=(2020, 10, 28))]) is None
    d = build(dt.date(2020, 11, 13), [], empty_weeks=True)
    assert d is not None and d.items == () and d.lead is None
    assert d.title == "Iran Interlink Weekly Digest – Nov 13, 2020"


def test_updated_this_week() -> None:
    week = dt.date(2020, 10, 30)
    start = local(2020, 10, 24)
    old = post("Old post", day=(2020, 10, 19), first_seen=local(2020, 10, 20))
    v2 = version(old, 2, local(2020, 10, 25, 9), change())
    v3 = version(old, 3, local(2020, 10, 27, 9), change("excerpt", "excerpt rewritten"), change())
    # first seen inside the week: not an "update", it is (or was) new this week
    fresh = post("Fresh", day=(2020, 10, 19), first_seen=local(2020, 10, 25))
    fv2 = version(fresh, 2, local(2020, 10, 26), change())
    # a change seen outside the week, and a version 1
    other = post("Other", day=(2020, 10, 1), first_seen=local(2020, 10, 2))
    ov2 = version(other, 2, local(2020, 10, 31, 0, 1), change())
    ov1 = version(other, 1, local(2020, 10, 25))
    # the same post under a second source: listed once
    twin = dataclasses.replace(old, id=old.id + 500_000, source="s2")
    tv2 = version(twin, 2, local(2020, 10, 26, 9), change("published", "date changed"))
    d = build(week, [], [(old, v2), (fresh, fv2), (other, ov2), (other, ov1), (old, v3), (twin, tv2)])
    assert d is not None and d.items == ()  # an update alone makes a digest
    assert [u.post.id for u in d.updated] == [old.id]
    view = dg.present(d, tz=LONDON)
    assert view.updated[0].what == "title edited, date changed, excerpt rewritten"
    assert start < v2.seen_at


def test_updated_posts_are_newest_change_first() -> None:
    a = post("A", day=(2020, 10, 1), first_seen=local(2020, 10, 2))
    b = post("B", day=(2020, 10, 1), first_seen=local(2020, 10, 2))
    d = build(dt.date(2020, 10, 30), [], [(a, version(a, 2, local(2020, 10, 25), change())),
                                          (b, version(b, 2, local(2020, 10, 28), change()))])
    assert [u.post.title for u in d.updated] == ["B", "A"]


# -- titles and lines ----------------------------------------------------------------------------------


def test_title_format() -> None:
    assert dg.digest_title("Lead", SITE, dt.date(2020, 9, 4)) == "Lead – Iran Interlink Weekly Digest – Sep 04, 2020"
    assert dg.digest_title(None, SITE, dt.date(2020, 12, 25)) == "Iran Interlink Weekly Digest – Dec 25, 2020"
    assert dg.digest_title(RAJAVI, SITE, dt.date(2020, 10, 23)) == (
        "Rajavi Insults Shajarian’s Memory – Iran Interlink Weekly Digest – Oct 23, 2020")
    t = dg.digest_title("X", SITE, dt.date(2020, 1, 3))
    assert t.count("\u2013") == 2 and " - " not in t
    assert [dg.format_mon(dt.date(2020, m, 1))[:3] for m in range(1, 13)] == [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@pytest.mark.parametrize("title, lead", [
    (RAJAVI, "Rajavi Insults Shajarian’s Memory"),
    ("MEK Manipulated Amnesty International – Iran Interlink, Weekly Digest – Sep 25, 2020",
     "MEK Manipulated Amnesty International"),
    ("Iran Interlink Weekly Digest – April 03, 2020", ""),
    ("Iran Interlink Weekly Digest – 295", ""),
    ("Lead - Iran Interlink Weekly Digest - Oct 16, 2020", "Lead"),
    (TRUMP, TRUMP),
    ("A weekly digest of nothing", "A weekly digest of nothing"),
])
def test_digest_titles_are_recognised(title: str, lead: str) -> None:
    assert dg.strip_digest_suffix(title) == lead
    assert dg.is_digest_title(title) == (lead != title)


def test_intro_line() -> None:
    lead = post(TRUMP, excerpt="leading up to the U.S. Presidential election, journalists suffer.")
    assert dg.intro_line(SITE, dt.date(2020, 10, 30), lead) == (
        "Iran Interlink, October 30 2020:… leading up to the U.S. Presidential election, journalists suffer.")
    no_excerpt = post(RAJAVI, excerpt="")
    assert dg.intro_line(SITE, dt.date(2020, 10, 2), no_excerpt) == (
        "Iran Interlink, October 02 2020:… Rajavi Insults Shajarian’s Memory")
    assert dg.intro_line(SITE, dt.date(2020, 10, 2), None) == "Iran Interlink, October 02 2020:… No new posts this week."


def test_counts_line() -> None:
    a, b = dt.date(2020, 10, 10), dt.date(2020, 10, 16)
    assert dg.counts_line(5, 2, a, b) == "This week: 5 posts from 2 authors (Oct 10 – Oct 16, 2020)."
    assert dg.counts_line(1, 1, a, b) == "This week: 1 post from 1 author (Oct 10 – Oct 16, 2020)."
    assert dg.counts_line(0, 0, a, b) == "This week: no new posts (Oct 10 – Oct 16, 2020)."
    assert dg.counts_line(3, 0, a, b) == "This week: 3 posts (Oct 10 – Oct 16, 2020)."
    assert dg.counts_line(2, 1, dt.date(2020, 12, 26), dt.date(2021, 1, 1)) == (
        "This week: 2 posts from 1 author (Dec 26, 2020 – Jan 01, 2021).")


def test_footer_line() -> None:
    assert dg.footer_line(SITE, dt.date(2020, 10, 30), 4, 3) == (
        "Iran Interlink Weekly Digest · week ending Oct 30, 2020 · 4 posts · 3 authors")
    assert dg.footer_line(SITE, dt.date(2020, 10, 16), 1, 1).endswith("· 1 post · 1 author")


@pytest.mark.parametrize("author, outlet, expected", [
    ("Massoud Khodabandeh", "Responsible Statecraft", "Massoud Khodabandeh, Responsible Statecraft, April 25 2020"),
    ("Iran Interlink", "Iran Interlink", "Iran Interlink, April 25 2020"),  # author once when = outlet
    ("Iran Interlink", "iran interlink", "Iran Interlink, April 25 2020"),
    ("Alireza Niknam,", "", "Alireza Niknam, April 25 2020"),  # the doubled comma of the site
    ("Alireza Niknam,,", " , ", "Alireza Niknam, April 25 2020"),
    ("", "Tasnim News", "Tasnim News, April 25 2020"),  # outlet only
    ("", "", "April 25 2020"),
    ("A  B", "Middle East Strategy Consultants, UK", "A B, Middle East Strategy Consultants, UK, April 25 2020"),
    ("X", "Outlet,, Two", "X, Outlet, Two, April 25 2020"),
])
def test_item_line_never_prints_empty_parts(author: str, outlet: str, expected: str) -> None:
    p = post(author=author, outlet=outlet, excerpt="The text.", original_date=dt.date(2020, 4, 25))
    line = dg.item_line(p, LONDON)
    assert line == f"{expected}:… The text."
    assert ",," not in line and ", ," not in line and not line.startswith(",")


def test_item_line_date_is_the_source_date_else_posted_on() -> None:
    p = post(day=(2020, 1, 8), original_date=dt.date(2020, 1, 9), excerpt="x")
    assert dg.item_line(p, LONDON).endswith("January 09 2020:… x")
    p = post(day=(2020, 1, 8), excerpt="x")
    assert dg.item_line(p, LONDON).endswith("January 08 2020:… x")
    # a timed post: its local date
    p = post(at=dt.datetime(2020, 7, 8, 23, 30, tzinfo=UTC), excerpt="x")
    assert dg.item_line(p, LONDON).endswith("July 09 2020:… x")
    assert dg.item_line(dataclasses.replace(p, excerpt=""), LONDON) == "Massoud Khodabandeh, Iran Interlink, July 09 2020"


def test_excerpt_is_cut_at_55_words() -> None:
    words = [f"w{i}" for i in range(80)]
    assert dg.truncate_words(" ".join(words)) == " ".join(words[:55]) + " …"
    assert dg.truncate_words(" ".join(words[:55])) == " ".join(words[:55])
    assert dg.truncate_words("  spaced \n out\ttext ") == "spaced out text"
    assert dg.truncate_words("a, b, c, d", 2) == "a, b …"
    p = post(excerpt=" ".join(words))
    text = dg.item_line(p, LONDON).split(":… ", 1)[1]
    assert text.endswith(" …") and len(text.split()) == 56


def _words_cut(line: str, limit: int) -> str:
    """truncate_words as it was first written: split, keep ``limit`` words, join."""
    if line.count(" ") < limit:
        return line
    return " ".join(line.split(" ", limit)[:limit]).rstrip(",;:") + " …"


def test_the_55_word_cut_is_the_cut_of_a_word_list() -> None:
    rng = random.Random(3)
    pieces = ["w", "word,", "x;", "y:", "é", "e\u0301", "\u0338", "a,,", ":", "", "😀", "Ω"]
    for _ in range(3000):
        line = " ".join(rng.choice(pieces) + rng.choice(pieces) for _ in range(rng.randint(0, 70)))
        for limit in (dg.EXCERPT_WORDS, 3):
            assert dg._truncate(line, limit) == _words_cut(line, limit), (line, limit)


def test_repeated_title_at_the_end_of_an_excerpt_is_removed() -> None:
    p = post("MEK cult in Albania poses public health risk",
             excerpt="No Albanian health official has ever entered the camp. MEK cult in Albania poses public health risk ")
    assert dg.post_excerpt(p) == "No Albanian health official has ever entered the camp."
    p = post("MEK cult in Albania", excerpt="Words before it. mek CULT in albania.")  # in any case
    assert dg.post_excerpt(p) == "Words before it."
    words = " ".join(f"w{i}" for i in range(80))
    p = post("The title", excerpt=f"{words}  \u00a0The Title")  # cut, then at most 55 words
    assert dg.post_excerpt(p) == " ".join(f"w{i}" for i in range(55)) + " …"


def test_render_text_of_a_week() -> None:
    lead = post(TRUMP, day=(2020, 10, 28), excerpt="leading up to the election.", original_date=dt.date(2020, 10, 28),
                url="https://x.org/trump/")
    other = post("Covert strikes", day=(2020, 10, 27), author="Ted Snider", outlet="Mondoweiss",
                 excerpt="Two senior officials.", url="https://x.org/covert/")
    d = build(dt.date(2020, 10, 30), [other, lead])
    text = dg.render_text(dg.present(d, tz=LONDON))
    assert text == (
        f"{TRUMP} – Iran Interlink Weekly Digest – Oct 30, 2020\n"
        "Posted on: 2020/10/30\n\n"
        "Iran Interlink, October 30 2020:… leading up to the election.\n"
        "This week: 2 posts from 2 authors (Oct 24 – Oct 30, 2020).\n\n"
        f"++ {TRUMP}\n"
        "Massoud Khodabandeh, Iran Interlink, October 28 2020:… leading up to the election.\n"
        "Read more → https://x.org/trump/\n\n"
        "++ Covert strikes\n"
        "Ted Snider, Mondoweiss, October 27 2020:… Two senior officials.\n"
        "Read more → https://x.org/covert/\n\n"
        "Iran Interlink Weekly Digest · week ending Oct 30, 2020 · 2 posts · 2 authors\n"
    )


@pytest.mark.parametrize("group_by, labels", [
    ("author", ["Ted Snider", "Massoud Khodabandeh"]),
    ("outlet", ["Mondoweiss", "Iran Interlink"]),
    ("day", ["Wednesday, Oct 28", "Tuesday, Oct 27"]),
    ("none", [""]),
])
def test_grouping(group_by: str, labels: list[str]) -> None:
    ps = [post("A", day=(2020, 10, 28), author="Ted Snider", outlet="Mondoweiss"),
          post("B", day=(2020, 10, 27)), post("C", day=(2020, 10, 27), author="Ted Snider", outlet="Mondoweiss")]
    view = dg.present(build(dt.date(2020, 10, 30), ps), tz=LONDON, group_by=group_by)
    assert [g.label for g in view.groups] == labels
    assert sum(len(g.items) for g in view.groups) == 3
    if group_by != "none":
        assert dg.render_text(view).count(f"{labels[0]}:\n") == 1


def test_present_counts_authors_and_guid() -> None:
    ps = [post("A", day=(2020, 10, 28), author="X"), post("B", day=(2020, 10, 27), author="x"),
          post("C", day=(2020, 10, 26), author="", outlet="Outlet")]
    view = dg.present(build(dt.date(2020, 10, 30), ps, site_title="Iran  Interlink!"), tz=LONDON)
    assert view.n_posts == 3 and view.n_authors == 2
    assert view.guid == "iran-interlink-weekly-digest-2020-10-30"
    assert view.posted_on == "2020/10/30"
    assert view.site_title == "Iran Interlink!"


# -- hostile text -------------------------------------------------------------------------------------


def test_clean_text_strips_what_xml_and_html_forbid() -> None:
    dirty = "a\x00b\x01\x08c\x0b\x0c\x1fd\x7f\x85e\ud800f\ufffe\uffff\ufdd0g\U0001fffeh\U0010ffff"
    # the controls str.split() takes for spaces (VT, FF, the separators, NEL) become spaces, as in extract
    assert dg.clean_text(dirty) == "abc   d efgh"
    assert dg.clean_text("a\x00b\x01\x08c\x7fd\ud800e\ufffe\uffff\ufdd0f\U0001fffeg\U0010ffff") == "abcdefg"
    assert dg.clean_text("keep\ttab\nnewline\r😀 “quotes” – …") == "keep\ttab\nnewline\r😀 “quotes” – …"
    assert dg.clean_text("e\u0301") == "\u00e9"  # NFC
    assert dg.clean_line(" a \u00a0 b\n\tc ") == "a b c"
    assert dg.clean_line("e\u0301  “x” ") == "\u00e9 “x”"  # printable, not ASCII: still normalized and collapsed
    assert dg.clean_line("e\u0301 “x”") == "\u00e9 “x”"
    assert dg.clean_line("a\x1fb  c") == "a b c"  # \x1f is whitespace to str.split: a space, then collapsed
    assert dg.clean_text(None) == ""


def test_clean_text_of_lines_keeps_the_breaks_and_strips_the_rest() -> None:
    assert dg.clean_text("<p>a</p>\n<p>b</p>\r\n\tc") == "<p>a</p>\n<p>b</p>\r\n\tc"
    assert dg.clean_text("e\u0301\nx") == "\u00e9\nx"
    assert dg.clean_text("a\nb\x00c\x0b\r\ud800d\ufffe\U0001fffe") == "a\nbc \rd"
    assert dg.clean_text("a\n\u00a0b\u200bc") == "a\n\u00a0b\u200bc"  # not printable, but allowed


@pytest.mark.parametrize("text", [
    "plain", "a\x00b", "v\x0bt\x0cf", "sep\x1c\x1d\x1e\x1f", "nel\x85", "\ud800lone", "non\ufdd0\ufffe\uffff",
    "astral\U0001fffe\U0010ffff", "e\u0301 nfc", "mix\x00\x0b e\u0301\x85\U0002fffe\n\tok", "😀 “q” – …",
])
def test_one_cleaner_for_what_is_stored_and_what_is_published(text: str) -> None:
    # the extract stage stores clean_str(text); publishing shows clean_text of it or of the raw text: the same
    from monitor import extract
    from monitor import text as text_module
    assert extract.clean_str is text_module.clean_str and dg.clean_text is text_module.clean_text
    stored = extract.clean_str(text)
    assert not text_module.NOT_TEXT.search(stored)
    assert dg.clean_text(stored) == dg.clean_text(text)
    assert dg.clean_text(dg.clean_text(text)) == dg.clean_text(text)


@pytest.mark.parametrize("a, b", [
    ("HTTPS://www.X.org/a/#frag", "http://x.org/a"),
    ("https://x.org/a?utm_source=feed&b=2", "http://www.x.org/a/?b=2"),
    ("https://x.org/%d8%ac", "https://x.org/\u062c"),
    ("  https://x.org/a  ", "https://x.org/a"),
])
def test_url_key_is_the_same_post_rule(a: str, b: str) -> None:
    # one rule for "the same post" (monitor.urls), not a second one of the digest's own
    from monitor.urls import same_post_key

    assert dg.url_key(a) == dg.url_key(b) == same_post_key(b.strip())


def test_url_key_keeps_what_tells_posts_apart() -> None:
    assert dg.url_key("https://x.org/a") != dg.url_key("https://x.org/b")
    assert dg.url_key("https://x.org/A") != dg.url_key("https://x.org/a")  # paths are case-sensitive
    assert dg.url_key("https://x.org/?p=1") != dg.url_key("https://x.org/?p=2")
    assert dg.url_key("https://x.org/a") != dg.url_key("https://y.org/a")


def _texts(obj: object) -> list[object]:
    """Every str in a view (its fields, their items, recursively)."""
    if isinstance(obj, str):
        return [obj]
    if dataclasses.is_dataclass(obj):
        return [t for f in dataclasses.fields(obj) for t in _texts(getattr(obj, f.name))]
    if isinstance(obj, tuple):
        return [t for x in obj for t in _texts(x)]
    return []


@pytest.mark.parametrize("group_by", ["none", "author", "outlet", "day"])
def test_present_hands_out_only_clean_texts(group_by: str) -> None:
    # the renderers do not clean a Clean text again: each must be one clean_text leaves as it is
    odd = "<b>x</b>\x00 e\u0301 \u0338 \u00a0\ufffe ]]> \U0010ffff “q”,,"
    ps = [post(f"{odd} {i}", excerpt=f"{odd} " * 30 + f" {odd} {i}", author=odd, outlet=f",,{odd}", url=url,
               day=(2020, 10, 24 + i % 7))
          for i, url in enumerate(["https://x.org/a b/é", "javascript:x", f"https://x.org/{odd}", ""])]
    old = post("Old", day=(2020, 10, 20))
    d = build(dt.date(2020, 10, 30), ps, [(old, version(old, 2, local(2020, 10, 26), change(), change(odd, odd)))],
              site_title=f"Site {odd}")
    view = dg.present(d, tz=LONDON, group_by=group_by)
    texts = [t for t in _texts(view) if t != view.lead_url]  # (the lead's URL: a key, never shown)
    assert len(texts) > 20 and [t for t in texts if type(t) is not dg.Clean] == []
    assert all(dg.clean_text(t) == t for t in texts)


def test_hostile_posts_come_out_as_clean_text() -> None:
    evil = post("<script>alert(1)</script>\x00 Evil ]]>", excerpt="<img src=x onerror=alert(1)>\x08",
                url="javascript:alert(1)", author="\x01Bad,,", outlet="<b>x</b>", day=(2020, 10, 28))
    view = dg.present(build(dt.date(2020, 10, 30), [evil]), tz=LONDON)
    (item,) = view.items
    assert item.title == "<script>alert(1)</script> Evil ]]>"  # escaping is the template's job
    assert item.href is None and item.url_text == "javascript:alert(1)"
    assert item.line == "Bad, <b>x</b>, October 28 2020:… <img src=x onerror=alert(1)>"
    assert view.title == "<script>alert(1)</script> Evil ]]> – Iran Interlink Weekly Digest – Oct 30, 2020"
    assert "\x00" not in dg.render_text(view) and "\x08" not in dg.render_text(view)


@pytest.mark.parametrize("url, expected", [
    ("https://x.org/a/", "https://x.org/a/"),
    ("http://x.org/a?b=1&c=%20#f", "http://x.org/a?b=1&c=%20#f"),
    ("https://x.org/a b/é", "https://x.org/a%20b/%C3%A9"),
    ("https://x.org/100%", "https://x.org/100%25"),
    ('https://x.org/"><script>', "https://x.org/%22%3E%3Cscript%3E"),
    ("javascript:alert(1)", None),
    (" JavaScript:alert(1)", None),
    ("data:text/html,<script>", None),
    ("vbscript:x", None),
    ("//x.org/a", None),
    ("/relative", None),
    ("", None),
    ("http://[::1", None),
    ("http://[::1]/x", "http://[::1]/x"),
    ("HTTPS://X.ORG/A?b=1", "HTTPS://X.ORG/A?b=1"),
    ("http://x.org/a%zz", "http://x.org/a%25zz"),
    ("http:///x", None),
    ("http://@/", "http://@/"),  # what urlsplit calls a netloc, it is one
])
def test_safe_url(url: str, expected: str | None) -> None:
    assert dg.safe_url(url) == expected


def test_diff_segments() -> None:
    assert dg.diff_segments("Sander [-Lleshaj-] {+Lleshaj,+} must {+<b>x</b>+}") == [
        ("same", "Sander "), ("del", "Lleshaj"), ("same", " "), ("ins", "Lleshaj,"), ("same", " must "),
        ("ins", "<b>x</b>")]
    assert dg.diff_segments("[-2020-10-19-] {+2020-10-20+}") == [("del", "2020-10-19"), ("same", " "),
                                                                  ("ins", "2020-10-20")]
    assert dg.diff_segments("") == []


def test_site_slug() -> None:
    assert dg.site_slug("Iran Interlink") == "iran-interlink"
    assert dg.site_slug("Ça & Là — News!") == "ca-la-news"
    assert dg.site_slug("???") == "site"
    assert dg.digest_guid("Iran Interlink", dt.date(2020, 10, 16)) == "iran-interlink-weekly-digest-2020-10-16"


def test_same_day_ties_across_runs_put_the_later_found_post_first():
    morning = local(2020, 10, 28, 9)
    # run 1 (09:00) stored two posts of Oct 28 in page order: ids 1 then 2
    a = post("Second of the day", pid=1, first_seen=morning)
    b = post("First of the day", pid=2, first_seen=morning)
    # run 2 (18:00) found a third, newer post of the same day above them: it got a higher id
    c = post("Third of the day", pid=3, first_seen=morning + dt.timedelta(hours=9))
    d = build(dt.date(2020, 10, 30), [a, b, c])
    assert [i.post.title for i in d.items] == ["Third of the day", "Second of the day", "First of the day"]
    assert d.lead.title == "Third of the day"
