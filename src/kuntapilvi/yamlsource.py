"""YAML documents that remember where each value came from.

PyYAML's composer keeps a start mark on every node; walking the node tree once gives a map from
the value's path (a tuple of keys and list indexes) to its line. Errors can then name the line of
the field a user has to change, which the plain `safe_load` result cannot.
"""

from __future__ import annotations

import gc
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kuntapilvi.errors import InvalidInput

Path_ = tuple[str | int, ...]

# Limits on what a file may ask of the loader (docs/error-codes.md, "Limits"). Hand-written
# catalogue and stack files are far below them; a file above them is refused before it is built.
MAX_BYTES = 4 * 1024 * 1024
"""Largest file read, in bytes (a stack of 10,000 services is about 400 KB)."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings (the real files nest at most 8 levels)."""
MAX_NODES = 500_000
"""Most values a document may hold once every alias is expanded."""
MAX_ALIAS_NODES = 10_000
"""Most values that aliases (`*name`) may add by repeating an anchored value."""

# YAML forbids C0 controls except tab and line breaks, DEL and the C1 block (NEL aside); the
# reader refuses them without a line, so they are found here first, with it.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
# The same characters written as escapes in a double-quoted value ("\x7f", "\u0085"): the text
# check cannot see them, the value check does. Line breaks and tabs stay legal in values (a
# card's description); one-line fields refuse them in the schema.
_FORBIDDEN_VALUE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


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


class YamlError(InvalidInput):
    """A file that is not well-formed YAML; carries the line and a human message."""

    def __init__(self, file: str, line: int | None, message: str, fix: str | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        self.fix = fix
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {message}." + (f" Fix: {fix}" if fix else ""))


# libyaml's C parser keeps the same start marks on nodes and parses several times faster; the
# pure-Python loader is the fallback where PyYAML was built without it.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate keys: YAML silently keeps the last one otherwise."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._resolved: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # The tag of a plain value depends only on its text: remembered per document, since a
        # stack repeats the same keys and card ids thousands of times (PyYAML tries its regular
        # expressions for every occurrence).
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            tag = self._resolved[key] = super().resolve(kind, value, implicit)
        return tag


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    loader.flatten_mapping(node)  # merge keys (<<: *base) first, as SafeLoader does
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"a key must be plain text, not a {kind} (a '?' entry or a key in [] or {{}})",
                key_node.start_mark,
            )
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


def _check_limits(file: str, where: int, repeated: int, visits: int, depth: int) -> None:
    """The loader's limits, shared by both walks: alias expansion, values, nesting."""
    if repeated > MAX_ALIAS_NODES:
        raise YamlError(
            file,
            where,
            f"aliases (*name) repeat more than {MAX_ALIAS_NODES:,} values",
            "write the values out instead of repeating anchors (&name / *name)",
        )
    if visits > MAX_NODES:
        raise YamlError(
            file,
            where,
            f"the document holds more than {MAX_NODES:,} values",
            "split the content; a stack of 10,000 services stays far below the limit",
        )
    if depth >= MAX_DEPTH:
        raise YamlError(
            file,
            where,
            f"lists and mappings nested more than {MAX_DEPTH} levels deep",
            "flatten the structure; no catalogue or stack file needs that depth",
        )


