"""Turn schema and YAML errors into findings that name file, line, field and a fix."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from kuntapilvi.errors import Finding, Severity
from kuntapilvi.yamlsource import Document, YamlError

Loc = tuple[str | int, ...]


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def error(code: str, doc: Document | str, loc: Loc, message: str, fix: str) -> Finding:
    return _make(Severity.ERROR, code, doc, loc, message, fix)


def warning(code: str, doc: Document | str, loc: Loc, message: str, fix: str) -> Finding:
    return _make(Severity.WARNING, code, doc, loc, message, fix)


def _make(
    severity: Severity, code: str, doc: Document | str, loc: Loc, message: str, fix: str
) -> Finding:
    if isinstance(doc, Document):
        # An empty document has no nodes; its first line is still the place to look.
        file, line = doc.file, doc.line_of(loc) or 1
    else:
        file, line = doc, None
    return Finding(severity, code, file, line, dotted(loc), message, fix)


def from_yaml_error(exc: YamlError) -> Finding:
    return Finding(
        Severity.ERROR,
        "yaml",
        exc.file,
        exc.line,
        "",
        exc.message + ".",
        exc.fix
        or "fix the YAML syntax at that line (indentation, quotes, colons); an editor with the "
        "YAML language server shows it while you type",
    )


def _unwrap(annotation: Any) -> list[Any]:
    """Candidate model classes inside Optional/list/dict/Annotated annotations."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    return [annotation]


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            # A dict key (e.g. a size name) keeps the dict's value model as the current one.
            continue
        candidates = [
            c for c in _unwrap(field.annotation) if isinstance(c, type) and issubclass(c, BaseModel)
        ]
        model = candidates[0] if candidates else None
    return model


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items() if name != "schema_"]


def _fix_for(err: Mapping[str, Any], root: type[BaseModel], loc: Loc) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    name = str(loc[-1]) if loc else "the value"
    if kind == "missing":
        return f"add '{name}' here"
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = _field_names(model) if model else []
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        listing = f"allowed keys: {', '.join(allowed)}" if allowed else "remove it"
        return f"{hint}remove or rename '{name}' ({listing})"
    if kind == "string_pattern_mismatch":
        return f"write a value matching the pattern {ctx.get('pattern')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "write a whole number without quotes"
    if kind in ("float_type", "float_parsing", "decimal_type", "decimal_parsing"):
        return "write a number without quotes, with a dot as the decimal separator"
    if kind in ("bool_type", "bool_parsing"):
        return "write true or false"
    if kind in ("string_type",):
        return "write text (quote it if it looks like a number or date)"
    if kind in ("date_type", "date_parsing", "date_from_datetime_parsing"):
        return "write a date as YYYY-MM-DD, e.g. 2027-03-01"
    if kind in ("list_type", "tuple_type"):
        return "write a list (one '- item' per line, or [a, b])"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "write a mapping of 'key: value' lines here"
    if kind in ("literal_error", "enum"):
        return f"use one of: {ctx.get('expected')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return "use a value inside the allowed range"
    if kind in ("too_short", "too_long"):
        return "change the number of items as the message says"
    if kind == "decimal_max_places":
        return "use at most two decimals for euro amounts"
    return "correct the value as the message says"


def _document_loc(raw: Loc, doc: Document, base: Loc) -> Loc:
    """Pydantic's location minus the union-member tags (e.g. 'list[str]') it inserts.

    A part is kept when it is a real key or index of the document at that point, so a key that
    merely looks like a tag (say '[') is still shown."""
    node: Any = doc.data
    for part in base:
        node = node.get(part) if isinstance(node, dict) else None
    kept: list[str | int] = []
    for part in raw:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]  # type: ignore[index]
        elif isinstance(part, str) and ("[" in part or part in _TAGS):
            continue
        else:
            node = None
        kept.append(part)
    return tuple(kept)


_TAGS = frozenset({"str", "int", "float", "bool", "none", "date", "decimal", "list", "dict"})


def from_validation_error(
    exc: ValidationError, doc: Document, root: type[BaseModel], base: Loc = ()
) -> list[Finding]:
    """One finding per schema error; `base` is where the validated object sits in the file."""
    findings = []
    for err in exc.errors(include_url=False):
        loc = _document_loc(err["loc"], doc, base)
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        fix = _fix_for(err, root, loc)
        # A validator that knows the fix says it after " Fix: " in its message.
        if " Fix: " in message:
            message, fix = message.split(" Fix: ", 1)
        last = loc[-1] if loc else "value"
        if err["type"] == "extra_forbidden":
            message = f"unknown key '{last}'"
        elif err["type"] == "missing":
            message = f"required key '{last}' is missing"
        else:
            shown = err.get("input")
            if isinstance(shown, str | int | float) and not isinstance(shown, bool):
                message = f"{message} (got {shown!r})"
        full = (*base, *loc)
        findings.append(error(f"schema.{err['type']}", doc, full, f"{message}.", fix))
    return findings
