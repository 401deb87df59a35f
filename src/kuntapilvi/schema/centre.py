"""The centre itself: its regions, pools, address space and shared building blocks."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from kuntapilvi.schema.common import (
    Cidr,
    DnsLabel,
    IpAddress,
    Localized,
    SingleLine,
    StrictModel,
)
from kuntapilvi.schema.rollout import RolloutPolicy


class AllocationPool(StrictModel):
    start: IpAddress
    end: IpAddress


class ExternalNetwork(StrictModel):
    """The provider network routers take their gateway from; floating addresses come from it."""

    name: DnsLabel
    physical_network: DnsLabel
    cidr: Cidr
    gateway: IpAddress
    floating_pool: AllocationPool

    @model_validator(mode="after")
    def _inside(self) -> ExternalNetwork:
        net = ipaddress.ip_network(self.cidr)
        for label, addr in (
            ("gateway", self.gateway),
            ("floating_pool.start", self.floating_pool.start),
            ("floating_pool.end", self.floating_pool.end),
        ):
            if ipaddress.ip_address(addr) not in net:
                raise ValueError(f"{label} {addr} is outside {self.cidr}")
        if ipaddress.ip_address(self.floating_pool.start) > ipaddress.ip_address(
            self.floating_pool.end
        ):
            raise ValueError("floating_pool.start is after floating_pool.end")
        return self

    @property
    def floating_ip_count(self) -> int:
        return (
            int(ipaddress.ip_address(self.floating_pool.end))
            - int(ipaddress.ip_address(self.floating_pool.start))
            + 1
        )


class ComputePool(StrictModel):
    """Physical compute of one region; allocation ratios say how far it is overcommitted."""

    hosts: int = Field(ge=1)
    cores_per_host: int = Field(ge=1)
    ram_gb_per_host: int = Field(ge=1)
    cpu_allocation_ratio: float = Field(ge=1, le=16)
    ram_allocation_ratio: float = Field(ge=1, le=2)

    @property
    def schedulable_cores(self) -> int:
        return int(self.hosts * self.cores_per_host * self.cpu_allocation_ratio)

    @property
    def schedulable_ram_gb(self) -> int:
        return int(self.hosts * self.ram_gb_per_host * self.ram_allocation_ratio)


class StoragePool(StrictModel):
    capacity_gb: int = Field(ge=1)
    allocation_ratio: float = Field(ge=1, le=4, description="Thin-provisioning overcommit")

    @property
    def schedulable_gb(self) -> int:
        return int(self.capacity_gb * self.allocation_ratio)


class Region(StrictModel):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}-[a-z]{3}-\d$")]
    name: Localized
    openstack_region: str = Field(description="Region name in the cloud's service catalogue")
    compute: ComputePool
    storage: StoragePool
    external_network: ExternalNetwork


class Image(StrictModel):
    id: DnsLabel = Field(description="Catalogue id that cards name in server.image")
    name: SingleLine = Field(description="Image name in Glance")
    os_distro: str
    os_version: str
    disk_format: Annotated[str, StringConstraints(pattern=r"^(raw|qcow2)$")]
    min_disk_gb: int = Field(ge=1)
    min_ram_mb: int = Field(ge=64)
    file: str = Field(description="Image file name inside the stack's image directory")


class Wan(StrictModel):
    """The municipal WAN (kuntaverkko) the centre is linked to."""

    network_name: DnsLabel
    cidr: Cidr = Field(description="Transit network for router links into the WAN")


class Centre(StrictModel):
    schema_: str | None = Field(default=None, alias="$schema", exclude=True)
    name: SingleLine
    business_id: str
    domain: Annotated[str, StringConstraints(pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")]
    address_space: Cidr = Field(description="Private space tenant address blocks are carved from")
    tenant_block_prefix: tuple[int, int] = Field(
        default=(16, 24), description="Smallest and largest allowed prefix length of a block"
    )
    management_cidr: Cidr = Field(description="Centre admin network; the only SSH source")
    wan: Wan
    smarthost: SingleLine = Field(description="host:port the mail relays forward to")
    ntp_servers: list[SingleLine] = Field(min_length=1)
    account_managers: list[SingleLine] = Field(min_length=1, description="Forge handles")
    catalogue_editors: list[SingleLine] = Field(min_length=1, description="Forge handles")
    admin_ssh_keys: list[SingleLine] = Field(
        min_length=1, description="Public keys of centre admins"
    )
    regions: list[Region] = Field(min_length=1)
    images: list[Image] = Field(min_length=1)
    rollout: RolloutPolicy = Field(
        default_factory=RolloutPolicy, description="How changes roll out to the fleet"
    )

    @model_validator(mode="after")
    def _unique(self) -> Centre:
        ids = [r.id for r in self.regions]
        if len(ids) != len(set(ids)):
            raise ValueError("region ids must be unique")
        images = [i.id for i in self.images]
        if len(images) != len(set(images)):
            raise ValueError("image ids must be unique")
        space = ipaddress.ip_network(self.address_space)
        if space.overlaps(ipaddress.ip_network(self.management_cidr)):
            raise ValueError("management_cidr overlaps the tenant address_space")
        lo, hi = self.tenant_block_prefix
        if not (space.prefixlen <= lo <= hi <= 29):
            raise ValueError("tenant_block_prefix must lie between the space's prefix and /29")
        return self

    def region(self, region_id: str) -> Region | None:
        return next((r for r in self.regions if r.id == region_id), None)

    def image(self, image_id: str) -> Image | None:
        return next((i for i in self.images if i.id == image_id), None)
