"""Limits on markup from the web, checked before an HTML parser builds a tree of it.

HTML tree builders (lexbor, which reads pages and feed summaries, and html5ever inside nh3, which
sanitizes content at publish time) walk the stack of open elements for many start tags and compare
each attribute with the element's others. Nesting and attribute counts that no real page has make
that quadratic: a body of nothing but nested ``<li>`` or one tag with hundreds of thousands of
attributes keeps a parser busy for minutes (tests/test_hostile_publishing.py and the hostile
extract tests build such bodies). A body is at most ``fetch.max_bytes``, so the time is bounded, but
not by anything a run can afford. :func:`too_complex` estimates the work in linear time (and in no
time at all for ordinary pages) and says why a document is over the limit; callers refuse it
(a page), or read it without a parser (a feed summary, stored content).

The estimate errs on the safe side: every start tag that is not void counts as open until its end
tag, except where HTML closes elements without one (a ``<p>`` before the next block, an ``<li>``,
``<dt>``, ``<dd>``, ``<tr>``, ``<td>`` or ``<th>`` at the next of its kind), and tags in comments
and scripts count too.
"""

from __future__ import annotations

import re

__all__ = ["MAX_ATTRIBUTES", "MAX_NESTING_WORK", "too_complex"]

#: Open elements summed over every start tag: a page nested 10,000 deep costs 5e7, a big real page
#: well under 1e7; the limit leaves real pages a wide margin and stops what only an attack builds.
MAX_NESTING_WORK = 2 * 10**8
#: Attributes on one element.
MAX_ATTRIBUTES = 5_000

# Fewer tags than this cannot reach MAX_NESTING_WORK (n tags nest at most n(n-1)/2): not counted.
_FEW_TAGS = 20_000
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr", "keygen", "basefont", "bgsound", "frame", "image"})
_LISTS = frozenset({"ul", "ol", "dl", "menu", "table", "body", "html"})
_TABLES = frozenset({"table", "tbody", "thead", "tfoot", "body", "html"})
# a start tag that closes an open element of these kinds (looking down the stack, not past the stops)
_IMPLIED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), _LISTS),
    "dt": (frozenset({"dt", "dd"}), _LISTS),
    "dd": (frozenset({"dt", "dd"}), _LISTS),
    "tr": (frozenset({"tr", "td", "th"}), _TABLES),
    "td": (frozenset({"td", "th"}), _TABLES | {"tr"}),
    "th": (frozenset({"td", "th"}), _TABLES | {"tr"}),
}
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
# a start tag with at least MAX_ATTRIBUTES items: unquoted characters or quoted values
_CROWDED = re.compile(rf"<[A-Za-z](?:[^>\"']|\"[^\"]*\"|'[^']*'){{{2 * MAX_ATTRIBUTES}}}")
_WHOLE_TAG = re.compile(r"<[A-Za-z](?:[^>\"']|\"[^\"]*\"|'[^']*')*")
_ATTRIBUTE = re.compile(r"""[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""")


def too_complex(markup: str) -> str | None:
    """Why parsing ``markup`` would take unreasonable time, or None (the usual answer)."""
    if markup.count("<") > _FEW_TAGS:
        reason = _nesting(markup)
        if reason:
            return reason
    pos = 0
    while (m := _CROWDED.search(markup, pos)) is not None:
        tag = _WHOLE_TAG.match(markup, m.start())
        assert tag is not None
        n = len(_ATTRIBUTE.findall(tag.group(), 1)) - 1  # the first item is the tag name
        if n > MAX_ATTRIBUTES:
            return f"an element with {n:,} attributes (the limit is {MAX_ATTRIBUTES:,})"
        pos = tag.end()
    return None


def _nesting(markup: str) -> str | None:
    stack: list[str] = []
    open_count: dict[str, int] = {}
    work = 0
    for m in _TAG.finditer(markup):
        name = m.group(2).lower()
        if m.group(1):  # an end tag closes everything above its element; one with nothing open is ignored
            if open_count.get(name):
                while stack:
                    top = stack.pop()
                    open_count[top] -= 1
                    if top == name:
                        break
            continue
        work += len(stack)  # what a parser may walk for this start tag
        if work > MAX_NESTING_WORK:
            return (f"markup nested about {len(stack):,} elements deep, too deep to parse safely "
                    f"(a real page is rarely 100 deep)")
        if name in _VOID or name == "p":  # a <p> is closed by the next block, or by another <p>
            continue
        if (rule := _IMPLIED.get(name)) is not None:  # <li> closes an open <li> (and what is in it)
            closes, stops = rule
            for i in range(len(stack) - 1, max(-1, len(stack) - 65), -1):
                if stack[i] in closes:
                    for t in stack[i:]:
                        open_count[t] -= 1
                    del stack[i:]
                    break
                if stack[i] in stops:
                    break
        stack.append(name)
        open_count[name] = open_count.get(name, 0) + 1
    return None
