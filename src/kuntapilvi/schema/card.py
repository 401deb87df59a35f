"""A service card (palvelukortti): what the centre offers, at what price and service level."""

from __future__ import annotations

import enum
import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from kuntapilvi.schema.common import (
    CARD_ID,
    SEMVER,
    Bilingual,
    CardId,
    Euros,
    Localized,
    StrictModel,
)


class Family(enum.StrEnum):
    CAPACITY = "capacity"
    NETWORK = "network"
    OFFICE = "office"
    USER = "user"


class Lifecycle(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    DEPRECATED = "deprecated"


class ServiceOwner(StrictModel):
    name: str = Field(description="Team or person accountable for the service")
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]


class ResponseTimes(StrictModel):
    """Hours from a ticket to the first response, per priority."""

    critical: float = Field(gt=0, le=168)
    high: float = Field(gt=0, le=336)
    normal: float = Field(gt=0, le=720)


class ServiceLevel(StrictModel):
    availability_percent: float = Field(ge=90, le=100, description="Monthly availability target")
    support_hours: Localized = Field(description="When support answers, e.g. 'arkisin 8–16'")
    response_hours: ResponseTimes


class Pricing(StrictModel):
    """The card's line on the one price list. Prices are monthly, VAT 0 %."""

    unit: Localized = Field(description="What one unit is, e.g. 'palvelin/kk' or 'Gt/kk'")
    monthly_eur: Euros | None = Field(
        default=None, description="Monthly price of one unit; cards with sizes price per size"
    )
    setup_fee_eur: Euros = Field(default=0, description="One-time fee when the service starts")
    quantity_parameter: str | None = Field(
        default=None,
        description="Parameter that counts the units (e.g. size_gb); one unit when absent",
    )


ParamType = Literal[
    "string",
    "integer",
    "number",
    "boolean",
    "cidr",
    "cidr-list",
    "dns-label",
    "admin-list",
    "account-list",
]


class Parameter(StrictModel):
    """A typed knob a tenant may set when adopting the card."""

    type: ParamType
    description: Localized
    default: str | int | float | bool | list[str] | None = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    choices: list[str | int] | None = None
    max_items: int | None = Field(default=None, ge=1)
    allow_world: bool = Field(
        default=False,
        description="cidr/cidr-list only: accept networks shorter than /8 (0.0.0.0/0 included)",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"pattern {value!r} is not a valid regular expression ({exc}) Fix: correct "
                    "the expression (Python re syntax; quote it in single quotes in YAML)"
                ) from None
        return value

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Parameter:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is greater than maximum")
        if self.required and self.default is not None:
            raise ValueError("a required parameter cannot have a default")
        return self


class Quota(StrictModel):
    """Project quota values that a quota tier grants (Nova, Cinder, Neutron)."""

    instances: int = Field(ge=0)
    cores: int = Field(ge=0)
    ram_gb: int = Field(ge=0)
    volumes: int = Field(ge=0)
    volume_gb: int = Field(ge=0)
    snapshots: int = Field(ge=0)
    networks: int = Field(ge=0)
    subnets: int = Field(ge=0)
    ports: int = Field(ge=0)
    routers: int = Field(ge=0)
    floating_ips: int = Field(ge=0)
    security_groups: int = Field(ge=0)
    security_group_rules: int = Field(ge=0)


class Size(StrictModel):
    """One size tier: the numbers it means and its price."""

    description: Localized | None = None
    vcpu: int | None = Field(default=None, ge=1, le=128)
    ram_gb: int | None = Field(default=None, ge=1, le=1024)
    disk_gb: int | None = Field(default=None, ge=1, le=16384)
    data_gb: int | None = Field(default=None, ge=1, le=65536, description="Data volume size")
    bandwidth_mbps: int | None = Field(default=None, ge=1)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    mailbox_gb: int | None = Field(default=None, ge=1, le=1024, description="Quota of a mailbox")
    quota: Quota | None = None
    monthly_eur: Euros
    setup_fee_eur: Euros | None = None

    @property
    def is_server(self) -> bool:
        return self.vcpu is not None and self.ram_gb is not None and self.disk_gb is not None


class Port(StrictModel):
    """A port the service serves; becomes exactly one security-group rule."""

    protocol: Literal["tcp", "udp", "icmp"]
    port: int | None = Field(default=None, ge=1, le=65535)
    source: Literal["tenant", "management", "wan", "office", "world"] = Field(
        description="Who may connect: the tenant's own block, the centre's management "
        "network, the municipal WAN (the tenant's office networks), 'office' (all three: "
        "what an office service needs), or anyone"
    )
    description: Localized

    @model_validator(mode="after")
    def _port_matches_protocol(self) -> Port:
        if self.protocol == "icmp" and self.port is not None:
            raise ValueError("icmp rules take no port")
        if self.protocol != "icmp" and self.port is None:
            raise ValueError(f"{self.protocol} rules need a port")
        return self


class FileCheck(StrictModel):
    """A file or directory; path, owner, group and contains may use {placeholders}."""

    path: Annotated[str, StringConstraints(pattern=r"^/")]
    owner: str | None = None
    group: str | None = None
    # Four octal digits, so setgid directories (2770) can be stated as well as 0644.
    mode: Annotated[str, StringConstraints(pattern=r"^[0-7]{4}$")] | None = None
    contains: list[str] = Field(default_factory=list, description="Substrings; may use {params}")


