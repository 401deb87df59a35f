"""The price list's frame: which year it is for and how the yearly agreement renews.

Unit prices live on the cards themselves, so each price is written once."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from kuntapilvi.schema.common import Localized, StrictModel


class PriceList(StrictModel):
    schema_: str | None = Field(default=None, alias="$schema", exclude=True)
    year: int = Field(ge=2020, le=2100)
    currency: str = Field(pattern=r"^EUR$")
    vat_note: Localized
    valid_from: dt.date
    valid_until: dt.date
    renewal_deadline: dt.date = Field(
        description="The agreement for next year must be signed by this date (before budgeting)"
    )
    approved_by: str
    principle: Localized

    @model_validator(mode="after")
    def _dates(self) -> PriceList:
        if not self.valid_from < self.valid_until:
            raise ValueError("valid_from must be before valid_until")
        if self.valid_from.year != self.year:
            raise ValueError("valid_from must fall in the price list's year")
        if self.renewal_deadline >= self.valid_from:
            raise ValueError("renewal_deadline must come before the year starts (budgeting)")
        return self
