"""One server as a card puts it up: port with security groups, instance, optional data volume.

Shared by the capacity and office families so both build servers the same way."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.model import Service, Tenant
from kuntapilvi.servicecontext import server_name
from kuntapilvi_modules.tags import metadata, tags


@dataclass(frozen=True, kw_only=True)
class ServerInputs:
    tenant: Tenant
    service: Service
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    project_id: pulumi.Input[str]
    security_group_ids: list[pulumi.Input[str]]
    flavor_id: pulumi.Input[str]
    image_id: pulumi.Input[str]
    key_pair: pulumi.Input[str]
    user_data: pulumi.Input[str] | None
    server_group_id: pulumi.Input[str] | None = None
    """Set for cards that ask for anti-affinity: the instance joins the card's server group."""


@dataclass(frozen=True)
class BuiltServer:
    name: str
    port: openstack.networking.Port
    instance: openstack.compute.Instance

    @property
    def address(self) -> pulumi.Output[str]:
        return self.port.all_fixed_ips.apply(lambda ips: ips[0] if ips else "")


def build_server(
    prefix: str,
    inputs: ServerInputs,
    admin: pulumi.ResourceOptions,
    scoped: pulumi.ResourceOptions,
) -> BuiltServer:
    """Create the port (admin, in the tenant's project) and the instance (scoped provider)."""
    tenant, service = inputs.tenant, inputs.service
    name = server_name(tenant, service)
    port = openstack.networking.Port(
        f"{prefix}-port",
        name=name,
        network_id=inputs.network_id,
        tenant_id=inputs.project_id,
        fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=inputs.subnet_id)],
        security_group_ids=inputs.security_group_ids,
        tags=tags(tenant.stack, service, name=f"{prefix}-port"),
        opts=admin,
    )
    instance = openstack.compute.Instance(
        f"{prefix}-server",
        name=name,
        flavor_id=inputs.flavor_id,
        image_id=inputs.image_id,
        key_pair=inputs.key_pair,
        networks=[openstack.compute.InstanceNetworkArgs(port=port.id)],
        user_data=inputs.user_data,
        scheduler_hints=(
            [openstack.compute.InstanceSchedulerHintArgs(group=inputs.server_group_id)]
            if inputs.server_group_id is not None
            else None
        ),
        # The logical name goes in metadata only: Nova tags are capped at 60 characters.
        metadata=metadata(tenant.stack, service, name=f"{prefix}-server"),
        tags=tags(tenant.stack, service),
        # The port outlives the server (its address is the service's), and Nova refuses a
        # port another server still holds: a replacement must delete the old server first
        # (a new card version's user data replaces the server; its data volume is kept).
        opts=pulumi.ResourceOptions.merge(
            scoped, pulumi.ResourceOptions(delete_before_replace=True)
        ),
    )
    return BuiltServer(name, port, instance)
