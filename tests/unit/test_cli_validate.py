"""The validate command: exit codes, output channels, and no tracebacks for user mistakes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.project import ProjectPaths


@pytest.fixture
def run(project: ProjectPaths, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(project.root))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_valid_project_exits_zero(run) -> None:  # type: ignore[no-untyped-def]
    result = run("validate")
    assert result.exit_code == 0, result.output


def test_strict_turns_the_deprecation_warning_into_failure(run) -> None:  # type: ignore[no-untyped-def]
    assert run("validate", "--strict").exit_code == 1


def test_errors_exit_one_with_json_on_stdout(project: ProjectPaths, run) -> None:  # type: ignore[no-untyped-def]
    path = project.stacks / "Pulumi.espoo.yaml"
    path.write_text(path.read_text().replace("size: XL", "size: XXL"))
    result = run("validate", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["errors"][0]["file"] == "stacks/Pulumi.espoo.yaml"
    assert data["errors"][0]["line"] > 0
    assert "Traceback" not in result.output


def test_no_project_exits_two_with_one_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("KUNTAPILVI_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 2
    assert "no kuntapilvi project" in result.output
    assert "Traceback" not in result.output


def test_unknown_stack_name_is_an_error(run) -> None:  # type: ignore[no-untyped-def]
    result = run("validate", "helsinki")
    assert result.exit_code == 1
    assert "no stack file for 'helsinki'" in result.output
