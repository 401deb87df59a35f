"""UserServices: the user-services family (käyttäjäpalvelut) that lives in the identity service.

`user.admin-access` gives each of the tenant's own administrators a Keystone user in the
tenant's admins group, which holds the member role on the tenant's project and nothing else;
their SSH keys reach the tenant's servers through user data (servicecontext).

`user.accounts` builds nothing in the cloud: the staff accounts live in the tenant's directory,
which `kuntapilvi accounts sync` brings in line with the request in place (kuntapilvi.accounts).
The component records the requested list (uid, name, groups; no password exists to record) as
its `accounts` output, so the stack says what its last apply asked the directory to hold."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.accounts import desired_accounts
from kuntapilvi.model import Service, Tenant


def keystone_user_name(tenant: Tenant, handle: str) -> str:
    """Unique across the centre: the same handle in two tenants is two users."""
    return f"{tenant.stack}-{handle}"


@dataclass(frozen=True, kw_only=True)
class UserServicesArgs:
    tenant: Tenant
    project_id: pulumi.Input[str]
    admin_group_id: pulumi.Input[str]
    """The tenant's admins group: member role on the tenant's project only (TenantProject)."""


class UserServices(pulumi.ComponentResource):
    accounts: list[dict[str, object]]

    def __init__(
        self, name: str, args: UserServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kuntapilvi:index:UserServices", name, None, opts)
        for service in args.tenant.by_module("user.admin-access"):
            self._admins(name, service, args)
        self.accounts = []
        if args.tenant.by_module("user.accounts"):
            self.accounts = list(desired_accounts(args.tenant)["accounts"])
        self.register_outputs({"accounts": self.accounts})

    def _admins(self, name: str, service: Service, args: UserServicesArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        for admin in service.params["admins"]:
            handle = admin["handle"]
            # No password: the login is the centre's to hand over (or federate); nothing secret
            # is in the request, in git or in state.
            user = openstack.identity.User(
                f"{name}-admin-{handle}",
                name=keystone_user_name(args.tenant, handle),
                default_project_id=args.project_id,
                description=f"{service.card.id}@{service.card.version}: {handle} "
                f"({args.tenant.owner.name})",
                enabled=True,
                opts=child,
            )
            openstack.identity.UserMembershipV3(
                f"{name}-admin-{handle}-membership",
                user_id=user.id,
                group_id=args.admin_group_id,
                opts=child,
            )
