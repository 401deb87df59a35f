"""new-tenant, capacity and agreement through the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate


@pytest.fixture
def run(project: ProjectPaths, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(project.root))
    return lambda *a: CliRunner().invoke(app, list(a))


NEW_OWNER = """
  - id: kuntayhtyma
    name: Esimerkin kuntayhtymä
    business_id: "1234567-1"
    kind: joint-municipal-authority
    shares: {subscribed: 1, registered: 2026-10-02}
    joined: 2026-09-01
    contacts: ["@kuntayhtyma/it"]
"""


def add_owner(project: ProjectPaths, row: str = NEW_OWNER) -> None:
    owners = project.catalog / "owners.yaml"
    owners.write_text(owners.read_text() + row)


def test_new_tenant_writes_a_valid_stack_in_a_free_block(project: ProjectPaths, run) -> None:  # type: ignore[no-untyped-def]
    add_owner(project)
    result = run("new-tenant", "kuntayhtyma", "--region", "fi-kaj-1")
    assert result.exit_code == 0, result.output
    report = validate(project)
    assert report.ok, [f.render() for f in report.errors]
    tenant = report.model.tenants["kuntayhtyma"]
    assert tenant.region.id == "fi-kaj-1"
    others = [t.block for n, t in report.model.tenants.items() if n != "kuntayhtyma"]
    assert not any(tenant.block.overlaps(b) for b in others)


def test_new_tenant_refuses_non_owner_and_existing(run) -> None:  # type: ignore[no-untyped-def]
    assert run("new-tenant", "helsinki").exit_code == 1
    assert run("new-tenant", "espoo").exit_code == 1


def test_new_tenant_refuses_owner_with_unregistered_shares(project: ProjectPaths, run) -> None:  # type: ignore[no-untyped-def]
    add_owner(project, NEW_OWNER.replace(", registered: 2026-10-02", ""))
    result = run("new-tenant", "kuntayhtyma")
    assert result.exit_code == 1 and "Trade Register" in result.output


def test_agreement_lists_every_service_with_price(run) -> None:  # type: ignore[no-untyped-def]
    result = run("agreement", "kajaani")
    assert result.exit_code == 0, result.output
    assert "Kajaanin kaupunki" in result.stdout
    assert result.stdout.count("`office.") == 5
    # 750 € of office and base services, the WAN link's 100M (150 €), admin access (15 €),
    # mailboxes S (90 €) and staff accounts (40 €).
    assert "1045.00 €/kk" in result.stdout
    assert result.stdout.count("`user.") == 3


def test_capacity_shows_both_regions(run) -> None:  # type: ignore[no-untyped-def]
    result = run("capacity")
    assert result.exit_code == 0
    assert "fi-kuo-1" in result.stdout and "fi-kaj-1" in result.stdout
