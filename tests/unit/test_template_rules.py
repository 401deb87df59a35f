"""`validate` renders every server card's template: template mistakes are findings with the
template's file and line, not tracebacks in `plan`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.project import ProjectPaths
from kuntapilvi.render import environment
from kuntapilvi.rules import template_rules
from kuntapilvi.validate import validate

PRINT = "templates/cloud-init/print.yaml.j2"


def findings(project: ProjectPaths) -> list:  # type: ignore[type-arg]
    environment.cache_clear()
    return template_rules.check(validate(project).model)


def break_template(project: ProjectPaths, old: str, new: str) -> int:
    path = project.root / PRINT
    text = path.read_text()
    assert old in text, f"fixture drift: {old!r}"
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def test_shipped_templates_render_clean(repo: ProjectPaths) -> None:
    assert findings(repo) == []


def test_syntax_error_names_template_and_line(project: ProjectPaths) -> None:
    line = break_template(project, "Allow from", "{% if %}Allow from")
    [finding] = [f for f in findings(project) if f.code == "template.render"]
    assert finding.file == PRINT and finding.line == line


def test_undefined_variable_names_template_and_line(project: ProjectPaths) -> None:
    line = break_template(project, "Allow from", "{{ no_such_thing }} Allow from")
    found = [f for f in findings(project) if f.code == "template.render"]
    assert found and found[0].file == PRINT and found[0].line == line
    assert "no_such_thing" in found[0].message


def test_output_that_is_not_yaml(project: ProjectPaths) -> None:
    break_template(project, "{% block write_files %}\n", "{% block write_files %}\nbroken: [x\n")
    assert any(f.code == "template.invalid-yaml" and f.file == PRINT for f in findings(project))


@pytest.mark.skipif(
    template_rules.validator() is None, reason="cloud-init is not installed or cached here"
)
def test_output_cloud_init_rejects(project: ProjectPaths) -> None:
    break_template(
        project, "{% block write_files %}\n", "{% block write_files %}\n  - path: [5]\n"
    )
    assert any(f.code == "template.cloud-init-schema" for f in findings(project))


def test_validate_command_reports_template_errors(
    project: ProjectPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_template(project, "Allow from", "{% if %}Allow from")
    environment.cache_clear()
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(project.root))
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1
    assert PRINT in result.output and "Traceback" not in result.output
