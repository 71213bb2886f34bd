"""The one content set every engine of the corpus is built from, and its truth.

Three authors, eight posts each (24 posts, 5 per archive page: every author has two pages). Titles
keep curly quotes, en dashes and ellipses; excerpts start with a source line in each form seen on
Iran Interlink (``weekly-digest-style.md``), and one post has none. One post a day, newest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

AUTHORS = (
    ("massoud-khodabandeh", "Massoud Khodabandeh"),
    ("anne-singleton", "Anne Singleton"),
    ("nadia-rahimi", "Nadia Rahimi"),
)

_TITLES = (
    "Rajavi Insults Shajarian’s Memory",
    "Albania – the MEK’s “Camp” in Manëz",
    "Families Ask to Visit… Again",
    "“We Were Hostages” – Former Members Speak",
    "The Cult’s Lobby in Brussels – Who Pays?",
    "Tirana’s Quiet Guests",
    "A Letter from Camp Ashraf’s Mothers",
    "Why the “Resistance” Never Resists",
    "Sanctions, Lies and the MEK – Part 2",
    "Hunger Strike in Durrës – Day 12",
    "“Freedom” Rally Paid for in Cash",
    "Europe’s Terror List Debate – Again",
    "Mothers at the Gate of Ashraf 3",
    "The Defectors’ Testimony – Full Text",
    "Who Is Maryam Rajavi’s “Parliament”?",
    "A Trial Postponed in Paris",
    "Inside the Camp: “No Phones, No Letters”",
    "US Think Tanks and the MEK – a Timeline",
    "Children of the Cult Grow Up",
    "Albania’s Prime Minister Under Pressure",
    "The 1980s Bombings – Survivors Remember",
    "Media Watch: “Iran Opposition” or Cult?",
    "Ashraf Families’ Open Letter to the UN",
    "A Decade After Camp Liberty – What Changed",
)

_WORDS = (
    "The families gathered again outside the gate and asked to see their relatives after years of "
    "silence, bringing letters, photographs and a list of names they had kept since the move."
)


def _month_day_year(d: dt.date) -> str:
    return f"{d:%B} {d.day:02d} {d.year}"


@dataclass(frozen=True)
class Post:
    """One post: what the generators get, and what a reader of its archive page must find."""

    index: int
    slug: str
    title: str
    author_slug: str
    author_name: str
    published: dt.datetime
    source_line: str  # "" when the post has none
    text: str  # the post's own words after the source line (first paragraph)
    body: tuple[str, ...]  # further paragraphs (only in the full post)
    truth_author: str
    truth_outlet: str
    truth_original_date: dt.date | None

    @property
    def first_paragraph(self) -> str:
        return f"{self.source_line} {self.text}".strip()

    def paragraphs(self) -> tuple[str, ...]:
        return (self.first_paragraph, *self.body)


def _source(form: int, author_name: str, original: dt.date, text: str) -> tuple[str, str, str, str]:
    """(source line, post text, truth author, truth outlet) for source-line form ``form``."""
    mdy = _month_day_year(original)
    if form == 0:
        return f"{author_name}, Responsible Statecraft, {mdy}:…", text, author_name, "Responsible Statecraft"
    if form == 1:
        return f"Tasnim News {mdy}:…", text, "Tasnim News", ""
    if form == 2:
        return f"Alireza Niknam,, {mdy}:…", text, "Alireza Niknam", ""
    if form == 3:
        return (
            f"{author_name}, Middle East Strategy Consultants, UK, {mdy}:…",
            text,
            author_name,
            "Middle East Strategy Consultants, UK",
        )
    if form == 4:
        return "", text, author_name, ""
    if form == 5:  # a short excerpt right after the source line (not a date line)
        return f"Iran Interlink, {mdy}:…", "Families ask to visit.", "Iran Interlink", ""
    if form == 6:
        return (
            f"Gjergji Thanasi, Ashraf News, (Translated by Iran Interlink) {mdy}:…",
            text,
            "Gjergji Thanasi",
            "Ashraf News",
        )
    return f"{author_name},  Huffington Post,  {mdy}:…", text, author_name, "Huffington Post"


def posts() -> tuple[Post, ...]:
    """All 24 posts, newest first (one a day from 2020-10-28 back), authors taking turns."""
    out = []
    start = dt.datetime(2020, 10, 28, 9, 30, tzinfo=dt.UTC)
    for i, title in enumerate(_TITLES):
        slug_a, name = AUTHORS[i % 3]
        published = start - dt.timedelta(days=i)
        original = published.date() - dt.timedelta(days=1 + i % 3)
        own = f"Story {i + 1}: {_WORDS}"
        line, text, t_author, t_outlet = _source(i // 3 % 8 if i % 3 else i % 8, name, original, own)
        body = (
            (
                f"Body of story {i + 1}. The second paragraph only appears on the post itself, with more "
                "detail about the meeting and what was said at the gate that morning."
            ),
            f"Closing of story {i + 1}: a third paragraph with quotes from the families.",
        )
        out.append(
            Post(
                index=i,
                slug=f"story-{i + 1:02d}",
                title=title,
                author_slug=slug_a,
                author_name=name,
                published=published,
                source_line=line,
                text=text,
                body=body,
                truth_author=t_author,
                truth_outlet=t_outlet,
                truth_original_date=original if line else None,
            )
        )
    return tuple(out)


#: The edits the "edited" variant makes (post index -> what changes). Each is one field of one post.
EDIT_TITLE = 3  # a post on page 1 of its author
EDIT_EXCERPT = 19  # page 2 of its author
EDIT_BODY = 7  # the last paragraph: no archive page shows it


def edited(post: Post) -> Post:
    """``post`` as the "edited" variant has it."""
    from dataclasses import replace

    if post.index == EDIT_TITLE:
        return replace(post, title=post.title + " – Updated")
    if post.index == EDIT_EXCERPT:
        return replace(post, text=post.text.replace("gathered again", "gathered once more"))
    if post.index == EDIT_BODY:
        return replace(post, body=(post.body[0], post.body[1].replace("quotes from", "new quotes from")))
    return post
