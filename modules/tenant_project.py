"""TenantProject: the tenant's identity project, its admin group, and quotas from its tier."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.model import Service, Tenant
from kuntapilvi_modules.tags import tags


@dataclass(frozen=True, kw_only=True)
class TenantProjectArgs:
    tenant: Tenant
    """The validated tenant; its quota-tier service sets the quotas."""
    admin_user_id: pulumi.Input[str]
    """The centre's operator account, given admin on the project so it can build inside it."""
    admin_role_id: pulumi.Input[str]
    member_role_id: pulumi.Input[str]


class TenantProject(pulumi.ComponentResource):
    """Identity project, administrators' group with a role on it, and compute/volume/network
    quotas equal to the quota tier's numbers."""

    project_id: pulumi.Output[str]
    admin_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: TenantProjectArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kuntapilvi:index:TenantProject", name, None, opts)
        tenant = args.tenant
        child = pulumi.ResourceOptions(parent=self)
        tiers = tenant.by_module("project.quota")
        project = openstack.identity.Project(
            f"{name}-project",
            name=tenant.stack,
            description=f"{tenant.owner.name} ({tenant.owner.business_id})",
            # The project exists for its quota tier's card, so it names that card like every
            # other resource names the card it was made for (the policy pack checks this).
            tags=tags(tenant.stack, tiers[0] if tiers else None),
            opts=child,
        )
        group = openstack.identity.GroupV3(
            f"{name}-admins",
            name=f"{tenant.stack}-admins",
            description=f"Administrators of {tenant.owner.name}",
            opts=child,
        )
        openstack.identity.RoleAssignment(
            f"{name}-admins-member",
            project_id=project.id,
            group_id=group.id,
            role_id=args.member_role_id,
            opts=child,
        )
        # The centre's own account needs a role on the project to create servers inside it.
        self.operator_role = openstack.identity.RoleAssignment(
            f"{name}-operator-admin",
            project_id=project.id,
            user_id=args.admin_user_id,
            role_id=args.admin_role_id,
            opts=child,
        )
        quotas = self._quotas(name, project.id, tiers[0]) if tiers else []
        # Everything built inside the project takes its id from here, so it waits for the
        # quotas: Neutron refuses a quota below what is in use, and a router being created
        # while the quota was set was seen counted twice ("limit 1 ... already used 2").
        self.project_id = pulumi.Output.all(project.id, *[q.id for q in quotas]).apply(
            lambda ids: ids[0]
        )
        self.admin_group_id = group.id
        self.register_outputs({"project_id": project.id, "admin_group_id": group.id})

    def _quotas(
        self, name: str, project_id: pulumi.Output[str], tier: Service
    ) -> list[pulumi.CustomResource]:
        assert tier.size is not None and tier.size.quota is not None
        quota = tier.size.quota
        child = pulumi.ResourceOptions(parent=self)
        compute = openstack.compute.QuotaSetV2(
            f"{name}-quota-compute",
            project_id=project_id,
            instances=quota.instances,
            cores=quota.cores,
            ram=quota.ram_gb * 1024,
            opts=child,
        )
        volume = openstack.blockstorage.QuoteSetV3(
            f"{name}-quota-volume",
            project_id=project_id,
            volumes=quota.volumes,
            gigabytes=quota.volume_gb,
            snapshots=quota.snapshots,
            opts=child,
        )
        network = openstack.networking.QuotaV2(
            f"{name}-quota-network",
            project_id=project_id,
            network=quota.networks,
            subnet=quota.subnets,
            port=quota.ports,
            router=quota.routers,
            floatingip=quota.floating_ips,
            security_group=quota.security_groups,
            security_group_rule=quota.security_group_rules,
            opts=child,
        )
        return [compute, volume, network]
