"""OfficeServices: each office card becomes a server with its own firewall rules, user data
rendered from templates/, and a data volume where the size names one."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from modules.capacity import data_volume, server_for
from modules.context import TenantContext
from modules.firewall import port_rules
from modules.server import BuiltServer
from modules.tags import tags


@dataclass(frozen=True, kw_only=True)
class OfficeServicesArgs:
    context: TenantContext
    wan_prefixes: list[str]


class OfficeServices(pulumi.ComponentResource):
    servers: dict[str, BuiltServer]

    def __init__(
        self, name: str, args: OfficeServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kuntapilvi:index:OfficeServices", name, None, opts)
        ctx = args.context
        tenant = ctx.tenant
        self.servers = {}
        for service in tenant.by_module("office.server"):
            prefix = f"{name}-{service.name}"
            admin = ctx.options(self, scoped=False)
            group = openstack.networking.SecGroup(
                f"{prefix}-sg",
                name=f"{tenant.stack}-{service.name}",
                description=f"{service.card.id}@{service.card.version}",
                tenant_id=ctx.project_id,
                tags=tags(tenant.stack, service, name=f"{prefix}-sg"),
                opts=admin,
            )
            port_rules(
                prefix,
                group.id,
                ctx.project_id,
                service,
                tenant,
                ctx.model.centre.management_cidr,
                args.wan_prefixes,
                admin,
            )
            server = server_for(self, prefix, ctx, service, [group.id])
            self.servers[service.name] = server
            if service.size is not None and service.size.data_gb:
                data_volume(self, prefix, ctx, service, service.size.data_gb, server)
        self.register_outputs(
            {
                "servers": {
                    k: {"id": v.instance.id, "address": v.address} for k, v in self.servers.items()
                }
            }
        )
