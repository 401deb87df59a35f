"""The owner register: who owns the centre, and therefore who it may serve."""

from __future__ import annotations

import datetime as dt
import enum
import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from kuntapilvi.schema.common import DnsLabel, Euros, SingleLine, StrictModel

_YTUNNUS = re.compile(r"^(\d{7})-(\d)$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def business_id_problem(value: str) -> str | None:
    """Why `value` is not a valid Finnish business id (Y-tunnus), or None when it is."""
    match = _YTUNNUS.match(value)
    if not match:
        return "a Y-tunnus has the form 1234567-8 (seven digits, hyphen, check digit)"
    digits, check = match.group(1), int(match.group(2))
    remainder = sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return f"{value} can never be valid: its digits give remainder 1 (no check digit exists)"
    expected = 0 if remainder == 0 else 11 - remainder
    if expected != check:
        return f"check digit of {value} should be {expected}, not {check}; re-check it in YTJ"
    return None


def _valid_business_id(value: str) -> str:
    problem = business_id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


BusinessId = Annotated[str, AfterValidator(_valid_business_id)]


class OwnerKind(enum.StrEnum):
    MUNICIPALITY = "municipality"
    JOINT_AUTHORITY = "joint-municipal-authority"
    COMPANY = "municipally-owned-company"


class Population(StrictModel):
    residents: int = Field(ge=1, le=2_000_000)
    as_of: dt.date


class Shares(StrictModel):
    subscribed: int = Field(ge=1)
    paid: int = Field(ge=0)


class Owner(StrictModel):
    id: DnsLabel = Field(description="Short id used by stack files, e.g. 'espoo'")
    name: SingleLine
    name_sv: SingleLine | None = None
    business_id: BusinessId
    kind: OwnerKind
    municipality_code: Annotated[str, StringConstraints(pattern=r"^\d{3}$")] | None = None
    population: Population | None = None
    shares: Shares
    joined: dt.date
    contacts: list[Annotated[str, StringConstraints(pattern=r"^@[A-Za-z0-9][\w./-]*$")]] = Field(
        min_length=1, description="Forge handles that may change this owner's stacks"
    )

    @model_validator(mode="after")
    def _kind_rules(self) -> Owner:
        if self.kind is OwnerKind.MUNICIPALITY:
            if self.municipality_code is None or self.population is None:
                raise ValueError("a municipality needs municipality_code and population")
        elif self.municipality_code is not None or self.population is not None:
            raise ValueError(f"a {self.kind} has no municipality_code or population; remove them")
        if self.shares.paid > self.shares.subscribed:
            raise ValueError("shares.paid cannot exceed shares.subscribed")
        return self


class SharePrice(StrictModel):
    joined_until: dt.date | None = Field(
        description="Last joining date at this price; null for every later date"
    )
    eur_per_share: Euros


class OwnerRegister(StrictModel):
    schema_: str | None = Field(default=None, alias="$schema", exclude=True)
    share_prices: list[SharePrice] = Field(min_length=1)
    owners: list[Owner] = Field(min_length=1)

    @model_validator(mode="after")
    def _prices_ordered(self) -> OwnerRegister:
        dates = [p.joined_until for p in self.share_prices]
        if dates[-1] is not None or any(d is None for d in dates[:-1]):
            raise ValueError("only the last share price may have joined_until: null")
        bounded = [d for d in dates if d is not None]
        if bounded != sorted(bounded):
            raise ValueError("share_prices must be in joining-date order")
        return self

    def price_for(self, joined: dt.date) -> Decimal:
        for price in self.share_prices:
            if price.joined_until is None or joined <= price.joined_until:
                return price.eur_per_share
        raise AssertionError("validated: the last price is open-ended")

    def owner(self, owner_id: str) -> Owner | None:
        return next((o for o in self.owners if o.id == owner_id), None)
