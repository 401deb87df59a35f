"""The rest of issue #14's hostile inputs: each gets a finding with file, line, field and fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate

ESPOO = "stacks/Pulumi.espoo.yaml"
OULUNKAARI = "stacks/Pulumi.kainuunliitto.yaml"


def edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"fixture drift: {old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def write(rel: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / rel).write_text(text, encoding="utf-8")

    return apply


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[Path], None]
    code: str
    file: str
    says: str


SERVERS = "".join(
    f"      - card: capacity.server\n        name: extra{i}\n        size: S\n" for i in range(12)
)

CASES = [
    Case(
        "start-zero",
        edit(OULUNKAARI, 'start: "2027-09-01"', "start: 0"),
        "schema.value_error",
        OULUNKAARI,
        "not a number",
    ),
    Case(
        "start-not-iso",
        edit(OULUNKAARI, 'start: "2027-09-01"', 'start: "1.9.2027"'),
        "schema.value_error",
        OULUNKAARI,
        "YYYY-MM-DD",
    ),
    Case(
        "start-datetime",
        edit(OULUNKAARI, 'start: "2027-09-01"', 'start: "2027-09-01T00:00"'),
        "schema.value_error",
        OULUNKAARI,
        "YYYY-MM-DD",
    ),
    Case(
        "second-centre",
        write(
            "stacks/Pulumi.vale.yaml", "config:\n  kuntapilvi:centre:\n    regions: [fi-kuo-1]\n"
        ),
        "stack.second-centre",
        "stacks/Pulumi.vale.yaml",
        "only stacks/Pulumi.centre.yaml",
    ),
    Case(
        "beyond-quota",
        lambda root: (root / OULUNKAARI).write_text((root / OULUNKAARI).read_text() + SERVERS),
        "quota.exceeded",
        OULUNKAARI,
        "instances",
    ),
    Case(
        "plaintext-password",
        edit(ESPOO, "config:\n", "config:\n  openstack:password: hunter2\n"),
        "schema.value_error",
        ESPOO,
        "pulumi config set --secret openstack:password",
    ),
    Case(
        "unknown-config-key",
        edit(ESPOO, "config:\n", "config:\n  openstack:region: x\n"),
        "schema.value_error",
        ESPOO,
        "unknown config key 'openstack:region'",
    ),
    Case(
        "unknown-card-fix",
        edit(ESPOO, "card: office.print", "card: office.printer"),
        "service.unknown-card",
        ESPOO,
        "catalog/cards/",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_gets_a_finding(project: ProjectPaths, case: Case) -> None:
    case.mutate(project.root)
    report = validate(project)
    found = [f for f in report.errors if f.code == case.code and f.file == case.file]
    shown = "\n".join(f.render() for f in report.findings)
    assert found, f"no {case.code} in {case.file}; got:\n{shown}"
    assert found[0].line and found[0].line >= 1
    assert case.says in found[0].render(), found[0].render()
    assert "--cards" not in found[0].render()


def test_an_encrypted_config_value_is_fine(project: ProjectPaths) -> None:
    edit(ESPOO, "config:\n", "config:\n  openstack:password:\n    secure: AAABAxyz\n")(project.root)
    assert validate(project).ok


@pytest.mark.parametrize(
    ("command", "target"),
    [
        (["schema", "--check"], "schemas/card.schema.json"),
        (["pr", "codeowners", "--check"], "CODEOWNERS"),
    ],
)
def test_non_utf8_generated_file_is_stale_not_a_crash(
    project: ProjectPaths, monkeypatch: pytest.MonkeyPatch, command: list[str], target: str
) -> None:
    path = project.root / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"caf\xe9\xff\n")
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(project.root))
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    assert "stale" in result.output and "Traceback" not in result.output
