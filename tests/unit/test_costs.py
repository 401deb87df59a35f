"""Costs follow cost-causation: a set-up fee once, in the month a service was first built;
monthly fees from its first full month to the month it was removed."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.costs import tenant_costs, totals
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.history import BuildHistory, from_state
from kuntapilvi.invoice import month_lines, to_csv
from kuntapilvi.model import Model
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate

HISTORY = Path(__file__).resolve().parents[1] / "data" / "build-history-2027.json"


@pytest.fixture(scope="module")
def model() -> Model:
    from tests.conftest import REPO

    return validate(ProjectPaths(REPO)).model


@pytest.fixture(scope="module")
def history() -> BuildHistory:
    return BuildHistory.load(HISTORY)


def _costs(model: Model, stack: str, history: BuildHistory | None) -> dict[str, object]:
    tenant = model.tenants[stack]
    return {c.service.key: c for c in tenant_costs(tenant, model.price_list, history, model.cards)}


def test_service_built_before_the_year_pays_no_setup_fee_again(model, history) -> None:  # type: ignore[no-untyped-def]
    wan = _costs(model, "espoo", history)["network.wan-link/wan-link"]
    assert wan.setup_fee == 0 and wan.months == 12  # type: ignore[attr-defined]
    assert wan.yearly == 12 * Decimal("450.00")  # type: ignore[attr-defined]


def test_setup_fee_in_build_month_and_monthly_from_first_full_month(model, history) -> None:  # type: ignore[no-untyped-def]
    share = _costs(model, "espoo", history)["office.file-share/file-share"]
    size = model.cards["office.file-share"].sizes["M"]
    assert [share.setup_in(m) for m in (2, 3, 4)] == [0, size.setup_fee_eur, 0]  # type: ignore[attr-defined]
    assert not share.billed(3) and share.billed(4)  # type: ignore[attr-defined]
    assert share.months == 9  # type: ignore[attr-defined]  # April..December
    assert share.in_month(3) == size.setup_fee_eur  # type: ignore[attr-defined]


def test_start_date_does_not_decide_when_history_knows_the_build(model, history) -> None:  # type: ignore[no-untyped-def]
    # Lahti's file share says start 2027-04-01 but was built on 2027-04-14.
    share = _costs(model, "lahti", history)["office.file-share/file-share"]
    assert share.built.isoformat() == "2027-04-14" and not share.projected  # type: ignore[attr-defined]
    assert share.months == 8  # type: ignore[attr-defined]  # May..December


def test_removed_service_is_billed_to_its_last_month(model, history) -> None:  # type: ignore[no-untyped-def]
    relay = _costs(model, "lahti", history)["office.mail-relay/mail-relay"]
    assert not relay.in_stack  # type: ignore[attr-defined]
    assert [relay.billed(m) for m in (6, 7)] == [True, False]  # type: ignore[attr-defined]
    assert relay.months == 6 and relay.setup_fee == 0  # type: ignore[attr-defined]


def test_unknown_service_is_projected_from_its_start(model) -> None:  # type: ignore[no-untyped-def]
    time = _costs(model, "kainuunliitto", None)["office.time/time"]
    assert time.projected and time.months == 4  # type: ignore[attr-defined]  # Sep..Dec


@pytest.mark.parametrize("with_history", [False, True])
def test_twelve_invoices_sum_to_the_plan_year_for_every_shipped_tenant(
    model: Model, history: BuildHistory, with_history: bool
) -> None:
    used = history if with_history else None
    assert set(model.tenants) == {"espoo", "turku", "lahti", "kajaani", "kainuunliitto"}
    for stack, tenant in model.tenants.items():
        _, yearly = totals(tenant_costs(tenant, model.price_list, used, model.cards))
        lines = [ln for m in range(1, 13) for ln in month_lines(model, m, used, [stack])]
        assert sum(ln.net_eur for ln in lines) == yearly, stack
        setups: dict[str, int] = {}
        for ln in lines:
            if ln.setup_fee_eur:
                setups[f"{ln.card}/{ln.service}"] = setups.get(f"{ln.card}/{ln.service}", 0) + 1
        assert all(n == 1 for n in setups.values()), (stack, setups)


def test_invoice_line_carries_vat_business_id_and_accounting_code(model, history) -> None:  # type: ignore[no-untyped-def]
    lines = month_lines(model, 3, history, ["espoo"])
    wan = next(ln for ln in lines if ln.card == "network.wan-link")
    assert wan.business_id == "0101263-6" and wan.accounting_code == "3020"
    assert wan.vat_percent == Decimal("25.5")
    assert wan.vat_eur == Decimal("114.75") and wan.gross_eur == Decimal("564.75")
    header = to_csv(lines).splitlines()[0].split(",")
    assert "business_id" in header and "accounting_code" in header and "vat_eur" in header


def test_every_card_has_an_accounting_code(model: Model) -> None:
    for card in model.cards.values():
        assert model.price_list.accounting_code(card.id, str(card.family)), card.id


def test_quantity_parameter_multiplies_the_unit_price(model: Model) -> None:
    volume = _costs(model, "espoo", None)["capacity.block-storage/sovellusdata"]
    assert volume.monthly == Decimal("0.09") * 500  # type: ignore[attr-defined]


def test_history_from_stack_state_takes_the_earliest_created(model: Model) -> None:
    export = {
        "deployment": {
            "resources": [
                {
                    "created": "2026-05-03T10:00:00Z",
                    "inputs": {"tags": ["kuntapilvi-service=talous"]},
                },
                {
                    "created": "2026-05-02T09:00:00Z",
                    "outputs": {"metadata": {"kuntapilvi-service": "talous"}},
                },
                {
                    "created": "2026-06-01T09:00:00Z",
                    "inputs": {"tags": ["kuntapilvi-service=other"]},
                },
            ]
        }
    }
    found = from_state("kainuunliitto", export, {"talous": "capacity.server/talous"})
    record = found.get("kainuunliitto", "capacity.server/talous")
    assert record is not None and record.built.isoformat() == "2026-05-02"
    assert len(found.records) == 1


def test_bad_history_file_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "h.json"
    bad.write_text(json.dumps({"services": [{"tenant": "espoo", "service": "x", "built": "2026"}]}))
    with pytest.raises(KuntapilviError, match=r"h\.json: services\.0\.service: .*Fix:"):
        BuildHistory.load(bad)


def test_invoice_cli_writes_csv_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import REPO

    monkeypatch.setenv("KUNTAPILVI_ROOT", str(REPO))
    result = CliRunner().invoke(
        app, ["invoice", "--month", "2027-03", "--history", str(HISTORY), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "invoice-2027-03.json").read_text())
    assert {ln["tenant"] for ln in data["lines"]} == {
        "espoo",
        "turku",
        "lahti",
        "kajaani",
        "kainuunliitto",
    }
    assert (tmp_path / "invoice-2027-03.csv").read_text().count("\n") == len(data["lines"]) + 1
    wrong = CliRunner().invoke(app, ["invoice", "--month", "2031-01"])
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output


def test_service_missing_from_a_complete_history_is_not_billed_before_it(
    model: Model, history: BuildHistory
) -> None:
    from dataclasses import replace

    records = {
        k: v for k, v in history.records.items() if k != ("lahti", "office.file-share/file-share")
    }
    known = replace(history, records=records, as_of=dt.date(2027, 5, 31))
    share = _costs(model, "lahti", known)["office.file-share/file-share"]
    # start: 2027-04-01, but the ledger says it was not built by May 31.
    assert share.projected and share.built == dt.date(2027, 6, 1)  # type: ignore[attr-defined]
    assert share.months == 7 and share.setup_in(6) > 0  # type: ignore[attr-defined]
    lines = [ln for m in range(1, 13) for ln in month_lines(model, m, known, ["lahti"])]
    _, yearly = totals(tenant_costs(model.tenants["lahti"], model.price_list, known, model.cards))
    assert sum(ln.net_eur for ln in lines) == yearly


def test_plan_year_equals_twelve_invoices(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import REPO

    monkeypatch.setenv("KUNTAPILVI_ROOT", str(REPO))
    result = CliRunner().invoke(
        app, ["plan", "kajaani", "espoo", "--history", str(HISTORY), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    plans = json.loads(result.stdout)
    model = validate(ProjectPaths(REPO)).model
    history = BuildHistory.load(HISTORY)
    for plan in plans:
        lines = [ln for m in range(1, 13) for ln in month_lines(model, m, history, [plan["stack"]])]
        assert Decimal(plan["yearly_eur"]) == sum(ln.net_eur for ln in lines), plan["stack"]
    espoo = next(p for p in plans if p["stack"] == "espoo")
    wan = next(s for s in espoo["services"] if s["card"] == "network.wan-link")
    assert wan["yearly_eur"] == "5400.00"  # 12 × 450, no second set-up fee
