"""Commands about tenants and the centre: new-tenant, capacity, agreement."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer
from rich.table import Table

from kuntapilvi.cli.billing import HistoryOption
from kuntapilvi.cli.common import EXIT_INVALID, boundary, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.costs import tenant_costs, totals, vat
from kuntapilvi.errors import InvalidInput, KuntapilviError
from kuntapilvi.history import BuildHistory
from kuntapilvi.i18n import pick_document, translations
from kuntapilvi.render import render
from kuntapilvi.rules import stack_rules
from kuntapilvi.rules.capacity_rules import pool_use
from kuntapilvi.rules.owner_rules import stack_owner_findings
from kuntapilvi.stacks import stack_path
from kuntapilvi.validate import validate


def free_block(report_model, prefix: int) -> str:  # type: ignore[no-untyped-def]
    """The first block of the given size inside the centre's space that no stack uses."""
    space = ipaddress.IPv4Network(report_model.centre.address_space)
    used = [
        ipaddress.IPv4Network(s.request.address_block) for s in report_model.tenant_stacks.values()
    ]
    for candidate in space.subnets(new_prefix=prefix):
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise KuntapilviError(f"no free /{prefix} block left in {space}; ask the centre to grow it")


def not_a_tenant(model, stack: str) -> InvalidInput:  # type: ignore[no-untyped-def]
    """The error for a stack argument that names no tenant (the centre's stack, say)."""
    tenants = ", ".join(sorted(model.tenants)) or "none yet"
    if stack in model.centre_stacks:
        return InvalidInput(
            f"STACK: '{stack}' is the centre's own stack; agreements and plans are per tenant. "
            f"Fix: name a tenant stack: {tenants}"
        )
    return InvalidInput(
        f"STACK: {stack[:70]!r} is not a valid tenant stack. Fix: name one of: {tenants}"
    )


@boundary
def new_tenant_command(
    owner: Annotated[str, typer.Argument(help="Owner id from catalog/owners.yaml")],
    region: Annotated[str | None, typer.Option(help="Region id (default: the first)")] = None,
    prefix: Annotated[int, typer.Option(help="Size of the address block")] = 21,
) -> None:
    """Write stacks/Pulumi.<owner>.yaml for a registered owner with paid shares."""
    paths = find_root()
    report = validate(paths)
    model = report.model
    if not model.catalogue.complete:
        raise KuntapilviError("the catalogue has errors; run 'kuntapilvi validate' first")
    found = model.owners.owner(owner)
    if found is None:
        known = ", ".join(o.id for o in model.owners.owners)
        raise InvalidInput(
            f"OWNER: {owner[:70]!r} is not in catalog/owners.yaml (in-house rule). "
            f"Fix: use a registered owner id: {known}"
        )
    refused = stack_owner_findings(
        found, "catalog/owners.yaml", ("owners", owner), stack_rules.today()
    )
    if refused:
        raise InvalidInput(f"{refused[0].message} Fix: {refused[0].fix}")
    target = stack_path(paths, owner)
    if target.exists() or target.is_symlink():
        raise InvalidInput(
            f"OWNER: {paths.display(target)} exists already. Fix: edit that file instead"
        )
    region_id = region or model.centre.regions[0].id
    if model.centre.region(region_id) is None:
        known = ", ".join(r.id for r in model.centre.regions)
        raise InvalidInput(
            f"--region: no region {region_id[:70]!r} in catalog/centre.yaml. "
            f"Fix: use one of: {known}"
        )
    lo, hi = model.centre.tenant_block_prefix
    if not lo <= prefix <= hi:
        raise InvalidInput(
            f"--prefix: a /{prefix} block is outside the sizes the centre gives (/{lo}../{hi}). "
            f"Fix: pass --prefix between {lo} and {hi} (default 21)"
        )
    text = render(
        paths.templates,
        "docs/stack.yaml.j2",
        {"owner": found, "region": region_id, "block": free_block(model, prefix)},
    )
    target.write_text(text, encoding="utf-8")
    err.print(f"wrote {paths.display(target)}")
    check = validate(paths, [owner])
    if check.errors:
        for f in check.errors:
            err.print(f.render(), markup=False)
        raise typer.Exit(EXIT_INVALID)


@boundary
def capacity_command() -> None:
    """The centre's pools against what all tenants have reserved, per region."""
    report = validate(find_root())
    if not report.model.catalogue.complete:
        raise KuntapilviError("the catalogue has errors; run 'kuntapilvi validate' first")
    table = Table(title="Kapasiteetti / capacity")
    for col in ("region", "pool", "reserved", "schedulable", "use"):
        table.add_column(col, justify="left" if col in ("region", "pool") else "right")
    for use in pool_use(report.model):
        table.add_row(
            use.region,
            use.pool,
            f"{use.reserved} {use.unit}",
            f"{use.capacity} {use.unit}",
            f"{use.ratio:.0%}",
        )
    out.print(table)
    blocks = Table(title="Address blocks")
    blocks.add_column("stack")
    blocks.add_column("block")
    for name, stack in sorted(report.model.tenant_stacks.items()):
        blocks.add_row(name, stack.request.address_block)
    out.print(blocks)


@boundary
def agreement_command(
    stack: Annotated[str, typer.Argument(help="Tenant stack")],
    lang: Annotated[
        str | None, typer.Option("--lang", help="fi, sv or en (default: Finnish)")
    ] = None,
    history_file: HistoryOption = None,
) -> None:
    """The tenant's yearly service agreement appendix (services, service levels, prices)."""
    language = pick_document(lang)
    paths = find_root()
    report = validate(paths, [stack])
    if report.errors:
        for f in report.errors:
            err.print(f.render(), markup=False)
        raise typer.Exit(EXIT_INVALID)
    if stack not in report.model.tenants:
        raise not_a_tenant(report.model, stack)
    model = report.model
    tenant = model.tenants[stack]
    history = BuildHistory.load(history_file) if history_file else None
    costs = tenant_costs(tenant, model.price_list, history, model.cards)
    monthly, yearly = totals(costs)
    owner = tenant.owner
    out.print(
        render(
            paths.templates,
            "docs/agreement.md.j2",
            {
                "owner": tenant.owner,
                "tenant": tenant,
                "prices": model.price_list,
                "costs": costs,
                "monthly": monthly,
                "yearly": yearly,
                "share_capital": model.owners.share_capital(tenant.owner),
                "lang": language,
                "_": translations(language).gettext,
                "owner_name": (owner.name_sv if language == "sv" else None) or owner.name,
                "vat_percent": model.price_list.vat_percent,
                "yearly_gross": yearly + vat(yearly, model.price_list),
            },
        ),
        markup=False,
    )
