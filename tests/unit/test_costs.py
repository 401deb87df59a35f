"""Costs follow the one price list: card prices, quantities, set-up fees and start dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kuntapilvi.costs import months_billed, tenant_costs, totals
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
