"""`pr check` and `pr comment` over real git histories in temporary repositories.

Golden files in tests/golden/ hold the expected comments; `ACCEPT=1 pytest` rewrites them and
the diff is reviewed like any other change."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kuntapilvi.prcheck import check
from kuntapilvi.prcomment import MARKER, render
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"
TODAY = "2027-01-15"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in ("catalog", "stacks", "templates"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(REPO / "CODEOWNERS", tmp_path / "CODEOWNERS")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@e", "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "base")
    git(tmp_path, "checkout", "-q", "-b", "change")
    return tmp_path


def change(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"fixture drift: {old!r}"
    path.write_text(text.replace(old, new, 1))
    git(root, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "change")


def golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.md"
    if os.environ.get("ACCEPT"):
        path.write_text(text)
    assert path.is_file(), f"no golden file {path}; run with ACCEPT=1 and review it"
    assert text == path.read_text(), f"comment differs from {path} (ACCEPT=1 to update)"


CASES: dict[str, Callable[[Path], None]] = {
    "tenant-change": lambda r: change(
        r,
        "stacks/Pulumi.lahti.yaml",
        "      - card: office.print\n",
        "      - card: office.print\n        size: M\n      - card: office.time\n",
    ),
    "cross-tenant": lambda r: (
        change(r, "stacks/Pulumi.lahti.yaml", "size: M", "size: L"),
        change(r, "stacks/Pulumi.turku.yaml", "size: L", "size: M"),
    ),
    "price-change": lambda r: change(
        r, "catalog/cards/office/print.yaml", "monthly_eur: 60.00", "monthly_eur: 66.00"
    ),
    "deprecated-card": lambda r: change(
        r,
        "catalog/cards/office/time.yaml",
        "status: active",
        "status: deprecated\nreplaced_by: office.print",
    ),
    "invalid-file": lambda r: change(r, "stacks/Pulumi.kajaani.yaml", "size: M", "size: MM"),
    "no-op": lambda r: None,
}


@pytest.mark.parametrize("case", list(CASES))
def test_comment_matches_golden(repo: Path, case: str) -> None:
    CASES[case](repo)
    text = render(check(repo, "main", TODAY))
    assert text.startswith(MARKER)
    assert len(text.splitlines()) < 60, "a typical comment fits one screen"
    golden(case, text)


def test_tenant_change_is_allowed_and_priced(repo: Path) -> None:
    CASES["tenant-change"](repo)
    result = check(repo, "main", TODAY)
    assert result.ok and result.scope.kind == "tenant"
    [diff] = result.diffs
    assert diff.stack == "lahti"
    assert diff.monthly_after - diff.monthly_before == 50 + 25  # print S→M, time S
    assert diff.added.get("Instance") == 1
    assert "@lahti/digi" in result.approvers


def test_cross_tenant_change_is_rejected(repo: Path) -> None:
    CASES["cross-tenant"](repo)
    result = check(repo, "main", TODAY)
    assert not result.ok
    assert any(f.code == "pr.cross-tenant" for f in result.errors)


def test_price_change_lists_every_tenant_whose_bill_moves(repo: Path) -> None:
    CASES["price-change"](repo)
    result = check(repo, "main", TODAY)
    moved = {d.stack: d.monthly_after - d.monthly_before for d in result.diffs}
    assert moved == {"espoo": 6, "kajaani": 6, "lahti": 6}
    assert "@kuntapilvi/palvelukortit" in result.approvers


def test_deprecated_card_lists_its_users(repo: Path) -> None:
    CASES["deprecated-card"](repo)
    result = check(repo, "main", TODAY)
    assert result.users_of_withdrawn["office.time"] == ["espoo", "kainuunliitto", "kajaani"]


def test_no_op_changes_nothing(repo: Path) -> None:
    result = check(repo, "main", TODAY)
    assert result.ok and result.scope.kind == "no-op" and result.diffs == []


def test_new_stack_without_codeowners_update_is_stale(repo: Path) -> None:
    text = (repo / "stacks/Pulumi.kainuunliitto.yaml").read_text()
    (repo / "stacks/Pulumi.kuntapilvi.yaml").write_text(
        text.replace("owner: kainuunliitto", "owner: kuntapilvi").replace(
            "10.72.8.0/21", "10.72.16.0/21"
        )
    )
    result = check(repo, "main", TODAY)
    assert any(f.code == "pr.codeowners-stale" for f in result.errors)


def test_plan_diff_shows_what_a_change_costs(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from kuntapilvi.cli import app

    CASES["tenant-change"](repo)
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(repo))
    result = CliRunner().invoke(
        app, ["plan", "--diff", "main", "--today", TODAY, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = {r["stack"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"lahti"}
    assert rows["lahti"]["monthly_eur"] == ["660.00", "735.00"]
    assert rows["lahti"]["services_added"] == ["office.time/time"]
