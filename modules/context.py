"""What the capacity and office families share when they put servers up in a tenant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from kuntapilvi.model import Model, Service, Tenant
from kuntapilvi_modules.network import NetworkRefs


@dataclass(frozen=True, kw_only=True)
class TenantContext:
    model: Model
    tenant: Tenant
    project_id: pulumi.Output[str]
    networks: dict[str, NetworkRefs]
    baseline_group_id: pulumi.Output[str] | None
    floating_ips: dict[str, list[openstack.networking.FloatingIp]]
    flavor_id: Callable[[str], pulumi.Output[str]]
    """Flavor id by flavor name, read from the centre stack's outputs."""
    image_id: Callable[[str], pulumi.Output[str]]
    """Image id by catalogue image id, read from the centre stack's outputs."""
    key_pair: pulumi.Output[str]
    admin_provider: openstack.Provider
    scoped_provider: openstack.Provider
    apt_proxy: str = ""
    """The package proxy servers' user data names (the KUNTAPILVI_APT_PROXY setting)."""

    def network_for(self, service: Service) -> NetworkRefs:
        wanted = service.params.get("network")
        if wanted is not None:
            return self.networks[wanted]
        return next(iter(self.networks.values()))

    def options(self, parent: pulumi.Resource, *, scoped: bool) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=parent, provider=self.scoped_provider if scoped else self.admin_provider
        )
