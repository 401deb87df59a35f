"""Costs follow the one price list: card prices, quantities, set-up fees and start dates."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from kuntapilvi.costs import months_billed, service_cost, tenant_costs, totals
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate


def test_staged_service_is_billed_from_its_start_month(repo: ProjectPaths) -> None:
    model = validate(repo, ["lahti"]).model
    costs = {c.service.key: c for c in tenant_costs(model.tenants["lahti"], model.price_list)}
    share = costs["office.file-share/file-share"]
    card = model.cards["office.file-share"].sizes["S"]
    assert share.months == 9  # April..December
    assert share.yearly == card.monthly_eur * 9 + card.setup_fee_eur


def test_quantity_parameter_multiplies_the_unit_price(repo: ProjectPaths) -> None:
    model = validate(repo, ["espoo"]).model
    costs = {c.service.key: c for c in tenant_costs(model.tenants["espoo"], model.price_list)}
    volume = costs["capacity.block-storage/sovellusdata"]
    assert volume.monthly == Decimal("0.09") * 500


def test_totals_add_up(repo: ProjectPaths) -> None:
    model = validate(repo, ["kajaani"]).model
    costs = tenant_costs(model.tenants["kajaani"], model.price_list)
    monthly, yearly = totals(costs)
    assert monthly == sum(c.monthly for c in costs)
    assert yearly == sum(c.monthly * 12 + c.setup_fee for c in costs)


def test_months_outside_the_year(repo: ProjectPaths) -> None:
    prices = validate(repo).model.price_list
    assert months_billed(dt.date(2028, 1, 1), prices) == 0
    assert months_billed(dt.date(2026, 5, 1), prices) == 12
    assert months_billed(dt.date(2027, 12, 31), prices) == 1


def test_setup_fee_is_billed_only_in_the_year_the_service_starts(repo: ProjectPaths) -> None:
    """Both ends of the price list's year count as in it; a start before it paid already."""
    model = validate(repo, ["kajaani"]).model
    prices = model.price_list
    [share] = [s for s in model.tenants["kajaani"].services if s.card.id == "office.file-share"]
    fee = share.setup_fee * share.quantity
    assert fee > 0

    def billed(start: dt.date | None) -> tuple[int, Decimal]:
        cost = service_cost(dataclasses.replace(share, start=start), prices)
        return cost.months, cost.setup_fee

    day = dt.timedelta(days=1)
    assert billed(None) == (12, fee)
    assert billed(prices.valid_from) == (12, fee)
    assert billed(prices.valid_from - day) == (12, Decimal("0.00"))
    assert billed(prices.valid_until) == (1, fee)
    assert billed(prices.valid_until + day) == (0, Decimal("0.00"))


def test_totals_of_nothing_are_decimal_zero() -> None:
    monthly, yearly = totals([])
    assert (monthly, yearly) == (Decimal(0), Decimal(0))
    assert isinstance(monthly, Decimal) and isinstance(yearly, Decimal)
