"""The CLI through click's CliRunner: a thin shell over the application (monitor.pipeline.Monitor).

In-process on purpose (fast, exact output, exit codes); the pages are real, served on 127.0.0.1,
and the database is a real SQLite file. `monitor run` and the demo are tested as subprocesses
elsewhere, where the process is the point.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sample_site.server import serve
from sample_site.site import SampleSite

from monitor.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def world(tmp_path: Path):
    site = SampleSite.from_seeds()
    with serve(site) as running:
        sources = [{"name": n, "url": u, "type": k} for n, u, k in site.source_urls(running.url)][:3]
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({
            "site": {"title": "Iran Interlink", "url": "http://127.0.0.1:8000/"},
            "database": "monitor.db", "output_dir": "site", "timezone": "Europe/London",
            "fetch": {"timeout": "5s", "deadline": "10s"}, "sources": sources,
        }), encoding="utf-8")
        yield config, sources


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)
    return result.exit_code, result.output


def test_fetch_then_posts_history_status_and_digest(world) -> None:
    config, sources = world
    code, out = invoke("--config", str(config), "fetch")
    assert code == 0, out
    lines = {line.split(":", 1)[0]: line for line in out.splitlines() if not line.startswith(("total", " "))}
    assert set(lines) == {s["name"] for s in sources}
    total_new = sum(int(line.split("new ", 1)[1].split(",", 1)[0]) for line in lines.values())
    assert f"total: 3 sources, {total_new} new, 0 changed" in out and total_new > 0

    code, out = invoke("--config", str(config), "posts", "--format", "json")
    posts = json.loads(out)
    assert code == 0 and len(posts) == total_new
    assert {p["source"] for p in posts} == {s["name"] for s in sources}

    url = posts[0]["url"]
    code, out = invoke("--config", str(config), "history", url, "--format", "json")
    (entry,) = json.loads(out)
    assert code == 0 and entry["url"] == url and [v["number"] for v in entry["versions"]] == [1]

    code, out = invoke("--config", str(config), "status", "--format", "json")
    rows = json.loads(out)["sources"]
    assert code == 0 and len(rows) == 3 and all(r["failures"] == 0 and r["posts"] > 0 for r in rows)

    code, out = invoke("--config", str(config), "digest", "--all")
    assert code == 0, out
    written = [Path(line) for line in out.splitlines() if line.endswith((".html", ".xml"))]
    assert any(p.name == "feed.xml" for p in written) and all(p.exists() for p in written)

    code, out = invoke("--config", str(config), "digest", "--all")  # nothing changed
    assert code == 0 and "nothing to write: every file is up to date" in out


def test_history_of_an_unknown_url_exits_1_with_a_reason(world) -> None:
    config, _sources = world
    code, out = invoke("--config", str(config), "history", "http://127.0.0.1:9/nothing/")
    assert code == 1 and "no stored post has the URL http://127.0.0.1:9/nothing/" in out


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(("." * node.level) + node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m.lstrip(".").removeprefix("monitor.") if m.startswith((".", "monitor.")) else m for m in out}


@pytest.mark.parametrize("name", ["cli.py", "cli_sources.py", "service.py", "demo/__init__.py"])
def test_the_shells_go_through_the_application_never_the_store_or_the_publisher(name: str) -> None:
    # the boundary the architecture promises, checked on the code: the CLI, the service and the
    # demo call monitor.pipeline, never the store or the publisher directly
    path = ROOT / "monitor" / name
    if not path.exists():
        pytest.skip(f"{name} is a package now")
    assert not _imports(path) & {"store", "publish"}, name


IO_MODULES = {"store", "storage", "fetch", "publish", "pipeline", "web", "service", "aiohttp", "sqlite3",
              "sqlite_utils", "socket", "urllib.request", "http.client", "subprocess", "os", "shutil"}


@pytest.mark.parametrize("path", sorted(
    [p.relative_to(ROOT).as_posix() for p in (ROOT / "monitor" / "extract").glob("*.py")]
    + ["monitor/detect.py", "monitor/digest.py", "monitor/urls.py", "monitor/schedule.py", "monitor/models.py"]))
def test_pure_stages_import_nothing_that_does_io(path: str) -> None:
    assert not _imports(ROOT / path) & IO_MODULES, path


def test_publishing_is_handed_its_data() -> None:
    assert not _imports(ROOT / "monitor" / "publish.py") & {"store", "storage", "pipeline"}
