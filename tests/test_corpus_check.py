"""``monitor check URL`` explains itself: the real CLI, as a subprocess, against generated archive pages
(tests/data/corpus) served on 127.0.0.1. It must say which rule matched, which older-posts link it
follows and why, which look-alike links it does not follow, and what it skipped as chrome."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_corpus import Corpus, serve_corpus, write_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def corpus_server(request):
    corpus = Corpus(request.param)
    with serve_corpus(corpus) as base:
        yield corpus, base


def check(url: str, config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's monitor, not an installed one
    return subprocess.run(
        [sys.executable, "-m", "monitor", "check", url, "--type", "html", "--config", str(config)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("corpus_server", ["pelican-notmyidea"], indirect=True)
def test_check_names_the_rule_the_next_page_and_the_chrome(corpus_server, tmp_path):
    corpus, base = corpus_server
    r = check(f"{base}/author/anne-singleton.html", write_config(tmp_path, corpus.setup, base), tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "rule: hatom, 5 posts" in out
    assert "matched: hatom: 5 posts by the classic-theme layout" in out
    assert f"next page: {base}/author/anne-singleton2.html (because its text is the forward arrow '⟩')" in out
    assert "skipped as chrome: <header#banner.body> 'Iran Interlink News and analysis" in out
    assert "skipped as chrome: <nav> 'Page 1 / 2" in out
    # the featured post in the <aside> is read, not skipped
    assert "Albania – the MEK’s “Camp” in Manëz" in out and "<aside" not in out


@pytest.mark.parametrize("corpus_server", ["mkdocs-material"], indirect=True)
def test_check_explains_numbered_pages_and_the_repeated_blocks(corpus_server, tmp_path):
    corpus, base = corpus_server
    r = check(f"{base}/blog/author/nadia-rahimi/", write_config(tmp_path, corpus.setup, base), tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "tried first, found nothing: hatom, block, mf2, text" in out
    assert "5 repeated blocks <article.md-post.md-post--excerpt> holding a title link (5 dated" in out
    assert (
        f"next page: {base}/blog/author/nadia-rahimi/page/2/ (because page number 2 after the current "
        "page 1 in the page numbers)"
    ) in out
    r = check(
        f"{base}/blog/author/nadia-rahimi/page/2/", write_config(tmp_path, corpus.setup, base), tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert "next page: none found" in r.stdout and "rule: generic, 3 posts" in r.stdout


@pytest.mark.parametrize("corpus_server", ["nikola-bootblog4"], indirect=True)
def test_check_says_which_look_alike_link_it_does_not_follow(corpus_server, tmp_path):
    corpus, base = corpus_server
    page = corpus.path_for("/authors/anne-singleton/")
    assert page is not None
    # the document's navigation, as some themes print it: rel=next to the next author's profile
    fake = tmp_path / "site"
    target = fake / "authors" / "anne-singleton" / "index.html"
    target.parent.mkdir(parents=True)
    html = page.read_text(encoding="utf-8")
    html = html.replace(
        '<link rel="next" href="index-1.html" type="text/html">',
        '<link rel="next" href="../nadia-rahimi/" type="text/html">',
    )
    html = html.replace('<li class="next"><a href="index-1.html" rel="next">Older posts</a></li>', "")
    target.write_text(html, encoding="utf-8")
    corpus.root = fake  # serve the changed page instead of the generated one
    r = check(f"{base}/authors/anne-singleton/", write_config(tmp_path, corpus.setup, base), tmp_path)
    assert r.returncode == 0, r.stderr
    assert (
        f"not followed: {base}/authors/nadia-rahimi/ (it matches 'link[rel~=next]') is another author's "
        "archive"
    ) in r.stdout
    assert "next page: none found" in r.stdout


def test_every_generated_page_is_explained():
    """explain() on every generated archive page: a rule and what it matched, a reason for every
    next page it gives (and none without one), and the chrome it skipped."""
    from zoneinfo import ZoneInfo

    from test_corpus import CORPUS, SETUPS

    from monitor.extract import explain, extract

    seen = 0
    for setup in SETUPS:
        for file in sorted((CORPUS / setup / "base").rglob("*.html")):
            url = f"http://127.0.0.1:8000/{file.relative_to(CORPUS / setup / 'base').as_posix()}"
            why = explain(file.read_bytes(), url=url, tz=ZoneInfo("UTC"))
            assert why is not None
            page = extract(file.read_bytes(), url=url, tz=ZoneInfo("UTC"))
            assert why.page == page  # the explanation is of the same reading
            assert why.matched.startswith(f"{page.rule}: {len(page.posts)} posts by "), (setup, url)
            assert bool(why.next_why) == bool(page.next_url), (setup, url)
            assert why.chrome, (setup, url)  # every theme has a header, footer, menu or sidebar
            seen += 1
    assert seen >= 40
