"""The Iran Interlink source line and the repeated title, on real lines from the seed captures."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.extract import sourceline as sl
from monitor.extract.sourceline import parse_source_line, split_excerpt, strip_repeated_title

D = dt.date


@pytest.mark.parametrize(
    ("line", "author", "outlet", "date", "rest_start"),
    [
        # Author, Outlet, Month DD YYYY:…
        ("Massoud Khodabandeh, Responsible Statecraft, April 25 2020:… The Albanian authorities, including",
         "Massoud Khodabandeh", "Responsible Statecraft", D(2020, 4, 25), "The Albanian authorities"),
        # outlet only, no comma
        ("Tasnim News December 04 2019:… Iran says the group", "Tasnim News", "", D(2019, 12, 4), "Iran says"),
        # doubled comma
        ("Alireza Niknam,, April 22 2020:… A former member", "Alireza Niknam", "", D(2020, 4, 22), "A former member"),
        ("Massoud Khodabandeh,, January 07 2020:… American actions are consolidating",
         "Massoud Khodabandeh", "", D(2020, 1, 7), "American actions"),
        # a comma inside the outlet
        ("Massoud Khodabandeh, Middle East Strategy Consultants, UK, April 14 2019:… In July 2018",
         "Massoud Khodabandeh", "Middle East Strategy Consultants, UK", D(2019, 4, 14), "In July 2018"),
        # double spaces after the ellipsis
        ("Massoud Khodabandeh, Middle East Strategy Consultants, April 14 2019:…  In July 2018 I wrote",
         "Massoud Khodabandeh", "Middle East Strategy Consultants", D(2019, 4, 14), "In July 2018 I wrote"),
        # translation note before the date
        ("Gjergji Thanasi, Ashraf News, (Translated by Iran Interlink) October 18 2020:… On the afternoon",
         "Gjergji Thanasi", "Ashraf News", D(2020, 10, 18), "On the afternoon"),
        # day before month, commas in the place name
        ("Gjergji Thanasi interviews Hadi Sani Khani, Ashraf News, Tiranan, Albania, 26 October 2020:… Gjergji",
         "Gjergji Thanasi interviews Hadi Sani Khani", "Ashraf News, Tiranan, Albania", D(2020, 10, 26), "Gjergji"),
        # a note between the colon and the ellipsis
        ("Human Rights Watch, September 06 2021: (Fist Published 2005):… Ali Ghashghavi joined",
         "Human Rights Watch", "", D(2021, 9, 6), "Ali Ghashghavi"),
        # the site's own digests, "..." for "…"
        ("Iran Interlink, October 16 2020:... MEK on overdrive", "Iran Interlink", "", D(2020, 10, 16), "MEK on overdrive"),
        # a typo in the author is kept as printed
        ("Massoud Khodanbandeh, Responsible Statecraft, January 09 2020:… In another reckless act",
         "Massoud Khodanbandeh", "Responsible Statecraft", D(2020, 1, 9), "In another"),
        # no source part at all before the date
        ("October 28 2020:… Just a date", "", "", D(2020, 10, 28), "Just a date"),
        # a date that does not exist: the line is still a source line
        ("Ashraf News, February 30 2020:… text", "Ashraf News", "", None, "text"),
    ],
)
def test_source_line_forms(line, author, outlet, date, rest_start):
    sl = parse_source_line(line)
    assert sl is not None
    assert (sl.author, sl.outlet, sl.date) == (author, outlet, date)
    assert sl.rest.startswith(rest_start)
    assert "  " not in sl.rest


@pytest.mark.parametrize(
    "text",
    [
        "This week’s Iran Interlink weekly digest had a few important point I wanted to share",
        "On October 5 2020: the MEK said nothing",  # a colon but no ellipsis: prose, not a source line
        "Reporters who talk about the MEK usually want to talk about the politics",
        "",
    ],
)
def test_not_a_source_line(text):
    assert parse_source_line(text) is None


def test_no_source_line_uses_the_page_author():
    text = "This week’s Iran Interlink weekly digest had a few important point I wanted to share it again with you."
    excerpt, author, outlet, date = split_excerpt(
        text, "When the Anti Iranian camp see no light at the end of the tunnel, MEK won’t sort the problem.",
        default_author="Massoud Khodabandeh",
    )
    assert (excerpt, author, outlet, date) == (text, "Massoud Khodabandeh", "", None)


def test_author_equal_to_outlet_is_kept_twice():
    sl = parse_source_line("Iran Interlink, Iran Interlink, October 16 2020:… text")
    assert (sl.author, sl.outlet) == ("Iran Interlink", "Iran Interlink")


# --- the repeated title (tails copied from the seeds) ------------------------------------------

@pytest.mark.parametrize(
    ("excerpt", "title", "kept_end"),
    [
        (("exposed as a fake account last year by Murteza Hussain in The Intercept. "
         "Trump Campaign Uses Mujahedin-e-Khalq Troll Farm In Albania ."),
         "Trump Campaign Uses Mujahedin-e-Khalq ( MEK ) Troll Farm In Albania", "in The Intercept."),
        ("that the U.S. has their interests in mind. Assassination of Qassem Soleimani End of Regime Change ",
         "Assassination of Qassem Soleimani Spells End of Regime Change", "their interests in mind."),
        ("to transport them to a public hospital in Tirana.” MEK cult in Albania poses public health risk ",
         "MEK cult in Albania poses public health risk", "a public hospital in Tirana.”"),
        ("announce their abhorrence of the MEK. Tectonic Shift In World Order After Unforced Error By Trump ",
         "Tectonic Shift In World Order After Unforced Error By Trump (First Published Jan 09 2020)",
         "their abhorrence of the MEK."),
        (("after the MEK failed to kill Ehssan Bedi or deport him to Greece. "
         "Ehsan Bidi In Albania After Maryam Rajavi’s Plots to Eliminate Him Fails."),
         "Ehsan Bidi In Albania After Maryam Rajavi’s Plots to Eliminate Him Fail", "or deport him to Greece."),
        ("had Mehdi Abrishamchi thrown out of his hotel lobby. Rajavi Insults Shajarian’s Memory",
         "Rajavi Insults Shajarian’s Memory – Iran Interlink Weekly Digest – Oct 16, 2020", "his hotel lobby."),
        ("Amnesty International reporting consistently ignores this. MEK Manipulated Amnesty International ",
         "MEK Manipulated Amnesty International – Iran Interlink, Weekly Digest – Sep 25, 2020",
         "consistently ignores this."),
        ("began invading Iranian territory. MEK, the Most Hated Among Iranians — From Terror to Propaganda .",
         "MEK, the Most Hated Among Iranians — From Terror to Propaganda", "began invading Iranian territory."),
        ("Not very democratic then. Democracy MEK Style: Hypocrisy",
         "Democracy MEK Style: Hypocrisy ( September 15, International Day of Democracy )", "Not very democratic then."),
        ("Mojahedin Khalq (MEK) is based there. Afghan Refugees in Albania – Recruitment Fodder for the MEK. ",
         "Afghan Refugees in Albania – Recruitment Fodder for the MEK", "Khalq (MEK) is based there."),
        ("of his experience during this period.. Human Rights Watch Report – MEK Survivor: I was Imprisoned For 45 days ",
         "Human Rights Watch Report (2005) – MEK Survivor: I was Imprisoned For 45 days", "during this period.."),
        ("have any kind of future in Iran”. Nobody Can Be “Comfortable” With Regime Change Involving MEK ",
         "Nobody Can Be “Comfortable” With Regime Change Involving MEK", "future in Iran”."),
        ("working 14 hours a day as a waiter! What a terrorist I am , working 14 hours a day as a waiter! ",
         "What a terrorist I am , working 14 hours a day as a waiter!", "working 14 hours a day as a waiter!"),
    ],
)
def test_repeated_title_is_removed(excerpt, title, kept_end):
    out = strip_repeated_title(excerpt, title)
    assert out.endswith(kept_end)
    assert len(out) < len(excerpt.strip()) - 10
    assert excerpt.startswith(out[:-1])  # nothing but the tail was touched


@pytest.mark.parametrize(
    ("excerpt", "title"),
    [
        # real endings from the seeds with no repeated title: nothing may go
        ("Maybe they don’t say anything else because they don’t know anything else.",
         "What do Iranians think of the MEK? (Mojahedin Khalq, MKO Rajavi cult)"),
        ("Time for a new policy maybe; one that acknowledges facts on the ground rather than the delusion of empire.",
         "Maryam Rajavi’s MEK is a defunct force in Iran foreign policy"),
        ("so that no one dares to leave. […]", "Sander Lleshaj Interior Minister must protect former MEK member in Albania"),
        ("3- Make an excuse to attach yet another murder in the west to Iran",
         "The case of MEK operative Mohammad Reza Kolahi’s murder didn’t need to be a mystery"),
        # a few title words at the end are not the title
        ("Those who don’t make the grade will be settled in Albania. The MEK.",
         "Afghan Refugees in Albania – Recruitment Fodder for the MEK"),
        # title words, but glued to the sentence before (no sentence break) and not the whole title
        ("the terrorist cult Mojahedin Khalq (MEK) is based in Albania refugees",
         "Afghan Refugees in Albania – Recruitment Fodder for the MEK"),
        # a dot inside the word before ("U.S") is not a sentence break
        ("sanctions that were imposed by the U.S MEK cult in Albania poses health risk",
         "MEK cult in Albania poses public health risk"),
        # the reworded repeat is left alone without the HTML link that marks it
        ("working on behalf of foreign powers .Lobbyist Mike Pence Mujahedin Saddam Hussein.",
         "Mike Pence From Anti Saddam To lobbying for Saddam Private Army"),
    ],
)
def test_real_content_is_never_removed(excerpt, title):
    assert strip_repeated_title(excerpt, title) == excerpt


def test_trailing_link_marks_a_reworded_repeat():
    excerpt = "working on behalf of foreign powers .Lobbyist Mike Pence Mujahedin Saddam Hussein."
    title = "Mike Pence From Anti Saddam To lobbying for Saddam Private Army"
    out = strip_repeated_title(excerpt, title, trailing_link="Lobbyist Mike Pence Mujahedin Saddam Hussein")
    assert out == "working on behalf of foreign powers."


def test_an_unrelated_trailing_link_is_kept():
    excerpt = "as Murteza Hussain showed in The Intercept"
    out = strip_repeated_title(excerpt, "Trump Campaign Uses MEK Troll Farm In Albania", trailing_link="The Intercept")
    assert out == excerpt


def test_excerpt_that_is_only_the_title_becomes_empty():
    assert strip_repeated_title("MEK Deported From Iraq To Albania 4 Years Ago", "MEK Deported From Iraq To Albania 4 Years Ago") == ""


def test_split_excerpt_on_a_seed_line():
    line = ("Ted Snider, Mondoweiss, October 27 2020:… Two senior officials in the Obama administration told NBC "
            "news. But history has shown us, the pattern of extra-judicial killings and covert strikes will endure. "
            "Covert strikes against Iran recount Israeli campaign against Iraq ")
    excerpt, author, outlet, date = split_excerpt(
        line, "Covert strikes against Iran recount Israeli campaign against Iraq", default_author="Iran Interlink"
    )
    assert (author, outlet, date) == ("Ted Snider", "Mondoweiss", D(2020, 10, 27))
    assert excerpt == ("Two senior officials in the Obama administration told NBC news. But history has shown us, "
                       "the pattern of extra-judicial killings and covert strikes will endure.")


def test_a_title_without_words_strips_nothing():
    # used to raise ValueError (max() of no title variants), failing the whole page
    assert strip_repeated_title("Some excerpt text here.", "***") == "Some excerpt text here."
    assert split_excerpt("Tasnim News December 04 2019:… Iran says the group", "—") == (
        "Iran says the group", "Tasnim News", "", D(2019, 12, 4))


# --- the fast paths against the original code -----------------------------------------------

def _oracle_strip_repeated_title(excerpt: str, title: str, *, trailing_link: str | None = None) -> str:
    """strip_repeated_title as first written: every word of the window tokenized, a regex to tidy."""
    excerpt, title = sl.collapse(excerpt), sl.collapse(title)
    if not excerpt or not title:
        return excerpt
    variants = sl._title_variants(title)

    def tidy(text: str) -> str:
        return re.sub(r"\s+([.,;:!?])$", r"\1", text.rstrip())

    if trailing_link:
        link = sl.collapse(trailing_link)
        body = excerpt.rstrip(" .,;:!?")
        link_core = link.rstrip(" .,;:!?")
        if link_core and body.endswith(link_core):
            words = [w for w, _, _ in sl._tokens(link_core)]
            if any(sl._tail_is_title(words, v, strict=False) for v in variants):
                return tidy(body[: len(body) - len(link_core)])
    offset = max(0, len(excerpt) - (2 * len(title) + 120))
    toks = [(w, i + offset, j + offset) for w, i, j in sl._tokens(excerpt[offset:])]
    if offset and toks:
        toks = toks[1:]
    n = len(toks)
    longest = max((len(v.words) for v in variants), default=0)
    for k in range(max(0, n - longest - 3), n):
        tail = [w for w, _, _ in toks[k:]]
        start = toks[k][1]
        boundary = bool(sl._BOUNDARY.search(excerpt[toks[k - 1][2]: start])) if k else offset == 0
        for v in variants:
            exact = len(tail) == len(v.words) >= 3 and all(sl._alike(a, b) for a, b in zip(tail, v.words, strict=True))
            if (boundary or exact) and sl._tail_is_title(tail, v, strict=True):
                return tidy(excerpt[:start])
    return excerpt


_WORDS = st.sampled_from(["MEK", "cult", "Albania", "poses", "public", "health", "risk", "the", "in", "Rajavi’s",
                          "e-Khalq", "U.S.", "don't", "2020", "–", "(Video)", ".", ",", "!", "…", "_x_", "a.b-c",
                          "Weekly Digest", "İstanbul", "x" * 30])
_SEP = st.sampled_from([" ", " ", " ", ". ", ", ", " – ", "\n", ": ", " ( ", " ) ", " ."])


@st.composite
def _texts(draw, max_words: int) -> str:
    words = draw(st.lists(_WORDS, max_size=max_words))
    return "".join(w + draw(_SEP) for w in words)


@settings(max_examples=600, deadline=None)
@given(title=_texts(14), excerpt=_texts(90), repeat=st.integers(0, 14), link=st.booleans())
def test_property_strip_repeated_title_is_the_original(title, excerpt, repeat, link):
    tail = " ".join(title.split()[:repeat])
    text = excerpt + tail
    trailing = tail if link else None
    assert strip_repeated_title(text, title, trailing_link=trailing) == _oracle_strip_repeated_title(
        text, title, trailing_link=trailing)


@settings(max_examples=300, deadline=None)
@given(text=_texts(60), offset=st.integers(0, 400), enough=st.integers(0, 30))
def test_property_end_tokens_are_the_windows_last_words(text, offset, enough):
    offset = min(offset, len(text))
    every = [(w, i + offset, j + offset) for w, i, j in sl._tokens(text[offset:])][1 if offset else 0:]
    got = sl._end_tokens(text, offset, enough)
    assert got == every[len(every) - len(got):]
    assert len(got) >= enough or got == every


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(" \t\n\u00a0\u2009x.,;:!?-"), max_size=12))
def test_property_tidy_end_is_the_original_regex(text):
    assert sl._tidy_end(text) == re.sub(r"\s+([.,;:!?])$", r"\1", text.rstrip())


def test_long_titles_are_not_kept_in_the_title_cache():
    """The cache holds up to 4,096 titles: a hostile 1 MB title must not be one of them."""
    long_title = "word " * 2000
    before = sl._cached_title_variants.cache_info().currsize
    text = "Some excerpt text. " + long_title
    assert sl.strip_repeated_title(text, long_title) == "Some excerpt text."
    assert sl._cached_title_variants.cache_info().currsize == before
    sl.strip_repeated_title("Some excerpt text. A short title, seen once", "A short title, seen once")
    assert sl._cached_title_variants.cache_info().currsize == before + 1
