"""Costs under the one price list, by cost-causation: per service, per month of the year.

A service pays its set-up fee once, in the month it was first built, and its monthly fee from
the first full month it existed up to the month it was removed. When it was built comes from a
`BuildHistory` (the cloud's state or the fleet ledger). A service the history does not know yet
is *projected*: built on its `start:` date, or on the first day of the price list's year when it
has none. `plan` and `invoice` use this one function, so a year of invoices is the plan's year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from kuntapilvi.history import BuildHistory, BuildRecord
from kuntapilvi.model import Service, Tenant
from kuntapilvi.schema.card import Card
from kuntapilvi.schema.pricelist import PriceList

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


@dataclass(frozen=True, slots=True)
class ServiceCost:
    service: Service
    monthly: Decimal
    built: dt.date
    removed: dt.date | None
    projected: bool
    year: int
    setup_fee_once: Decimal

    @property
    def in_stack(self) -> bool:
        return self.service.index >= 0

    @property
    def first_full_month(self) -> int:
        """Month index of the first month the service existed from its first day."""
        first = _month_index(self.built)
        return first if self.built.day == 1 else first + 1

    @property
    def last_month(self) -> int | None:
        return None if self.removed is None else _month_index(self.removed)

    def billed(self, month: int) -> bool:
        """Whether the monthly fee falls in `month` (1..12) of the price list's year."""
        index = self.year * 12 + month - 1
        last = self.last_month
        return self.first_full_month <= index and (last is None or index <= last)

    def setup_in(self, month: int) -> Decimal:
        built = self.built
        return (
            self.setup_fee_once if (built.year, built.month) == (self.year, month) else Decimal(0)
        )

    def in_month(self, month: int) -> Decimal:
        return (self.monthly if self.billed(month) else Decimal(0)) + self.setup_in(month)

    @property
    def months(self) -> int:
        return sum(1 for m in range(1, 13) if self.billed(m))

    @property
    def setup_fee(self) -> Decimal:
        """The set-up fee billed in the price list's year (zero when built in another year)."""
        return self.setup_fee_once if self.built.year == self.year else Decimal(0)

    @property
    def yearly(self) -> Decimal:
        return self.monthly * self.months + self.setup_fee


def _cost(
    service: Service,
    prices: PriceList,
    record: BuildRecord | None,
    start: dt.date | None,
    known_until: dt.date | None = None,
) -> ServiceCost:
    if record is not None:
        built, removed, projected = record.built, record.removed, False
    else:
        built, removed, projected = start or prices.valid_from, None, True
        if known_until is not None and built <= known_until:
            # The history is complete up to that day and does not list it: not built yet.
            built = known_until + dt.timedelta(days=1)
    return ServiceCost(
        service,
        service.monthly,
        built,
        removed,
        projected,
        prices.year,
        cents(service.setup_fee * service.quantity),
    )


def service_cost(
    service: Service, prices: PriceList, history: BuildHistory | None = None, tenant: str = ""
) -> ServiceCost:
    if history is None:
        return _cost(service, prices, None, service.start)
    return _cost(service, prices, history.get(tenant, service.key), service.start, history.as_of)


def removed_service(record: BuildRecord, card: Card) -> Service:
    """A service that left the stack file, rebuilt from its history record for billing."""
    size_name = record.size or card.default_size
    size = card.sizes.get(size_name) if (card.sizes and size_name) else None
    return Service(-1, card, record.name, size_name if size else None, size, record.params, None)


def tenant_costs(
    tenant: Tenant,
    prices: PriceList,
    history: BuildHistory | None = None,
    cards: dict[str, Card] | None = None,
) -> list[ServiceCost]:
    """Every service billed to the tenant in the price list's year.

    With `cards`, services the history records as built but the stack file no longer lists are
    included up to the month they were removed."""
    costs = [service_cost(s, prices, history, tenant.stack) for s in tenant.services]
    if history is None or cards is None:
        return costs
    present = {s.key for s in tenant.services}
    for record in history.for_tenant(tenant.stack):
        if record.service in present or record.card_id not in cards:
            continue
        gone = removed_service(record, cards[record.card_id])
        cost = _cost(gone, prices, record, None)
        if cost.yearly or cost.built.year == prices.year:
            costs.append(cost)
    return costs


def totals(costs: list[ServiceCost]) -> tuple[Decimal, Decimal]:
    """Monthly run rate of the services in the stack, and the year's total."""
    monthly = sum((c.monthly for c in costs if c.in_stack), Decimal(0))
    return monthly, sum((c.yearly for c in costs), Decimal(0))


def vat(amount: Decimal, prices: PriceList) -> Decimal:
    return cents(amount * prices.vat_percent / 100)
