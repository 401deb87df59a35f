"""YAML documents that remember where each value came from.

PyYAML's composer keeps a start mark on every node; walking the node tree once gives a map from
the value's path (a tuple of keys and list indexes) to its line. Errors can then name the line of
the field a user has to change, which the plain `safe_load` result cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(slots=True)
class Document:
    """The parsed data of one YAML file plus the line of every value in it."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest existing prefix of `path` (a missing key points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class YamlError(Exception):
    """A file that is not well-formed YAML; carries the line and a human message."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        super().__init__(f"{file}:{line}: {message}")


# libyaml's C parser keeps the same start marks on nodes and parses several times faster; the
# pure-Python loader is the fallback where PyYAML was built without it.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate keys: YAML silently keeps the last one otherwise."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# Dates stay strings until the schema parses them: YAML's own date resolution turns "2027-13-01"
# into an error without a path, and pydantic reports it better.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines)
            # The key's own line is more useful than the value's for block values.
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines)


def parse(text: str, file: str) -> Document:
    """Parse one YAML document; raise YamlError with the line on malformed input."""
    try:
        # Compose once and construct from the same node tree: positions and values agree.
        loader = _UniqueKeyLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise YamlError(file, line, f"not valid YAML: {problem}{context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(file, None, f"not valid YAML: {exc}") from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return Document(file=file, data=data, lines=lines)


def load(path: Path, display: str) -> Document:
    """Read and parse a file; unreadable or non-UTF-8 files raise YamlError too."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(display, None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise YamlError(display, None, f"cannot be read: {exc.strerror}") from None
    return parse(text, display)
