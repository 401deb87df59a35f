"""Rules on the centre's pools: what all tenants reserve must fit, per region."""

from __future__ import annotations

from dataclasses import dataclass

from kuntapilvi import findings as fnd
from kuntapilvi.errors import Finding
from kuntapilvi.model import Model, Tenant
from kuntapilvi.schema.centre import Region
from kuntapilvi.schema.stack import TENANT_KEY

WARN_RATIO = 0.85


@dataclass(frozen=True, slots=True)
class PoolUse:
    """One pool of one region: what is reserved against what can be scheduled."""

    region: str
    pool: str
    unit: str
    reserved: int
    capacity: int

    @property
    def ratio(self) -> float:
        return self.reserved / self.capacity if self.capacity else float("inf")


def reservations(tenant: Tenant) -> dict[str, int]:
    """What a tenant's quota tier and floating addresses reserve from the pools."""
    out = {"cores": 0, "ram_gb": 0, "volume_gb": 0, "floating_ips": 0}
    for s in tenant.services:
        if s.card.module == "project.quota" and s.size is not None and s.size.quota is not None:
            out["cores"] += s.size.quota.cores
            out["ram_gb"] += s.size.quota.ram_gb
            out["volume_gb"] += s.size.quota.volume_gb
        if s.card.module == "network.floating-ip":
            out["floating_ips"] += int(s.params.get("count", 1))
    return out


def pool_use(model: Model) -> list[PoolUse]:
    uses: list[PoolUse] = []
    for region in model.centre.regions:
        totals = {"cores": 0, "ram_gb": 0, "volume_gb": 0, "floating_ips": 0}
        for tenant in model.tenants.values():
            if tenant.region.id == region.id:
                for key, value in reservations(tenant).items():
                    totals[key] += value
        uses.extend(_uses(region, totals))
    return uses


def _uses(region: Region, totals: dict[str, int]) -> list[PoolUse]:
    return [
        PoolUse(region.id, "cores", "vCPU", totals["cores"], region.compute.schedulable_cores),
        PoolUse(region.id, "ram_gb", "GB", totals["ram_gb"], region.compute.schedulable_ram_gb),
        PoolUse(region.id, "volume_gb", "GB", totals["volume_gb"], region.storage.schedulable_gb),
        PoolUse(
            region.id,
            "floating_ips",
            "addresses",
            totals["floating_ips"],
            region.external_network.floating_ip_count,
        ),
    ]


def check(model: Model) -> list[Finding]:
    out: list[Finding] = []
    for use in pool_use(model):
        if use.ratio <= WARN_RATIO:
            continue
        tenants = [t for t in model.tenants.values() if t.region.id == use.region]
        # The finding lands on the biggest reserver's file: that is where a change helps most.
        biggest = max(tenants, key=lambda t: reservations(t)[use.pool])
        stack = model.tenant_stacks[biggest.stack]
        message = (
            f"region {use.region}: tenants reserve {use.reserved} {use.unit} of {use.pool}, the "
            f"pool schedules {use.capacity} (with overcommit) — {use.ratio:.0%}."
        )
        loc = ("config", TENANT_KEY, "services")
        if use.ratio > 1:
            out.append(
                fnd.error(
                    "capacity.over",
                    stack.doc,
                    loc,
                    message,
                    "choose a smaller quota tier, another region, or have the centre grow the "
                    f"pool in catalog/centre.yaml ({len(tenants)} tenant(s) in the region)",
                )
            )
        else:
            out.append(
                fnd.warning(
                    "capacity.near-full",
                    stack.doc,
                    loc,
                    message,
                    "plan pool growth with the centre before the next tenant joins",
                )
            )
    return out
