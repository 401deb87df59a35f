"""ComponentResources, one per service family, that turn the validated model into OpenStack.

`REGISTRY` maps each card's `module` key to the family component that provisions it; a unit
test walks it so every card's module is known and every family is reachable.
"""

from __future__ import annotations

FAMILY_OF_MODULE: dict[str, str] = {
    "project.quota": "modules.tenant_project:TenantProject",
    "network.tenant": "modules.network:TenantNetwork",
    "network.firewall": "modules.network:TenantNetwork",
    "network.floating-ip": "modules.network:TenantNetwork",
    "network.wan-link": "modules.network:TenantNetwork",
    "network.dns-zone": "modules.network:TenantNetwork",
    "capacity.server": "modules.capacity:Capacity",
    "capacity.volume": "modules.capacity:Capacity",
    "capacity.backup": "modules.capacity:Capacity",
    "office.server": "modules.office:OfficeServices",
}