def _walk(node: yaml.Node, file: str) -> dict[Path_, int]:
    """The line of every value, walked without recursion, and the limits on the way.

    An alias is the same node object reached twice, so repeated visits are what aliases expand
    to: they are counted, and an alias bomb stops at MAX_ALIAS_NODES instead of expanding."""
    lines: dict[Path_, int] = {}
    seen: set[int] = set()
    visits = 0
    # (node, its path, its depth, the line to record: the key's line for a mapping's value).
    todo: list[tuple[yaml.Node, Path_, int, int]] = [(node, (), 0, node.start_mark.line + 1)]
    while todo:
        current, path, depth, line = todo.pop()
        visits += 1
        seen.add(id(current))
        where = current.start_mark.line + 1
        _check_limits(file, where, visits - len(seen), visits, depth)
        lines[path] = line
        if isinstance(current, yaml.ScalarNode):
            bad = _FORBIDDEN_VALUE.search(current.value)
            if bad is not None:
                raise YamlError(
                    file,
                    where,
                    f"the value holds control character U+{ord(bad.group()):04X} (written as an "
                    "escape)",
                    "remove the escape sequence; values are printable text",
                )
        elif isinstance(current, yaml.MappingNode):
            for key_node, value_node in reversed(current.value):
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                # The key's own line is more useful than the value's for block values.
                todo.append((value_node, (*path, key), depth + 1, key_node.start_mark.line + 1))
        elif isinstance(current, yaml.SequenceNode):
            for index in range(len(current.value) - 1, -1, -1):
                item = current.value[index]
                todo.append((item, (*path, index), depth + 1, item.start_mark.line + 1))
    return lines


_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"


class _Fallback(Exception):
    """A node the fast builder leaves to PyYAML's constructor (a merge key, a !!set, …)."""


def _scalar(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    tag = node.tag
    if tag == _TAG + "str":
        return node.value
    if tag == _TAG + "int":
        return loader.construct_yaml_int(node)
    if tag == _TAG + "bool":
        return loader.construct_yaml_bool(node)
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "float":
        return loader.construct_yaml_float(node)
    raise _Fallback


def _build(loader: _UniqueKeyLoader, root: yaml.Node, file: str) -> tuple[Any, dict[Path_, int]]:
    """The data and the line of every value in one iterative walk over the node tree.

    PyYAML's own constructor spends most of a large stack's load time in its generic machinery;
    this builds the plain types the catalogue uses directly, with the same results (aliases share
    one object, duplicate and non-text keys refused), checks the limits on the way, and leaves
    anything else to PyYAML (_Fallback)."""
    lines: dict[Path_, int] = {}
    built: dict[int, Any] = {}
    visits = 0
    holder: list[Any] = [None]
    # (node, path, depth, line to record, container to fill or None for an alias's repeat, slot)
    todo: list[tuple[yaml.Node, Path_, int, int, Any, Any]] = [
        (root, (), 0, root.start_mark.line + 1, holder, 0)
    ]
    while todo:
        node, path, depth, line, container, slot = todo.pop()
        visits += 1
        nid = id(node)
        repeat = nid in built
        where = node.start_mark.line + 1
        _check_limits(file, where, visits - len(built) - (0 if repeat else 1), visits, depth)
        lines[path] = line
        if isinstance(node, yaml.ScalarNode):
            if repeat:
                value = built[nid]
            else:
                bad = _FORBIDDEN_VALUE.search(node.value)
                if bad is not None:
                    raise YamlError(
                        file,
                        where,
                        f"the value holds control character U+{ord(bad.group()):04X} (written "
                        "as an escape)",
                        "remove the escape sequence; values are printable text",
                    )
                value = built[nid] = _scalar(loader, node)
            if container is not None:
                container[slot] = value
        elif isinstance(node, yaml.MappingNode):
            if node.tag != _TAG + "map":
                raise _Fallback
            obj: Any = built[nid] if repeat else {}
            built[nid] = obj
            if container is not None:
                container[slot] = obj
            fill = None if repeat else obj
            entries = []
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"a key must be plain text, not a {kind} (a '?' entry or a key in [] "
                        "or {})",
                        key_node.start_mark,
                    )
                if key_node.tag == _MERGE:
                    raise _Fallback
                key = _scalar(loader, key_node)
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first on line {first[key]})",
                        key_node.start_mark,
                    )
                first[key] = key_node.start_mark.line + 1
                if fill is not None:
                    fill[key] = None  # keeps the file's key order
                entries.append(
                    (value_node, (*path, key_node.value), depth + 1, first[key], fill, key)
                )
            todo.extend(reversed(entries))
        elif isinstance(node, yaml.SequenceNode):
            if node.tag != _TAG + "seq":
                raise _Fallback
            items: Any = built[nid] if repeat else [None] * len(node.value)
            built[nid] = items
            if container is not None:
                container[slot] = items
            fill = None if repeat else items
            todo.extend(
                (item, (*path, index), depth + 1, item.start_mark.line + 1, fill, index)
                for index, item in reversed(list(enumerate(node.value)))
            )
    return holder[0], lines


