"""Fixtures shared by the test files.

``hostile_world``: the adversarial suites' common start — a secret file that must never leak,
the hostile server on 127.0.0.1, a config of its cases, and ``monitor`` run as a real process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hostile_server import SECRET, Case, HostileServer, Run, run_monitor, write_config


@dataclass
class HostileWorld:
    tmp: Path
    hostile: HostileServer
    config: Path
    runs: dict[str, Any] = field(default_factory=dict)  # what a suite's module fixture keeps

    @property
    def db(self) -> Path:
        return self.tmp / "monitor.db"

    def fetch(self, *sources: str, timeout: float = 60) -> Run:
        args = ["fetch", "--config", str(self.config)]
        for name in sources:
            args += ["--source", name]
        return run_monitor(*args, cwd=self.tmp, timeout=timeout)

    def status(self) -> dict[str, dict[str, Any]]:
        """``monitor status --format json`` by source name (checked: exit 0, no traceback)."""
        run = run_monitor("status", "--config", str(self.config), "--format", "json", cwd=self.tmp, timeout=60)
        run.assert_no_traceback()
        assert run.returncode == 0, run.stderr
        return {r["name"]: r for r in json.loads(run.stdout)["sources"]}


HostileFactory = Callable[..., AbstractContextManager[HostileWorld]]


@pytest.fixture(scope="session")
def hostile_world() -> HostileFactory:
    """``with hostile_world(tmp, cases, extra=..., order=...) as world:`` — ``order`` may arrange the
    hostile sources and ``extra`` ones (good sources sharing the run) into one list."""

    @contextmanager
    def make(tmp: Path, cases: Sequence[Case], *, extra: Sequence[Mapping[str, object]] = (),
             order: Callable[[list[dict[str, object]], list[Mapping[str, object]]], list[Any]] | None = None
             ) -> Iterator[HostileWorld]:
        secret = tmp / "secret.txt"
        secret.write_text(SECRET + "\n", encoding="utf-8")
        with HostileServer(secret=secret) as hostile:
            hostile_sources = list(hostile.sources(cases))
            sources = order(hostile_sources, list(extra)) if order else hostile_sources + list(extra)
            yield HostileWorld(tmp, hostile, write_config(tmp, sources))

    return make
