"""Rules on one tenant's request; resolving it into a Tenant when it holds."""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
from collections import Counter
from typing import Any

from kuntapilvi import findings as fnd
from kuntapilvi import params as prm
from kuntapilvi.catalogue import Catalogue
from kuntapilvi.errors import Finding
from kuntapilvi.model import Service, Tenant
from kuntapilvi.rules import owner_rules
from kuntapilvi.schema.card import Card, Lifecycle
from kuntapilvi.schema.stack import TENANT_KEY, ServiceRequest
from kuntapilvi.stacks import TenantStack
from kuntapilvi.subnets import network_cidr

BASE = ("config", TENANT_KEY)


def today() -> dt.date:
    return dt.date.today()


def resolve(
    stack: TenantStack, cat: Catalogue, day: dt.date | None = None
) -> tuple[Tenant | None, list[Finding]]:
    """Check one tenant's request; return the resolved tenant when it has no errors."""
    assert cat.centre is not None and cat.owners is not None
    doc, req = stack.doc, stack.request
    out: list[Finding] = []

    owner = cat.owners.owner(req.owner)
    if owner is None:
        known = ", ".join(o.id for o in cat.owners.owners)
        out.append(
            fnd.error(
                "inhouse.not-owner",
                doc,
                (*BASE, "owner"),
                f"'{req.owner}' is not a registered owner of the centre; the centre serves only "
                "its owners (in-house rule).",
                f"use the owner id from catalog/owners.yaml ({known}), or register the "
                "organisation as an owner first",
            )
        )
    else:
        out.extend(owner_rules.stack_owner_findings(owner, doc, (*BASE, "owner"), day or today()))

    region = cat.centre.region(req.region)
    if region is None:
        known = ", ".join(r.id for r in cat.centre.regions)
        out.append(
            fnd.error(
                "stack.unknown-region",
                doc,
                (*BASE, "region"),
                f"region '{req.region}' is not one of the centre's regions.",
                f"use one of: {known}",
            )
        )

    block = ipaddress.IPv4Network(req.address_block)
    space = ipaddress.IPv4Network(cat.centre.address_space)
    lo, hi = cat.centre.tenant_block_prefix
    if not block.subnet_of(space):
        out.append(
            fnd.error(
                "address.outside-space",
                doc,
                (*BASE, "address_block"),
                f"{block} is outside the centre's private space {space}.",
                f"choose a free block inside {space} (kuntapilvi capacity lists the used ones)",
            )
        )
    elif not lo <= block.prefixlen <= hi:
        out.append(
            fnd.error(
                "address.block-size",
                doc,
                (*BASE, "address_block"),
                f"a /{block.prefixlen} block is outside the allowed sizes /{lo}../{hi}.",
                f"ask for a block between /{lo} and /{hi}",
            )
        )

    services = _resolve_services(stack, cat, block, out)
    tenant_ok = not any(f.severity == "error" for f in out)
    if not tenant_ok or owner is None or region is None:
        return None, out
    domain = f"{stack.name}.{cat.centre.domain}"
    return Tenant(stack.name, doc.file, owner, region, block, domain, tuple(services)), out


def _resolve_services(
    stack: TenantStack, cat: Catalogue, block: ipaddress.IPv4Network, out: list[Finding]
) -> list[Service]:
    doc = stack.doc
    services: list[Service] = []
    for i, sreq in enumerate(stack.request.services):
        loc = (*BASE, "services", i)
        card = cat.cards.get(sreq.card)
        if card is None:
            out.append(_unknown_card(doc, loc, sreq.card, cat))
            continue
        if card.status is Lifecycle.DRAFT:
            out.append(
                fnd.error(
                    "service.draft-card",
                    doc,
                    (*loc, "card"),
                    f"card '{card.id}' is a draft and cannot be ordered yet.",
                    "wait until the catalogue editors publish it, or pick an active card",
                )
            )
            continue
        if card.status is Lifecycle.DEPRECATED:
            out.append(
                fnd.warning(
                    "service.deprecated-card",
                    doc,
                    (*loc, "card"),
                    f"card '{card.id}' is deprecated; it still provisions but is being withdrawn.",
                    f"move to '{card.replaced_by}' before the next agreement period",
                )
            )
        size_name, size = _resolve_size(doc, loc, sreq, card, out)
        params = _resolve_params(doc, loc, sreq, card, out)
        name = sreq.name or card.id.split(".", 1)[1]
        services.append(Service(i, card, name, size_name, size, params, sreq.start))

    _check_instances(stack, services, out)
    _check_requirements(stack, services, cat, out)
    _check_references(stack, services, block, out)
    return services


