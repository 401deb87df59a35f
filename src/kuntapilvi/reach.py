"""Who may reach a tenant's services: computed once, here, for security groups and service configs.

A card port names a source role; this module turns the role into the address blocks it
admits. The office services' firewall rules and their own configs (smb.conf `hosts allow`,
cupsd `Allow`, chrony `allow`, postfix `mynetworks`, slapd ACLs) are both fed from
`admitted()`, so the two can never disagree."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kuntapilvi.model import Tenant

WAN_LINK_MODULE = "network.wan-link"


@dataclass(frozen=True, slots=True)
class Source:
    """One admitted address block and the role it plays, which names its firewall rule."""

    role: str
    cidr: str

    @property
    def slug(self) -> str:
        """A resource-name-safe label: the role alone when it has one block, else with the block."""
        if self.role in ("tenant", "management", "world"):
            return self.role
        return f"{self.role}-{cidr_slug(self.cidr)}"


def cidr_slug(cidr: str) -> str:
    """A block as a resource-name part: 172.20.0.0/16 -> 172-20-0-0-16."""
    return cidr.replace(".", "-").replace("/", "-")


def office_networks(tenant: Tenant) -> list[str]:
    """The tenant's office networks (kuntaverkko), declared once: its WAN link's wan_prefixes.
    Without an active WAN link the offices cannot route in, so there are none."""
    nets: list[str] = []
    for service in tenant.by_module(WAN_LINK_MODULE):
        nets.extend(str(ipaddress.IPv4Network(p)) for p in service.params.get("wan_prefixes", ()))
    return nets


def admitted(role: str, tenant: Tenant, management_cidr: str) -> list[Source]:
    """The address blocks a port with source `role` admits.

    `office` is what an office service needs: the tenant's cloud block, its office networks and
    the centre's management network, and nothing of another tenant. `wan` without a WAN link
    opens nothing."""
    match role:
        case "tenant":
            return [Source("tenant", str(tenant.block))]
        case "management":
            return [Source("management", management_cidr)]
        case "wan":
            return [Source("wan", n) for n in office_networks(tenant)]
        case "office":
            return [
                Source("tenant", str(tenant.block)),
                *(Source("wan", n) for n in office_networks(tenant)),
                Source("management", management_cidr),
            ]
        case "world":
            return [Source("world", "0.0.0.0/0")]
    raise AssertionError(role)


def office_cidrs(tenant: Tenant, management_cidr: str) -> list[str]:
    """The blocks an office service's own config admits (the same as its firewall's)."""
    return [s.cidr for s in admitted("office", tenant, management_cidr)]
