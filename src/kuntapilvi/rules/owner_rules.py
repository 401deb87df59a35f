"""Rules on the owner register: share subscription and uniqueness."""

from __future__ import annotations

from collections import Counter

from kuntapilvi import findings as fnd
from kuntapilvi.catalogue import OWNERS_FILE, Catalogue
from kuntapilvi.errors import Finding
from kuntapilvi.schema.owners import OwnerKind


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
        if owner.shares.paid < owner.shares.subscribed:
            out.append(
                fnd.warning(
                    "owner.unpaid",
                    doc,
                    ("owners", i, "shares", "paid"),
                    f"{owner.name} has paid {owner.shares.paid} of "
                    f"{owner.shares.subscribed} shares; it can have no stack until paid.",
                    "record the payment when it arrives",
                )
            )
    return out
