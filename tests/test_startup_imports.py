"""Start-up: `monitor --help` and `monitor status` load none of the heavy libraries (they are imported
only by the commands that use them). Checked on sys.modules of a real process; no timing limits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("jinja2", "feedgen", "nh3", "apscheduler", "aiohttp", "feedparser", "selectolax",
         "sqlite_utils")  # sqlite-utils only when a migration is pending (monitor.sqlite_db)

#: Runs the CLI in-process like `python -m monitor ARGS`, then prints which heavy modules got loaded.
WRAPPER = """
import json, runpy, sys
heavy = json.loads(sys.argv[1])
sys.argv = ["monitor", *sys.argv[2:]]
code = 0
try:
    runpy.run_module("monitor", run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code or 0
print("LOADED=" + json.dumps(sorted(m for m in heavy if m in sys.modules)))
sys.exit(code)
"""


def _loaded(*args: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    proc = subprocess.run([sys.executable, "-c", WRAPPER, json.dumps(HEAVY), *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("LOADED=")][-1]
    return json.loads(line.removeprefix("LOADED=")), proc


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "site": {"title": "T"}, "database": "m.db", "output_dir": "site",
        "sources": [{"name": f"s{i}", "url": f"http://127.0.0.1:9/{i}/feed.xml", "type": "feed"}
                    for i in range(20)],
    }))
    return path


def test_the_wrapper_sees_what_a_command_imports(config):
    # the control: a command that publishes does load the rendering libraries, so an empty
    # list below means "not imported", not "not detected"
    loaded, proc = _loaded("--config", str(config), "digest", "--all")
    assert {"jinja2", "feedgen", "nh3"} <= set(loaded), proc.stdout


def test_help_imports_no_heavy_library():
    loaded, proc = _loaded("--help")
    assert "Usage: " in proc.stdout and "  status " in proc.stdout
    assert loaded == []


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_status_imports_no_heavy_library(config, fmt):
    from monitor.store import Store

    Store.open(config.parent / "m.db").close()  # an existing, migrated database (as after any fetch)
    loaded, proc = _loaded("--config", str(config), "status", "--format", fmt)
    assert "s19" in proc.stdout  # it did report every source
    assert loaded == []


def test_run_help_and_fetch_help_import_no_heavy_library():
    for command in ("run", "fetch", "digest"):
        loaded, proc = _loaded(command, "--help")
        assert f"monitor {command} [OPTIONS]" in proc.stdout
        assert loaded == [], command
