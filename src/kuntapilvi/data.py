"""Tenant data volumes that outlived their service: found by tag, deleted only on request.

Volumes holding tenant data are retained in the cloud when their service leaves a stack (or
the stack is destroyed). This module is the explicit, documented step that deletes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kuntapilvi.cloud import provider_args
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.settings import Settings


@dataclass(frozen=True, slots=True)
class Orphan:
    id: str
    name: str
    size_gb: int
    service: str
    card: str
    status: str


def connect(settings: Settings, region: str) -> Any:
    import openstack

    args = provider_args(settings, region)
    return openstack.connect(
        auth_url=args["auth_url"],
        username=args["user_name"],
        password=args["password"],
        project_name=args["tenant_name"],
        user_domain_name=args["user_domain_name"],
        project_domain_name=args["project_domain_name"],
        region_name=region,
    )


def retained_volumes(conn: Any, stack: str, keep: set[str]) -> list[Orphan]:
    """Volumes tagged for `stack` whose service is not in `keep` (the services still adopted)."""
    found = []
    for volume in conn.block_storage.volumes(details=True, all_projects=True):
        meta = volume.metadata or {}
        if meta.get("kuntapilvi-tenant") != stack:
            continue
        service = meta.get("kuntapilvi-service", "")
        if service in keep:
            continue
        found.append(
            Orphan(volume.id, volume.name, volume.size, service,
                   meta.get("kuntapilvi-card", ""), volume.status)
        )
    return found


def purge(conn: Any, orphans: list[Orphan]) -> None:
    for orphan in orphans:
        if orphan.status == "in-use":
            raise KuntapilviError(
                f"volume {orphan.name} is still attached; remove or destroy its server first"
            )
        conn.block_storage.delete_volume(orphan.id, ignore_missing=True)
