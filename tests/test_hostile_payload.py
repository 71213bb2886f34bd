"""Hostile payloads: bodies too big, bombs, binary, broken or malicious XML, lying encodings, huge and dirty text.

One ``monitor fetch`` (a real subprocess) runs every payload case at once, the heavy ones (bombs,
a 10,000-item feed, a 1 MB title) included, so the peak memory measured is a bound for all of
them together. Each case has its own named test on that run's output, the database and, for the
text cases, exactly what was stored.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from zoneinfo import ZoneInfo

import pytest
from hostile_server import (
    CASE_BY_NAME,
    CP1252_TITLE,
    PERSIAN_TITLE,
    SECRET,
    Run,
    all_text,
    cases,
    check_database,
    db_rows,
    dirty_feed,
    dirty_page,
    run_monitor,
    write_config,
)

from monitor.detect import decide
from monitor.extract import extract

PAYLOAD = cases("payload")
MAX_RSS_MB = 300


@pytest.fixture(scope="module")
def world(tmp_path_factory, hostile_world):
    tmp = tmp_path_factory.mktemp("payload")
    with hostile_world(tmp, PAYLOAD) as w:
        fetch = w.fetch(timeout=90)
        yield {"tmp": tmp, "db": w.db, "config": w.config, "fetch": fetch, "hostile": w.hostile}


def failed(world, name: str) -> str:
    case = CASE_BY_NAME[name]
    line = world["fetch"].lines()[name]
    assert line.startswith(f"{name}: error ({case.expect}) "), line
    assert case.reason.lower() in line.lower(), line
    return line


def ingested(world, name: str, n: int | None = None) -> list[dict]:
    line = world["fetch"].lines()[name]
    assert line.startswith(f"{name}: new "), line
    rows = [dict(r) for r in db_rows(world["db"], "SELECT * FROM posts WHERE source = ? ORDER BY id", [name])]
    if n is not None:
        assert len(rows) == n, [r["title"][:80] for r in rows]
    return rows


def test_the_run_is_bounded_in_time_and_memory(world):
    run: Run = world["fetch"]
    assert run.returncode == 1
    run.assert_no_traceback()
    assert run.elapsed < 60, run.elapsed
    assert run.maxrss_mb < MAX_RSS_MB, f"peak memory {run.maxrss_mb:.0f} MB"
    # parsing may run in worker processes: the whole tree too (shared pages counted once)
    assert run.tree_peak_mb < MAX_RSS_MB, f"peak memory of the process tree {run.tree_peak_mb:.0f} MB"
    assert set(run.lines()) == {c.name for c in PAYLOAD}
    check_database(world["db"])


@pytest.mark.parametrize("name", [c.name for c in PAYLOAD if c.heavy])
def test_each_heavy_case_alone_stays_within_the_memory_bound(world, name):
    """The bombs, the 10,000-item feed and the 1 MB title, each in a run of its own (so the peak is theirs)."""
    alone = world["tmp"] / f"alone-{name}"  # a fresh database: nothing known, every byte parsed
    alone.mkdir()
    config = write_config(alone, world["hostile"].sources([CASE_BY_NAME[name]]))
    run = run_monitor("fetch", "--config", str(config), cwd=alone, timeout=60)
    run.assert_no_traceback()
    assert run.elapsed < 60
    assert max(run.maxrss_mb, run.tree_peak_mb) < MAX_RSS_MB, (name, run.maxrss_mb, run.tree_peak_mb)
    line = run.lines()[name]
    case = CASE_BY_NAME[name]
    assert line.startswith(f"{name}: error ({case.expect}) " if case.expect != "ok" else f"{name}: new "), line


def test_body_over_the_cap_is_stopped_while_streaming(world):
    assert "4 MB" in failed(world, "too-big-streamed")


def test_body_announced_over_the_cap_is_refused_before_reading(world):
    assert "900 MB" in failed(world, "too-big-announced")


@pytest.mark.parametrize("name", ["gzip-bomb", "deflate-bomb"])
def test_decompression_bombs_stop_at_the_cap(world, name):
    # 64 kB on the wire that inflate to 64 MB: counted after decompression, memory stays bounded
    failed(world, name)
    assert max(world["fetch"].maxrss_mb, world["fetch"].tree_peak_mb) < MAX_RSS_MB


def test_empty_200(world):
    failed(world, "empty-200")


def test_binary_bytes_served_as_a_feed(world):
    failed(world, "binary-as-feed")
    failed(world, "binary-auto")


def test_truncated_xml_is_an_error_not_a_partial_read(world):
    failed(world, "truncated-xml")
    assert not db_rows(world["db"], "SELECT 1 FROM posts WHERE source = 'truncated-xml'")


def test_billion_laughs_is_not_expanded(world):
    (row,) = ingested(world, "billion-laughs", 1)
    assert len(row["title"]) < 100 and len(row["excerpt"]) < 1000
    assert "lollollol" not in all_text(world["db"])


@pytest.mark.parametrize("name", ["xxe-file", "xxe-parameter"])
def test_external_entities_never_read_a_local_file(world, name):
    ingested(world, name)
    assert SECRET not in all_text(world["db"])


def test_windows_1256_declared_only_in_meta_charset(world):
    (row,) = ingested(world, "windows-1256-meta", 1)
    assert row["title"] == PERSIAN_TITLE
    assert row["excerpt"] == "متن کامل گزارش درباره سازمان مجاهدين خلق"


def test_windows_1252_declared_only_in_the_xml_prolog(world):
    (row,) = ingested(world, "windows-1252-prolog", 1)
    assert row["title"] == CP1252_TITLE
    assert row["excerpt"] == "Déjà vu." and row["outlet"] == "Example Outlet"


def test_a_bom_beats_the_header(world):
    (row,) = ingested(world, "bom-beats-header", 1)
    assert row["title"] == "Zoë’s BOM – page"


def test_a_header_that_contradicts_the_document(world):
    (row,) = ingested(world, "header-contradicts-document", 1)
    assert row["title"] == "Ünïcödé header lies – “really”"


def test_a_feed_of_10000_items(world):
    rows = ingested(world, "feed-10k-items", 10_000)
    assert len({r["identity"] for r in rows}) == 10_000
    assert max(world["fetch"].maxrss_mb, world["fetch"].tree_peak_mb) < MAX_RSS_MB


def test_a_1mb_title_is_stored_whole(world):
    rows = ingested(world, "title-1mb", 2)
    huge = max(rows, key=lambda r: len(r["title"]))
    assert len(huge["title"]) > 1_000_000 and set(huge["title"].split()) == {"Huge"}
    assert max(world["fetch"].maxrss_mb, world["fetch"].tree_peak_mb) < MAX_RSS_MB


def test_dates_in_the_future_in_year_1_without_a_zone_or_unparseable(world):
    rows = {r["title"]: r for r in ingested(world, "odd-dates", 5)}
    assert rows["From the future"]["published"] is None
    assert rows["From year one"]["published"] is None
    assert rows["Unparseable"]["published"] is None
    assert rows["Without a zone"]["published"] == "2020-10-27T10:00:00.000000+00:00"  # read as UTC
    assert rows["An ordinary date"]["published"].startswith("2020-10-27T")
    line = world["fetch"].lines()["odd-dates"]
    assert "warning: ignored the implausible date 'Fri, 01 Jan 2999" in line
    assert "warning: ignored the implausible date 'Mon, 01 Jan 0001" in line


def _clean(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cs", "Cc") and c not in "\t\n\r" for c in text)


@pytest.mark.parametrize("name", ["control-chars-feed", "control-chars-html"])
def test_lone_surrogates_nul_and_control_characters_are_cleaned_before_storing(world, name):
    rows = ingested(world, name)
    assert len(rows) >= 2
    for r in rows:
        for field in ("title", "excerpt", "content", "author", "outlet", "url"):
            assert _clean(r[field] or ""), (field, r[field])
    titles = {r["title"] for r in rows}
    assert titles & {"Lone surrogate here", "Lone \ufffd surrogate \ufffd in HTML"}


@pytest.mark.parametrize("body,kind", [(dirty_feed(), "feed"), (dirty_page(), "html")])
def test_extract_never_hands_on_text_that_cannot_be_hashed_or_stored(body, kind):
    # detect.post_hash encodes to UTF-8: a lone surrogate used to crash it (and SQLite)
    page = extract(body, url="https://dirty.example/", tz=ZoneInfo("UTC"), kind=kind)
    assert page.posts
    for p in page.posts:
        decide(None, p, tz=ZoneInfo("UTC"))
        for value in (p.title, p.excerpt, p.content, p.author, p.outlet, p.url):
            value.encode("utf-8")
            assert "\x00" not in value and _clean(value)


def test_feed_markup_nested_60k_deep_is_read_as_text(world):
    rows = {r["title"]: r for r in ingested(world, "feed-markup-60k-deep", 2)}
    assert rows["Deep summary"]["excerpt"] == "deep text"
    assert rows["Deep content"]["excerpt"] == "A short summary."
    assert rows["Deep content"]["content"].count("<ul>") == 60_000  # stored raw; sanitized when published


def test_a_second_run_over_the_same_payloads_changes_nothing(world):
    before = check_database(world["db"])
    run = run_monitor("fetch", "--config", str(world["config"]), cwd=world["tmp"], timeout=90)
    run.assert_no_traceback()
    after = check_database(world["db"])
    assert after == before, "re-reading the same hostile bodies must not create or change posts"
    for c in cases("payload", expect_ok=True):
        assert run.lines()[c.name].startswith(f"{c.name}: "), run.lines()[c.name]
        assert "error" not in run.lines()[c.name].split("\n")[0]
    now = dt.datetime.now(dt.UTC).isoformat()
    assert all(r[0] <= now for r in db_rows(world["db"], "SELECT first_seen FROM posts"))
