"""`kuntapilvi plan`: per tenant, the services, the resources each card creates, and the cost."""

from __future__ import annotations

import collections
import json
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from kuntapilvi.cli.billing import HistoryOption, StateOption, load_history
from kuntapilvi.cli.common import EXIT_INVALID, OutputFormat, boundary, check_today, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.costs import tenant_costs, totals
from kuntapilvi.dryrun import Recorded, dry_run
from kuntapilvi.history import BuildHistory
from kuntapilvi.model import Model, Tenant
from kuntapilvi.validate import validate


def eur(value: Decimal) -> str:
    return f"{value:,.2f} €".replace(",", " ")


def attribute(resources: list[Recorded], tenant: Tenant) -> dict[str, collections.Counter[str]]:
    """Resource types per service key, from tags, descriptions or name prefixes."""
    per: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    by_name = sorted(tenant.services, key=lambda s: -len(s.name))
    for r in resources:
        if r.type.startswith("pulumi:") or r.type.startswith("kuntapilvi:"):
            continue
        short = r.type.split(":")[-1]
        key = None
        tag_list = r.inputs.get("tags") or []
        service = next(
            (t.split("=", 1)[1] for t in tag_list if t.startswith("kuntapilvi-service=")), None
        )
        meta = r.inputs.get("metadata") or {}
        service = service or meta.get("kuntapilvi-service")
        if service is None:
            service = next(
                (s.name for s in by_name if r.name.startswith(f"{tenant.stack}-{s.name}-")), None
            )
        if service is not None:
            key = next((s.key for s in tenant.services if s.name == service), None)
        per[key or "(projekti)"][short] += 1
    return per


def tenant_plan(
    model: Model, stack: str, today: str | None, history: BuildHistory | None = None
) -> dict[str, Any]:
    tenant = model.tenants[stack]
    costs = tenant_costs(tenant, model.price_list, history, model.cards)
    monthly, yearly = totals(costs)
    resources = attribute(dry_run(model.catalogue.paths, stack, today).resources, tenant)
    return {
        "stack": stack,
        "owner": tenant.owner.name,
        "region": tenant.region.id,
        "year": model.price_list.year,
        "services": [
            {
                "card": c.service.card.id,
                "name": c.service.name,
                "size": c.service.size_name,
                "start": c.service.start.isoformat() if c.service.start else None,
                "monthly_eur": str(c.monthly),
                "months": c.months,
                "setup_fee_eur": str(c.setup_fee),
                "yearly_eur": str(c.yearly),
                "built": c.built.isoformat(),
                "removed": c.removed.isoformat() if c.removed else None,
                "projected": c.projected,
                "resources": dict(resources.get(c.service.key, {})),
            }
            for c in costs
        ],
        "shared_resources": dict(resources.get("(projekti)", {})),
        "monthly_eur": str(monthly),
        "yearly_eur": str(yearly),
    }


