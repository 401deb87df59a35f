"""Capacity: virtual servers, block-storage volumes with their attachments, and backup policy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.flavors import flavor_name
from kuntapilvi.model import Service
from kuntapilvi.render import render
from kuntapilvi.servicecontext import userdata_context
from kuntapilvi_modules.context import TenantContext
from kuntapilvi_modules.server import BuiltServer, ServerInputs, build_server
from kuntapilvi_modules.tags import metadata


@dataclass(frozen=True, kw_only=True)
class CapacityArgs:
    context: TenantContext


def attach_floating_ips(
    owner: pulumi.ComponentResource, ctx: TenantContext, servers: dict[str, BuiltServer]
) -> None:
    """Associate the first floating address of each floating-ip service with its server."""
    for service in ctx.tenant.by_module("network.floating-ip"):
        target = service.params.get("attach_to")
        if target in servers and ctx.floating_ips.get(service.name):
            openstack.networking.FloatingIpAssociate(
                f"{owner._name}-{service.name}-assoc",  # type: ignore[attr-defined]
                floating_ip=ctx.floating_ips[service.name][0].address,
                port_id=servers[target].port.id,
                opts=pulumi.ResourceOptions.merge(
                    ctx.options(owner, scoped=False),
                    pulumi.ResourceOptions(
                        depends_on=[n.router_interface for n in ctx.networks.values()]
                    ),
                ),
            )


def server_for(
    owner: pulumi.ComponentResource,
    prefix: str,
    ctx: TenantContext,
    service: Service,
    extra_groups: list[pulumi.Input[str]] | None = None,
    server_group_id: pulumi.Input[str] | None = None,
    late_context: dict[str, pulumi.Output[str]] | None = None,
) -> BuiltServer:
    """Build the server a card puts up, with the card's own cloud-init user data."""
    card, size = service.card, service.size
    assert card.server is not None and size is not None and size.is_server
    assert size.vcpu and size.ram_gb and size.disk_gb
    network = ctx.network_for(service)
    groups: list[pulumi.Input[str]] = list(extra_groups or [])
    if ctx.baseline_group_id is not None:
        groups.insert(0, ctx.baseline_group_id)
    context = userdata_context(ctx.model, ctx.tenant, service, apt_proxy=ctx.apt_proxy)
    templates = ctx.model.catalogue.paths.templates
    assert card.server is not None  # server_for is called for server cards only
    template = card.server.template
    user_data: pulumi.Input[str] = render(templates, template, context)
    if late_context:
        # Values known only once other resources exist (another server's address).
        user_data = pulumi.Output.all(**late_context).apply(
            lambda late: render(templates, template, {**context, **late})
        )
    return build_server(
        prefix,
        ServerInputs(
            tenant=ctx.tenant,
            service=service,
            network_id=network.network_id,
            subnet_id=network.subnet_id,
            project_id=ctx.project_id,
            security_group_ids=groups,
            flavor_id=ctx.flavor_id(flavor_name(size.vcpu, size.ram_gb, size.disk_gb)),
            image_id=ctx.image_id(card.server.image),
            key_pair=ctx.key_pair,
            user_data=user_data,
            server_group_id=server_group_id,
        ),
        admin=ctx.options(owner, scoped=False),
        scoped=ctx.options(owner, scoped=True),
    )


def data_volume(
    owner: pulumi.ComponentResource,
    prefix: str,
    ctx: TenantContext,
    service: Service,
    size_gb: int,
    attach_to: BuiltServer | None,
) -> openstack.blockstorage.Volume:
    """A volume holding tenant data: retained in the cloud when its service leaves the stack.

    Deleting the data is the explicit step `kuntapilvi data purge` (docs/operations.md)."""
    meta = metadata(ctx.tenant.stack, service, name=f"{prefix}-volume")
    backup = ctx.tenant.by_module("capacity.backup")
    if backup and backup[0].size is not None and backup[0].size.retention_days:
        meta["kuntapilvi-backup-retention-days"] = str(backup[0].size.retention_days)
    volume = openstack.blockstorage.Volume(
        f"{prefix}-volume",
        name=f"{ctx.tenant.stack}-{service.name}-data",
        size=size_gb,
        metadata=meta,
        enable_online_resize=True,
        opts=pulumi.ResourceOptions.merge(
            ctx.options(owner, scoped=True), pulumi.ResourceOptions(retain_on_delete=True)
        ),
    )
    if attach_to is not None:
        openstack.compute.VolumeAttach(
            f"{prefix}-attach",
            instance_id=attach_to.instance.id,
            volume_id=volume.id,
            opts=ctx.options(owner, scoped=True),
        )
    return volume


class Capacity(pulumi.ComponentResource):
    """Servers from `capacity.server` cards, volumes from `capacity.block-storage`, and the
    backup policy on those volumes."""

    servers: dict[str, BuiltServer]

    def __init__(
        self, name: str, args: CapacityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kuntapilvi:index:Capacity", name, None, opts)
        ctx = args.context
        servers = ctx.tenant.by_module("capacity.server")
        groups = self._server_groups(name, ctx, servers)
        self.servers = {
            s.name: server_for(
                self, f"{name}-{s.name}", ctx, s, server_group_id=groups.get(s.card.id)
            )
            for s in servers
        }
        for service in ctx.tenant.by_module("capacity.volume"):
            target = service.params.get("attach_to")
            data_volume(
                self,
                f"{name}-{service.name}",
                ctx,
                service,
                int(service.params["size_gb"]),
                self.servers.get(target) if target else None,
            )
        self.register_outputs(
            {
                "servers": {
                    k: {"id": v.instance.id, "address": v.address} for k, v in self.servers.items()
                }
            }
        )

    def _server_groups(
        self, name: str, ctx: TenantContext, servers: list[Service]
    ) -> dict[str, pulumi.Output[str]]:
        """One server group per card that asks for anti-affinity. Soft: spread over hosts
        when there are hosts to spread over, rather than refusing to start the server."""
        groups: dict[str, pulumi.Output[str]] = {}
        for service in servers:
            card = service.card
            if card.server is None or not card.server.anti_affinity or card.id in groups:
                continue
            short = card.id.split(".", 1)[1]
            groups[card.id] = openstack.compute.ServerGroup(
                f"{name}-{short}-group",
                name=f"{ctx.tenant.stack}-{short}",
                policies="soft-anti-affinity",
                opts=ctx.options(self, scoped=True),
            ).id
        return groups
