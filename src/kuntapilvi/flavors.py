"""Flavors the catalogue's server sizes need, named by what they hold.

The centre stack creates them, the tenant modules ask for them by name and the policy pack
checks servers against them: one definition below all three."""

from __future__ import annotations

from kuntapilvi.schema.card import Card, Lifecycle


def flavor_name(vcpu: int, ram_gb: int, disk_gb: int) -> str:
    """Flavors are named by what they mean, so every card size maps to one flavor."""
    return f"kp-{vcpu}c-{ram_gb}g-{disk_gb}g"


def catalogue_flavors(cards: dict[str, Card]) -> dict[str, tuple[int, int, int]]:
    """Every (vcpu, ram, disk) a server card of the catalogue can ask for, by flavor name."""
    flavors: dict[str, tuple[int, int, int]] = {}
    for card in cards.values():
        if card.server is None or card.status is Lifecycle.DRAFT:
            continue
        for size in card.sizes.values():
            assert size.vcpu and size.ram_gb and size.disk_gb
            flavors[flavor_name(size.vcpu, size.ram_gb, size.disk_gb)] = (
                size.vcpu,
                size.ram_gb,
                size.disk_gb,
            )
    return dict(sorted(flavors.items()))
