"""`kuntapilvi backup`: take, list and restore the tenants' volume backups (capacity.backup)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.table import Table

from kuntapilvi import backup, data
from kuntapilvi.cli.common import boundary, err, out
from kuntapilvi.cli.edge import find_root, settings
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.validate import validate

app = typer.Typer(help="Volume backups of tenants that hold capacity.backup.")

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Judge ages as of this UTC time (ISO, e.g. 2027-02-01T02:00); for catch-up runs "
        "and tests",
    ),
]


def _when(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise KuntapilviError(
            f"--now {value!r} is not an ISO time such as 2027-02-01T02:00"
        ) from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _tenant_conn(region: str, stack: str) -> Any:
    """A connection scoped to the tenant's own project (the operator holds a role there)."""
    admin = data.connect(settings(), region)
    project = admin.identity.find_project(stack)
    if project is None:
        raise KuntapilviError(
            f"stack '{stack}' has no project in {region}; run its pulumi up first"
        )
    return admin.connect_as_project(
        {"id": project.id, "name": project.name, "domain_id": project.domain_id}
    )


def _policies(stacks: list[str], day: dt.date) -> list[backup.Policy]:
    model = validate(find_root(), stacks or None).require_ok()
    found = backup.policies(model, day)
    if stacks:
        missing = sorted(set(stacks) - {p.stack for p in found})
        if missing:
            raise KuntapilviError(
                f"{', '.join(missing)} hold(s) no active capacity.backup; add the card to back up"
            )
        found = [p for p in found if p.stack in stacks]
    return found


@app.command("run")
@boundary
def run_command(
    stacks: Annotated[list[str] | None, typer.Argument(help="Tenants (default: every one)")] = None,
    now: NowOption = None,
) -> None:
    """Snapshot every volume of every tenant holding capacity.backup, then delete its backups
    older than the tier's retention (D14/D30/D90). Exit 1 when any tenant failed."""
    when = _when(now)
    failed = []
    for policy in _policies(stacks or [], when.date()):
        try:
            report = backup.run(_tenant_conn(policy.region, policy.stack), policy, when)
        except KuntapilviError as exc:
            err.print(f"[red]{policy.stack}: {exc}[/]")
            failed.append(policy.stack)
            continue
        err.print(
            f"{policy.stack}: took {len(report.taken)}, removed {len(report.pruned)} older than "
            f"{policy.retention_days} days"
        )
    if failed:
        raise typer.Exit(1)


@app.command("list")
@boundary
def list_command(stack: str) -> None:
    """The backups of STACK, oldest first."""
    [policy] = _policies([stack], dt.datetime.now(dt.UTC).date())
    conn = _tenant_conn(policy.region, stack)
    names = {v.id: v.name for v in backup.tenant_volumes(conn, stack)}
    table = Table(title=f"Backups of {stack} (kept {policy.retention_days} days)")
    for col in ("taken (UTC)", "volume", "backup", "id"):
        table.add_column(col)
    for s in backup.backups(conn, stack):
        table.add_row(
            f"{s.taken_at:%Y-%m-%d %H:%M}", names.get(s.volume_id, s.volume_id), s.name, s.id
        )
    out.print(table)


@app.command("restore")
@boundary
def restore_command(
    stack: str,
    volume: Annotated[
        str, typer.Argument(help="The volume's name (e.g. kajaani-file-share-data) or id")
    ],
    at: Annotated[
        str | None, typer.Option(help="The latest backup taken at or before this UTC time")
    ] = None,
    attach_to: Annotated[
        str | None, typer.Option(help="Attach the restored volume to this server of the tenant")
    ] = None,
) -> None:
    """Make a new volume from a backup of VOLUME; the original is left as it is."""
    [policy] = _policies([stack], dt.datetime.now(dt.UTC).date())
    conn = _tenant_conn(policy.region, stack)
    restored = backup.restore(
        conn, stack, volume, at=_when(at) if at else None, attach_to=attach_to
    )
    out.print(f"{restored.name} {restored.id}")
    err.print(
        f"restored {volume} into {restored.name}"
        + (f", attached to {attach_to}" if attach_to else "; attach it or copy from it")
    )
