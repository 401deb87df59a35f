"""The one validated model: tenants with their resolved services, over the catalogue."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kuntapilvi.catalogue import Catalogue
from kuntapilvi.schema.card import Card, Size
from kuntapilvi.schema.centre import Centre, Region
from kuntapilvi.schema.owners import Owner, OwnerRegister
from kuntapilvi.schema.pricelist import PriceList
from kuntapilvi.stacks import CentreStack, TenantStack


@dataclass(frozen=True, slots=True)
class Service:
    """One adopted card with size and parameters resolved against the card's defaults."""

    index: int
    card: Card
    name: str
    size_name: str | None
    size: Size | None
    params: dict[str, Any]
    start: dt.date | None

    @property
    def key(self) -> str:
        """Stable identity inside a tenant: the card id and instance name."""
        return f"{self.card.id}/{self.name}"

    def active_on(self, day: dt.date) -> bool:
        return self.start is None or self.start <= day

    @property
    def quantity(self) -> Decimal:
        qp = self.card.pricing.quantity_parameter
        return Decimal(str(self.params[qp])) if qp else Decimal(1)

    @property
    def unit_price(self) -> Decimal:
        if self.size is not None:
            return self.size.monthly_eur
        assert self.card.pricing.monthly_eur is not None  # schema: cards without sizes have one
        return self.card.pricing.monthly_eur

    @property
    def setup_fee(self) -> Decimal:
        if self.size is not None and self.size.setup_fee_eur is not None:
            return self.size.setup_fee_eur
        return self.card.pricing.setup_fee_eur

    @property
    def monthly(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class Tenant:
    stack: str
    file: str
    owner: Owner
    region: Region
    block: ipaddress.IPv4Network
    domain: str
    services: tuple[Service, ...]

    def active(self, day: dt.date) -> list[Service]:
        return [s for s in self.services if s.active_on(day)]

    def by_card(self, card_id: str) -> list[Service]:
        return [s for s in self.services if s.card.id == card_id]

    def by_module(self, module: str) -> list[Service]:
        return [s for s in self.services if s.card.module == module]


@dataclass(slots=True)
class Model:
    """What validation hands to the program, the planner and the reports."""

    catalogue: Catalogue
    tenants: dict[str, Tenant] = field(default_factory=dict)
    tenant_stacks: dict[str, TenantStack] = field(default_factory=dict)
    centre_stacks: dict[str, CentreStack] = field(default_factory=dict)

    @property
    def centre(self) -> Centre:
        assert self.catalogue.centre is not None
        return self.catalogue.centre

    @property
    def owners(self) -> OwnerRegister:
        assert self.catalogue.owners is not None
        return self.catalogue.owners

    @property
    def price_list(self) -> PriceList:
        assert self.catalogue.price_list is not None
        return self.catalogue.price_list

    @property
    def cards(self) -> dict[str, Card]:
        return self.catalogue.cards
