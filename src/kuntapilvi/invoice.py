"""Invoice lines: one per tenant and service for one month, with VAT and accounting codes."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from decimal import Decimal

from kuntapilvi.costs import ServiceCost, cents, tenant_costs, vat
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.history import BuildHistory
from kuntapilvi.model import Model


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    month: str
    tenant: str
    owner: str
    business_id: str
    card: str
    service: str
    size: str
    accounting_code: str
    monthly_eur: Decimal
    setup_fee_eur: Decimal
    net_eur: Decimal
    vat_percent: Decimal
    vat_eur: Decimal
    gross_eur: Decimal
    built: str
    removed: str
    projected: bool

    def as_dict(self) -> dict[str, object]:
        row = asdict(self)
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


FIELDS = tuple(InvoiceLine.__dataclass_fields__)


def month_lines(
    model: Model, month: int, history: BuildHistory | None, stacks: list[str] | None = None
) -> list[InvoiceLine]:
    """Lines for `month` (1..12) of the price list's year, skipping services that owe nothing."""
    prices = model.price_list
    lines = []
    for stack in stacks or sorted(model.tenants):
        tenant = model.tenants[stack]
        for cost in tenant_costs(tenant, prices, history, model.cards):
            line = _line(model, tenant.stack, cost, month)
            if line is not None:
                lines.append(line)
    return lines


def _line(model: Model, stack: str, cost: ServiceCost, month: int) -> InvoiceLine | None:
    prices = model.price_list
    monthly = cost.monthly if cost.billed(month) else Decimal(0)
    setup = cost.setup_in(month)
    net = monthly + setup
    if net == 0:
        return None
    card = cost.service.card
    code = prices.accounting_code(card.id, str(card.family))
    if code is None:
        raise KuntapilviError(
            f"catalog/price-list.yaml: accounting_codes: no code for card {card.id} or family "
            f"{card.family}. Fix: add '{card.family}: <code>' under accounting_codes"
        )
    owner = model.tenants[stack].owner
    tax = vat(net, prices)
    return InvoiceLine(
        month=f"{prices.year}-{month:02d}",
        tenant=stack,
        owner=owner.name,
        business_id=owner.business_id,
        card=card.id,
        service=cost.service.name,
        size=cost.service.size_name or "",
        accounting_code=code,
        monthly_eur=cents(monthly),
        setup_fee_eur=cents(setup),
        net_eur=cents(net),
        vat_percent=prices.vat_percent,
        vat_eur=tax,
        gross_eur=cents(net + tax),
        built=cost.built.isoformat(),
        removed=cost.removed.isoformat() if cost.removed else "",
        projected=cost.projected,
    )


def to_csv(lines: list[InvoiceLine]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for line in lines:
        writer.writerow(line.as_dict())
    return buf.getvalue()
