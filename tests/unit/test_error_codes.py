"""One error path: every error of the package has one root, and the CLI ends each kind of failure
with its documented exit code (docs/error-codes.md), never with a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.errors import (
    EXIT_CLOUD,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    InvalidConfiguration,
    KuntapilviError,
)
from kuntapilvi.hosts.errors import HostsError
from kuntapilvi.project import ProjectPaths
from kuntapilvi.yamlsource import YamlError

DOC = Path(__file__).resolve().parents[2] / "docs" / "error-codes.md"


@pytest.fixture
def run(project: ProjectPaths, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(project.root))
    monkeypatch.setenv("KUNTAPILVI_CRASH_DIR", str(project.root))
    return lambda *args: CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("cls", [DevcloudError, HostsError, YamlError, InvalidConfiguration])
def test_every_error_has_the_one_root(cls: type) -> None:
    assert issubclass(cls, KuntapilviError)


def test_every_exit_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in (EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_CLOUD, EXIT_INTERNAL):
        assert f"| {code} |" in text


def test_exit_0_when_valid(run) -> None:  # type: ignore[no-untyped-def]
    assert run("validate").exit_code == EXIT_OK


def test_exit_1_for_a_mistake_in_a_file(project: ProjectPaths, run) -> None:  # type: ignore[no-untyped-def]
    path = project.stacks / "Pulumi.espoo.yaml"
    path.write_text(path.read_text().replace("size: XL", "size: XXL"))
    result = run("validate")
    assert result.exit_code == EXIT_INVALID
    assert "stacks/Pulumi.espoo.yaml:" in result.output and "Fix:" in result.output


def test_exit_1_for_a_mistake_in_an_argument(run) -> None:  # type: ignore[no-untyped-def]
    result = run("new-tenant", "helsinki")
    assert result.exit_code == EXIT_INVALID
    assert "Fix:" in result.output and "Traceback" not in result.output


def test_exit_2_for_bad_usage(run) -> None:  # type: ignore[no-untyped-def]
    result = run("plan", "--today", "2027-02-30")
    assert result.exit_code == EXIT_USAGE
    assert "--today" in result.output and "YYYY-MM-DD" in result.output


def test_exit_3_for_a_cloud_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUNTAPILVI_DEVCLOUD_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("KUNTAPILVI_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["devcloud", "env"])
    assert result.exit_code == EXIT_CLOUD
    assert "Traceback" not in result.output


def test_exit_70_for_a_bug_writes_the_traceback_to_a_file(
    project: ProjectPaths, run, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import kuntapilvi.cli.validate as cli_validate

    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug [/x]")

    monkeypatch.setattr(cli_validate, "validate", broken)
    result = run("validate")
    assert result.exit_code == EXIT_INTERNAL
    assert "Traceback" not in result.output
    assert "bug in kuntapilvi" in result.output and "[/x]" in result.output
    [crash] = list(project.root.glob("kuntapilvi-crash-*.txt"))
    assert "Traceback" in crash.read_text() and "ZeroDivisionError" in crash.read_text()


@pytest.mark.parametrize("text", ["[/x]", "[bold]", "[/]", "[link=http://x]a[/link]"])
def test_markup_in_user_text_is_printed_as_it_is(run, text: str) -> None:  # type: ignore[no-untyped-def]
    result = run("new-tenant", text)
    assert result.exit_code == EXIT_INVALID, result.output
    assert repr(text) in result.output


def test_markup_in_a_file_is_printed_as_it_is(project: ProjectPaths, run) -> None:  # type: ignore[no-untyped-def]
    path = project.stacks / "Pulumi.espoo.yaml"
    path.write_text(path.read_text().replace("size: XL", "size: XL\n        oops[/x]: 1"))
    result = run("validate")
    assert result.exit_code == EXIT_INVALID
    assert "oops[/x]" in result.output


def test_plan_and_agreement_of_the_centre_stack_say_why(run) -> None:  # type: ignore[no-untyped-def]
    for command in ("plan", "agreement"):
        result = run(command, "centre")
        assert result.exit_code == EXIT_INVALID, (command, result.output)
        assert "centre's own stack" in result.output and "Fix:" in result.output


def test_a_300_character_stack_name_is_one_finding(run) -> None:  # type: ignore[no-untyped-def]
    for command in ("validate", "plan", "agreement"):
        result = run(command, "a" * 300)
        assert result.exit_code == EXIT_INVALID, (command, result.output)
        assert "not a stack name" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("prefix", ["0", "8", "30", "-1"])
def test_new_tenant_prefix_outside_the_centre_sizes(  # type: ignore[no-untyped-def]
    run, project: ProjectPaths, prefix: str
) -> None:
    # Every registered owner has a stack already: free one so only the prefix is wrong.
    (project.stacks / "Pulumi.kajaani.yaml").unlink()
    result = run("new-tenant", "kajaani", "--prefix", prefix)
    assert result.exit_code == EXIT_INVALID, result.output
    assert "--prefix" in result.output and "Fix:" in result.output


@pytest.mark.parametrize("today", ["2027-02-30", "tomorrow", "20270201", "2027-1-1"])
def test_today_must_be_a_real_date(run, today: str) -> None:  # type: ignore[no-untyped-def]
    for command in (["plan"], ["pr", "check"]):
        result = run(*command, "--today", today)
        assert result.exit_code == EXIT_USAGE, (command, result.output)
        assert "Traceback" not in result.output


def test_markup_in_an_owner_name_does_not_break_the_plan_table(project: ProjectPaths, run) -> None:  # type: ignore[no-untyped-def]
    owners = project.catalog / "owners.yaml"
    owners.write_text(owners.read_text().replace("name: Lahden kaupunki", "name: Lahti [/x]"))
    result = run("plan", "lahti", "--today", "2027-01-15")
    assert result.exit_code == EXIT_OK, result.output
    assert "Lahti [/x]" in result.output
