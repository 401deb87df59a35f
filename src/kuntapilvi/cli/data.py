"""`kuntapilvi data`: list and delete tenant data volumes kept after their service left."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from kuntapilvi import data
from kuntapilvi.cli.common import boundary, err, out
from kuntapilvi.cli.edge import find_root, settings
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.validate import validate

app = typer.Typer(help="Tenant data volumes retained after their service left the stack.")


def _orphans(
    stack: str, region: str | None, everything: bool = False
) -> tuple[object, list[data.Orphan]]:
    model = validate(find_root(), [stack]).model
    tenant = model.tenants.get(stack)
    # After `pulumi destroy` the stack file still lists its services: --all treats every
    # volume of the stack as retained data.
    keep = {s.name for s in tenant.services} if tenant and not everything else set()
    if region is None:
        if tenant is None:
            raise KuntapilviError(f"stack '{stack}' is not valid or gone; give --region")
        region = tenant.region.openstack_region
    conn = data.connect(settings(), region)
    return conn, data.retained_volumes(conn, stack, keep)


@app.command("list")
@boundary
def list_command(
    stack: str, region: Annotated[str | None, typer.Option(help="Region")] = None
) -> None:
    """Volumes of STACK whose service is no longer in the stack file (or the stack is gone)."""
    _, orphans = _orphans(stack, region)
    table = Table(title=f"Retained data volumes of {stack}")
    for col in ("name", "GB", "service", "card", "status", "id"):
        table.add_column(col)
    for o in orphans:
        table.add_row(o.name, str(o.size_gb), o.service, o.card, o.status, o.id)
    out.print(table)


@app.command("purge")
@boundary
def purge_command(
    stack: str,
    region: Annotated[str | None, typer.Option(help="Region")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete the data")] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Every volume of the stack (after pulumi destroy)")
    ] = False,
) -> None:
    """Delete STACK's retained data volumes. Irreversible: needs --yes. Attached volumes
    are refused, so a running stack's data cannot be deleted this way."""
    conn, orphans = _orphans(stack, region, everything)
    if not orphans:
        err.print(f"{stack}: no retained data volumes")
        return
    names = ", ".join(o.name for o in orphans)
    if not yes:
        raise KuntapilviError(f"would delete {names}; run again with --yes to delete the data")
    data.purge(conn, orphans)
    err.print(f"deleted {names}")
