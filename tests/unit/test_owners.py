"""The owner register as the founding documents describe it: share capital by joining tier or
general-meeting decision, ownership among active owners, status and dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from kuntapilvi.project import ProjectPaths
from kuntapilvi.schema.owners import OwnerRegister, OwnerStatus
from kuntapilvi.validate import validate

DAY = dt.date(2026, 12, 1)


def register(repo: ProjectPaths) -> OwnerRegister:
    return validate(repo).model.owners


def test_share_capital_follows_the_joining_tier(repo: ProjectPaths) -> None:
    reg = register(repo)
    espoo, kajaani = reg.owner("espoo"), reg.owner("kajaani")
    assert espoo is not None and kajaani is not None
    assert reg.share_capital(espoo) == Decimal(espoo.shares.subscribed) * 1  # founding owner
    assert reg.share_capital(kajaani) == Decimal(kajaani.shares.subscribed) * 3  # joined 2026-09


def test_general_meeting_decision_lowers_the_price(repo: ProjectPaths) -> None:
    reg = register(repo)
    kajaani = reg.owner("kajaani")
    assert kajaani is not None
    data = reg.model_dump(by_alias=True)
    data["price_decisions"] = [
        {
            "id": "ym-2026-08",
            "date": "2026-08-20",
            "eur_per_share": "2.00",
            "votes_for": 500_000,
            "votes_cast": 640_000,
            "minutes": "yhtiökokous 20.8.2026 § 5",
        }
    ]
    for row in data["owners"]:
        if row["id"] == "kajaani":
            row["shares"]["price_decision"] = "ym-2026-08"
    lowered = OwnerRegister.model_validate(data)
    owner = lowered.owner("kajaani")
    assert owner is not None
    assert lowered.share_capital(owner) == Decimal(owner.shares.subscribed) * 2
    data["price_decisions"][0]["votes_for"] = 400_000  # 62.5 %: short of 2/3
    with pytest.raises(ValidationError, match="2/3"):
        OwnerRegister.model_validate(data)


def test_ownership_is_shared_among_owners_active_on_the_day(repo: ProjectPaths) -> None:
    reg = register(repo)
    shares = [reg.ownership(o, DAY) for o in reg.owners]
    assert abs(sum(shares) - 100) < Decimal("0.01")
    assert all(o.status is OwnerStatus.ACTIVE for o in reg.owners)
    before = dt.date(2026, 2, 1)  # nobody's shares registered yet
    assert all(reg.ownership(o, before) == 0 for o in reg.owners)


def test_register_has_one_population_date_and_no_self_ownership(repo: ProjectPaths) -> None:
    model = validate(repo).model
    reg = model.owners
    assert reg.population_date == dt.date(2023, 12, 31)
    assert all(o.business_id != model.centre.business_id for o in reg.owners)
    assert reg.owner("oulunkaari") is None  # ceased 2022-12-31, cannot have joined in 2026
    for owner in reg.owners:
        if owner.population is not None:
            assert owner.population.source and owner.shares.subscribed == owner.population.residents
