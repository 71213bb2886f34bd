"""The config file's YAML: duplicate keys are errors naming the key path and lines, with libyaml's
loader and with the pure-Python one; a syntax error names the file; nothing valid is refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from monitor import yamlfile
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.yamlfile import StrictLoader, StrictPyLoader, load_yaml

ROOT = Path(__file__).resolve().parent.parent
LOADERS = [pytest.param(StrictLoader, id="libyaml"), pytest.param(StrictPyLoader, id="python")]

TWO_SOURCES_BLOCKS = textwrap.dedent("""\
    site:
      title: T
    sources:
      - name: a
        url: http://a.example/
    fetch:
      timeout: 3
    sources:
      - name: b
        url: http://b.example/
    """)


def test_libyaml_is_used_when_installed():
    # PyYAML's wheels bundle libyaml; without it start-up is ~10x slower on a big config
    assert yaml.__with_libyaml__
    assert yamlfile.FAST and issubclass(StrictLoader, yaml.CSafeLoader)


@pytest.mark.parametrize("loader", LOADERS)
def test_two_sources_blocks_are_an_error_naming_key_and_lines(loader, tmp_path):
    path = tmp_path / "config.yaml"
    with pytest.raises(ConfigError) as exc:
        load_yaml(TWO_SOURCES_BLOCKS, path, loader)
    assert exc.value.key == "sources"
    assert str(path) in exc.value.problem
    assert "line 8 (first at line 3)" in exc.value.problem


@pytest.mark.parametrize("loader", LOADERS)
def test_nested_duplicate_names_its_full_path(loader, tmp_path):
    text = textwrap.dedent("""\
        site: {title: T}
        sources:
          - name: a
            url: http://a.example/
          - name: b
            url: http://b.example/
            selectors:
              post: .one
              title: h2
              post: .two
        """)
    with pytest.raises(ConfigError) as exc:
        load_yaml(text, tmp_path / "c.yaml", loader)
    assert exc.value.key == "sources[1].selectors.post"
    assert "line 10 (first at line 8)" in exc.value.problem


@pytest.mark.parametrize("loader", LOADERS)
def test_valid_documents_load_the_same_as_safe_load(loader, tmp_path):
    # merge keys may repeat a key on purpose (the explicit one wins), and equal-looking keys of
    # different types are different keys
    text = textwrap.dedent("""\
        base: &b {every: 1h, robots: true}
        one:
          <<: *b
          every: 2h
        keys: {1: int, "1": str}
        """)
    assert load_yaml(text, tmp_path / "c.yaml", loader) == yaml.safe_load(text)
    config = (ROOT / "config.yaml").read_text()
    assert load_yaml(config, ROOT / "config.yaml", loader) == yaml.safe_load(config)


@pytest.mark.parametrize("loader", LOADERS)
def test_syntax_error_names_the_file_and_line(loader, tmp_path):
    path = tmp_path / "broken.yaml"
    with pytest.raises(ConfigError) as exc:
        load_yaml("site: {title: T\nsources: [", path, loader)
    assert f'{path} is not valid YAML' in str(exc.value)
    assert f'in "{path}", line' in str(exc.value)  # libyaml's marks name the file, not "<unicode string>"


def test_load_config_refuses_duplicates(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(TWO_SOURCES_BLOCKS)
    with pytest.raises(ConfigError, match=r"^sources: duplicate key"):
        load_config(path)


def test_cli_reports_duplicate_key_with_exit_2(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(TWO_SOURCES_BLOCKS)
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "status"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert f"config error: sources: duplicate key in {path} at line 8 (first at line 3)" in proc.stderr
    assert "Traceback" not in proc.stderr
