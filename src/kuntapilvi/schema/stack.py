"""A tenant's request: the stack file `stacks/Pulumi.<tenant>.yaml`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from kuntapilvi.schema.common import CardId, Cidr, DnsLabel, StrictModel

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAMESPACE = "kuntapilvi"
TENANT_KEY = f"{NAMESPACE}:tenant"
CENTRE_KEY = f"{NAMESPACE}:centre"
SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|credential|private|apikey|api_key)")


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
        # Only a written date: pydantic would read `start: 0` as Unix time (1970-01-01) and a
        # start long past skips the set-up fee.
        if isinstance(value, str) and not ISO_DATE.match(value):
            raise ValueError(
                f"{value[:40]!r} is not a date written as YYYY-MM-DD Fix: write the start "
                'date in quotes, e.g. start: "2027-04-01"'
            )
        if value is not None and not isinstance(value, str | dt.date):
            raise ValueError(
                "start must be a date, not a number Fix: write the start date in quotes, e.g. "
                'start: "2027-04-01"'
            )
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

    @field_validator("config")
    @classmethod
    def _known_keys(cls, config: dict[str, Any]) -> dict[str, Any]:
        for key, value in config.items():
            if key in (TENANT_KEY, CENTRE_KEY):
                continue
            encrypted = isinstance(value, dict) and set(value) == {"secure"}
            if SECRET_NAME.search(key) and not encrypted:
                raise ValueError(
                    f"'{key}' is a secret written in plain text, readable by everyone with the "
                    f"repository Fix: remove the line and run 'pulumi config set --secret {key}' "
                    "(or leave provider credentials to the centre's environment)"
                )
            if not encrypted:
                raise ValueError(
                    f"unknown config key '{key}': a stack file holds only '{TENANT_KEY}' (or "
                    f"'{CENTRE_KEY}') Fix: remove the line; provider settings come from the "
                    "centre's environment"
                )
        return config

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
