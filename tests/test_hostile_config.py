"""Hostile configs: every wrong type or value exits 2 naming the key path, never a traceback, never a run.

tests/test_config.py checks :func:`parse_config` message by message; here the real CLI is run (as
subprocesses, in parallel) on a representative set of broken files, and every key of a complete
config is given every kind of wrong value in-process, to prove no input escapes as anything but a
:class:`~monitor.errors.ConfigError` whose key path names what was broken.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml
from hostile_server import run_many

from monitor.config import MAX_DURATION, parse_config
from monitor.errors import ConfigError

FULL = {
    "site": {"title": "T", "url": "http://127.0.0.1:8000/"},
    "database": "monitor.db",
    "output_dir": "site",
    "timezone": "Europe/London",
    "digest": {"week_ends_on": "friday", "publish_at": "saturday 06:00", "feed_size": 20, "empty_weeks": False,
               "group_by": "none"},
    "fetch": {"timeout": "20s", "deadline": "60s", "max_bytes": "10MB", "max_redirects": 5, "per_host": 2,
              "concurrency": 16, "user_agent": "x", "backoff_max": "1d"},
    "serve": {"host": "127.0.0.1", "port": 8000},
    "sources": [
        {"name": "A", "url": "http://127.0.0.1:9/a/", "type": "auto", "every": "1h", "max_pages": 5, "robots": True,
         "selectors": {"post": "article", "title": "h2", "link": "a", "date": "time", "excerpt": "p",
                       "next": "a.next"}},
        {"name": "B", "url": "http://127.0.0.1:9/b/"},
    ],
}


def _set(data, path, value):
    target = data
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value


def _mutated(path, value):
    data = copy.deepcopy(FULL)
    _set(data, path, value)
    return data


# (what to change, the value, the key path the error must name, words it must say); the value is
# written as YAML, so .inf / .nan / big numbers arrive as YAML loads them
CLI_CASES = [
    (("site", "title"), 123, "site.title", "expected a string"),
    (("timezone",), "Mars/Olympus_Mons", "timezone", "unknown time zone"),
    (("digest", "publish_at"), "someday", "digest.publish_at", "weekday and time"),
    (("digest", "empty_weeks"), "yes", "digest.empty_weeks", "true or false"),
    (("fetch", "deadline"), float("inf"), "fetch.deadline", "at most 365 days"),
    (("fetch", "timeout"), float("nan"), "fetch.timeout", "at most 365 days"),
    (("fetch", "max_bytes"), "lots", "fetch.max_bytes", "size like 10MB"),
    (("fetch", "per_host"), True, "fetch.per_host", "whole number"),
    (("serve", "port"), 70000, "serve.port", "between 0 and 65535"),
    (("sources",), {"name": "A"}, "sources", "expected a list"),
    (("sources", 0, "url"), "file:///etc/passwd", "sources[0].url", "not an http(s) URL"),
    (("sources", 1, "url"), "javascript:alert(1)", "sources[1].url", "not an http(s) URL"),
    (("sources", 1, "name"), "A", "sources[1].name", "duplicate source name 'A'"),
    (("sources", 0, "every"), 10**30, "sources[0].every", "at most 365 days"),
    (("sources", 0, "selectors", "post"), "[[", "sources[0].selectors.post", "not a valid CSS selector"),
    (("colour",), "red", "colour", "unknown key"),
    (("fetch", "retries"), 3, "fetch.retries", "unknown key"),
    (("sources", 0, "colour"), "red", "sources[0].colour", "unknown key"),
]


def _write(tmp_path: Path, i: int, text: str | bytes) -> Path:
    folder = tmp_path / f"case{i}"
    folder.mkdir()
    path = folder / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_cli_exits_2_naming_the_key_for_every_broken_config(tmp_path):
    configs, expected = [], []
    commands = ["fetch", "status", "digest", "posts"]
    for i, (path, value, key, words) in enumerate(CLI_CASES):
        configs.append(_write(tmp_path, i, yaml.safe_dump(_mutated(path, value), allow_unicode=True)))
        expected.append(f"config error: {key}: ")
        expected[-1] = (expected[-1], words)
    broken_files = [
        ("[not, a, mapping]", "expected a mapping"),
        ("site: {title: T\nsources: [", "is not valid YAML"),
        ("", "is empty"),
        (b"site: {title: \xff\xfe}\n", "cannot read config file"),
    ]
    for j, (text, words) in enumerate(broken_files, start=len(configs)):
        configs.append(_write(tmp_path, j, text))
        expected.append(("config error: ", words))
    configs.append(tmp_path / "nowhere" / "config.yaml")
    expected.append(("config error: ", "config file not found"))
    runs = run_many([[commands[i % len(commands)], "--config", str(c)] for i, c in enumerate(configs)],
                    cwd=tmp_path, timeout=120)
    for run, (prefix, words), config in zip(runs, expected, configs, strict=True):
        assert run.returncode == 2, (run.args, run.stdout, run.stderr)
        run.assert_no_traceback()
        assert run.stderr.startswith(prefix) and words in run.stderr, (run.args, run.stderr)
        assert not (config.parent / "monitor.db").exists(), "a bad config must not touch the database"
        assert not (config.parent / "site").exists()


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _dotted(path) -> str:
    out = ""
    for k in path:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


WRONG = [None, [], {}, "", " ", "x", -1, 0, 1.5, True, False, 10**30, 2**63, float("inf"), float("nan"),
         "1e999", "\x00", "-5s", "9" * 40 + "h", {"a": 1}, [1, 2], "\u202e"]


@pytest.mark.parametrize("path", list(_paths(FULL)), ids=_dotted)
def test_every_key_with_any_wrong_value_is_a_config_error_naming_it(path, tmp_path):
    for value in WRONG:
        try:
            config = parse_config(_mutated(path, value), base_dir=tmp_path)
        except ConfigError as e:
            named = _dotted(path)
            assert e.key and (named.startswith(e.key) or e.key.startswith(named)), (named, value, str(e))
            continue
        # accepted: then it must be something the monitor can run with
        for seconds in (config.fetch.timeout, config.fetch.deadline, config.fetch.backoff_max,
                        *(s.every for s in config.sources)):
            assert math.isfinite(seconds) and 0 < seconds <= MAX_DURATION, (path, value)
        assert all(s.url.startswith(("http://", "https://")) for s in config.sources)
        assert len({s.name for s in config.sources}) == len(config.sources)
