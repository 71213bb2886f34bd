"""The README stays true: every command and every config key is documented."""

import re
from pathlib import Path

from monitor.cli import cli
from monitor.config import TOP_KEYS, DigestConfig, FetchConfig, SourceConfig

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme():
    for name in cli.commands:
        assert f"monitor {name}" in README, f"command {name!r} missing from README"


def test_every_config_key_is_in_the_readme():
    keys = set(TOP_KEYS) | set(DigestConfig.__dataclass_fields__) | set(FetchConfig.__dataclass_fields__)
    keys |= set(SourceConfig.__dataclass_fields__)
    for key in sorted(keys):
        assert re.search(rf"\b{key}:", README), f"config key {key!r} missing from README"


def test_readme_has_the_two_commands_and_ci_uses_the_test_one():
    assert "python -m pip install -e . && monitor run" in README
    test_cmd = "python -m pip install -e '.[test]' && python -m pytest -q"
    assert test_cmd in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert test_cmd in ci
