"""The values a server's user data and its host checks are built from — computed once, here."""

from __future__ import annotations

import json
import os
import urllib.parse
from typing import Any

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.model import Model, Service, Tenant


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


def apt_proxy() -> str:
    """KUNTAPILVI_APT_PROXY, refused when it carries credentials: user data is readable by
    everyone who can read the server's metadata, and it would be in every server's."""
    value = os.environ.get("KUNTAPILVI_APT_PROXY", "")
    if not value:
        return ""
    parsed = urllib.parse.urlsplit(value)
    if parsed.username is not None or parsed.password is not None or "@" in parsed.netloc:
        raise KuntapilviError(
            "KUNTAPILVI_APT_PROXY holds a user name or password, which would be written into "
            "every server's user data. Fix: use a proxy that admits the servers by address, "
            "and give the URL without credentials (http://host:port)"
        )
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise KuntapilviError(
            f"KUNTAPILVI_APT_PROXY={value[:80]!r} is not an http(s) URL. Fix: write it as "
            "http://host:port"
        )
    return value


def userdata_context(model: Model, tenant: Tenant, service: Service) -> dict[str, Any]:
    card = service.card
    assert card.host_checks is not None
    checks = check_context(model, tenant, service)
    return {
        "hostname": service.name,
        "fqdn": f"{service.name}.{tenant.domain}",
        "ssh_keys": list(model.centre.admin_ssh_keys),
        # devcloud hosts reach packages only through a local proxy; a real cloud has its own
        # mirror and leaves this unset.
        "apt_proxy": apt_proxy(),
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
    }