def _check_text(text: str, file: str) -> None:
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise YamlError(
            file,
            line,
            f"control character U+{ord(bad.group()):04X} at column {column}; YAML files may "
            "hold only printable text, tabs and line breaks",
            "delete the invisible character (an editor showing control characters finds it)",
        )


def _fail(exc: yaml.YAMLError, file: str) -> YamlError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        return YamlError(file, line, f"not valid YAML: {problem}{context}")
    return YamlError(file, None, f"not valid YAML: {exc}")


def parse(text: str, file: str) -> Document:
    """Parse one YAML document; raise YamlError with the line on malformed input."""
    _check_text(text, file)
    # The cyclic garbage collector would scan the growing tree again and again while it is built
    # (more than half the load time of a large stack); nothing built here is a cycle to collect.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse(text, file)
    finally:
        if collecting:
            gc.enable()


def _parse(text: str, file: str) -> Document:
    try:
        # Compose once and construct from the same node tree: positions and values agree. The
        # limits are checked node by node as the data is built, so an alias bomb stops before
        # it expands; libyaml's composer shares an aliased node instead of copying it and stops
        # at 1,000 levels.
        loader = _UniqueKeyLoader(text)
        try:
            node = loader.get_single_node()
            data: Any = None
            lines: dict[Path_, int] = {}
            if node is not None:
                try:
                    data, lines = _build(loader, node, file)
                except _Fallback:
                    lines = _walk(node, file)
                    data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _fail(exc, file) from None
    except RecursionError:
        raise YamlError(
            file,
            None,
            f"lists and mappings nested more than {MAX_DEPTH} levels deep",
            "flatten the structure; no catalogue or stack file needs that depth",
        ) from None
    return Document(file=file, data=data, lines=lines)


def read_text(path: Path, display: str, root: Path | None = None) -> str:
    """A project file's text, or YamlError saying why it may not be read.

    Only regular files are read, at most MAX_BYTES of them: a FIFO would block forever and a
    device has no end. A symbolic link is followed only to a file inside `root` (the project),
    so a link to /etc/shadow or /dev/zero in a pull request is refused, not read."""
    try:
        if path.is_symlink():
            target = path.resolve()
            if root is not None and not target.is_relative_to(root.resolve()):
                raise YamlError(
                    display,
                    None,
                    "is a symbolic link to a file outside the project; it is not read",
                    "replace the link with the file itself (git rm the link, add the file)",
                )
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise YamlError(
                    display,
                    None,
                    "is not a regular file (a FIFO, a device or a folder); it is not read",
                    "replace it with a YAML file of that name, or remove it",
                )
            if info.st_size > MAX_BYTES:
                raise YamlError(
                    display,
                    None,
                    f"is {info.st_size:,} bytes, more than the limit of {MAX_BYTES:,}",
                    "shorten the file; a stack of 10,000 services is about 400 KB",
                )
            with os.fdopen(fd, "rb", closefd=False) as handle:
                raw = handle.read(MAX_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise YamlError(
            display, None, f"cannot be read: {exc.strerror}", "check the file's permissions"
        ) from None
    if len(raw) > MAX_BYTES:
        raise YamlError(
            display,
            None,
            f"is more than the limit of {MAX_BYTES:,} bytes",
            "shorten the file; a stack of 10,000 services is about 400 KB",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlError(
            display,
            line,
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} ({exc.reason})",
            "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from None


def load(path: Path, display: str, root: Path | None = None) -> Document:
    """Read and parse a file; unreadable, oversized or non-UTF-8 files raise YamlError too."""
    return parse(read_text(path, display, root), display)
