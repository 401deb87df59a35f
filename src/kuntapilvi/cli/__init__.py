"""The `kuntapilvi` command line: one typer app, one sub-app per audience or subsystem.

Sub-apps are imported only when their command is run: importing all of them pulls in the
OpenStack SDK, paramiko and the Pulumi runtime (about a second of start-up), which a fleet
rollout or a pull-request check running `kuntapilvi` once per step would pay every time.
`kuntapilvi --help` (or an unknown command) still builds the whole app.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

# name -> (module, attribute, is a sub-app); the order is the order of `--help`.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "validate": ("kuntapilvi.cli.validate", "validate_command", False),
    "plan": ("kuntapilvi.cli.plan", "plan_command", False),
    "export": ("kuntapilvi.cli.export", "export_command", False),
    "schema": ("kuntapilvi.cli.schema", "schema_command", False),
    "new-tenant": ("kuntapilvi.cli.tenants", "new_tenant_command", False),
    "capacity": ("kuntapilvi.cli.tenants", "capacity_command", False),
    "agreement": ("kuntapilvi.cli.tenants", "agreement_command", False),
    "check": ("kuntapilvi.cli.check", "check_command", False),
    "invoice": ("kuntapilvi.cli.billing", "invoice_command", False),
    "report": ("kuntapilvi.cli.billing", "report_command", False),
    "recover": ("kuntapilvi.cli.recover", "recover_command", False),
    "orphans": ("kuntapilvi.cli.recover", "orphans_command", False),
    "devcloud": ("kuntapilvi.cli.devcloud", "app", True),
    "data": ("kuntapilvi.cli.data", "app", True),
    "backup": ("kuntapilvi.cli.backup", "app", True),
    "accounts": ("kuntapilvi.cli.accounts", "app", True),
    "pr": ("kuntapilvi.cli.pr", "app", True),
    "cloud": ("kuntapilvi.cli.cloud", "app", True),
    "site": ("kuntapilvi.cli.site", "app", True),
    "rollout": ("kuntapilvi.cli.rollout", "app", True),
    "state": ("kuntapilvi.cli.state", "app", True),
}


def _root() -> None:
    """Service catalogue, tenant stacks and local cloud of a municipal ICT service centre."""


def build_app(only: str | None = None) -> typer.Typer:
    """The app with every command, or with `only` the one named (its parsing, help and errors
    are the same: the callback keeps typer from collapsing a one-command app into that command)."""
    app = typer.Typer(
        name="kuntapilvi",
        help="Service catalogue, tenant stacks and local cloud of a municipal ICT service centre.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name, (module, attribute, group) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def __getattr__(name: str) -> Any:
    # `from kuntapilvi.cli import app` (tests, CliRunner) gets the whole app.
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main() -> None:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    build_app(command if command in COMMANDS else None)()
