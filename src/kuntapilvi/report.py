"""The management report: population coverage, revenue, capacity use and growth of stacks.

`report_data` gathers the figures (the JSON twin); `render_html` draws one self-contained page
with inline SVG charts. The git history of stacks/ is read by the caller and passed in."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from html import escape
from typing import Any

from kuntapilvi import svg
from kuntapilvi.costs import tenant_costs, totals
from kuntapilvi.history import BuildHistory
from kuntapilvi.i18n import translations
from kuntapilvi.model import Model
from kuntapilvi.rules.capacity_rules import pool_use
from kuntapilvi.schema.owners import OwnerKind


def stack_growth(log: str) -> list[tuple[str, int]]:
    """Tenant stack files over time from `git log --reverse --no-renames --name-status
    --format=@%ad --date=short -- stacks/` output (oldest first)."""
    count, day, points = 0, "", []
    for line in log.splitlines():
        if line.startswith("@"):
            if day:
                points.append((day, count))
            day = line[1:].strip()
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].startswith("stacks/Pulumi."):
            continue
        if parts[1] == "stacks/Pulumi.centre.yaml":
            continue
        if parts[0] == "A":
            count += 1
        elif parts[0] == "D":
            count -= 1
    if day:
        points.append((day, count))
    merged: dict[str, int] = {}
    for when, n in points:
        merged[when] = n  # the last commit of a day stands for it
    return list(merged.items())


def report_data(
    model: Model, history: BuildHistory | None, growth: list[tuple[str, int]], day: dt.date
) -> dict[str, Any]:
    reg = model.owners
    active = reg.active(day)
    covered = sum(
        o.population.residents
        for o in active
        if o.kind is OwnerKind.MUNICIPALITY and o.population is not None
    )
    coverage = Decimal(100) * covered / reg.finland_population
    by_card: dict[str, Decimal] = defaultdict(Decimal)
    by_region: dict[str, Decimal] = defaultdict(Decimal)
    by_owner: dict[str, Decimal] = defaultdict(Decimal)
    total = Decimal(0)
    for _stack, tenant in sorted(model.tenants.items()):
        costs = tenant_costs(tenant, model.price_list, history, model.cards)
        for c in costs:
            by_card[c.service.card.id] += c.yearly
        yearly = totals(costs)[1]
        by_region[tenant.region.id] += yearly
        by_owner[tenant.owner.name] += yearly
        total += yearly

    def money(d: dict[str, Decimal]) -> dict[str, str]:
        return {k: str(v) for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))}

    return {
        "date": day.isoformat(),
        "year": model.price_list.year,
        "history": history.source if history else None,
        "coverage": {
            "population_date": reg.population_date.isoformat(),
            "covered_residents": covered,
            "finland_population": reg.finland_population,
            "percent": str(coverage.quantize(Decimal("0.01"))),
            "target_percent": str(reg.coverage_target_percent),
        },
        "owners": [
            {
                "id": o.id,
                "name": o.name,
                "status": str(o.status),
                "active": o.active_on(day),
                "share_capital_eur": str(reg.share_capital(o)),
                "ownership_percent": str(reg.ownership(o, day)),
            }
            for o in reg.owners
        ],
        "revenue": {
            "total_eur": str(total),
            "by_card": money(by_card),
            "by_region": money(by_region),
            "by_owner": money(by_owner),
        },
        "capacity": [
            {
                "region": u.region,
                "pool": u.pool,
                "unit": u.unit,
                "reserved": u.reserved,
                "capacity": u.capacity,
                "percent": round(100 * u.ratio, 1) if u.capacity else None,
            }
            for u in pool_use(model)
        ],
        "stacks_over_time": [{"date": d, "stacks": n} for d, n in growth],
    }


def _eur_rows(values: dict[str, str]) -> list[tuple[str, float, str]]:
    return [(k, float(v), f"{Decimal(v):,.0f} €".replace(",", " ")) for k, v in values.items()]


def render_html(data: dict[str, Any], lang: str) -> str:
    _ = translations(lang).gettext
    cov = data["coverage"]
    percent, target = float(cov["percent"]), float(cov["target_percent"])
    rev = data["revenue"]
    capacity = [
        (f"{c['region']} {c['pool']}", c["percent"] or 0.0, f"{c['percent']} %")
        for c in data["capacity"]
    ]
    owners = "".join(
        f"<tr><td>{escape(o['name'])}</td><td>{escape(_(o['status']))}</td>"
        f"<td>{o['share_capital_eur']} €</td><td>{o['ownership_percent']} %</td></tr>"
        for o in data["owners"]
    )
    growth = [(p["date"], p["stacks"]) for p in data["stacks_over_time"]]
    coverage_label = _(
        "{percent} of Finland's population ({covered} / {total}); target {target}"
    ).format(
        percent=f"{cov['percent']} %",
        covered=cov["covered_residents"],
        total=cov["finland_population"],
        target=f"{cov['target_percent']} %",
    )
    sections = [
        (_("Population coverage"), svg.gauge(percent, target, coverage_label)),
        (
            _("Revenue by card") + f" {data['year']}",
            svg.bars(_eur_rows(rev["by_card"])),
        ),
        (_("Revenue by region"), svg.bars(_eur_rows(rev["by_region"]))),
        (_("Revenue by owner"), svg.bars(_eur_rows(rev["by_owner"]))),
        (_("Capacity use per region"), svg.bars(capacity)),
        (_("Tenant stacks over time (git history)"), svg.steps(growth)),
    ]
    body = "".join(f"<section><h2>{escape(t)}</h2>{chart}</section>" for t, chart in sections)
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(_('Management report'))} {data['date']}</title>"
        "<style>body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#1a202c}"
        "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        "</style></head><body>"
        f"<h1>{escape(_('Management report'))} {data['date']}</h1>"
        f"<p>{escape(_('Total revenue'))} {data['year']}: {rev['total_eur']} € ({_('VAT 0 %')})</p>"
        f"{body}<section><h2>{escape(_('Owners'))}</h2><table><tr><th>{_('Owner')}</th>"
        f"<th>{_('Status')}</th><th>{_('share capital')}</th><th>%</th></tr>{owners}</table>"
        "</section></body></html>\n"
    )
