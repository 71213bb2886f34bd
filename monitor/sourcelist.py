"""Edit the ``sources:`` list of a config file without losing what the user wrote in it.

``monitor init``, ``add``, ``remove`` and ``import-opml`` change the user's own file, so the
file's comments, key order, quoting and indentation must survive: the YAML is read and
written with ruamel.yaml's round-trip mode (PyYAML drops every comment). Every edit is
validated by :func:`monitor.config.parse_config` before anything is written, and written
with temp file + rename, so a refused or failed edit leaves the file exactly as it was::

    starter_text()                         the commented starter config shipped in the package
    write_starter(path)                    `monitor init` (never overwrites)
    ConfigFile.load(path)                  .sources, .find_duplicate(name, url)
      .add(entries) / .remove(name)        -> the new text, validated
      .save()                              atomic write
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .config import Config, parse_config
from .errors import ConfigError
from .extract import normalize_url

__all__ = ["ConfigFile", "starter_text", "write_starter"]

#: (mapping, sequence, offset) indentations tried in turn: the first that reproduces the file
#: byte for byte is the file's own style, so an edit re-indents nothing.
_INDENTS = ((2, 4, 2), (2, 2, 0), (4, 4, 0), (4, 6, 2), (3, 3, 0))


def starter_text() -> str:
    """The starter config (``monitor/starter_config.yaml``, package data of the wheel)."""
    return resources.files("monitor").joinpath("starter_config.yaml").read_text(encoding="utf-8")


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_starter(path: Path) -> None:
    """Write the starter config to ``path``; an existing file is never overwritten."""
    if path.exists():
        raise ConfigError("", f"{path} already exists; not overwritten (monitor add URL adds a source to it)")
    atomic_write(path, starter_text())


def _yaml(indent: tuple[int, int, int]) -> YAML:
    y = YAML()  # round-trip
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long URL or comment
    m, s, o = indent
    y.indent(mapping=m, sequence=s, offset=o)
    return y


def _dump(y: YAML, doc: Any) -> str:
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


def _plain(value: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists, for :func:`parse_config`."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class ConfigFile:
    """A config file open for editing: its round-trip document and how to write it back."""

    path: Path
    text: str
    doc: CommentedMap
    yaml: YAML

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("", f"config file not found: {path} (monitor init writes a starter one)") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError("", f"cannot read config file {path}: {e}") from e
        y = _yaml(_INDENTS[0])
        try:
            doc = y.load(text)
        except YAMLError as e:
            raise ConfigError("", f"{path} is not valid YAML: {e}") from e
        if not isinstance(doc, CommentedMap):
            raise ConfigError("", f"{path} is not a mapping of settings")
        for indent in _INDENTS:
            candidate = _yaml(indent)
            if _dump(candidate, doc) == text:
                y = candidate
                break
        self = cls(path, text, doc, y)
        self.validate()  # an edit starts from a valid file: its errors are named before any change
        return self

    def validate(self) -> Config:
        return parse_config(_plain(self.doc), base_dir=self.path.resolve().parent, path=self.path)

    @property
    def sources(self) -> CommentedSeq:
        seq = self.doc.get("sources")
        if seq is None:
            seq = CommentedSeq()
            self.doc["sources"] = seq
        if not isinstance(seq, CommentedSeq):
            raise ConfigError("sources", "expected a list")
        return seq

    def find_duplicate(self, name: str, url: str) -> str | None:
        """Why a source named ``name`` watching ``url`` would repeat one already listed, or None."""
        key = normalize_url(url)
        for i, s in enumerate(self.sources):
            if s.get("name") == name:
                return f"a source named {name!r} is already listed (sources[{i}])"
            if isinstance(s.get("url"), str) and normalize_url(s["url"]) == key:
                return f"{url} is already watched as {s.get('name')!r} (sources[{i}])"
        return None

    def add(self, entries: Iterable[Mapping[str, Any]]) -> Config:
        """Append sources (in this order); refuses a repeated name or URL. Validated, not saved."""
        seq = self.sources
        for entry in entries:
            why = self.find_duplicate(str(entry["name"]), str(entry["url"]))
            if why:
                raise ConfigError(f"sources[{len(seq)}]", why)
            seq.append(CommentedMap(entry))
        if seq.fa.flow_style():  # `sources: []` of the starter config: the list grows as a block
            seq.fa.set_block_style()
        return self.validate()

    def remove(self, name: str) -> Config:
        """Take the source ``name`` out of the list. Validated, not saved."""
        seq = self.sources
        for i, s in enumerate(seq):
            if s.get("name") == name:
                del seq[i]
                if not seq:
                    seq.fa.set_flow_style()  # back to `sources: []`
                return self.validate()
        have = ", ".join(str(s.get("name")) for s in seq) or "none"
        raise ConfigError("sources", f"no source named {name!r} (have: {have})")

    def save(self) -> None:
        text = _dump(self.yaml, self.doc)
        atomic_write(self.path, text)
        self.text = text
