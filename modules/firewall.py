"""Security groups from a card's ports: one group per service, one rule per port and admitted
source, each rule traceable to the card and named by what it admits, never by list position."""

from __future__ import annotations

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.model import Service, Tenant
from kuntapilvi.reach import Source, admitted
from kuntapilvi.schema.card import Port
from kuntapilvi_modules.tags import tags

# The role whose expansion the position-named rules (before content-derived names) came from.
_LEGACY_ROLE = {"office": "tenant"}


def sources(port: Port, tenant: Tenant, management_cidr: str) -> list[Source]:
    """Where a port may be reached from (the seam tests widen to check the policy pack)."""
    return admitted(port.source, tenant, management_cidr)


def rule_name(name: str, port: Port, source: Source) -> str:
    """Content-derived: inserting or reordering ports renames no existing rule."""
    label = port.port if port.port is not None else port.protocol
    return f"{name}-{port.protocol}-{label}-{source.slug}"


def _legacy_name(
    name: str, i: int, port: Port, source: Source, tenant: Tenant, management_cidr: str
) -> str | None:
    """The position-based name this rule had (`...-{port index}-{source index}`), so stacks
    made before content-derived names adopt their rules instead of replacing them."""
    role = _LEGACY_ROLE.get(port.source, port.source)
    old = [s.cidr for s in admitted(role, tenant, management_cidr)]
    if source.cidr not in old:
        return None
    label = port.port if port.port is not None else port.protocol
    return f"{name}-{port.protocol}-{label}-{i}-{old.index(source.cidr)}"


def port_rules(
    name: str,
    group_id: pulumi.Input[str],
    project_id: pulumi.Input[str],
    service: Service,
    tenant: Tenant,
    management_cidr: str,
    opts: pulumi.ResourceOptions,
) -> list[openstack.networking.SecGroupRule]:
    rules = []
    seen: set[str] = set()
    for i, port in enumerate(service.card.ports):
        for source in sources(port, tenant, management_cidr):
            rname = rule_name(name, port, source)
            # Two ports admitting the same block on the same port are one rule; Neutron
            # refuses the duplicate anyway.
            if rname in seen:
                continue
            seen.add(rname)
            legacy = _legacy_name(name, i, port, source, tenant, management_cidr)
            aliases = [pulumi.Alias(name=legacy)] if legacy and legacy != rname else []
            rule_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases))
            rules.append(
                openstack.networking.SecGroupRule(
                    rname,
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=port.protocol,
                    port_range_min=port.port,
                    port_range_max=port.port,
                    remote_ip_prefix=source.cidr,
                    security_group_id=group_id,
                    tenant_id=project_id,
                    description=f"{service.card.id}@{service.card.version}: {port.description.fi}",
                    opts=rule_opts,
                )
            )
    return rules


def service_group(
    name: str,
    rule_prefix: str,
    group_name: str,
    service: Service,
    tenant: Tenant,
    project_id: pulumi.Input[str],
    management_cidr: str,
    opts: pulumi.ResourceOptions,
) -> openstack.networking.SecGroup:
    """A service's security group with a rule for each of its card's ports."""
    group = openstack.networking.SecGroup(
        name,
        name=group_name,
        description=f"{service.card.id}@{service.card.version}",
        tenant_id=project_id,
        # The logical name too, so `kuntapilvi recover` can find the group in the cloud.
        tags=tags(tenant.stack, service, name=name),
        opts=opts,
    )
    port_rules(rule_prefix, group.id, project_id, service, tenant, management_cidr, opts)
    return group
