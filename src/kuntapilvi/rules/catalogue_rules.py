"""Rules on the catalogue itself: references between cards, images, templates, defaults."""

from __future__ import annotations

import string

from kuntapilvi import findings as fnd
from kuntapilvi import params as prm
from kuntapilvi.catalogue import Catalogue
from kuntapilvi.errors import Finding
from kuntapilvi.schema.adminports import ADMIN_PORTS
from kuntapilvi.schema.card import Lifecycle

# Names a host check may use in {placeholders} besides the card's own parameters.
CHECK_CONTEXT = frozenset(
    {"tenant_block", "tenant_domain", "base_dn", "smarthost_host", "smarthost_port", "hostname"}
)


def check(cat: Catalogue) -> list[Finding]:
    out: list[Finding] = []
    for card_id, card in cat.cards.items():
        doc = cat.card_docs[card_id]
        for i, req in enumerate(card.requires):
            if req not in cat.cards:
                out.append(
                    fnd.error(
                        "card.unknown-requirement",
                        doc,
                        ("requires", i),
                        f"requires unknown card '{req}'.",
                        "name an existing card id (see catalog/cards/) or remove the line",
                    )
                )
            elif req == card_id:
                out.append(
                    fnd.error(
                        "card.self-requirement",
                        doc,
                        ("requires", i),
                        "a card cannot require itself.",
                        "remove the line",
                    )
                )
        if card.replaced_by:
            target = cat.cards.get(card.replaced_by)
            if target is None:
                out.append(
                    fnd.error(
                        "card.unknown-replacement",
                        doc,
                        ("replaced_by",),
                        f"replaced_by names unknown card '{card.replaced_by}'.",
                        "name the active card tenants should move to",
                    )
                )
            elif target.status is not Lifecycle.ACTIVE:
                out.append(
                    fnd.error(
                        "card.inactive-replacement",
                        doc,
                        ("replaced_by",),
                        f"replacement '{card.replaced_by}' is {target.status}, not active.",
                        "point replaced_by at an active card",
                    )
                )
        if card.server is not None:
            if cat.centre is not None and cat.centre.image(card.server.image) is None:
                known = ", ".join(i.id for i in cat.centre.images)
                out.append(
                    fnd.error(
                        "card.unknown-image",
                        doc,
                        ("server", "image"),
                        f"image '{card.server.image}' is not in catalog/centre.yaml.",
                        f"use one of: {known}, or add the image to catalog/centre.yaml",
                    )
                )
            template = cat.paths.templates / card.server.template
            if not template.is_file():
                out.append(
                    fnd.error(
                        "card.missing-template",
                        doc,
                        ("server", "template"),
                        f"template templates/{card.server.template} does not exist.",
                        "add the template or name an existing one under templates/cloud-init/",
                    )
                )
        for name, param in card.parameters.items():
            if param.default is not None:
                issue = prm.problem(param, param.default)
                if issue:
                    out.append(
                        fnd.error(
                            "card.bad-default",
                            doc,
                            ("parameters", name, "default"),
                            f"the default of '{name}' {issue}.",
                            f"give a default that is {prm.describe(param)}",
                        )
                    )
        qp = card.pricing.quantity_parameter
        if qp and card.parameters[qp].type not in ("integer", "number"):
            out.append(
                fnd.error(
                    "card.quantity-type",
                    doc,
                    ("pricing", "quantity_parameter"),
                    f"quantity parameter '{qp}' is not a number.",
                    "count units with an integer or number parameter",
                )
            )
        if qp and card.parameters[qp].default is None and not card.parameters[qp].required:
            out.append(
                fnd.error(
                    "card.quantity-default",
                    doc,
                    ("parameters", qp),
                    f"quantity parameter '{qp}' has no default and is not required.",
                    "give it a default or make it required, so every adoption has a price",
                )
            )
        if card.host_checks is not None:
            out.extend(_check_placeholders(cat, card_id))
        out.extend(_check_admin_ports(cat, card_id))
    out.extend(_check_cycles(cat))
    return out


def _check_admin_ports(cat: Catalogue, card_id: str) -> list[Finding]:
    """The policy pack stops SSH/RDP to the world at preview; this says so at review time."""
    out = []
    card, doc = cat.cards[card_id], cat.card_docs[card_id]
    for i, port in enumerate(card.ports):
        if port.source != "world":
            continue
        for admin in ADMIN_PORTS:
            if (port.protocol, port.port) == (admin.protocol, admin.port):
                out.append(
                    fnd.error(
                        "card.admin-port-to-world",
                        doc,
                        ("ports", i, "source"),
                        f"{port.protocol}/{port.port} ({admin.service}) is open to the world; "
                        "the centre's policy admin-ports-closed-to-world refuses it.",
                        "use source: management (the centre's admin network) or source: wan",
                    )
                )
    return out


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _check_placeholders(cat: Catalogue, card_id: str) -> list[Finding]:
    card = cat.cards[card_id]
    doc = cat.card_docs[card_id]
    known = CHECK_CONTEXT | set(card.parameters)
    checks = card.host_checks
    assert checks is not None
    texts: list[tuple[tuple[str | int, ...], str]] = []
    for i, f in enumerate(checks.files):
        texts.append((("host_checks", "files", i, "path"), f.path))
        texts += [
            (("host_checks", "files", i, key), value)
            for key, value in (("owner", f.owner), ("group", f.group))
            if value is not None
        ]
        texts += [(("host_checks", "files", i, "contains", j), c) for j, c in enumerate(f.contains)]
    for i, c in enumerate(checks.commands):
        texts.append((("host_checks", "commands", i, "run"), c.run))
        if c.stdout_contains:
            texts.append((("host_checks", "commands", i, "stdout_contains"), c.stdout_contains))
    out: list[Finding] = []
    for loc, text in texts:
        try:
            unknown = _placeholders(text) - known
        except ValueError as exc:
            out.append(
                fnd.error(
                    "card.check-format",
                    doc,
                    loc,
                    f"bad placeholder syntax: {exc}.",
                    "write placeholders as {name}; double literal braces as {{ and }}",
                )
            )
            continue
        if unknown:
            out.append(
                fnd.error(
                    "card.check-placeholder",
                    doc,
                    loc,
                    f"unknown placeholder(s) {', '.join(sorted(unknown))}.",
                    f"use the card's parameters or one of: {', '.join(sorted(CHECK_CONTEXT))}",
                )
            )
    return out


def _check_cycles(cat: Catalogue) -> list[Finding]:
    out: list[Finding] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for req in cat.cards[node].requires:
            if req not in cat.cards:
                continue
            if state.get(req) == 1:
                cycle = [*trail[trail.index(req) :], req] if req in trail else [node, req]
                out.append(
                    fnd.error(
                        "card.requirement-cycle",
                        cat.card_docs[node],
                        ("requires",),
                        f"requirements form a cycle: {' -> '.join(cycle)}.",
                        "remove one of the requirements so the cards can be adopted in order",
                    )
                )
            elif req not in state:
                visit(req, [*trail, req])
        state[node] = 2

    for card_id in cat.cards:
        if card_id not in state:
            visit(card_id, [card_id])
    return out
