"""`kuntapilvi validate`: the catalogue and the stacks, with findings that say how to fix."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kuntapilvi.cli.common import EXIT_INVALID, EXIT_OK, OutputFormat, boundary, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.i18n import pick, render_finding, tr
from kuntapilvi.validate import validate


@boundary
def validate_command(
    stacks: Annotated[
        list[str] | None, typer.Argument(help="Stack names to check (default: all stacks)")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text for people, json for machines")
    ] = OutputFormat.TEXT,
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors")] = False,
    templates: Annotated[
        bool,
        typer.Option(
            help="Render every server card's cloud-init template (with the stacks and the "
            "cards' defaults) and check it against cloud-init's schema"
        ),
    ] = True,
    lang: Annotated[
        str | None, typer.Option("--lang", help="fi, sv or en (default: from the locale)")
    ] = None,
) -> None:
    """Check the catalogue and stack files; every problem names file, line, field and a fix.

    Exit status: 0 valid, 1 errors (or warnings with --strict), 2 the check could not run.
    """
    language = pick(lang)
    paths = find_root()
    report = validate(paths, stacks)
    if templates and not report.errors:
        from kuntapilvi.rules import template_rules

        report.findings.extend(template_rules.check(report.model, stacks))
    failed = bool(report.errors) or (strict and bool(report.warnings))
    if output is OutputFormat.JSON:
        out.print_json(
            json.dumps(
                {
                    "ok": not failed,
                    "errors": [f.as_dict() for f in report.errors],
                    "warnings": [f.as_dict() for f in report.warnings],
                    "cards": len(report.model.cards),
                    "stacks": sorted([*report.model.tenant_stacks, *report.model.centre_stacks]),
                }
            )
        )
    else:
        label_error, label_warning = tr(language, "error"), tr(language, "warning")
        for finding in report.errors:
            err.print(f"[bold red]{label_error}[/] {_escape(render_finding(finding, language))}")
        for finding in report.warnings:
            err.print(f"[yellow]{label_warning}[/] {_escape(render_finding(finding, language))}")
        n_stacks = len(report.model.tenant_stacks) + len(report.model.centre_stacks)
        summary = tr(
            language, "{cards} cards, {stacks} stacks: {errors} error(s), {warnings} warning(s)"
        ).format(
            cards=len(report.model.cards),
            stacks=n_stacks,
            errors=len(report.errors),
            warnings=len(report.warnings),
        )
        err.print(("[red]✗[/] " if failed else "[green]✓[/] ") + summary)
    raise typer.Exit(EXIT_INVALID if failed else EXIT_OK)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
