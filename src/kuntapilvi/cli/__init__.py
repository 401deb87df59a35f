"""The `kuntapilvi` command line: one typer app, one sub-app per audience or subsystem."""

from __future__ import annotations

import typer

from kuntapilvi.cli import accounts, backup, cloud, data, devcloud, pr, rollout, site, state
from kuntapilvi.cli.billing import invoice_command, report_command
from kuntapilvi.cli.check import check_command
from kuntapilvi.cli.plan import plan_command
from kuntapilvi.cli.recover import orphans_command, recover_command
from kuntapilvi.cli.schema import schema_command
from kuntapilvi.cli.tenants import agreement_command, capacity_command, new_tenant_command
from kuntapilvi.cli.validate import validate_command

app = typer.Typer(
    name="kuntapilvi",
    help="Service catalogue, tenant stacks and local cloud of a municipal ICT service centre.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("validate")(validate_command)
app.command("plan")(plan_command)
app.command("schema")(schema_command)
app.command("new-tenant")(new_tenant_command)
app.command("capacity")(capacity_command)
app.command("agreement")(agreement_command)
app.command("check")(check_command)
app.command("invoice")(invoice_command)
app.command("report")(report_command)
app.command("recover")(recover_command)
app.command("orphans")(orphans_command)
app.add_typer(devcloud.app, name="devcloud")
app.add_typer(data.app, name="data")
app.add_typer(backup.app, name="backup")
app.add_typer(accounts.app, name="accounts")
app.add_typer(pr.app, name="pr")
app.add_typer(cloud.app, name="cloud")
app.add_typer(site.app, name="site")
app.add_typer(rollout.app, name="rollout")
app.add_typer(state.app, name="state")


def main() -> None:
    app()