class CommandCheck(StrictModel):
    run: str
    exit_status: int = 0
    stdout_contains: str | None = None


class MountCheck(StrictModel):
    """A filesystem of its own mounted at path, so what lives there is on a volume of the size's
    capacity and not on the root disk."""

    path: Annotated[str, StringConstraints(pattern=r"^/")]
    filesystem: str | None = Field(default=None, description="e.g. ext4")
    size: Literal["data_gb", "disk_gb"] | None = Field(
        default=None,
        description="The size's field the filesystem is as large as, in GiB (up to 5 % less "
        "for the filesystem's own metadata)",
    )


class HostChecks(StrictModel):
    """What must hold on a server the card puts up; run with testinfra."""

    packages: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list, description="Enabled and running units")
    sockets: list[Annotated[str, StringConstraints(pattern=r"^(tcp|udp)://[0-9.:*]+:\d+$")]] = (
        Field(
            default_factory=list,
            description="Listening sockets besides the card's ports (each tcp/udp port is "
            "checked listening on 0.0.0.0 anyway), e.g. tcp://127.0.0.1:323",
        )
    )
    files: list[FileCheck] = Field(default_factory=list)
    mounts: list[MountCheck] = Field(default_factory=list)
    commands: list[CommandCheck] = Field(default_factory=list)


class ServerSpec(StrictModel):
    """For cards that put a server up: how it is built."""

    image: str = Field(description="Id of a base image in catalog/centre.yaml")
    template: Annotated[str, StringConstraints(pattern=r"^cloud-init/[a-z0-9-]+\.yaml\.j2$")] = (
        Field(description="cloud-init template under templates/")
    )
    anti_affinity: bool = Field(default=False, description="Spread instances over hosts")


Module = Literal[
    "project.quota",
    "network.tenant",
    "network.firewall",
    "network.floating-ip",
    "network.wan-link",
    "network.dns-zone",
    "capacity.server",
    "capacity.volume",
    "capacity.backup",
    "office.server",
    "user.admin-access",
    "user.accounts",
]


class Card(StrictModel):
    """One service card. Its file is `catalog/cards/<family>/<name>.yaml`."""

    schema_: str | None = Field(default=None, alias="$schema", exclude=True)
    id: CardId = Field(description="Stable id '<family>.<name>'; never reused")
    family: Family
    version: Annotated[str, StringConstraints(pattern=SEMVER)]
    status: Lifecycle
    replaced_by: Annotated[str, StringConstraints(pattern=CARD_ID)] | None = Field(
        default=None, description="For deprecated cards: the card to move to"
    )
    title: Bilingual
    description: Bilingual
    owner: ServiceOwner
    service_level: ServiceLevel
    pricing: Pricing
    parameters: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], Parameter] = (
        Field(default_factory=dict)
    )
    sizes: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,4}$")], Size] = Field(
        default_factory=dict
    )
    default_size: str | None = None
    requires: list[CardId] = Field(default_factory=list)
    max_per_tenant: int | None = Field(default=None, ge=1)
    module: Module
    server: ServerSpec | None = None
    ports: list[Port] = Field(default_factory=list)
    host_checks: HostChecks | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Card:
        if not self.id.startswith(f"{self.family}."):
            raise ValueError(f"id {self.id!r} must start with its family '{self.family}.'")
        if self.status is Lifecycle.DEPRECATED and not self.replaced_by:
            raise ValueError("a deprecated card must name replaced_by")
        if self.replaced_by == self.id:
            raise ValueError("a card cannot replace itself")
        if self.sizes and self.pricing.monthly_eur is not None:
            raise ValueError("price either per size (sizes.*.monthly_eur) or pricing.monthly_eur")
        if not self.sizes and self.pricing.monthly_eur is None:
            raise ValueError("pricing.monthly_eur is required for a card without sizes")
        if self.default_size is not None and self.default_size not in self.sizes:
            raise ValueError(f"default_size {self.default_size!r} is not one of the sizes")
        qp = self.pricing.quantity_parameter
        if qp is not None and qp not in self.parameters:
            raise ValueError(f"pricing.quantity_parameter {qp!r} is not a parameter of the card")
        if (self.server is None) != (self.host_checks is None):
            raise ValueError("cards that put a server up need both 'server' and 'host_checks'")
        if self.server is not None and not all(s.is_server for s in self.sizes.values()):
            raise ValueError("every size of a server card needs vcpu, ram_gb and disk_gb")
        if self.server is not None and not self.sizes:
            raise ValueError("a server card needs sizes")
        for mount in self.host_checks.mounts if self.host_checks else ():
            if mount.size is None:
                continue
            lacking = [k for k, s in self.sizes.items() if not getattr(s, mount.size)]
            if lacking:
                raise ValueError(f"host_checks.mounts {mount.path} is as large as {mount.size}, "
                                 f"which size(s) {', '.join(lacking)} do not set; give every size "
                                 f"{mount.size}, or leave size out of the mount")  # fmt: skip
        return self
