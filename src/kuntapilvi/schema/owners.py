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


class OwnerStatus(enum.StrEnum):
    ACTIVE = "active"
    CEASED = "ceased"  # the organisation no longer exists (e.g. merged, dissolved)
    REDEEMED = "redeemed"  # the centre redeemed its shares; it is no longer an owner


class Population(StrictModel):
    """Residents on the register's one population reference date."""

    residents: int = Field(ge=1, le=2_000_000)
    source: str = Field(min_length=1, description="Where the figure comes from")


class Shares(StrictModel):
    subscribed: int = Field(ge=1)
    registered: dt.date | None = Field(
        default=None, description="Date the shares were entered in the Trade Register"
    )
    price_decision: str | None = Field(
        default=None,
        description="Id of a general-meeting decision that set a lower price for these shares",
    )


class Owner(StrictModel):
    id: DnsLabel = Field(description="Short id used by stack files, e.g. 'espoo'")
    name: SingleLine
    name_sv: SingleLine | None = None
    business_id: BusinessId
    kind: OwnerKind
    municipality_code: Annotated[str, StringConstraints(pattern=r"^\d{3}$")] | None = None
    population: Population | None = None
    status: OwnerStatus = OwnerStatus.ACTIVE
    shares: Shares
    joined: dt.date
    ended: dt.date | None = Field(
        default=None, description="Date the owner ceased or its shares were redeemed"
    )
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
        if self.status is OwnerStatus.ACTIVE and self.ended is not None:
            raise ValueError("an active owner has no 'ended' date; set status or remove 'ended'")
        if self.status is not OwnerStatus.ACTIVE and self.ended is None:
            raise ValueError(f"a {self.status} owner needs 'ended': the date it {self.status}")
        if self.ended is not None and self.ended < self.joined:
            raise ValueError("'ended' comes before 'joined'")
        if self.shares.registered is not None and self.shares.registered < self.joined:
            raise ValueError("shares.registered comes before 'joined'")
        return self

    def active_on(self, day: dt.date) -> bool:
        """Joined, shares in the Trade Register, and not ceased or redeemed by `day`."""
        registered = self.shares.registered
        return (
            self.joined <= day
            and registered is not None
            and registered <= day
            and (self.ended is None or day < self.ended)
        )


class PriceDecision(StrictModel):
    """A general meeting's decision on a share price lower than the tier (2/3 majority)."""

    id: DnsLabel
    date: dt.date
    eur_per_share: Euros
    votes_for: int = Field(ge=0, description="Shares voting for")
    votes_cast: int = Field(ge=1, description="Shares represented and voting")
    minutes: str = Field(min_length=1, description="Reference to the meeting's minutes")

    @model_validator(mode="after")
    def _majority(self) -> PriceDecision:
        if self.votes_for > self.votes_cast:
            raise ValueError("votes_for cannot exceed votes_cast")
        if self.votes_for * 3 < self.votes_cast * 2:
            raise ValueError(
                f"{self.votes_for} of {self.votes_cast} votes is less than the 2/3 majority a "
                "lower share price needs"
            )
        return self


class SharePrice(StrictModel):
    joined_until: dt.date | None = Field(
        description="Last joining date at this price; null for every later date"
    )
    eur_per_share: Euros


class OwnerRegister(StrictModel):
    schema_: str | None = Field(default=None, alias="$schema", exclude=True)
    population_date: dt.date = Field(
        description="The one reference date of every owner's population figure"
    )
    finland_population: int = Field(
        ge=1, description="Finland's population on population_date (coverage is measured on it)"
    )
    coverage_target_percent: Decimal = Field(
        ge=0, le=100, description="Share of Finland's population the owners should cover"
    )
    share_prices: list[SharePrice] = Field(min_length=1)
    price_decisions: list[PriceDecision] = Field(default_factory=list)
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

    def decision(self, decision_id: str) -> PriceDecision | None:
        return next((d for d in self.price_decisions if d.id == decision_id), None)

    def share_price(self, owner: Owner) -> Decimal:
        """Euros per share: a recorded general-meeting decision, else the joining date's tier."""
        if owner.shares.price_decision is not None:
            found = self.decision(owner.shares.price_decision)
            if found is not None:
                return found.eur_per_share
        return self.price_for(owner.joined)

    def share_capital(self, owner: Owner) -> Decimal:
        return (self.share_price(owner) * owner.shares.subscribed).quantize(Decimal("0.01"))

    def active(self, day: dt.date) -> list[Owner]:
        return [o for o in self.owners if o.active_on(day)]

    def ownership(self, owner: Owner, day: dt.date) -> Decimal:
        """Percent of the shares held by owners active on `day` (0 for an inactive owner)."""
        if not owner.active_on(day):
            return Decimal(0)
        total = sum(o.shares.subscribed for o in self.active(day))
        return (Decimal(100) * owner.shares.subscribed / total).quantize(Decimal("0.001"))

    def price_for(self, joined: dt.date) -> Decimal:
        for price in self.share_prices:
            if price.joined_until is None or joined <= price.joined_until:
                return price.eur_per_share
        raise AssertionError("validated: the last price is open-ended")

    def owner(self, owner_id: str) -> Owner | None:
        return next((o for o in self.owners if o.id == owner_id), None)
