"""The `kuntapilvi` command line: one typer app, one sub-app per audience or subsystem."""

from __future__ import annotations

import typer

from kuntapilvi.cli import devcloud

app = typer.Typer(
    name="kuntapilvi",
    help="Service catalogue, tenant stacks and local cloud of a municipal ICT service centre.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(devcloud.app, name="devcloud")


def main() -> None:
    app()