def render_markdown(plan: dict[str, Any]) -> str:
    lines = [
        f"### {plan['owner']} (`{plan['stack']}`, {plan['region']})",
        "",
        "| palvelu | koko | alkaa | €/kk | € vuonna " + str(plan["year"]) + " | resurssit |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    for s in plan["services"]:
        res = ", ".join(f"{n}×{t}" for t, n in sorted(s["resources"].items())) or "–"
        lines.append(
            f"| `{s['card']}` {s['name']} | {s['size'] or '–'} | {s['start'] or '–'} | "
            f"{eur(Decimal(s['monthly_eur']))} | {eur(Decimal(s['yearly_eur']))} | {res} |"
        )
    lines += [
        "",
        f"**Yhteensä:** {eur(Decimal(plan['monthly_eur']))}/kk, "
        f"{eur(Decimal(plan['yearly_eur']))} vuonna {plan['year']} (alv 0 %).",
    ]
    return "\n".join(lines)


@boundary
def plan_command(
    stacks: Annotated[list[str] | None, typer.Argument(help="Tenant stacks (default: all)")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TEXT,
    today: Annotated[
        str | None, typer.Option(
            help="Judge staged adoption on this date (YYYY-MM-DD)", callback=check_today
        )
    ] = None,
    diff: Annotated[
        str | None,
        typer.Option(help="Compare with this git revision: what a pull request changes"),
    ] = None,
    history_file: HistoryOption = None,
    from_state: StateOption = False,
) -> None:
    """Offline plan: services, the resources each card creates, monthly and yearly cost."""
    if diff is not None:
        _plan_diff(diff, stacks, today, output)
        return
    report = validate(find_root(), stacks)
    if report.errors:
        for f in report.errors:
            err.print(f"[bold red]error[/] {f.render()}", markup=False)
        raise typer.Exit(EXIT_INVALID)
    model = report.model
    names = stacks or sorted(model.tenants)
    for name in names:
        if name not in model.tenants:
            from kuntapilvi.cli.tenants import not_a_tenant

            raise not_a_tenant(model, name)
    history = load_history(model, history_file, from_state, names)
    plans = [tenant_plan(model, s, today, history) for s in names]
    if output is OutputFormat.JSON:
        out.print_json(json.dumps(plans))
        return
    if output is OutputFormat.MARKDOWN:
        out.print("\n\n".join(render_markdown(p) for p in plans), markup=False)
        return
    for plan in plans:
        # Names come from the catalogue: '[/x]' in one is text, never Rich markup.
        table = Table(title=escape(f"{plan['owner']} ({plan['stack']}, {plan['region']})"))
        for col in ("service", "size", "start", "€/month", f"€ {plan['year']}", "resources"):
            table.add_column(col, justify="right" if "€" in col else "left")
        for s in plan["services"]:
            table.add_row(
                escape(f"{s['card']}/{s['name']}"),
                s["size"] or "-",
                s["start"] or "-",
                eur(Decimal(s["monthly_eur"])),
                eur(Decimal(s["yearly_eur"])),
                ", ".join(f"{n}×{t}" for t, n in sorted(s["resources"].items())),
            )
        table.add_section()
        table.add_row(
            "total", "", "", eur(Decimal(plan["monthly_eur"])), eur(Decimal(plan["yearly_eur"])), ""
        )
        out.print(table)


def _plan_diff(
    base: str, stacks: list[str] | None, today: str | None, output: OutputFormat
) -> None:
    """Resources and euros per tenant between BASE and the working tree."""
    from kuntapilvi.prcheck import diff_tenant
    from kuntapilvi.revisions import checkout

    paths = find_root()
    head = validate(paths)
    with checkout(paths.root, base) as base_paths:
        before = validate(base_paths)
        names = stacks or sorted(set(before.model.tenants) | set(head.model.tenants))
        diffs = [diff_tenant(n, (base_paths, before), (paths, head), today) for n in names]
    rows = [
        {
            "stack": d.stack,
            "invalid": d.invalid,
            "added": d.added,
            "removed": d.removed,
            "services_added": d.services_added,
            "services_removed": d.services_removed,
            "services_changed": d.services_changed,
            "monthly_eur": [str(d.monthly_before), str(d.monthly_after)],
            "yearly_eur": [str(d.yearly_before), str(d.yearly_after)],
        }
        for d in diffs
        if d.moves or d.resource_changes or d.invalid
    ]
    if output is OutputFormat.JSON:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"Changes against {base}")
    for col in ("stack", "+ resources", "- resources", "services", "€/month", "€/year"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["stack"],
            ", ".join(f"{n}×{t}" for t, n in sorted(r["added"].items())) or "-",
            ", ".join(f"{n}×{t}" for t, n in sorted(r["removed"].items())) or "-",
            " ".join(
                [
                    *(f"+{x}" for x in r["services_added"]),
                    *(f"-{x}" for x in r["services_removed"]),
                    *(f"~{x}" for x in r["services_changed"]),
                ]
            )
            or "-",
            " → ".join(r["monthly_eur"]),
            " → ".join(r["yearly_eur"]),
        )
    out.print(table)
