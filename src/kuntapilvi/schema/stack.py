"""A tenant's request: the stack file `stacks/Pulumi.<tenant>.yaml`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from kuntapilvi.schema.common import CardId, Cidr, DnsLabel, StrictModel

NAMESPACE = "kuntapilvi"
TENANT_KEY = f"{NAMESPACE}:tenant"
CENTRE_KEY = f"{NAMESPACE}:centre"


class ServiceRequest(StrictModel):
    """One adopted service: a card, its size and parameters, and when it starts."""

    card: CardId
    name: DnsLabel | None = Field(
        default=None, description="Instance name; needed when a card is adopted more than once"
    )
    size: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,4}$")] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    start: dt.date | None = Field(default=None, description="Staged adoption: provision from")

    @field_validator("start", mode="before")
    @classmethod
    def _pulumi_rewritten_date(cls, value: object) -> object:
        # `pulumi stack init` / `config set` re-serialise the file and turn an unquoted date
        # into "2027-04-01 00:00:00 +0000 UTC"; read that back as the date it was.
        if isinstance(value, str) and value.endswith(" 00:00:00 +0000 UTC"):
            return value.split(" ", 1)[0]
        return value


class TenantRequest(StrictModel):
    owner: DnsLabel = Field(description="Owner id in catalog/owners.yaml")
    region: str
    address_block: Cidr
    services: list[ServiceRequest] = Field(default_factory=list)


class CentreRequest(StrictModel):
    regions: list[str] = Field(min_length=1, description="Regions whose shared resources to build")


class StackFile(StrictModel):
    """The whole Pulumi stack settings file; Pulumi itself owns the other top-level keys."""

    schema_: str | None = Field(default=None, alias="$schema", exclude=True)
    encryptionsalt: str | None = None
    secretsprovider: str | None = None
    encryptedkey: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_role(self) -> StackFile:
        has_tenant = TENANT_KEY in self.config
        has_centre = CENTRE_KEY in self.config
        if has_tenant == has_centre:
            raise ValueError(
                f"config must hold exactly one of '{TENANT_KEY}' (a tenant stack) "
                f"or '{CENTRE_KEY}' (the centre stack)"
            )
        return self
