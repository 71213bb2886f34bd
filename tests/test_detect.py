"""The pure decider: real edits are changes; page noise never is."""

import datetime as dt
import html
import re
import unicodedata
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.detect import _TO_ASCII, content_text, decide, normalize_text, post_hash, word_diff
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


def test_hashes_of_stored_posts_do_not_change():
    # HASH_VERSION 1 as stored: a change here re-reports every stored post as edited
    noisy = post_hash("MEK cult in Albania poses public health risk – 3 days ago",
                      "The Albanian authorities… 12 Comments Continue reading →",
                      "<p>Hello <b>world</b></p><script>x</script> Read more… (more…) just now",
                      day(2020, 4, 25), True, TZ)
    assert noisy == "v1:81b5674d6f691ac4cc462d32af4bdc48"
    assert post_hash("", "", "", None, False, TZ) == "v1:c60b1f6ce4ac96cdb68fdab9e25e13fc"


# --- normalize_text / content_text against the original implementation ----------------------
# One IGNORECASE alternation tried at every position: what the hashes of stored posts were made
# with. The fast normalize_text must give exactly the same text for every input.

_ORACLE_PATTERNS = [
    r"\b(?:\d+|an?|one)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago\b",
    r"\bjust now\b",
    r"\b(?:\d+|no|one)\s+comments?\b",
    r"\bleave an? (?:comment|reply)\b",
    r"\bcomments? (?:are )?(?:off|closed)\b",
    r"\bcontinue reading\b(?:\s*(?:→|»|…|\.\.\.))?",
    r"\bread more\b(?:\s*(?:→|»|…|\.\.\.))?",
    r"\(more…\)",
]
_ORACLE_NOISE = re.compile("|".join(_ORACLE_PATTERNS), re.IGNORECASE)
_ORACLE_WS = re.compile(r"\s+")
_ORACLE_TAG = re.compile(r"<[^>]*>")
_ORACLE_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def oracle_normalize_text(text: str) -> str:
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u200b", "")
    text = _ORACLE_NOISE.sub(" ", text)
    return _ORACLE_WS.sub(" ", text).strip()


def oracle_content_text(content_html: str) -> str:
    if not content_html:
        return ""
    text = _ORACLE_SCRIPT.sub(" ", content_html)
    text = _ORACLE_TAG.sub(" ", text)
    return oracle_normalize_text(html.unescape(text))


_NOISE_PHRASES = [
    "3 days ago", "an hour ago", "a minute ago", "one year ago", "12  weeks\nago", "5 Comments", "1 comment",
    "No Comments", "one comment", "Leave a reply", "Leave an comment", "leave a Comment", "comments are closed",
    "Comment off", "Comments are off", "Read more »", "READ MORE...", "read more…", "Continue reading →",
    "continue reading ...", "(more…)", "(MORE…)", "just now", "JUST NOW", "ago", "comments", "readmore",
    "just  now", "days ago", "3days ago", "x3 days ago", "3 days agox", "Read moreover",
]
# what re.IGNORECASE equates with ASCII letters, and other characters that trip up naive folding
_TRICKY = ["İ", "ı", "ſ", "\u212a", "ß", "ﬁ", "Ǆ", "Σ", "e\u0301", "\u0301", "\u00a0", "\u200b", "\u2009", "\u3000",
           "\x1c", "\x85", "…", "→", "»", "٣", "\ud800", "<", ">", "&amp;", "&nbsp;", "&#8230;", "<p>", "</p>",
           "<script>x</script>", "<STYLE a>y</style >", "<b", "_"]


def _mixed_case(phrase: str) -> st.SearchStrategy[str]:
    flips = st.lists(st.booleans(), min_size=len(phrase), max_size=len(phrase))
    return flips.map(lambda up: "".join(c.upper() if u else c for c, u in zip(phrase, up, strict=False)))


@st.composite
def noisy_text(draw) -> str:
    parts = draw(st.lists(st.one_of(
        st.sampled_from(_NOISE_PHRASES).flatmap(_mixed_case),
        st.sampled_from(_NOISE_PHRASES).map(lambda p: p.replace("i", "İ").replace("s", "ſ")),
        st.sampled_from(_TRICKY),
        st.text(max_size=8),
        st.text(alphabet="0123456789 aeionstrcmdgy.,(", max_size=10),
    ), max_size=12))
    glue = draw(st.sampled_from(["", " ", "\u00a0", "\u200b", "\n", ", "]))
    return glue.join(parts)


@settings(max_examples=500, deadline=None)
@given(noisy_text())
def test_property_normalize_text_is_the_original(text):
    assert normalize_text(text) == oracle_normalize_text(text)
    assert content_text(text) == oracle_content_text(text)


@pytest.mark.parametrize("text", [
    "5 Comments", "Comments are closed", "It happened 3 days ago.", "Posted just now", "Leave a reply",
    "Read more »", "Continue reading →", "(more…)", "3 dayſ ago", "juſt now", "contİnue reading", "contınue reading",
    "3 wee\u212a ago", "5 comments are closed", "3 just now days ago", "leave a(more…)comment",
])
def test_noise_is_removed_as_it_always_was(text):
    assert normalize_text(text) == oracle_normalize_text(text)
    assert normalize_text("Hello " + text + " world") == oracle_normalize_text("Hello " + text + " world")


def test_the_only_non_ascii_letters_ignorecase_equates_with_ascii_ones_are_folded():
    # normalize_text looks for each noise pattern's word after mapping these to ASCII: a new
    # Python whose re.IGNORECASE knew another such letter would make it miss noise.
    non_ascii = "".join(map(chr, range(0x80, 0x110000)))
    found = {c for letter in "abcdefghijklmnopqrstuvwxyz" for c in re.findall(letter, non_ascii, re.IGNORECASE)}
    assert found == {chr(c) for c in _TO_ASCII}


def test_str_split_and_regex_whitespace_agree():
    everything = "".join(map(chr, range(0x110000)))
    assert set(re.findall(r"\s", everything)) == {c for c in everything if c.isspace()}
