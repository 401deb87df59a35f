"""Security-group rules from a card's ports: one rule per port, traceable to the card."""

from __future__ import annotations

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.model import Service, Tenant
from kuntapilvi.schema.card import Port


def sources(port: Port, tenant: Tenant, management_cidr: str, wan_prefixes: list[str]) -> list[str]:
    """Where a port may be reached from. 'wan' without a WAN link opens nothing."""
    match port.source:
        case "tenant":
            return [str(tenant.block)]
        case "management":
            return [management_cidr]
        case "wan":
            return list(wan_prefixes)
        case "world":
            return ["0.0.0.0/0"]
    raise AssertionError(port.source)


def port_rules(
    name: str,
    group_id: pulumi.Input[str],
    project_id: pulumi.Input[str],
    service: Service,
    tenant: Tenant,
    management_cidr: str,
    wan_prefixes: list[str],
    opts: pulumi.ResourceOptions,
) -> list[openstack.networking.SecGroupRule]:
    rules = []
    for i, port in enumerate(service.card.ports):
        for j, prefix in enumerate(sources(port, tenant, management_cidr, wan_prefixes)):
            label = port.port if port.port is not None else port.protocol
            rules.append(
                openstack.networking.SecGroupRule(
                    f"{name}-{port.protocol}-{label}-{i}-{j}",
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=port.protocol,
                    port_range_min=port.port,
                    port_range_max=port.port,
                    remote_ip_prefix=prefix,
                    security_group_id=group_id,
                    tenant_id=project_id,
                    description=f"{service.card.id}@{service.card.version}: {port.description.fi}",
                    opts=opts,
                )
            )
    return rules
