"""OfficeServices: each office card becomes a server with its own firewall rules, user data
rendered from templates/, and a data volume where the size names one."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from kuntapilvi_modules.capacity import data_volume, server_for
from kuntapilvi_modules.context import TenantContext
from kuntapilvi_modules.firewall import service_group
from kuntapilvi_modules.server import BuiltServer


@dataclass(frozen=True, kw_only=True)
class OfficeServicesArgs:
    context: TenantContext


class OfficeServices(pulumi.ComponentResource):
    servers: dict[str, BuiltServer]

    def __init__(
        self, name: str, args: OfficeServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kuntapilvi:index:OfficeServices", name, None, opts)
        ctx = args.context
        tenant = ctx.tenant
        self.servers = {}
        # Directories first, then mailboxes: mailboxes log in against the directory and the
        # relay delivers into the mailboxes, so each takes the address of the one before.
        rank = {"office.directory": 0, "user.mailbox": 1}
        ordered = sorted(tenant.by_module("office.server"), key=lambda s: rank.get(s.card.id, 2))
        for service in ordered:
            prefix = f"{name}-{service.name}"
            group = service_group(
                f"{prefix}-sg",
                prefix,
                f"{tenant.stack}-{service.name}",
                service,
                tenant,
                ctx.project_id,
                ctx.model.centre.management_cidr,
                ctx.options(self, scoped=False),
            )
            late = {}
            if "office.directory" in service.card.requires:
                directory = next(s for s in ordered if s.card.id == "office.directory")
                late["directory_host"] = self.servers[directory.name].address
            if service.card.id == "office.mail-relay":
                mailbox = next((s for s in ordered if s.card.id == "user.mailbox"), None)
                if mailbox is not None:
                    late["mailbox_host"] = self.servers[mailbox.name].address
            server = server_for(self, prefix, ctx, service, [group.id], late_context=late)
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
