"""`kuntapilvi export --format tofu|heat STACK`: the tenant as an OpenTofu configuration or as
Heat templates, for comparing kuntapilvi with those tools (bench/peers.py, docs/performance.md)."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from kuntapilvi.cli.common import boundary, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.dryrun import dry_run
from kuntapilvi.errors import InvalidInput
from kuntapilvi.peerexport import collect, to_hcl, to_hot
from kuntapilvi.validate import validate


class ExportFormat(enum.StrEnum):
    TOFU = "tofu"
    HEAT = "heat"


@boundary
def export_command(
    stack: Annotated[str, typer.Argument(help="A tenant stack")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="tofu (HCL) or heat (HOT)")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder to write main.tf or the HOT files into "
                                            "(default: print to standard output)"),
    ] = None,
    today: Annotated[str | None, typer.Option(help="Judge staged adoption on this date")] = None,
    centre: Annotated[
        Path | None,
        typer.Option("--centre-outputs", help="JSON of `pulumi stack output --json --stack "
                                              "centre`: the centre's network, flavor and image "
                                              "ids, written as they are instead of looked up by "
                                              "name"),
    ] = None,
) -> None:
    """Write a tenant stack as OpenTofu HCL or Heat HOT, built from the same model as `up`."""
    paths = find_root()
    report = validate(paths, [stack])
    if report.errors:
        raise InvalidInput(f"stack '{stack}' has errors; run `kuntapilvi validate {stack}`")
    if stack not in report.model.tenants:
        from kuntapilvi.cli.tenants import not_a_tenant

        raise not_a_tenant(report.model, stack)
    regions = None
    if centre is not None:
        try:
            regions = json.loads(centre.read_text())["regions"]
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidInput(f"--centre-outputs {centre}: not the centre stack's outputs "
                               f"({exc})") from None
    export = collect(report.model, stack, dry_run(paths, stack, today).resources, regions)
    files = {"main.tf": to_hcl(export)} if fmt is ExportFormat.TOFU else to_hot(export)
    if output is None:
        for name, text in files.items():
            if len(files) > 1:
                out.print(f"# --- {name}", markup=False)
            out.print(text, markup=False, end="")
        return
    output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (output / name).write_text(text, encoding="utf-8")
        out.print(f"{output / name}", markup=False)
