"""Checking a service's parameters against the card's typed parameter declarations."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kuntapilvi.schema.card import Parameter
from kuntapilvi.schema.common import CONTROL, DNS_LABEL, describe_control

WORLD_PREFIX = 8
"""A network shorter than /8 (0.0.0.0/0, the halves 0.0.0.0/1 and 128.0.0.0/1, …) is a default
route or a large part of the internet: as a relay's clients or a WAN route it opens the tenant
to the world. Refused unless the card's parameter sets allow_world."""


def _cidr_problem(param: Parameter, value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a network in CIDR form, e.g. 10.64.16.0/24"
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        return f"{value!r} is not an IPv4 network in CIDR form ({exc})"
    if net.prefixlen < WORLD_PREFIX and not param.allow_world:
        what = "the default route" if net.prefixlen == 0 else "a large part of the internet"
        return f"{value!r} is {what}, which would open this service to the world"
    return None


def _text_problem(value: str) -> str | None:
    bad = CONTROL.search(value)
    if bad is not None:
        return f"holds {describe_control(bad.group())}; a parameter is one line of printable text"
    return None


# A forge handle; its login on the tenant's servers is adm-<handle>, so it can never be a system
# account (root, backup, ...) and stays within Linux's 32 characters.
ADMIN_HANDLE = re.compile(r"^[a-z][a-z0-9-]{0,27}$")
SSH_PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) "
    r"[A-Za-z0-9+/]+={0,3}( [^\n\r]{0,200})?$"
)


def _admin_list_problem(value: Any, max_items: int | None) -> str | None:
    if not isinstance(value, list):
        return "must be a list of {handle: ..., ssh_key: ...}"
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"handle", "ssh_key"}:
            return f"item {i + 1} must have exactly the keys handle and ssh_key"
        handle, key = item["handle"], item["ssh_key"]
        if not isinstance(handle, str) or not ADMIN_HANDLE.match(handle):
            return (f"item {i + 1}: handle {handle!r} must be a forge handle in lower case "
                    "(letters, digits, hyphens, at most 28)")  # fmt: skip
        if handle in seen:
            return f"item {i + 1}: handle {handle!r} is listed twice"
        seen.add(handle)
        if not isinstance(key, str) or not SSH_PUBLIC_KEY.match(key):
            return (f"item {i + 1}: ssh_key of {handle!r} is not one OpenSSH public key line "
                    "(ssh-ed25519 AAAA... comment); never give a private key")  # fmt: skip
    if max_items is not None and len(value) > max_items:
        return f"may hold at most {max_items} administrators"
    return None


# A staff account's login (user.accounts): uid=<uid> in the directory, the IMAP login and the
# local part of <uid>@<tenant domain>. Lower case, so the same person is never two accounts.
ACCOUNT_UID = re.compile(r"^[a-z][a-z0-9._-]{0,30}[a-z0-9]$|^[a-z]$")
# A group in the directory (ou=ryhmat): cn=<group>, a posixGroup.
ACCOUNT_GROUP = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
ACCOUNT_KEYS = {"uid", "name"}
ACCOUNT_OPTIONAL = {"groups"}
MAX_GROUPS_PER_ACCOUNT = 20


def _account_problem(i: int, item: Any, seen: set[str]) -> str | None:
    if not isinstance(item, dict) or not set(item) >= ACCOUNT_KEYS or (
        set(item) - ACCOUNT_KEYS - ACCOUNT_OPTIONAL
    ):
        return f"item {i}: must have the keys uid and name, and optionally groups"
    uid, name, groups = item["uid"], item["name"], item.get("groups", [])
    if not isinstance(uid, str) or not ACCOUNT_UID.match(uid):
        return (f"item {i}: uid {uid!r} must be a login in lower case (letters, digits, '.', "
                "'_', '-'; starts with a letter, at most 32)")  # fmt: skip
    if uid in seen:
        return f"item {i}: uid {uid!r} is listed twice"
    seen.add(uid)
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        return f"item {i}: name of {uid!r} must be the person's name, 1 to 64 characters"
    issue = _text_problem(name)
    if issue:
        return f"item {i}: name of {uid!r} {issue}"
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS_PER_ACCOUNT:
        return f"item {i}: groups of {uid!r} must be a list of at most {MAX_GROUPS_PER_ACCOUNT}"
    for group in groups:
        if not isinstance(group, str) or not ACCOUNT_GROUP.match(group):
            return (f"item {i}: group {group!r} of {uid!r} must be a name in lower case "
                    "(letters, digits, hyphens, at most 32)")  # fmt: skip
    if len(set(groups)) != len(groups):
        return f"item {i}: groups of {uid!r} name a group twice"
    return None


def _account_list_problem(value: Any, max_items: int | None) -> str | None:
    if not isinstance(value, list):
        return "must be a list of {uid: ..., name: ..., groups: [...]}"
    seen: set[str] = set()
    for i, item in enumerate(value, start=1):
        issue = _account_problem(i, item, seen)
        if issue:
            return issue
    if max_items is not None and len(value) > max_items:
        return f"may hold at most {max_items} accounts"
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
        issue = _text_problem(value)
        if issue:
            return issue
        if kind == "dns-label" and not DNS_LABEL.match(value):
            return "must be a name of lower-case letters, digits and hyphens (max 63)"
    elif kind == "cidr":
        return _cidr_problem(param, value)
    elif kind == "admin-list":
        return _admin_list_problem(value, param.max_items)
    elif kind == "account-list":
        return _account_list_problem(value, param.max_items)
    elif kind == "cidr-list":
        if not isinstance(value, list):
            return "must be a list of networks, e.g. [10.1.0.0/16]"
        for item in value:
            issue = _cidr_problem(param, item)
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
    ):  # the card's schema makes sure the pattern compiles
        return f"must match the pattern {param.pattern}"
    if param.choices is not None and value not in param.choices:
        return f"must be one of {', '.join(map(str, param.choices))}"
    return None


def describe(param: Parameter) -> str:
    """A short statement of what is accepted, for fixes."""
    parts: list[str] = [param.type]
    if param.type in ("cidr", "cidr-list") and not param.allow_world:
        parts.append(f"networks of /{WORLD_PREFIX} or longer, e.g. 10.1.0.0/16 (never 0.0.0.0/0)")
    if param.minimum is not None or param.maximum is not None:
        lo = "" if param.minimum is None else f"{param.minimum:g}"
        hi = "" if param.maximum is None else f"{param.maximum:g}"
        parts.append(f"{lo}..{hi}")
    if param.choices:
        parts.append("one of " + ", ".join(map(str, param.choices)))
    if param.pattern:
        parts.append(f"pattern {param.pattern}")
    return ", ".join(parts)
