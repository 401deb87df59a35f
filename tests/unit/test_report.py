"""The management report: coverage, revenue, capacity and growth, as JSON and one HTML page."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.costs import tenant_costs, totals
from kuntapilvi.project import ProjectPaths
from kuntapilvi.report import render_html, report_data, stack_growth
from kuntapilvi.validate import validate

LOG = """@2026-01-10
A\tstacks/Pulumi.centre.yaml
A\tstacks/Pulumi.espoo.yaml
@2026-01-10
A\tstacks/Pulumi.turku.yaml
@2026-03-02
A\tstacks/Pulumi.lahti.yaml
M\tstacks/Pulumi.espoo.yaml
@2026-11-30
D\tstacks/Pulumi.turku.yaml
"""


def test_stack_growth_counts_tenant_files_per_day() -> None:
    assert stack_growth(LOG) == [("2026-01-10", 2), ("2026-03-02", 3), ("2026-11-30", 2)]


def test_report_data_coverage_and_revenue(repo: ProjectPaths) -> None:
    model = validate(repo).model
    data = report_data(model, None, [], dt.date(2026, 12, 1))
    residents = sum(o.population.residents for o in model.owners.owners if o.population is not None)
    assert data["coverage"]["covered_residents"] == residents
    expected = (Decimal(100) * residents / 5_603_851).quantize(Decimal("0.01"))
    assert data["coverage"]["percent"] == str(expected)
    total = sum(
        (totals(tenant_costs(t, model.price_list, None, model.cards))[1])
        for t in model.tenants.values()
    )
    assert Decimal(data["revenue"]["total_eur"]) == total
    assert sum(Decimal(v) for v in data["revenue"]["by_card"].values()) == total
    assert sum(Decimal(v) for v in data["revenue"]["by_owner"].values()) == total
    assert {c["region"] for c in data["capacity"]} == {"fi-kuo-1", "fi-kaj-1"}
    # Before anyone joined, nobody is covered.
    early = report_data(model, None, [], dt.date(2025, 1, 1))
    assert early["coverage"]["covered_residents"] == 0


def test_html_is_self_contained_and_translated(repo: ProjectPaths) -> None:
    model = validate(repo).model
    data = report_data(model, None, stack_growth(LOG), dt.date(2026, 12, 1))
    page = render_html(data, "sv")
    assert "Befolkningstäckning" in page and page.count("<svg") == 6
    assert not re.search(r"(src|href)=\"https?:", page)


def test_report_command_writes_html_and_json(
    repo: ProjectPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(repo.root))
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path), "--date", "2026-12-01"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["coverage"]["target_percent"] == "40"
    assert data["stacks_over_time"], "git history of stacks/ was read"
    assert "Väestökattavuus" in (tmp_path / "report.html").read_text()
