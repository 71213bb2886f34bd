"""The pure decider: real edits are changes; page noise never is."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.detect import content_text, decide, normalize_text, word_diff
from monitor.models import PostData, StoredPost

TZ = ZoneInfo("Europe/London")
UTC = dt.UTC


def day(y, m, d):
    return dt.datetime(y, m, d, tzinfo=TZ)


def stored(**kw) -> StoredPost:
    base = dict(
        id=1, source="s", identity="wp:x:1", url="http://x/p/1/", title="MEK cult in Albania poses public health risk",
        published=day(2020, 4, 25), date_only=True,
        excerpt="The Albanian authorities, including the security services, do not have access to the camp.",
        content="", author="Massoud Khodabandeh", outlet="Responsible Statecraft", original_date=None, guid=None,
        wp_id=1, origin="page", hash="", first_seen=dt.datetime(2020, 4, 26, tzinfo=UTC),
        last_seen=dt.datetime(2020, 4, 26, tzinfo=UTC), last_changed=None, versions=1,
    )
    base.update(kw)
    return StoredPost(**base)


def seen(old: StoredPost, **kw) -> PostData:
    base = dict(url=old.url, title=old.title, published=old.published, date_only=old.date_only,
                excerpt=old.excerpt, content=old.content, author=old.author, outlet=old.outlet, origin=old.origin)
    base.update(kw)
    return PostData(**base)


def test_new_post():
    d = decide(None, seen(stored()), tz=TZ)
    assert d.outcome == "new" and d.changes == () and d.hash.startswith("v1:")


def test_identical_is_unchanged():
    old = stored()
    assert decide(old, seen(old), tz=TZ).outcome == "unchanged"


def test_title_edit_is_one_change_with_diff():
    old = stored()
    d = decide(old, seen(old, title="MEK cult in Albania poses a serious public health risk"), tz=TZ)
    assert d.outcome == "changed"
    assert [c.field for c in d.changes] == ["title"]
    c = d.changes[0]
    assert c.old == old.title and c.new.endswith("serious public health risk")
    assert "{+a serious+}" in c.diff
    assert c.label == "title edited"


def test_excerpt_rewrite():
    old = stored()
    d = decide(old, seen(old, excerpt="The Albanian authorities have no access to the camp at all."), tz=TZ)
    assert [c.label for c in d.changes] == ["excerpt rewritten"]
    assert "[-" in d.changes[0].diff and "{+" in d.changes[0].diff


def test_date_change_on_date_only_posts():
    old = stored()
    d = decide(old, seen(old, published=day(2020, 4, 26)), tz=TZ)
    assert [c.field for c in d.changes] == ["published"]
    assert d.changes[0].old == "2020-04-25" and d.changes[0].new == "2020-04-26"


def test_feed_time_on_same_local_day_is_not_a_date_change():
    old = stored()  # page: 2020-04-25 (date only)
    feed = seen(old, published=dt.datetime(2020, 4, 25, 9, 30, tzinfo=UTC), date_only=False, origin="both")
    assert decide(old, feed, tz=TZ).outcome == "unchanged"


@pytest.mark.parametrize("noise", [
    lambda t: "  " + t.replace(" ", "   \n ") + "\t",
    lambda t: t + " 3 days ago",
    lambda t: t + " 12 Comments",
    lambda t: t + " Leave a comment",
    lambda t: t + " Continue reading →",
    lambda t: t + " Read more",
    lambda t: t.replace(" ", "\u00a0", 2),
])
def test_page_noise_is_not_a_change(noise):
    old = stored()
    d = decide(old, seen(old, excerpt=noise(old.excerpt), title=noise(old.title)), tz=TZ)
    assert d.outcome == "unchanged", d.changes


def test_unobserved_fields_are_not_deletions():
    old = stored(content="<p>Full body</p>")
    d = decide(old, seen(old, content="", excerpt="", published=None), tz=TZ)
    assert d.outcome == "unchanged"


def test_feed_only_observation_does_not_compare_page_excerpt():
    old = stored(origin="both")
    d = decide(old, seen(old, excerpt="A differently worded feed summary.", origin="feed"), tz=TZ)
    assert d.outcome == "unchanged"


def test_content_markup_churn_is_not_a_change_but_text_edit_is():
    old = stored(content='<p class="a">Hello <img src="x.jpg?ver=1"> world</p>')
    churn = '<div class="b"><p>Hello <img src="x.jpg?ver=99"> world</p></div><script>var n="abc"</script>'
    assert decide(old, seen(old, content=churn), tz=TZ).outcome == "unchanged"
    d = decide(old, seen(old, content="<p>Hello brave world</p>"), tz=TZ)
    assert [c.label for c in d.changes] == ["content edited"]


def test_multiple_fields_change_together():
    old = stored()
    d = decide(old, seen(old, title="New title", excerpt="New excerpt text."), tz=TZ)
    assert {c.field for c in d.changes} == {"title", "excerpt"}


def test_helpers():
    assert normalize_text(" a \n b ") == "a b"
    assert content_text("<p>a&amp;b</p>") == "a&b"
    assert word_diff("a b c", "a b c") == "a b c"


words = st.text(alphabet=st.characters(whitelist_categories=("L", "N", "P")), min_size=1, max_size=12)
texts = st.lists(words, min_size=1, max_size=30).map(" ".join)
spaces = st.lists(st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", " \n "]), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(title=texts, excerpt=texts, ws=spaces)
def test_property_whitespace_never_a_change(title, excerpt, ws):
    old = stored(title=title, excerpt=excerpt)
    it = iter(ws * 100)
    spaced_excerpt = "".join(ch if ch != " " else next(it) for ch in excerpt)
    d = decide(old, seen(old, title=f"{ws[0]}{title}{ws[-1]}", excerpt=spaced_excerpt), tz=TZ)
    assert d.outcome == "unchanged"


@settings(max_examples=100, deadline=None)
@given(title=texts, excerpt=texts, new_excerpt=texts)
def test_property_decide_is_idempotent_and_deterministic(title, excerpt, new_excerpt):
    old = stored(title=title, excerpt=excerpt)
    obs = seen(old, excerpt=new_excerpt)
    a, b = decide(old, obs, tz=TZ), decide(old, obs, tz=TZ)
    assert a == b
    # once stored, seeing the same again is unchanged
    again = stored(title=title, excerpt=new_excerpt)
    assert decide(again, obs, tz=TZ).outcome == "unchanged"


def test_a_field_seen_for_the_first_time_is_not_an_edit():
    # stored from the page (no content) while the feed was down; next run the feed adds content
    old = stored(content="", origin="page")
    d = decide(old, seen(old, content="<p>The full article.</p>", origin="both"), tz=TZ)
    assert d.outcome == "unchanged"
    old = stored(excerpt="")
    assert decide(old, seen(old, excerpt="Now with an excerpt."), tz=TZ).outcome == "unchanged"


@pytest.mark.parametrize("old_origin, new_origin", [("feed", "page"), ("feed", "both"), ("page", "feed"),
                                                    ("both", "feed")])
def test_excerpts_from_different_surfaces_are_not_compared(old_origin, new_origin):
    old = stored(origin=old_origin, excerpt="The feed's own summary of the post.")
    d = decide(old, seen(old, origin=new_origin, excerpt="What the author page shows as the excerpt."), tz=TZ)
    assert d.outcome == "unchanged"


@pytest.mark.parametrize("origin", ["page", "both", "feed"])
def test_excerpts_from_the_same_surface_are_compared(origin):
    old = stored(origin=origin)
    d = decide(old, seen(old, origin="both" if origin == "page" else origin, excerpt="Rewritten."), tz=TZ)
    assert [c.field for c in d.changes] == ["excerpt"]
