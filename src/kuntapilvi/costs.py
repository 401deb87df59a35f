"""Costs under the one price list: monthly and for the price list's year, per service."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from kuntapilvi.model import Service, Tenant
from kuntapilvi.schema.pricelist import PriceList


@dataclass(frozen=True, slots=True)
class ServiceCost:
    service: Service
    monthly: Decimal
    months: int
    setup_fee: Decimal

    @property
    def yearly(self) -> Decimal:
        return self.monthly * self.months + self.setup_fee


def months_billed(start: dt.date | None, prices: PriceList) -> int:
    """Whole months of the price list's year from the service's start (the start month counts)."""
    if start is None or start <= prices.valid_from:
        return 12
    if start > prices.valid_until:
        return 0
    return 12 - start.month + 1


def service_cost(service: Service, prices: PriceList) -> ServiceCost:
    months = months_billed(service.start, prices)
    in_year = service.start is not None and prices.valid_from <= service.start <= prices.valid_until
    # A set-up fee is billed in the year the service starts; services running before the year
    # paid theirs already.
    fee = service.setup_fee * service.quantity if (in_year or service.start is None) else Decimal(0)
    return ServiceCost(service, service.monthly, months, fee.quantize(Decimal("0.01")))


def tenant_costs(tenant: Tenant, prices: PriceList) -> list[ServiceCost]:
    return [service_cost(s, prices) for s in tenant.services]


def totals(costs: list[ServiceCost]) -> tuple[Decimal, Decimal]:
    """Full monthly run rate and the year's total under the price list."""
    return sum((c.monthly for c in costs), Decimal(0)), sum((c.yearly for c in costs), Decimal(0))
