"""Types and lint are part of the suite (so CI runs them): mypy --strict on monitor/, ruff's rule set
on everything (both configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)


def test_ruff() -> None:
    r = _run("ruff", "check", "--no-cache", "monitor", "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict() -> None:
    r = _run("mypy", "--no-incremental")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout
