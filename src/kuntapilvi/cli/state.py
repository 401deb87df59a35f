"""`kuntapilvi state migrate`: move stacks from one state backend to another."""

from __future__ import annotations

from typing import Annotated

import typer

from kuntapilvi.cli.common import boundary, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.fleet.ledger import redact

app = typer.Typer(help="The Pulumi state backend.")


@app.command("migrate")
@boundary
def migrate_command(
    source: Annotated[
        str, typer.Option("--from", help="Source backend URL (file:// or postgres://)")
    ],
    target: Annotated[str, typer.Option("--to", help="Target backend URL")],
    stack: Annotated[
        list[str] | None, typer.Option("--stack", help="Only these stacks (default: all)")
    ] = None,
    history: Annotated[
        bool, typer.Option("--history/--no-history", help="Copy each stack's update history")
    ] = True,
) -> None:
    """Export every stack from the source and import it into the target, with its history.

    Put the password in ~/.pgpass or PGPASSFILE, never in the URL on a command line."""
    from kuntapilvi.fleet.migrate import migrate

    root = find_root().root
    moved = migrate(source, target, root, stack or None, history)
    for m in moved:
        out.print(f"{m.stack}: {m.resources} resources, {m.history} history objects", markup=False)
    err.print(
        f"moved {len(moved)} stack(s) from {redact(source)} to {redact(target)}", markup=False
    )
