"""`kuntapilvi recover STACK` and `kuntapilvi orphans [STACK...]`: after an interrupted run.

Exit status of both (docs/recovery.md):
  0  nothing to do, or recovered / no orphans
  1  something is left for a person (a live lock, an ambiguous match; orphans found)
  2  usage: bad arguments, no project, no such stack
  3  the engine or the cloud failed (nothing more was changed after the failure)
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from kuntapilvi.cli.common import OutputFormat, boundary, err, out
from kuntapilvi.cli.edge import find_root, settings
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.recovery import cloud, locks
from kuntapilvi.recovery import orphans as orphan_finder
from kuntapilvi.recovery import state as state_mod
from kuntapilvi.recovery.engine import Engine, EngineError
from kuntapilvi.recovery.recover import EXIT_ENGINE, EXIT_LEFT, recover
from kuntapilvi.validate import validate

P = ParamSpec("P")
R = TypeVar("R")


def engine_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Engine and cloud failures are exit code 3, apart from a user's mistake (2)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import openstack.exceptions

        try:
            return func(*args, **kwargs)
        except EngineError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(EXIT_ENGINE) from None
        except (openstack.exceptions.SDKException, ConnectionError) as exc:
            err.print(
                f"[bold red]error:[/] the cloud did not answer as expected: {escape(str(exc))}"
            )
            raise typer.Exit(EXIT_ENGINE) from None

    return wrapper


def _connector(stack: str) -> Callable[[], object]:
    """A lazy admin connection in the stack's region (the cloud is reached only if needed)."""
    from kuntapilvi import data

    def connect() -> object:
        model = validate(find_root(), [stack]).model
        tenant = model.tenants.get(stack)
        if tenant is None:
            raise KuntapilviError(f"'{stack}' is not a tenant stack (stacks/Pulumi.{stack}.yaml)")
        return data.connect(settings(), tenant.region.openstack_region)

    return connect


@boundary
@engine_errors
def recover_command(
    stack: Annotated[str, typer.Argument(help="Tenant stack whose interrupted run to recover")],
    delete: Annotated[
        bool,
        typer.Option(
            "--delete",
            help="Delete what interrupted creates made in the cloud instead of adopting it; the "
            "next `pulumi up` then creates it again",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be done; change nothing")
    ] = False,
    forget: Annotated[
        list[str] | None,
        typer.Option(
            "--forget",
            help="URN of a pending create a person has settled (its resource deleted or never "
            "made): drop it instead of looking for it. Repeatable",
        ),
    ] = None,
    lease_hours: Annotated[
        float,
        typer.Option(
            "--lease-hours",
            help="A lock taken on another host is presumed dead only after this many hours "
            "(and only if that host does not answer)",
        ),
    ] = locks.DEFAULT_LEASE.total_seconds() / 3600,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json")
    ] = OutputFormat.TEXT,
) -> None:
    """Recover STACK after a killed or failed `pulumi up`: clear a stale lock, adopt (or
    delete) what interrupted creates made in the cloud, refresh. Run `pulumi up` after it."""
    root = find_root()
    tenant = validate(root, [stack]).model.tenants.get(stack)
    if tenant is None:
        raise KuntapilviError(
            f"'{stack}' is not a tenant stack: stacks/Pulumi.{stack}.yaml is missing or not a "
            "tenant's (the centre stack is not recovered this way)"
        )
    started = time.monotonic()
    report = recover(
        stack,
        Engine(cwd=root.root),
        _connector(stack),
        delete=delete,
        dry_run=dry_run,
        forget=frozenset(forget or ()),
        region=tenant.region.openstack_region,
        lease=dt.timedelta(hours=lease_hours),
    )
    seconds = time.monotonic() - started
    if output is OutputFormat.JSON:
        out.print_json(json.dumps({**report.as_dict(), "seconds": round(seconds, 1)}))
    for line in report.messages:
        err.print(f"{stack}: {escape(line)}")
    for line in report.left:
        err.print(f"[bold yellow]{stack}: needs a person:[/] {escape(line)}")
    if report.refreshed:
        err.print(f"{stack}: state refreshed in {seconds:.1f} s; run `pulumi up --stack {stack}`")
    if report.code:
        raise typer.Exit(report.code)


def _eur(value: Decimal | None) -> str:
    return "?" if value is None else f"{value:,.2f} €".replace(",", " ")


def _age(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "?"
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} d"


@boundary
@engine_errors
def orphans_command(
    stacks: Annotated[
        list[str] | None,
        typer.Argument(help="Tenant stacks to look at (default: every tenant in stacks/)"),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json")
    ] = OutputFormat.TEXT,
) -> None:
    """List cloud resources tagged for a tenant that no stack's state knows (left behind by
    an interrupted run), with type, name, age and monthly cost from the cards. Exit 1 if any."""
    from kuntapilvi import data

    root = find_root()
    model = validate(root, list(stacks) if stacks else None).model
    wanted = list(stacks) if stacks else sorted(model.tenants)
    unknown = [s for s in wanted if s not in model.tenants]
    if unknown:
        raise KuntapilviError(f"not tenant stacks: {', '.join(unknown)} (see stacks/)")
    engine = Engine(cwd=root.root)
    known: set[str] = set()
    for name in engine.stacks():
        known |= state_mod.known_ids(engine.export(name))
    now = dt.datetime.now(dt.UTC)
    found: list[orphan_finder.Orphan] = []
    conns: dict[str, object] = {}
    for stack in wanted:
        tenant = model.tenants[stack]
        region = tenant.region.openstack_region
        conn = conns.setdefault(region, data.connect(settings(), region))
        services = {s.name for s in tenant.active(now.date())}
        found += orphan_finder.find(stack, cloud.tagged(conn, stack), known, model.cards, services)
    real = [o for o in found if not o.retained]
    if output is OutputFormat.JSON:
        out.print_json(json.dumps([o.as_dict(now) for o in found]))
    elif found:
        table = Table(title="Resources no stack's state knows")
        for col in ("tenant", "type", "name", "age", "€/month", "card", "note", "id"):
            table.add_column(col)
        for o in found:
            note = "retained data (kuntapilvi data)" if o.retained else "orphan"
            table.add_row(
                o.tenant, o.type, o.name, _age(o.age(now)), _eur(o.monthly_eur), o.card, note, o.id
            )
        out.print(table)
    total = sum((o.monthly_eur or Decimal(0) for o in real), Decimal(0))
    if real:
        err.print(
            f"{len(real)} orphan(s), {_eur(total)} a month; adopt them with `kuntapilvi recover "
            "STACK` if a run was interrupted, or delete them"
        )
        raise typer.Exit(EXIT_LEFT)
    err.print(f"no orphans in {', '.join(wanted)}")