def _unknown_card(doc: Any, loc: tuple[str | int, ...], card_id: str, cat: Catalogue) -> Finding:
    broken = cat.broken_cards.get(card_id)
    if broken is not None:
        return fnd.error(
            "service.broken-card",
            doc,
            (*loc, "card"),
            f"card '{card_id}' could not be loaded because {broken} has errors.",
            f"fix the errors reported for {broken} first (a catalogue editor's task)",
        )
    close = difflib.get_close_matches(card_id, list(cat.cards), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return fnd.error(
        "service.unknown-card",
        doc,
        (*loc, "card"),
        f"there is no card '{card_id}' in the catalogue.",
        f"{hint}use a card id from catalog/cards/<family>/<name>.yaml (the id is "
        "<family>.<name>; 'ls catalog/cards/*/' lists them)",
    )


def _resolve_size(
    doc: Any, loc: tuple[str | int, ...], sreq: ServiceRequest, card: Card, out: list[Finding]
) -> tuple[str | None, Any]:
    if not card.sizes:
        if sreq.size is not None:
            out.append(
                fnd.error(
                    "service.size-not-offered",
                    doc,
                    (*loc, "size"),
                    f"card '{card.id}' has no sizes.",
                    "remove the size line",
                )
            )
        return None, None
    name = sreq.size or card.default_size
    if name is None:
        out.append(
            fnd.error(
                "service.size-missing",
                doc,
                loc,
                f"card '{card.id}' needs a size.",
                f"add 'size:' with one of: {', '.join(card.sizes)}",
            )
        )
        return None, None
    if name not in card.sizes:
        out.append(
            fnd.error(
                "service.unknown-size",
                doc,
                (*loc, "size"),
                f"card '{card.id}' has no size '{name}'.",
                f"use one of: {', '.join(card.sizes)}",
            )
        )
        return None, None
    return name, card.sizes[name]


def _resolve_params(
    doc: Any, loc: tuple[str | int, ...], sreq: ServiceRequest, card: Card, out: list[Finding]
) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in sreq.params.items():
        if key not in card.parameters:
            known = ", ".join(card.parameters) or "none"
            out.append(
                fnd.error(
                    "service.unknown-param",
                    doc,
                    (*loc, "params", key),
                    f"card '{card.id}' has no parameter '{key}'.",
                    f"remove it; the card's parameters are: {known}",
                )
            )
            continue
        issue = prm.problem(card.parameters[key], value)
        if issue:
            out.append(
                fnd.error(
                    "service.bad-param",
                    doc,
                    (*loc, "params", key),
                    f"'{key}' {issue} (got {_shown(value)}).",
                    f"give a value that is {prm.describe(card.parameters[key])}",
                )
            )
            continue
        resolved[key] = value
    for key, param in card.parameters.items():
        if key in sreq.params:
            continue
        if param.required:
            out.append(
                fnd.error(
                    "service.missing-param",
                    doc,
                    (*loc, "params"),
                    f"card '{card.id}' needs parameter '{key}'.",
                    f"add 'params: {{{key}: ...}}' ({prm.describe(param)})",
                )
            )
        elif param.default is not None:
            resolved[key] = param.default
    return resolved


def _shown(value: Any) -> str:
    """A value as quoted in a message: repr, so control characters show as escapes, and short."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:70]}… ({len(text)} characters)"


def _check_instances(stack: TenantStack, services: list[Service], out: list[Finding]) -> None:
    per_card = Counter(s.card.id for s in services)
    names = Counter(s.key for s in services)
    for s in services:
        loc = (*BASE, "services", s.index)
        limit = s.card.max_per_tenant
        if limit is not None and per_card[s.card.id] > limit:
            out.append(
                fnd.error(
                    "service.too-many",
                    stack.doc,
                    (*loc, "card"),
                    f"card '{s.card.id}' may be adopted {limit} time(s) per tenant, "
                    f"this stack has {per_card[s.card.id]}.",
                    "remove the extra entries (change the size instead of adding another)",
                )
            )
        elif names[s.key] > 1:
            out.append(
                fnd.error(
                    "service.duplicate-name",
                    stack.doc,
                    (*loc, "name"),
                    f"two '{s.card.id}' services are both named '{s.name}'.",
                    "give each instance its own 'name:' (lower-case letters, digits, hyphens)",
                )
            )


def _check_requirements(
    stack: TenantStack, services: list[Service], cat: Catalogue, out: list[Finding]
) -> None:
    # Who provides each card (a deprecated card also provides the card that replaces it),
    # indexed once: a requirement is looked up, not searched for, so
    # the check stays linear in the number of services (bench/validate.py).
    providing: dict[str, list[Service]] = {}
    for p in services:
        providing.setdefault(p.card.id, []).append(p)
        if p.card.replaced_by is not None and p.card.replaced_by != p.card.id:
            providing.setdefault(p.card.replaced_by, []).append(p)
    for s in services:
        for req in s.card.requires:
            providers = providing.get(req, [])
            loc = (*BASE, "services", s.index, "card")
            if not providers:
                title = cat.cards[req].title.fi if req in cat.cards else req
                out.append(
                    fnd.error(
                        "service.missing-requirement",
                        stack.doc,
                        loc,
                        f"'{s.card.id}' requires '{req}' ({title}), which this stack does not "
                        "adopt.",
                        f"add '- card: {req}' to services",
                    )
                )
            elif s.start is not None and all(
                p.start is not None and p.start > s.start for p in providers
            ):
                out.append(
                    fnd.error(
                        "service.requirement-starts-later",
                        stack.doc,
                        (*BASE, "services", s.index, "start"),
                        f"'{s.card.id}' starts {s.start} but its requirement '{req}' starts later.",
                        f"start '{s.card.id}' on or after {min(p.start for p in providers)}"  # type: ignore[type-var]
                        f" or move '{req}' earlier",
                    )
                )


def _check_references(
    stack: TenantStack,
    services: list[Service],
    block: ipaddress.IPv4Network,
    out: list[Finding],
) -> None:
    networks = [s for s in services if s.card.module == "network.tenant"]
    servers = {s.name for s in services if s.card.server is not None}
    net_names = {s.name for s in networks}
    for n, net in enumerate(networks):
        loc = (*BASE, "services", net.index, "params", "cidr")
        cidr = net.params.get("cidr")
        if cidr is None:
            if n > 0:
                out.append(
                    fnd.error(
                        "network.cidr-needed",
                        stack.doc,
                        (*BASE, "services", net.index),
                        "only the first tenant network takes the block's first /24 by itself.",
                        "give this network 'params: {cidr: <a /24 inside your block>}'",
                    )
                )
            continue
        subnet = ipaddress.IPv4Network(cidr)
        if not subnet.subnet_of(block):
            out.append(
                fnd.error(
                    "network.outside-block",
                    stack.doc,
                    loc,
                    f"{subnet} is outside the tenant's block {block}.",
                    f"choose a subnet inside {block}",
                )
            )
    subnets = [(s, network_cidr(s, block)) for s in networks]
    for i, (a, ca) in enumerate(subnets):
        for b, cb in subnets[i + 1 :]:
            if ca is not None and cb is not None and ca.overlaps(cb):
                out.append(
                    fnd.error(
                        "network.overlap",
                        stack.doc,
                        (*BASE, "services", b.index),
                        f"network '{b.name}' ({cb}) overlaps network '{a.name}' ({ca}).",
                        "give each network its own subnet",
                    )
                )
    for s in services:
        for key, pool, what in (
            ("network", net_names, "tenant network"),
            ("attach_to", servers, "server"),
        ):
            ref = s.params.get(key)
            if ref is not None and ref not in pool:
                known = ", ".join(sorted(pool)) or "none in this stack"
                out.append(
                    fnd.error(
                        "service.unknown-reference",
                        stack.doc,
                        (*BASE, "services", s.index, "params", key),
                        f"'{ref}' is not a {what} of this stack.",
                        f"use the name of one of: {known}",
                    )
                )
