"""Hostile HTML: a page that suddenly shows no posts (or far fewer), 10,000-deep markup, unclosed tags.

A page that stops yielding posts is an extraction failure (a theme change, a maintenance page, a
block page), never mass deletion and never mass change: the stored posts stay as they were, the
baseline count is kept, and ``monitor fetch`` and ``monitor status`` say what happened.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_server import (
    CASE_BY_NAME,
    cases,
    check_database,
    db_rows,
    hatom_page,
)

from monitor.markup import too_complex

HTML = cases("html")
DATA = Path(__file__).resolve().parent / "data" / "extract"


@pytest.fixture(scope="module")
def world(tmp_path_factory, hostile_world):
    """First act: every HTML case fetched once. Second act: the stateful pages flipped, fetched again."""
    tmp = tmp_path_factory.mktemp("html")
    with hostile_world(tmp, HTML) as w:
        first = w.fetch()
        before = check_database(w.db)
        w.hostile.flip("vanishing")
        w.hostile.flip("shrinking")
        second = w.fetch()
        yield {"tmp": tmp, "db": w.db, "first": first, "second": second, "before": before,
               "status": w.status()}


def test_runs_end_cleanly(world):
    for run in (world["first"], world["second"]):
        run.assert_no_traceback()
        assert run.returncode == 1  # not-posts fails both times
        assert run.elapsed < 60


@pytest.mark.parametrize("name", ["vanishing", "shrinking"])
def test_a_page_that_suddenly_yields_no_posts_is_an_extraction_failure(world, name):
    assert world["first"].lines()[name].startswith(f"{name}: new 8, changed 0"), world["first"].lines()[name]
    case = CASE_BY_NAME[name]
    line = world["second"].lines()[name]
    assert line.startswith(f"{name}: error (NoPostsFound) {case.reason}"), line
    row = world["status"][name]
    assert row["result"] == "error" and row["last_error"].startswith(case.reason) and row["posts"] == 8
    # nothing deleted, nothing marked changed, the baseline is kept for the next run
    after = check_database(world["db"])
    mine = {k: v for k, v in after.items() if k[0] == name}
    assert mine == {k: v for k, v in world["before"].items() if k[0] == name}
    assert len(mine) == 8 and set(mine.values()) == {1}
    (count,) = db_rows(world["db"], "SELECT last_post_count FROM sources WHERE name = ?", [name])[0]
    assert count == 8


def test_markup_nested_10000_deep(world):
    line = world["first"].lines()["nested-10000"]
    assert line.startswith("nested-10000: new 3,"), line
    titles = [r[0] for r in db_rows(world["db"], "SELECT title FROM posts WHERE source = 'nested-10000'")]
    assert sorted(titles) == [f"Deep {i}: the committee meets again" for i in range(3)]


@pytest.mark.parametrize("name", ["nested-100k-li", "attributes-50k"])
def test_markup_no_parser_reads_in_reasonable_time_is_refused_with_a_reason(world, name):
    # 100,000 nested <li> once cost the HTML parser two minutes; 50,000 attributes on one tag as long
    line = world["first"].lines()[name]
    assert line.startswith(f"{name}: error (ExtractError) page not read: "), line
    assert CASE_BY_NAME[name].reason in line
    assert world["status"][name]["last_error"].startswith("page not read: ")


def test_the_markup_limits_never_refuse_a_real_page():
    pages = [p.read_text("utf-8") for p in sorted(DATA.glob("*.html"))]
    posts = [{"id": str(i), "title": f"T {i}", "day": "2020-10-10", "excerpt": "x"} for i in range(20_000)]
    pages += [hatom_page(posts),  # 8 MB, 20,000 posts
              "<ul>" + "<li><p>unclosed" * 30_000,  # optional end tags left out, 30,000 times
              hatom_page(posts[:3], wrap=10_000),  # the 10,000-deep case above
              '<img src="data:image/png;base64,' + "A" * 3_000_000 + '">']  # a 3 MB inline image
    assert len(pages) > 10
    for page in pages:
        assert too_complex(page) is None, page[:200]


@pytest.mark.parametrize("markup", [
    "<ul><li>" * 30_000,
    "<div>" * 25_000,
    "<b><div>" * 15_000,
    "<select>" + "<option>" * 25_000,
    "<div " + " ".join(f"a{i}" for i in range(6_000)) + ">",
    '<div title=">" ' + " ".join(f'a{i}=">"' for i in range(6_000)) + ">",  # quoted ">" hide nothing
], ids=["li", "div", "b-div", "option", "attributes", "quoted-gt"])
def test_the_markup_limits_refuse_what_parsers_take_minutes_over(markup):
    assert too_complex(markup)


def test_unclosed_tags(world):
    line = world["first"].lines()["unclosed-tags"]
    assert line.startswith("unclosed-tags: new 4,"), line
    rows = db_rows(world["db"], "SELECT title, published FROM posts WHERE source = 'unclosed-tags' ORDER BY title")
    assert [r["title"] for r in rows] == [f"Unclosed {i} bold" for i in range(4)]
    assert all(r["published"] for r in rows)


def test_a_page_without_posts_from_the_start_says_which_layouts_were_tried(world):
    for run in (world["first"], world["second"]):
        line = run.lines()["not-posts"]
        assert line.startswith("not-posts: error (NoPostsFound) no posts found on "), line
        assert "tried the classic, block, text and generic layouts" in line


def test_the_second_run_of_unchanged_pages_is_quiet(world):
    for name in ("nested-10000", "unclosed-tags"):
        line = world["second"].lines()[name]
        assert line == f"{name}: not modified" or line.startswith(f"{name}: new 0, changed 0,"), line
