"""Read the config file's YAML: fast (libyaml when present) and strict about duplicate keys.

Why a module of its own: PyYAML's pure-Python ``SafeLoader`` spends ~0.1 s on a 300-source
config, libyaml's ``CSafeLoader`` ~0.01 s, and start-up is most of a cron run. Both silently keep
the *last* of two equal keys, so a second ``sources:`` block would replace the first and half the
sources would vanish without a word. The check lives in the constructor, which is Python code
shared by both loaders (libyaml only parses and composes), so it works with either and costs one
set per mapping. Where the duplicate sits (``sources[2].selectors``, line numbers) is worked out
only on the error path, by composing the document again.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ConfigError

__all__ = ["FAST", "load_yaml"]

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: True when libyaml's C parser is used (``pip install pyyaml`` wheels include it).
FAST = _Base is not yaml.SafeLoader
_MERGE = "tag:yaml.org,2002:merge"


class DuplicateKey(yaml.YAMLError):
    """A mapping holds the same key twice; ``node`` is that mapping, ``key`` the key node."""

    def __init__(self, node: MappingNode, key: ScalarNode, first: ScalarNode):
        self.node, self.key, self.first = node, key, first
        super().__init__(f"duplicate key {key.value!r}")


def _construct_mapping(self: Any, node: Node, deep: bool = False) -> dict[Any, Any]:
    if isinstance(node, MappingNode):
        seen: dict[tuple[str, str], ScalarNode] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                k = (key_node.tag, key_node.value)
                if k in seen:
                    raise DuplicateKey(node, key_node, seen[k])
                seen[k] = key_node
    return yaml.SafeLoader.construct_mapping(self, node, deep=deep)  # type: ignore[arg-type]


class StrictLoader(_Base):  # type: ignore[misc,valid-type]
    """``CSafeLoader`` (or ``SafeLoader``) that refuses duplicate mapping keys."""

    construct_mapping = _construct_mapping


class StrictPyLoader(yaml.SafeLoader):
    """The pure-Python loader with the same check (tests use it to cover both paths)."""

    construct_mapping = _construct_mapping


def _key_path(root: Node | None, target: MappingNode) -> str:
    """The dotted config path (``sources[1].selectors``) of the mapping that starts where
    ``target`` starts, or "" at the top."""

    def walk(node: Node, path: str) -> str | None:
        if (node.start_mark.index == target.start_mark.index and isinstance(node, MappingNode)):
            return path
        if isinstance(node, MappingNode):
            for k, v in node.value:
                name = k.value if isinstance(k, ScalarNode) else "?"
                found = walk(v, f"{path}.{name}" if path else str(name))
                if found is not None:
                    return found
        elif isinstance(node, SequenceNode):
            for i, v in enumerate(node.value):
                found = walk(v, f"{path}[{i}]")
                if found is not None:
                    return found
        return None

    return (walk(root, "") if root is not None else None) or ""


def load_yaml(text: str, path: Path, loader: type[Any] = StrictLoader) -> Any:
    """The document in ``text`` (read from ``path``, which error messages name).

    Raises :class:`ConfigError`: a syntax error names the file and its line; a duplicate key
    names the key's config path and both lines.
    """
    stream = io.StringIO(text)
    stream.name = str(path)  # so that libyaml's marks name the file
    try:
        return yaml.load(stream, Loader=loader)  # a SafeLoader subclass: safe
    except DuplicateKey as e:
        try:
            parent = _key_path(yaml.compose(text, Loader=loader), e.node)
        except yaml.YAMLError:
            parent = ""
        key = f"{parent}.{e.key.value}" if parent else str(e.key.value)
        raise ConfigError(key, f"duplicate key in {path} at line {e.key.start_mark.line + 1} (first at line "
                               f"{e.first.start_mark.line + 1}); a repeated key would silently replace "
                               "the first one") from None
    except yaml.YAMLError as e:
        raise ConfigError("", f"{path} is not valid YAML: {e}") from e
