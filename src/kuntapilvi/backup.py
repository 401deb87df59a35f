"""Backups that run: Cinder snapshots of every volume of every tenant that holds
`capacity.backup`, kept for exactly its tier's retention (D14/D30/D90), and restores.

`kuntapilvi backup run` is what a timer or a scheduled workflow calls; it works in each tenant's
own project (the centre's operator holds a role there), so snapshots count against the tenant's
snapshot quota and stay with the tenant's data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.model import Model

BACKUP_MODULE = "capacity.backup"
# Snapshot metadata: which snapshots are ours, and of what.
MARK = "kuntapilvi-backup"
TENANT = "kuntapilvi-tenant"
VOLUME = "kuntapilvi-volume"
TAKEN = "kuntapilvi-taken-at"
STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True, slots=True)
class Policy:
    stack: str
    region: str
    retention_days: int


@dataclass(frozen=True, slots=True)
class Snap:
    id: str
    name: str
    volume_id: str
    taken_at: dt.datetime


@dataclass(slots=True)
class RunReport:
    stack: str
    taken: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)


def policies(model: Model, day: dt.date) -> list[Policy]:
    """Every tenant whose `capacity.backup` is active on `day`, with its tier's retention."""
    out = []
    for tenant in model.tenants.values():
        for service in tenant.by_module(BACKUP_MODULE):
            if not service.active_on(day) or service.size is None:
                continue
            assert service.size.retention_days is not None  # every backup tier states it
            out.append(
                Policy(tenant.stack, tenant.region.openstack_region, service.size.retention_days)
            )
    return out


def expired(snaps: Iterable[Snap], retention_days: int, now: dt.datetime) -> list[Snap]:
    """The backups older than the retention: a D30 tenant keeps exactly 30 days of them."""
    cutoff = now - dt.timedelta(days=retention_days)
    return sorted((s for s in snaps if s.taken_at < cutoff), key=lambda s: s.taken_at)


def _snap(raw: Any) -> Snap | None:
    meta = raw.metadata or {}
    if meta.get(MARK) != "1" or TAKEN not in meta or VOLUME not in meta:
        return None
    taken = dt.datetime.strptime(meta[TAKEN], STAMP).replace(tzinfo=dt.UTC)
    return Snap(raw.id, raw.name, meta[VOLUME], taken)


def tenant_volumes(conn: Any, stack: str) -> list[Any]:
    return [
        v
        for v in conn.block_storage.volumes(details=True)
        if (v.metadata or {}).get(TENANT) == stack
    ]


def backups(conn: Any, stack: str) -> list[Snap]:
    out = []
    for raw in conn.block_storage.snapshots(details=True):
        snap = _snap(raw)
        if snap is not None and (raw.metadata or {}).get(TENANT) == stack:
            out.append(snap)
    return sorted(out, key=lambda s: s.taken_at)


def run(conn: Any, policy: Policy, now: dt.datetime, wait: int = 300) -> RunReport:
    """Snapshot every volume of the tenant, then delete its backups past the retention.

    A snapshot that does not become available fails the run before anything is pruned, so a
    failing backup never costs an old one."""
    report = RunReport(policy.stack)
    made = []
    for volume in tenant_volumes(conn, policy.stack):
        snap = conn.block_storage.create_snapshot(
            volume_id=volume.id,
            name=f"{volume.name}-backup-{now.strftime(STAMP)}",
            description=f"kuntapilvi backup of {volume.name}, kept {policy.retention_days} days",
            # In-use volumes (a file share's data) are snapshotted crash-consistent.
            is_forced=True,
            metadata={MARK: "1", TENANT: policy.stack, VOLUME: volume.id,
                      TAKEN: now.strftime(STAMP)},
        )  # fmt: skip
        made.append(snap)
        report.taken.append(snap.name)
    for snap in made:
        done = conn.block_storage.wait_for_status(snap, "available", failures=["error"], wait=wait)
        if done.status != "available":
            raise KuntapilviError(f"backup {snap.name} of {policy.stack} ended {done.status}")
    for old in expired(backups(conn, policy.stack), policy.retention_days, now):
        conn.block_storage.delete_snapshot(old.id, ignore_missing=True)
        report.pruned.append(old.name)
    return report


def restore(
    conn: Any,
    stack: str,
    volume: str,
    *,
    at: dt.datetime | None = None,
    attach_to: str | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    wait: int = 300,
) -> Any:
    """A new volume from the tenant's latest backup of `volume` (a name or id) taken at or
    before `at`, named `<volume>-restored-<time>` for the operator, and attached to the server
    `attach_to` when given. The original volume is never touched."""
    known = {v.id: v for v in tenant_volumes(conn, stack)}
    by_name = {v.name: v.id for v in known.values()}
    volume_id = by_name.get(volume, volume)
    candidates = [
        s
        for s in backups(conn, stack)
        if s.volume_id == volume_id and (at is None or s.taken_at <= at)
    ]
    if not candidates:
        raise KuntapilviError(
            f"no backup of volume '{volume}' of {stack}"
            + (f" taken at or before {at:%Y-%m-%d %H:%M}Z" if at else "")
            + "; 'kuntapilvi backup list' shows the backups"
        )
    snap = candidates[-1]
    raw = conn.block_storage.get_snapshot(snap.id)
    base = known[volume_id].name if volume_id in known else volume
    restored = conn.block_storage.create_volume(
        snapshot_id=snap.id,
        size=raw.size,
        name=f"{base}-restored-{now().strftime(STAMP)}",
        description=f"restored from backup {snap.name}",
        # Tagged for the tenant, so `kuntapilvi data list` shows it until it is dealt with.
        metadata={
            TENANT: stack,
            "kuntapilvi-service": "restore",
            "kuntapilvi-restored-from": snap.id,
        },
    )
    restored = conn.block_storage.wait_for_status(
        restored, "available", failures=["error"], wait=wait
    )
    if attach_to is not None:
        server = conn.compute.find_server(attach_to, ignore_missing=False)
        conn.compute.create_volume_attachment(server, volume_id=restored.id)
        conn.block_storage.wait_for_status(restored, "in-use", failures=["error"], wait=wait)
    return restored
