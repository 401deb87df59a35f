"""Checking a service's parameters against the card's typed parameter declarations."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kuntapilvi.schema.card import Parameter
from kuntapilvi.schema.common import DNS_LABEL


def _cidr_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a network in CIDR form, e.g. 10.64.16.0/24"
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        return f"{value!r} is not an IPv4 network in CIDR form ({exc})"
    return None


def problem(param: Parameter, value: Any) -> str | None:
    """Why `value` is not acceptable for `param`, or None."""
    kind = param.type
    if kind == "boolean":
        if not isinstance(value, bool):
            return "must be true or false"
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
    elif kind in ("string", "dns-label"):
        if not isinstance(value, str):
            return "must be text"
        if kind == "dns-label" and not DNS_LABEL.match(value):
            return "must be a name of lower-case letters, digits and hyphens (max 63)"
    elif kind == "cidr":
        return _cidr_problem(value)
    elif kind == "cidr-list":
        if not isinstance(value, list):
            return "must be a list of networks, e.g. [10.1.0.0/16]"
        for item in value:
            issue = _cidr_problem(item)
            if issue:
                return f"item {issue}"
        if param.max_items is not None and len(value) > param.max_items:
            return f"may hold at most {param.max_items} networks"
    if kind in ("integer", "number"):
        if param.minimum is not None and value < param.minimum:
            return f"must be at least {param.minimum:g}"
        if param.maximum is not None and value > param.maximum:
            return f"must be at most {param.maximum:g}"
    if (
        param.pattern is not None
        and isinstance(value, str)
        and not re.fullmatch(param.pattern, value)
    ):
        return f"must match the pattern {param.pattern}"
    if param.choices is not None and value not in param.choices:
        return f"must be one of {', '.join(map(str, param.choices))}"
    return None


def describe(param: Parameter) -> str:
    """A short statement of what is accepted, for fixes."""
    parts: list[str] = [param.type]
    if param.minimum is not None or param.maximum is not None:
        lo = "" if param.minimum is None else f"{param.minimum:g}"
        hi = "" if param.maximum is None else f"{param.maximum:g}"
        parts.append(f"{lo}..{hi}")
    if param.choices:
        parts.append("one of " + ", ".join(map(str, param.choices)))
    if param.pattern:
        parts.append(f"pattern {param.pattern}")
    return ", ".join(parts)
