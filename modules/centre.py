"""CentreRegion: what every tenant of one region shares — the external network, the municipal
WAN transit network, flavors for every server size in the catalogue, and base images."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.flavors import catalogue_flavors
from kuntapilvi.schema.card import Card
from kuntapilvi.schema.centre import Centre, Region
from kuntapilvi_modules.tags import PREFIX


@dataclass(frozen=True, kw_only=True)
class CentreRegionArgs:
    centre: Centre
    region: Region
    cards: dict[str, Card]
    image_dir: Path
    compute_from: CentreRegion | None = None
    """Another region whose Nova and Glance this one shares (devcloud answers to every region
    name with one control plane): its flavors and images are reused instead of duplicated."""


class CentreRegion(pulumi.ComponentResource):
    external_network_id: pulumi.Output[str]
    wan_network_id: pulumi.Output[str]
    flavor_ids: dict[str, pulumi.Output[str]]
    image_ids: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: CentreRegionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kuntapilvi:index:CentreRegion", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ext = args.region.external_network
        tag = [f"{PREFIX}-centre={args.region.id}"]
        external = openstack.networking.Network(
            f"{name}-external",
            name=ext.name,
            external=True,
            segments=[
                openstack.networking.NetworkSegmentArgs(
                    network_type="flat", physical_network=ext.physical_network
                )
            ],
            tags=tag,
            opts=child,
        )
        openstack.networking.Subnet(
            f"{name}-external-subnet",
            name=ext.name,
            network_id=external.id,
            cidr=ext.cidr,
            gateway_ip=ext.gateway,
            enable_dhcp=False,
            allocation_pools=[
                openstack.networking.SubnetAllocationPoolArgs(
                    start=ext.floating_pool.start, end=ext.floating_pool.end
                )
            ],
            tags=tag,
            opts=child,
        )
        wan_cidr = ipaddress.IPv4Network(args.centre.wan.cidr)
        wan = openstack.networking.Network(
            f"{name}-wan",
            name=args.centre.wan.network_name,
            tags=tag,
            opts=child,
        )
        wan_subnet = openstack.networking.Subnet(
            f"{name}-wan-subnet",
            name=args.centre.wan.network_name,
            network_id=wan.id,
            cidr=str(wan_cidr),
            # The first address is the centre's WAN router, the next hop of tenant routes.
            gateway_ip=str(next(wan_cidr.hosts())),
            tags=tag,
            opts=child,
        )
        wan_router = openstack.networking.Router(
            f"{name}-wan-router", name=f"{args.centre.wan.network_name}-gw", tags=tag, opts=child
        )
        openstack.networking.RouterInterface(
            f"{name}-wan-router-if", router_id=wan_router.id, subnet_id=wan_subnet.id, opts=child
        )
        if args.compute_from is not None:
            self.flavor_ids = args.compute_from.flavor_ids
            self.image_ids = args.compute_from.image_ids
        else:
            self.flavor_ids, self.image_ids = self._compute_catalogue(name, args, child, tag)
        self.external_network_id = external.id
        self.wan_network_id = wan.id
        self.register_outputs(
            {
                "external_network_id": external.id,
                "wan_network_id": wan.id,
                "flavor_ids": self.flavor_ids,
                "image_ids": self.image_ids,
            }
        )

    @staticmethod
    def _compute_catalogue(
        name: str, args: CentreRegionArgs, child: pulumi.ResourceOptions, tag: list[str]
    ) -> tuple[dict[str, pulumi.Output[str]], dict[str, pulumi.Output[str]]]:
        flavor_ids: dict[str, pulumi.Output[str]] = {}
        for flavor, (vcpu, ram_gb, disk_gb) in catalogue_flavors(args.cards).items():
            flavor_ids[flavor] = openstack.compute.Flavor(
                f"{name}-{flavor}",
                name=flavor,
                vcpus=vcpu,
                ram=ram_gb * 1024,
                disk=disk_gb,
                is_public=True,
                opts=child,
            ).id
        image_ids: dict[str, pulumi.Output[str]] = {}
        for image in args.centre.images:
            image_ids[image.id] = openstack.images.Image(
                f"{name}-{image.id}",
                name=image.name,
                container_format="bare",
                disk_format=image.disk_format,
                local_file_path=str(args.image_dir / image.file),
                min_disk_gb=image.min_disk_gb,
                min_ram_mb=image.min_ram_mb,
                visibility="public",
                properties={"os_distro": image.os_distro, "os_version": image.os_version},
                tags=tag,
                opts=child,
            ).id
        return flavor_ids, image_ids
