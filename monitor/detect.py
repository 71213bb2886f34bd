"""Decide whether an observed post is new, changed or unchanged — a pure function.

No I/O and no clock: :func:`decide` compares what a page or feed showed now
(:class:`~monitor.models.PostData`) with what is stored
(:class:`~monitor.models.StoredPost`) and returns a
:class:`~monitor.models.Decision` with a field-level diff.

What counts as a change (and what does not):

* Only the tracked fields: title, excerpt, content, published date.
* Text is compared after normalization (:func:`normalize_text`): Unicode NFC,
  whitespace collapsed, page noise removed ("3 days ago", "5 Comments",
  "Continue reading", "Read more"). Content HTML is compared as its text, so
  markup churn (cache-busting ``?ver=``, nonces, classes) is not an edit.
* A field the observation does not carry is *not observed*, never "deleted":
  an empty excerpt or content, a missing date. Feeds that drop content and
  author pages that never show it therefore cause no false alarms.
* Excerpts are compared only when both came from the same surface (author page,
  or feed alone, see :func:`excerpt_source`): the two word excerpts differently,
  and a post seen once via the feed and once via the page is not an edit.
* A field seen for the first time (stored empty) is filled in, not an edit.
* Dates: if either side is date-only ("Posted on: 2020/10/28"), only the local
  calendar date is compared; otherwise the instant, to the minute.

The hash is versioned (``HASH_VERSION``) so a future change of normalization
can be told apart from an edit.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import hashlib
import html
import re
import unicodedata
from zoneinfo import ZoneInfo

from .models import Decision, FieldChange, PostData, StoredPost

__all__ = ["HASH_VERSION", "decide", "excerpt_source", "normalize_text", "content_text", "post_hash", "word_diff", "date_key"]

HASH_VERSION = 1

# Page noise: (a word the pattern cannot match without, the pattern), matched case-insensitively.
# The word lets normalize_text skip a pattern after one substring test (see _strip_noise) instead of
# trying it at every position of a long text. What the patterns remove is part of the hash.
_NOISE: tuple[tuple[str, str], ...] = (
    # relative times: "3 days ago", "an hour ago", "just now"
    ("ago", r"\b(?:\d+|an?|one)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago\b"),
    ("just now", r"\bjust now\b"),
    # comment counts and prompts
    ("comment", r"\b(?:\d+|no|one)\s+comments?\b"),
    ("leave a", r"\bleave an? (?:comment|reply)\b"),
    ("comment", r"\bcomments? (?:are )?(?:off|closed)\b"),
    # "more" links
    ("continue reading", r"\bcontinue reading\b(?:\s*(?:→|»|…|\.\.\.))?"),
    ("read more", r"\bread more\b(?:\s*(?:→|»|…|\.\.\.))?"),
    ("(more…)", r"\(more…\)"),
)
_NOISE_WORDS = tuple(dict.fromkeys(word.encode("utf-8") for word, _ in _NOISE))
# The only non-ASCII letters re.IGNORECASE matches to ASCII ones: İ and ı to i, ſ to s, K (Kelvin) to k
_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)

_LABELS = {
    "title": "title edited",
    "excerpt": "excerpt rewritten",
    "content": "content edited",
    "published": "date changed",
}


@functools.cache
def _noise_re(words: tuple[bytes, ...]) -> re.Pattern[str]:
    """One pattern of the noise patterns whose word is in ``words``, in their order."""
    patterns = [pattern for word, pattern in _NOISE if word.encode("utf-8") in words]
    return re.compile("|".join(patterns), re.IGNORECASE)


def _strip_noise(text: str) -> str:
    """``text`` with every noise match replaced by a space.

    The same as one substitution with all the patterns, but only the patterns whose word occurs
    in ``text`` take part: a pattern cannot match where its word is missing, and trying all of
    them at every position was most of the cost of :func:`post_hash`. The words are looked up in
    the UTF-8 bytes lower-cased (ASCII letters only, so every other character keeps its bytes),
    after mapping the four non-ASCII letters re.IGNORECASE equates with ASCII ones.
    """
    if not text.isascii() and any(chr(c) in text for c in _TO_ASCII):
        folded = text.translate(_TO_ASCII).encode("utf-8", "surrogatepass").lower()
    else:
        folded = text.encode("utf-8", "surrogatepass").lower()
    words = tuple([word for word in _NOISE_WORDS if word in folded])
    return _noise_re(words).sub(" ", text) if words else text


def normalize_text(text: str) -> str:
    """The comparable form of a text field: NFC, noise removed, whitespace collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u200b", "")
    # str.split() and a regex \s agree on what whitespace is: this is re.sub(r"\s+", " ", text).strip()
    return " ".join(_strip_noise(text).split())


def content_text(content_html: str) -> str:
    """The text of an HTML body, for comparison (markup changes are not edits)."""
    if not content_html:
        return ""
    text = _SCRIPT.sub(" ", content_html)
    text = _TAG.sub(" ", text)
    return normalize_text(html.unescape(text))


def date_key(published: dt.datetime | None, date_only: bool, tz: ZoneInfo) -> str:
    """Comparable date: local ``YYYY-MM-DD`` for date-only values, else UTC to the minute."""
    if published is None:
        return ""
    if date_only:
        return published.astimezone(tz).date().isoformat()
    return published.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def post_hash(title: str, excerpt: str, content: str, published: dt.datetime | None,
              date_only: bool, tz: ZoneInfo) -> str:
    """Versioned hash of the normalized tracked fields."""
    day = published.astimezone(tz).date().isoformat() if published else ""
    parts = [normalize_text(title), normalize_text(excerpt), content_text(content), day]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"v{HASH_VERSION}:{digest}"


def word_diff(old: str, new: str) -> str:
    """A readable word diff: ``kept [-removed-] {+added+} kept``."""
    a, b = old.split(), new.split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            seg = a[i1:i2]
            # keep the diff short: elide long unchanged runs
            out.append(" ".join(seg) if len(seg) <= 12 else " ".join(seg[:5] + ["…"] + seg[-5:]))
        else:
            if i2 > i1:
                out.append("[-" + " ".join(a[i1:i2]) + "-]")
            if j2 > j1:
                out.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(out)


def excerpt_source(origin: str) -> str:
    """Where an excerpt was read: the author page (origin page/both) or the feed alone."""
    return "feed" if origin == "feed" else "page"


def _date_text(published: dt.datetime | None, date_only: bool, tz: ZoneInfo) -> str:
    if published is None:
        return ""
    local = published.astimezone(tz)
    return local.date().isoformat() if date_only else local.isoformat(timespec="minutes")


def decide(old: StoredPost | None, new: PostData, *, tz: ZoneInfo) -> Decision:
    """new / changed / unchanged for one observation, with a field-level diff."""
    new_hash = post_hash(new.title, new.excerpt, new.content, new.published, new.date_only, tz)
    if old is None:
        return Decision("new", (), new_hash)

    changes: list[FieldChange] = []

    def text_field(name: str, old_raw: str, new_raw: str, norm) -> None:
        if not new_raw or not old_raw:  # not observed this time, or first observed now: not an edit
            return
        o, n = norm(old_raw), norm(new_raw)
        if o != n:
            changes.append(FieldChange(name, old_raw, new_raw, word_diff(o, n), _LABELS[name]))

    text_field("title", old.title, new.title, normalize_text)
    if excerpt_source(old.origin) == excerpt_source(new.origin):
        text_field("excerpt", old.excerpt, new.excerpt, normalize_text)
    text_field("content", old.content, new.content, content_text)

    if new.published is not None and old.published is not None:
        coarse = new.date_only or old.date_only
        if date_key(old.published, coarse, tz) != date_key(new.published, coarse, tz):
            o = _date_text(old.published, old.date_only, tz)
            n = _date_text(new.published, new.date_only, tz)
            changes.append(FieldChange("published", o, n, f"[-{o}-] {{+{n}+}}", _LABELS["published"]))

    if changes:
        return Decision("changed", tuple(changes), new_hash)
    return Decision("unchanged", (), new_hash)
