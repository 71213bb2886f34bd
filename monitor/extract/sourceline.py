"""The Iran Interlink "source line" and the title the site repeats at the end of an excerpt.

An excerpt on an author page (and in the site's feed) starts by naming where the piece first ran::

    Massoud Khodabandeh, Responsible Statecraft, April 25 2020:… The Albanian authorities ...
    Tasnim News December 04 2019:… ...                               (one name, no comma)
    Massoud Khodabandeh,, January 07 2020:… ...                       (doubled comma)
    Massoud Khodabandeh, Middle East Strategy Consultants, UK, ...    (comma inside the outlet)
    Gjergji Thanasi, Ashraf News, (Translated by Iran Interlink) October 18 2020:… ...
    Gjergji Thanasi interviews Hadi Sani Khani, Ashraf News, Tiranan, Albania, 26 October 2020:… ...
    Human Rights Watch, September 06 2021: (Fist Published 2005):… ...

:func:`parse_source_line` reads it with the tolerant pattern of ``weekly-digest-style.md``
(extended to "DD Month YYYY", month abbreviations, "..." for "…" and a parenthetical note after the
colon). The part before the date is cleaned (translation/first-published notes and stray commas
dropped, spaces collapsed); **author** is the text before its first comma and **outlet** the rest
("" when there is no comma, so a lone name such as "Tasnim News" is kept in ``author`` and the
digest prints it exactly once, as the site did).

The excerpt then usually ends with the title again (the link text of a link to the article), often a
little shortened or changed. :func:`strip_repeated_title` removes such a trailing run when it is
mostly the title's words; it never removes text that is not.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass

__all__ = [
    "MONTHS",
    "SourceLine",
    "collapse",
    "parse_source_line",
    "split_excerpt",
    "strip_repeated_title",
]

MONTHS: dict[str, int] = {}
for _i, _name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"),
    start=1,
):
    MONTHS[_name] = _i
    MONTHS[_name[:3]] = _i
MONTHS["sept"] = 9

MONTH_PATTERN = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"

_SOURCE = re.compile(
    r"^(?:(?P<src>[^:\n]{0,240}?)[,\s]\s*)?"
    r"(?:(?P<month>" + MONTH_PATTERN + r")\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})"
    r"|(?P<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month2>" + MONTH_PATTERN + r"),?\s+(?P<year2>\d{4}))"
    r"\s*:\s*(?:\([^()]{0,120}\)\s*:?\s*)?(?:…|\.\.\.?)\s*(?P<rest>.*)$",
    re.DOTALL | re.IGNORECASE,
)
_SRC_NOTE = re.compile(
    r"\(\s*(?:translated|translation|first published|fist published|published|updated|reposted|via|"
    r"source)\b[^()]*\)",
    re.IGNORECASE,
)


def collapse(text: str) -> str:
    """Collapse every run of whitespace (including NBSP) to one space; strip the ends."""
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class SourceLine:
    author: str
    outlet: str
    date: dt.date | None
    rest: str  # the excerpt after "…"


def _make_date(year: str, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), MONTHS[month.lower().rstrip(".")], int(day))
    except (KeyError, ValueError):
        return None


def parse_source_line(text: str) -> SourceLine | None:
    """Split ``"Author, Outlet, Month DD YYYY:… rest"``; None when ``text`` does not start with one."""
    text = collapse(text)
    m = _SOURCE.match(text)
    if not m:
        return None
    if m.group("month"):
        date = _make_date(m.group("year"), m.group("month"), m.group("day"))
    else:
        date = _make_date(m.group("year2"), m.group("month2"), m.group("day2"))
    src = _SRC_NOTE.sub(" ", m.group("src") or "")
    parts = [collapse(p) for p in src.split(",")]
    parts = [p for p in parts if p]
    author = parts[0] if parts else ""
    outlet = ", ".join(parts[1:])
    return SourceLine(author=author, outlet=outlet, date=date, rest=m.group("rest").strip())


# --- the repeated title ---------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_](?:[\w’'\-.]*[^\W_])?")
_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_DIGEST_SUFFIX = re.compile(r"\s+[–—-]\s+[^–—]*?,?\s+Weekly Digest\b.*$", re.IGNORECASE)
_BOUNDARY = re.compile(r"[.!?…;:)\]}”\"»]")


def _norm(token: str) -> str:
    return token.lower().replace("’", "'").strip("'.-")


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """(normalized word, start, end) for each word of ``text``."""
    return [(w, *m.span()) for m in _TOKEN.finditer(text) if (w := _norm(m.group()))]


def _end_tokens(text: str, offset: int, enough: int) -> list[tuple[str, int, int]]:
    """:func:`_tokens` of ``text[offset:]`` (positions in ``text``), without the first when
    ``offset`` > 0 (it may be cut in half). Or only the last of them, at least ``enough``: the
    words of a shorter tail, but for its first, are the same words."""
    start = max(offset, len(text) - 8 * enough)  # words are rarely 7 characters long on average
    while True:
        toks = [(w, i + start, j + start) for w, i, j in _tokens(text[start:])]
        if start:
            toks = toks[1:]
        if start == offset or len(toks) >= enough:
            return toks
        start = offset


def _alike(a: str, b: str) -> bool:
    """Same word, or the same word with another ending ("fail"/"fails", "lobbying"/"lobbyist")."""
    if a == b:
        return True
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n >= max(4, min(len(a), len(b)) - 3)


class _Vocab:
    """A title variant's words, with a fast "which title word is this like?" lookup."""

    __slots__ = ("_by_prefix", "_exact", "distinct", "words")

    def __init__(self, words: list[str]):
        self.words = words
        self.distinct = len(set(words))
        self._exact: dict[str, int] = {}
        self._by_prefix: dict[str, list[int]] = {}
        for i, w in enumerate(words):
            self._exact.setdefault(w, i)
            if len(w) >= 4:
                self._by_prefix.setdefault(w[:4], []).append(i)

    def index(self, word: str) -> int:
        """Index of the first title word like ``word``, or -1."""
        i = self._exact.get(word)
        if i is not None:
            return i
        if len(word) >= 4:  # _alike() needs a common prefix of at least 4
            for j in self._by_prefix.get(word[:4], ()):
                if _alike(word, self.words[j]):
                    return j
        return -1


