"""Rules on the owner register (share subscription, uniqueness, who the centre itself is) and
on whether an owner may have a stack on a given day (the in-house rule)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from kuntapilvi import findings as fnd
from kuntapilvi.catalogue import OWNERS_FILE, Catalogue
from kuntapilvi.errors import Finding
from kuntapilvi.findings import Loc
from kuntapilvi.schema.owners import Owner, OwnerKind, OwnerStatus
from kuntapilvi.yamlsource import Document


def check(cat: Catalogue) -> list[Finding]:
    if cat.owners is None:
        return []
    doc = cat.docs[OWNERS_FILE]
    out: list[Finding] = []
    for field in ("id", "business_id", "municipality_code"):
        counts = Counter(getattr(o, field) for o in cat.owners.owners)
        for i, owner in enumerate(cat.owners.owners):
            value = getattr(owner, field)
            if value is not None and counts[value] > 1:
                out.append(
                    fnd.error(
                        "owner.duplicate",
                        doc,
                        ("owners", i, field),
                        f"{field} '{value}' appears {counts[value]} times in the register.",
                        "each owner is registered once; merge or correct the duplicate entries",
                    )
                )
    for i, owner in enumerate(cat.owners.owners):
        loc = ("owners", i, "shares", "subscribed")
        if owner.kind is OwnerKind.MUNICIPALITY:
            assert owner.population is not None
            if owner.shares.subscribed != owner.population.residents:
                out.append(
                    fnd.error(
                        "owner.shares-per-resident",
                        doc,
                        loc,
                        f"{owner.name} has {owner.population.residents} residents but "
                        f"subscribed {owner.shares.subscribed} shares.",
                        "a municipality subscribes one share per resident: set subscribed to "
                        f"{owner.population.residents}",
                    )
                )
        elif owner.shares.subscribed != 1:
            out.append(
                fnd.error(
                    "owner.single-share",
                    doc,
                    loc,
                    f"a {owner.kind} holds one share, not {owner.shares.subscribed}.",
                    "set shares.subscribed to 1",
                )
            )
        if owner.status is OwnerStatus.ACTIVE and owner.shares.registered is None:
            out.append(
                fnd.warning(
                    "owner.unregistered",
                    doc,
                    ("owners", i, "shares"),
                    f"{owner.name}'s shares are not yet entered in the Trade Register; it can "
                    "have no stack until they are.",
                    "set shares.registered to the registration date when the Trade Register "
                    "has entered the shares",
                )
            )
        decision = owner.shares.price_decision
        if decision is not None:
            found = cat.owners.decision(decision)
            tier = cat.owners.price_for(owner.joined)
            if found is None:
                known = ", ".join(d.id for d in cat.owners.price_decisions) or "none recorded"
                out.append(
                    fnd.error(
                        "owner.unknown-price-decision",
                        doc,
                        ("owners", i, "shares", "price_decision"),
                        f"no general-meeting decision '{decision}' in price_decisions ({known}).",
                        "record the decision under price_decisions or remove price_decision",
                    )
                )
            elif found.eur_per_share >= tier:
                out.append(
                    fnd.error(
                        "owner.price-decision-not-lower",
                        doc,
                        ("owners", i, "shares", "price_decision"),
                        f"decision '{decision}' sets {found.eur_per_share} €/share, not lower "
                        f"than the tier price {tier} € of the joining date.",
                        "a general meeting may only lower the price; remove price_decision",
                    )
                )
        if cat.centre is not None and owner.business_id == cat.centre.business_id:
            out.append(
                fnd.error(
                    "owner.is-centre",
                    doc,
                    ("owners", i, "business_id"),
                    f"{owner.name} is the centre's own company ({cat.centre.name}); a company "
                    "is not an owner of itself.",
                    "remove this row from the owner register",
                )
            )
    return out


def stack_owner_findings(
    owner: Owner, doc: Document | str, loc: Loc, day: dt.date
) -> list[Finding]:
    """Why `owner` may not have a stack on `day` (in-house rule); empty when it may."""
    if owner.status is not OwnerStatus.ACTIVE:
        return [
            fnd.error(
                "inhouse.owner-not-active",
                doc,
                loc,
                f"{owner.name} is {owner.status} since {owner.ended}; the centre serves only "
                "active owners (in-house rule).",
                "remove this stack (pulumi destroy, then delete the file) or move its services "
                "to the active owner that took over",
            )
        ]
    if owner.joined > day:
        return [
            fnd.error(
                "inhouse.owner-not-joined",
                doc,
                loc,
                f"{owner.name} joins the centre on {owner.joined}; it is not an owner on {day}.",
                "open the pull request for this stack after the joining date",
            )
        ]
    registered = owner.shares.registered
    if registered is None or registered > day:
        when = f"on {registered}" if registered else "not yet"
        return [
            fnd.error(
                "inhouse.unregistered-shares",
                doc,
                loc,
                f"{owner.name}'s shares are entered in the Trade Register {when}; only owners "
                "whose shares are registered may have a stack (in-house rule).",
                "the account manager sets shares.registered in catalog/owners.yaml once the "
                "Trade Register has entered them",
            )
        ]
    return []
