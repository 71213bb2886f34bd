"""Helpers for the service tests: a config on disk, `monitor run` as a real subprocess, polling.

Every wait polls with a bounded timeout; nothing sleeps for a fixed long time.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

SERVING = re.compile(r"serving (?P<root>\S.*) at (?P<url>http://\S+/)")


def wait_for(predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def write_config(tmp: Path, sources: Iterable[Mapping[str, Any]], *, serve: bool = True,
                 name: str = "config.yaml", **extra: Any) -> Path:
    data: dict[str, Any] = {
        "site": {"title": "Iran Interlink", "url": "http://127.0.0.1:8000/"},
        "database": "monitor.db",
        "output_dir": "site",
        "timezone": "Europe/London",
        "fetch": {"timeout": "10s", "deadline": "30s"},
        "sources": [dict(s) for s in sources],
    }
    if serve:
        data["serve"] = {"host": "127.0.0.1", "port": 0}
    data.update(extra)
    path = tmp / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def sample_sources(site: Any, every: str = "2s") -> list[dict[str, Any]]:
    return [{"name": n, "url": u, "type": k, "every": every} for n, u, k in site.source_urls()]


class ServiceProcess:
    """``python -m monitor --log-level info run --config PATH [--once]``, stderr to a file."""

    def __init__(self, config: Path, *, once: bool = False, env: Mapping[str, str] | None = None,
                 log_name: str | None = None, log_level: str | None = "info"):
        self.config = config
        self.log_path = config.parent / (log_name or f"service-{time.monotonic_ns()}.log")
        level = ["--log-level", log_level] if log_level else []  # None: the default level, as users run it
        cmd = [sys.executable, "-m", "monitor", *level, "run", "--config", str(config)]
        if once:
            cmd.append("--once")
        full_env = dict(os.environ)
        full_env.pop("MONITOR_FAKE_NOW", None)
        full_env.update(env or {})
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 -- closed by wait()/cleanup()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._log_file, env=full_env,
                                     cwd=config.parent)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        rx = re.compile(pattern)

        def found() -> re.Match[str] | None:
            if self.proc.poll() is not None:
                m = rx.search(self.log())
                if m:
                    return m
                raise AssertionError(f"the service exited ({self.proc.returncode}) before logging "
                                     f"{pattern!r}:\n{self.log()}")
            return rx.search(self.log())

        return wait_for(found, timeout, what=f"log line {pattern!r}")

    def url(self, timeout: float = 15.0) -> str:
        return self.wait_log(SERVING.pattern, timeout).group("url")

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log_file.close()

    def terminate(self, timeout: float = 5.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.wait(timeout)
        return code, time.monotonic() - t0

    def kill9(self) -> None:
        self.proc.kill()
        self.wait(10)

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log_file.close()


def query(db: Path, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    """Read the service's database from the test process (WAL: never blocks the writer)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, list(params)).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    finally:
        conn.close()


def scalar(db: Path, sql: str, params: Iterable[Any] = (), default: Any = 0) -> Any:
    """The first column of the first row, or ``default`` (no database or table yet)."""
    rows = query(db, sql, params)
    return rows[0][0] if rows else default
