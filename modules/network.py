"""TenantNetwork: networks, subnets and routers, the baseline firewall, floating addresses,
the link to the municipal WAN and the DNS zone."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.model import Service, Tenant
from kuntapilvi.reach import cidr_slug
from kuntapilvi.subnets import network_cidr
from kuntapilvi_modules.firewall import service_group
from kuntapilvi_modules.tags import tags


def wan_limit_kbps(mbps: int) -> int:
    """Neutron's bandwidth limits are in kbit/s of 1000 bits."""
    return mbps * 1000


@dataclass(frozen=True, kw_only=True)
class TenantNetworkArgs:
    tenant: Tenant
    project_id: pulumi.Input[str]
    external_network_id: pulumi.Input[str]
    """The region's external network (from the centre stack) routers take their gateway on."""
    external_network_name: str
    wan_network_id: pulumi.Input[str]
    wan_cidr: str
    management_cidr: str


@dataclass(frozen=True)
class NetworkRefs:
    network_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    router_id: pulumi.Output[str]
    cidr: str
    # Neutron refuses a floating address for a port until the router links its subnet to the
    # external network, so associations wait for this.
    router_interface: pulumi.Resource


class TenantNetwork(pulumi.ComponentResource):
    """Everything network-shaped that a tenant's cards ask for."""

    networks: dict[str, NetworkRefs]
    baseline_group_id: pulumi.Output[str] | None
    floating_ips: dict[str, list[openstack.networking.FloatingIp]]

    def __init__(
        self, name: str, args: TenantNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kuntapilvi:index:TenantNetwork", name, None, opts)
        self._name = name
        self._args = args
        tenant = args.tenant
        self.networks = {}
        for service in tenant.by_module("network.tenant"):
            self.networks[service.name] = self._network(service)
        wan = tenant.by_module("network.wan-link")
        self.baseline_group_id = None
        for service in tenant.by_module("network.firewall"):
            self.baseline_group_id = self._baseline(service)
        self.floating_ips = {
            s.name: self._floating(s) for s in tenant.by_module("network.floating-ip")
        }
        for service in wan:
            self._wan_link(service)
        for service in tenant.by_module("network.dns-zone"):
            self._dns_zone(service)
        self.register_outputs(
            {
                "networks": {
                    k: {
                        "network_id": v.network_id,
                        "subnet_id": v.subnet_id,
                        "router_id": v.router_id,
                        "cidr": v.cidr,
                    }
                    for k, v in self.networks.items()
                },
            }
        )

    @property
    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _network(self, service: Service) -> NetworkRefs:
        tenant, args = self._args.tenant, self._args
        base = f"{self._name}-{service.name}"
        cidr = network_cidr(service, tenant.block)
        assert cidr is not None
        network = openstack.networking.Network(
            f"{base}-net",
            name=f"{tenant.stack}-{service.name}",
            tenant_id=args.project_id,
            admin_state_up=True,
            tags=tags(tenant.stack, service, name=f"{base}-net"),
            opts=self._child,
        )
        subnet = openstack.networking.Subnet(
            f"{base}-subnet",
            name=f"{tenant.stack}-{service.name}",
            network_id=network.id,
            tenant_id=args.project_id,
            cidr=str(cidr),
            ip_version=4,
            gateway_ip=str(next(cidr.hosts())),
            tags=tags(tenant.stack, service, name=f"{base}-subnet"),
            opts=self._child,
        )
        router = openstack.networking.Router(
            f"{base}-router",
            name=f"{tenant.stack}-{service.name}",
            tenant_id=args.project_id,
            external_network_id=args.external_network_id,
            tags=tags(tenant.stack, service, name=f"{base}-router"),
            opts=self._child,
        )
        interface = openstack.networking.RouterInterface(
            f"{base}-router-if", router_id=router.id, subnet_id=subnet.id, opts=self._child
        )
        return NetworkRefs(network.id, subnet.id, router.id, str(cidr), interface)

    def _baseline(self, service: Service) -> pulumi.Output[str]:
        tenant, args = self._args.tenant, self._args
        group = service_group(
            f"{self._name}-baseline",
            f"{self._name}-baseline",
            f"{tenant.stack}-baseline",
            service,
            tenant,
            args.project_id,
            args.management_cidr,
            self._child,
        )
        return group.id

    def _floating(self, service: Service) -> list[openstack.networking.FloatingIp]:
        tenant, args = self._args.tenant, self._args
        return [
            openstack.networking.FloatingIp(
                f"{self._name}-{service.name}-{i}",
                pool=args.external_network_name,
                tenant_id=args.project_id,
                description=f"{service.card.id}@{service.card.version}",
                tags=tags(tenant.stack, service),
                opts=self._child,
            )
            for i in range(int(service.params["count"]))
        ]

    def _wan_link(self, service: Service) -> None:
        tenant, args = self._args.tenant, self._args
        first = next(iter(self.networks.values()), None)
        if first is None:
            return
        base = f"{self._name}-wan"
        # The WAN transit network belongs to the centre; sharing it with just this project
        # keeps other tenants from attaching to the same segment uninvited.
        rbac = openstack.networking.RbacPolicyV2(
            f"{base}-rbac",
            action="access_as_shared",
            object_type="network",
            object_id=args.wan_network_id,
            target_tenant=args.project_id,
            opts=self._child,
        )
        qos = self._wan_qos(base, service)
        port = openstack.networking.Port(
            f"{base}-port",
            name=f"{tenant.stack}-wan",
            network_id=args.wan_network_id,
            tenant_id=args.project_id,
            qos_policy_id=qos.id if qos is not None else None,
            tags=tags(tenant.stack, service, name=f"{base}-port"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[rbac]),
        )
        interface = openstack.networking.RouterInterface(
            f"{base}-router-if", router_id=first.router_id, port_id=port.id, opts=self._child
        )
        gateway = str(next(ipaddress.IPv4Network(args.wan_cidr).hosts()))
        for i, prefix in enumerate(service.params["wan_prefixes"]):
            # Named by the destination, so adding an office network routes it and moves none;
            # the alias adopts routes made under their old position-based name.
            openstack.networking.RouterRoute(
                f"{base}-route-{cidr_slug(str(prefix))}",
                router_id=first.router_id,
                destination_cidr=prefix,
                next_hop=gateway,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[interface],
                    aliases=[pulumi.Alias(name=f"{base}-route-{i}")],
                ),
            )

    def _wan_qos(self, base: str, service: Service) -> openstack.networking.QosPolicy | None:
        """The tier's bandwidth, enforced by Neutron on the link's port in both directions, so
        100M and 1G differ in what is built and not only in price."""
        if service.size is None or service.size.bandwidth_mbps is None:
            return None
        tenant, args = self._args.tenant, self._args
        kbps = wan_limit_kbps(service.size.bandwidth_mbps)
        policy = openstack.networking.QosPolicy(
            f"{base}-qos",
            name=f"{tenant.stack}-wan-{service.size_name}",
            description=f"{service.card.id}@{service.card.version}: "
            f"{service.size.bandwidth_mbps} Mbit/s",
            project_id=args.project_id,
            # No tags: Neutron refuses the provider's tag update on QoS policies (see
            # kuntapilvi.policies.tagging.UNTAGGABLE); name and description trace it instead.
            opts=self._child,
        )
        for direction in ("egress", "ingress"):
            openstack.networking.QosBandwidthLimitRule(
                f"{base}-qos-{direction}",
                qos_policy_id=policy.id,
                max_kbps=kbps,
                # Neutron's advice for TCP: a burst of about 80 % of the rate.
                max_burst_kbps=kbps * 8 // 10,
                direction=direction,
                opts=self._child,
            )
        return policy

    def _dns_zone(self, service: Service) -> None:
        tenant, args = self._args.tenant, self._args
        openstack.dns.Zone(
            f"{self._name}-zone",
            name=f"{tenant.domain}.",
            email=service.params["hostmaster"],
            ttl=3600,
            type="PRIMARY",
            project_id=args.project_id,
            description=f"{service.card.id}@{service.card.version}",
            opts=self._child,
        )
