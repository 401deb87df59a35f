"""The Pulumi program: the centre stack or one tenant stack, built from the validated model.

`__main__.py` at the project root calls `run()`; the engine picks the stack."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.cloud import provider_args
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.model import Model, Tenant
from kuntapilvi.project import ProjectPaths, find_root
from kuntapilvi.servicecontext import server_name
from kuntapilvi.settings import Settings
from kuntapilvi.validate import validate
from kuntapilvi_modules.capacity import Capacity, CapacityArgs, attach_floating_ips
from kuntapilvi_modules.centre import CentreRegion, CentreRegionArgs
from kuntapilvi_modules.context import TenantContext
from kuntapilvi_modules.network import TenantNetwork, TenantNetworkArgs
from kuntapilvi_modules.office import OfficeServices, OfficeServicesArgs
from kuntapilvi_modules.tenant_project import TenantProject, TenantProjectArgs
from kuntapilvi_modules.user import UserServices, UserServicesArgs

CENTRE_STACK = "centre"


def today(settings: Settings) -> dt.date:
    """The day staged adoption is judged on; KUNTAPILVI_TODAY pins it for tests and previews."""
    return settings.today or dt.date.today()


def load_model(paths: ProjectPaths, stack: str) -> Model:
    report = validate(paths, [stack])
    for warning in report.warnings:
        pulumi.log.warn(warning.render())
    if report.errors:
        raise pulumi.RunError(
            "the stack request has errors; nothing was changed:\n"
            + "\n".join(f"  {f.render()}" for f in report.errors)
        )
    return report.model


def run(settings: Settings, paths: ProjectPaths | None = None, *, mocks: bool = False) -> None:
    """Build the engine's stack. `settings` come from the entry point; under `mocks` (plan,
    unit tests) no cloud is contacted and no credentials are needed."""
    try:
        paths = paths or find_root(Path.cwd(), settings.root)
    except KuntapilviError as exc:
        raise pulumi.RunError(str(exc)) from None
    stack = pulumi.get_stack()
    model = load_model(paths, stack)
    try:
        if stack in model.centre_stacks:
            build_centre(model, stack, settings, paths, mocks=mocks)
            return
        if stack in model.tenants:
            build_tenant(model, model.tenants[stack], today(settings), settings, mocks=mocks)
            return
    except KuntapilviError as exc:
        raise pulumi.RunError(str(exc)) from None
    raise pulumi.RunError(
        f"stack '{stack}' has no stacks/Pulumi.{stack}.yaml; create it with "
        f"'kuntapilvi new-tenant {stack}'"
    )


def image_dir(settings: Settings, paths: ProjectPaths) -> Path:
    """Where base image files are: KUNTAPILVI_IMAGE_DIR (devcloud env sets it to its own)."""
    return settings.image_dir or paths.state / "devcloud" / "images"


def build_centre(
    model: Model, stack: str, settings: Settings, paths: ProjectPaths, *, mocks: bool = False
) -> None:
    regions: dict[str, Any] = {}
    first: CentreRegion | None = None
    for region_id in model.centre_stacks[stack].request.regions:
        region = model.centre.region(region_id)
        assert region is not None  # validated
        provider = openstack.Provider(
            f"{region.id}", **provider_args(settings, region.openstack_region, mocks=mocks)
        )
        shared = CentreRegion(
            region.id,
            CentreRegionArgs(
                centre=model.centre,
                region=region,
                cards=model.cards,
                image_dir=image_dir(settings, paths),
                compute_from=first if settings.shared_control_plane else None,
            ),
            opts=pulumi.ResourceOptions(providers={"openstack": provider}),
        )
        first = first or shared
        regions[region.id] = {
            "external_network_id": shared.external_network_id,
            "external_network_name": region.external_network.name,
            "wan_network_id": shared.wan_network_id,
            "flavor_ids": shared.flavor_ids,
            "image_ids": shared.image_ids,
        }
    pulumi.export("regions", regions)


def build_tenant(
    model: Model, tenant: Tenant, day: dt.date, settings: Settings, *, mocks: bool = False
) -> None:
    waiting = [s for s in tenant.services if not s.active_on(day)]
    for service in waiting:
        pulumi.log.info(
            f"{service.card.id} '{service.name}' starts {service.start}; not provisioned yet"
        )
    tenant = dataclasses.replace(tenant, services=tuple(tenant.active(day)))
    region = tenant.region
    args = provider_args(settings, region.openstack_region, mocks=mocks)
    admin = openstack.Provider(f"{tenant.stack}-admin", **args)
    admin_opts = pulumi.ResourceOptions(provider=admin)
    invoke = pulumi.InvokeOptions(provider=admin)

    centre = pulumi.StackReference(f"organization/kuntapilvi/{CENTRE_STACK}")
    shared = centre.require_output("regions").apply(lambda r: r[region.id])

    scope = openstack.identity.get_auth_scope_output(name="operator", opts=invoke)
    admin_role = openstack.identity.get_role_output(name="admin", opts=invoke)
    member_role = openstack.identity.get_role_output(name="member", opts=invoke)

    project = TenantProject(
        tenant.stack,
        TenantProjectArgs(
            tenant=tenant,
            admin_user_id=scope.user_id,
            admin_role_id=admin_role.id,
            member_role_id=member_role.id,
        ),
        opts=admin_opts,
    )
    users = UserServices(
        tenant.stack,
        UserServicesArgs(
            tenant=tenant, project_id=project.project_id, admin_group_id=project.admin_group_id
        ),
        opts=admin_opts,
    )
    # Name the project as well as its id: the provider otherwise fills a missing name from
    # OS_PROJECT_NAME or OS_CLOUD in the engineer's shell, and the token lands in that project.
    scoped_args = {k: v for k, v in args.items() if k != "tenant_name"}
    scoped = openstack.Provider(
        f"{tenant.stack}-scoped",
        tenant_id=project.project_id,
        tenant_name=tenant.stack,
        **scoped_args,
        opts=pulumi.ResourceOptions(depends_on=[project.operator_role]),
    )
    network = TenantNetwork(
        tenant.stack,
        TenantNetworkArgs(
            tenant=tenant,
            project_id=project.project_id,
            external_network_id=shared.apply(lambda r: r["external_network_id"]),
            external_network_name=region.external_network.name,
            wan_network_id=shared.apply(lambda r: r["wan_network_id"]),
            wan_cidr=model.centre.wan.cidr,
            management_cidr=model.centre.management_cidr,
        ),
        opts=admin_opts,
    )
    keypair = openstack.compute.Keypair(
        f"{tenant.stack}-keypair",
        name=f"{tenant.stack}-yllapito",
        public_key=model.centre.admin_ssh_keys[0],
        opts=pulumi.ResourceOptions(provider=scoped),
    )
    ctx = TenantContext(
        model=model,
        tenant=tenant,
        project_id=project.project_id,
        networks=network.networks,
        baseline_group_id=network.baseline_group_id,
        floating_ips=network.floating_ips,
        flavor_id=lambda name: shared.apply(lambda r: r["flavor_ids"][name]),
        image_id=lambda image: shared.apply(lambda r: r["image_ids"][image]),
        key_pair=keypair.name,
        admin_provider=admin,
        scoped_provider=scoped,
        apt_proxy=settings.apt_proxy,
    )
    capacity = Capacity(tenant.stack, CapacityArgs(context=ctx), opts=admin_opts)
    office = OfficeServices(
        tenant.stack,
        OfficeServicesArgs(context=ctx),
        opts=admin_opts,
    )
    servers = {**capacity.servers, **office.servers}
    attach_floating_ips(capacity, ctx, servers)

    by_name = {s.name: s for s in tenant.services}
    pulumi.export("tenant", tenant.stack)
    pulumi.export("project_id", project.project_id)
    pulumi.export(
        "networks",
        {
            name: {
                "network_id": n.network_id,
                "subnet_id": n.subnet_id,
                "router_id": n.router_id,
                "cidr": n.cidr,
            }
            for name, n in network.networks.items()
        },
    )
    pulumi.export(
        "servers",
        {
            server_name(tenant, by_name[name]): {
                "address": built.address,
                "service": name,
                "card": by_name[name].card.id,
                "card_version": by_name[name].card.version,
            }
            for name, built in servers.items()
        },
    )
    pulumi.export(
        "endpoints",
        {
            server_name(tenant, by_name[name]): built.address.apply(
                lambda address, ports=by_name[name].card.ports: [
                    f"{p.protocol}://{address}:{p.port}"
                    for p in ports
                    if p.port is not None and p.source != "management"
                ]
            )
            for name, built in servers.items()
        },
    )
    # The staff accounts the directory is to hold (user.accounts); pushed by `kuntapilvi
    # accounts sync`, never part of a server's user data. No passwords: none exist here.
    pulumi.export("accounts", users.accounts)
    pulumi.export("waiting", [f"{s.card.id}/{s.name}@{s.start}" for s in waiting])
