"""The values a server's user data and its host checks are built from — computed once, here."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from kuntapilvi.model import Model, Service, Tenant
from kuntapilvi.reach import office_cidrs

ADMIN_ACCESS_MODULE = "user.admin-access"


def tenant_admins(tenant: Tenant) -> list[dict[str, str]]:
    """The tenant's own administrators from its request ([{handle, ssh_key}]): they get a sudo
    login on this tenant's servers, and only on them, since only this tenant's user data lists
    them."""
    return [
        {"handle": a["handle"], "ssh_key": a["ssh_key"]}
        for s in tenant.by_module(ADMIN_ACCESS_MODULE)
        for a in s.params.get("admins", ())
    ]


def server_name(tenant: Tenant, service: Service) -> str:
    """The OpenStack name of a service's server: unique across tenants."""
    return f"{tenant.stack}-{service.name}"


def base_dn(domain: str) -> str:
    return ",".join(f"dc={label}" for label in domain.split("."))


def check_context(model: Model, tenant: Tenant, service: Service) -> dict[str, Any]:
    """Names usable as {placeholders} in a card's host checks (see catalogue_rules)."""
    host, _, port = model.centre.smarthost.partition(":")
    return {
        **service.params,
        "tenant_block": str(tenant.block),
        "tenant_domain": tenant.domain,
        "base_dn": base_dn(tenant.domain),
        "smarthost_host": host,
        "smarthost_port": port or "25",
        "hostname": service.name,
        # The size's capacities, for host_checks.mounts (not {placeholders}: see catalogue_rules).
        "data_gb": service.size.data_gb if service.size is not None else None,
        "disk_gb": service.size.disk_gb if service.size is not None else None,
    }


def admitted_networks(model: Model, tenant: Tenant) -> list[dict[str, str]]:
    """The blocks an office service's own config admits, in the forms configs want; the same
    list its security group admits (kuntapilvi.reach)."""
    out = []
    for cidr in office_cidrs(tenant, model.centre.management_cidr):
        net = ipaddress.IPv4Network(cidr)
        out.append({"cidr": cidr, "address": str(net.network_address), "netmask": str(net.netmask)})
    return out


def userdata_context(
    model: Model, tenant: Tenant, service: Service, *, apt_proxy: str = ""
) -> dict[str, Any]:
    """`apt_proxy` is the explicit KUNTAPILVI_APT_PROXY setting: changing it changes every
    server's user data, so it is never picked up from the shell here."""
    card = service.card
    assert card.host_checks is not None
    checks = check_context(model, tenant, service)
    return {
        "admitted": admitted_networks(model, tenant),
        "hostname": service.name,
        "fqdn": f"{service.name}.{tenant.domain}",
        "ssh_keys": list(model.centre.admin_ssh_keys),
        "tenant_admins": tenant_admins(tenant),
        # devcloud hosts reach packages only through a local proxy; a real cloud has its own
        # mirror and leaves this unset.
        "apt_proxy": apt_proxy,
        "packages": list(card.host_checks.packages),
        "service_json": json.dumps(
            {
                "tenant": tenant.stack,
                "card": card.id,
                "card_version": card.version,
                "service": service.name,
                "size": service.size_name,
            },
            sort_keys=True,
        ),
        "params": service.params,
        "tenant": {
            "stack": tenant.stack,
            "name": tenant.owner.name,
            "block": str(tenant.block),
            "domain": tenant.domain,
        },
        "smarthost_host": checks["smarthost_host"],
        "smarthost_port": checks["smarthost_port"],
        "base_dn": checks["base_dn"],
        "ntp_servers": list(model.centre.ntp_servers),
        "mailbox_gb": service.size.mailbox_gb if service.size is not None else None,
        # The tenant's directory server's address, for cards that log in against it; only known
        # once its port exists, so the module fills it in (modules/office.py).
        "directory_host": f"directory.{tenant.domain}",
        # The relay delivers the tenant's own domain into its mailboxes (user.mailbox), if any.
        "mailbox_host": f"mailbox.{tenant.domain}" if tenant.by_card("user.mailbox") else "",
    }
