"""The price list's frame: which year it is for and how the yearly agreement renews.

Unit prices live on the cards themselves, so each price is written once."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from pydantic import Field, model_validator

from kuntapilvi.schema.common import Localized, StrictModel

# An accounting code of the centre's chart of accounts (tililuettelo), digits only.
ACCOUNTING_CODE = r"^\d{3,8}$"


class PriceList(StrictModel):
    schema_: str | None = Field(default=None, alias="$schema", exclude=True)
    year: int = Field(ge=2020, le=2100)
    currency: str = Field(pattern=r"^EUR$")
    vat_note: Localized
    vat_percent: Decimal = Field(
        ge=0,
        le=100,
        max_digits=4,
        decimal_places=1,
        description="General VAT rate added to every price (Finland: 25.5 since 2024-09-01)",
    )
    accounting_codes: dict[str, str] = Field(
        min_length=1,
        description="Accounting code of the revenue per card id or card family (the card id wins)",
    )
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
        for key, code in self.accounting_codes.items():
            if not re.match(ACCOUNTING_CODE, code):
                raise ValueError(f"accounting code '{code}' of '{key}' must be 3-8 digits")
        return self

    def accounting_code(self, card_id: str, family: str) -> str | None:
        return self.accounting_codes.get(card_id) or self.accounting_codes.get(family)
