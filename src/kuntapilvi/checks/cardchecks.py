"""A card's host checks as a flat list, with {placeholders} filled from one server's context.

Besides what the card lists, every server gets three checks of its own: it can be reached over
SSH, cloud-init finished without error, and systemd has no failed unit. Each tcp/udp port in
the card's `ports` must be listening on all IPv4 addresses, so sockets are not listed twice.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kuntapilvi.schema.card import Card

# Order of a host's checks: what makes later checks meaningful comes first.
BASELINE_KINDS = ("reachable", "cloud-init", "units")
CARD_KINDS = ("package", "service", "socket", "file", "mount", "command")


class PlaceholderError(ValueError):
    """A check names a placeholder that the server's context does not have."""


@dataclass(frozen=True)
class Check:
    kind: str  # one of BASELINE_KINDS + CARD_KINDS
    target: str  # what is checked, as people read it: a package name, a path, a command
    spec: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.target}"


def fill(text: str, context: Mapping[str, Any]) -> str:
    """TEXT with {name} replaced from CONTEXT; {{ and }} stay literal braces."""
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    missing = sorted(names - set(context))
    if missing:
        raise PlaceholderError(f"unknown placeholder(s) {', '.join(missing)} in {text!r}")
    return text.format_map({k: _text(v) for k, v in context.items()})


def _text(value: Any) -> str:
    # A list parameter (cidr-list) reads as the values separated by spaces, as configs write it.
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def port_sockets(card: Card) -> list[str]:
    return [
        f"{p.protocol}://0.0.0.0:{p.port}"
        for p in card.ports
        if p.protocol in ("tcp", "udp") and p.port is not None
    ]


def baseline_checks() -> list[Check]:
    return [
        Check("reachable", "ssh"),
        Check("cloud-init", "status done"),
        Check("units", "no failed systemd unit"),
    ]


def card_checks(card: Card, context: Mapping[str, Any]) -> list[Check]:
    """The card's checks for one server. Raises PlaceholderError (validate catches these)."""
    hc = card.host_checks
    if hc is None:
        return []
    checks = [Check("package", p) for p in hc.packages]
    checks += [Check("service", s) for s in hc.services]
    sockets = port_sockets(card) + [fill(s, context) for s in hc.sockets]
    checks += [Check("socket", s) for s in dict.fromkeys(sockets)]  # ordered, no repeats
    for f in hc.files:
        path = fill(f.path, context)
        spec: dict[str, Any] = {
            "path": path,
            "owner": fill(f.owner, context) if f.owner is not None else None,
            "group": fill(f.group, context) if f.group is not None else None,
            "mode": f.mode,
            "contains": [fill(c, context) for c in f.contains],
        }
        checks.append(Check("file", path, spec))
    for m in hc.mounts:
        path = fill(m.path, context)
        size_gib = None
        if m.size is not None:
            if context.get(m.size) is None:
                raise PlaceholderError(f"mount {path} is as large as {m.size}, which the "
                                       "service's size does not set")  # fmt: skip
            size_gib = int(context[m.size])
        checks.append(Check("mount", path, {"path": path, "filesystem": m.filesystem,
                                            "size_gib": size_gib}))  # fmt: skip
    for c in hc.commands:
        run = fill(c.run, context)
        spec = {
            "run": run,
            "exit_status": c.exit_status,
            "stdout_contains": (
                fill(c.stdout_contains, context) if c.stdout_contains is not None else None
            ),
        }
        checks.append(Check("command", run, spec))
    return checks


def host_checks(card: Card | None, context: Mapping[str, Any]) -> list[Check]:
    """Everything checked on one server: the baseline, then the card's own checks."""
    return baseline_checks() + (card_checks(card, context) if card is not None else [])