#: Titles up to this long are cached (a hostile 1 MB title must not be kept 4,096 times over).
_CACHED_TITLE_MAX = 1000


def _title_variants(title: str) -> tuple[_Vocab, ...]:
    return _cached_title_variants(title) if len(title) <= _CACHED_TITLE_MAX else _make_title_variants(title)


@functools.lru_cache(maxsize=4096)
def _cached_title_variants(title: str) -> tuple[_Vocab, ...]:
    return _make_title_variants(title)


def _make_title_variants(title: str) -> tuple[_Vocab, ...]:
    variants: list[list[str]] = []
    for t in (title, _PARENS.sub(" ", title), _DIGEST_SUFFIX.sub("", title),
              _PARENS.sub(" ", _DIGEST_SUFFIX.sub("", title))):
        words = [w for w, _, _ in _tokens(t)]
        if words and words not in variants:
            variants.append(words)
    return tuple(_Vocab(v) for v in variants)


def _tail_is_title(tail: list[str], title: _Vocab, *, strict: bool) -> bool:
    if not tail or title.index(tail[0]) < 0:
        return False
    covered: set[int] = set()
    unmatched = 0
    for w in tail:
        i = title.index(w)
        if i < 0:
            unmatched += 1
        else:
            covered.add(i)
    if strict:
        return unmatched <= max(1, len(tail) // 4) and len(covered) >= max(1, math.ceil(0.6 * title.distinct))
    # a trailing link: looser (its text is the title as the editor retyped it)
    matched = len(tail) - unmatched
    return matched >= math.ceil(0.5 * len(tail)) and len(covered) >= math.ceil(0.3 * title.distinct)


def _tidy_end(text: str) -> str:
    """``text`` without trailing whitespace, nor whitespace before a final ``.,;:!?``."""
    text = text.rstrip()
    if len(text) >= 2 and text[-1] in ".,;:!?" and text[-2].isspace():
        return text[:-1].rstrip() + text[-1]
    return text


def strip_repeated_title(excerpt: str, title: str, *, trailing_link: str | None = None) -> str:
    """Remove the title repeated at the end of ``excerpt``.

    ``trailing_link`` is the text of a link that ends the excerpt in the HTML (how the site marks
    the repeat); it is removed when it looks like the title even if reworded. Without it, a
    trailing run of words is removed only when it starts after a sentence break (or is the title
    word for word), starts with a title word, is at least three quarters title words, and covers
    at least 60% of the title's distinct words (of the title, or of it without a parenthetical or
    a "– Site Weekly Digest – date" suffix).
    """
    excerpt = collapse(excerpt)
    title = collapse(title)
    if not excerpt or not title:
        return excerpt
    variants = _title_variants(title)
    if trailing_link:
        link = collapse(trailing_link)
        body = excerpt.rstrip(" .,;:!?")
        link_core = link.rstrip(" .,;:!?")
        if link_core and body.endswith(link_core):
            words = [w for w, _, _ in _tokens(link_core)]
            if any(_tail_is_title(words, v, strict=False) for v in variants):
                return _tidy_end(body[: len(body) - len(link_core)])
    # only the end can hold the repeat: tokenize a window a little longer than the title
    offset = max(0, len(excerpt) - (2 * len(title) + 120))
    longest = max((len(v.words) for v in variants), default=0)  # a title may have no words ("***")
    toks = _end_tokens(excerpt, offset, longest + 4)  # the loop reads at most the last longest + 4
    n = len(toks)
    for k in range(max(0, n - longest - 3), n):
        tail = [w for w, _, _ in toks[k:]]
        start = toks[k][1]
        if k:
            boundary = bool(_BOUNDARY.search(excerpt[toks[k - 1][2]: start]))  # between the words
        else:  # (toks then holds every word of the window)
            boundary = offset == 0
        for v in variants:
            exact = len(tail) == len(v.words) >= 3 and all(
                _alike(a, b) for a, b in zip(tail, v.words, strict=True))
            if (boundary or exact) and _tail_is_title(tail, v, strict=True):
                return _tidy_end(excerpt[:start])
    return excerpt


def split_excerpt(
    text: str, title: str, *, default_author: str = "", trailing_link: str | None = None
) -> tuple[str, str, str, dt.date | None]:
    """``(excerpt, author, outlet, original_date)`` from an excerpt that may start with a source line."""
    text = collapse(text)
    sl = parse_source_line(text)
    if sl is None:
        return strip_repeated_title(text, title, trailing_link=trailing_link), default_author, "", None
    excerpt = strip_repeated_title(sl.rest, title, trailing_link=trailing_link)
    return excerpt, sl.author or default_author, sl.outlet, sl.date
