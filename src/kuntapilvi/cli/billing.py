"""`kuntapilvi invoice`, and reading the build history at the edge for it and for `plan`."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from kuntapilvi.cli.common import EXIT_INVALID, OutputFormat, boundary, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.history import BuildHistory, from_state
from kuntapilvi.i18n import pick, render_finding, tr
from kuntapilvi.invoice import month_lines, to_csv
from kuntapilvi.model import Model
from kuntapilvi.validate import validate

HISTORY_ENV = "KUNTAPILVI_BUILD_HISTORY"


def _t(message: str) -> str:
    """A CLI message in the locale's language."""
    return tr(pick(None), message)


HistoryOption = Annotated[
    Path | None,
    typer.Option(
        "--history",
        help=f"Build history JSON (first build per tenant and service); default ${HISTORY_ENV}",
    ),
]
StateOption = Annotated[
    bool,
    typer.Option(
        "--from-state",
        help="Read build dates from each tenant stack's state (pulumi stack export)",
    ),
]


def _export(stack: str) -> dict:  # type: ignore[type-arg]
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise KuntapilviError(
            "--from-state needs the pulumi CLI on PATH. Fix: run '. scripts/env.sh' first"
        )
    done = subprocess.run(
        [pulumi, "stack", "export", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise KuntapilviError(f"pulumi stack export --stack {stack} failed: {first}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def load_history(
    model: Model, path: Path | None, state: bool, stacks: list[str]
) -> BuildHistory | None:
    """The build history the options ask for; None when there is none (everything projected)."""
    history: BuildHistory | None = None
    chosen = path or (Path(os.environ[HISTORY_ENV]) if os.environ.get(HISTORY_ENV) else None)
    if chosen is not None:
        history = BuildHistory.load(chosen)
    if state:
        for stack in stacks:
            tenant = model.tenants.get(stack)
            if tenant is None:
                continue
            keys = {s.name: s.key for s in tenant.services}
            found = from_state(stack, _export(stack), keys, dt.date.today())
            history = found if history is None else history.merged(found)
    if history is None:
        err.print(
            _t(
                "note: no build history given (--history, --from-state or ${env}); every "
                "service is projected as built on its start date or on {day}, so set-up fees "
                "fall there"
            ).format(env=HISTORY_ENV, day=model.price_list.valid_from),
            markup=False,
        )
    return history


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@boundary
def invoice_command(
    month: Annotated[str, typer.Option("--month", help="Month to invoice, YYYY-MM")],
    stacks: Annotated[list[str] | None, typer.Argument(help="Tenant stacks (default: all)")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TEXT,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write invoice-YYYY-MM.csv and .json into this folder"),
    ] = None,
    history_file: HistoryOption = None,
    state: StateOption = False,
) -> None:
    """Invoice lines of one month: one per tenant and service, with VAT and accounting codes."""
    match = _MONTH.match(month)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise KuntapilviError(f"--month {month!r} is not a month. Fix: write it as YYYY-MM")
    report = validate(find_root(), stacks)
    if report.errors:
        for f in report.errors:
            err.print(render_finding(f, pick(None)), markup=False)
        raise typer.Exit(EXIT_INVALID)
    model = report.model
    year = int(match.group(1))
    if year != model.price_list.year:
        raise KuntapilviError(
            f"--month {month}: the price list is for {model.price_list.year}. Fix: invoice a "
            f"month of {model.price_list.year}, or use that year's catalogue (git checkout)"
        )
    names = [s for s in (stacks or sorted(model.tenants)) if s in model.tenants]
    missing = sorted(set(stacks or []) - set(names))
    if missing:
        raise KuntapilviError(f"no tenant stack {', '.join(missing)}. Fix: see stacks/")
    history = load_history(model, history_file, state, names)
    lines = month_lines(model, int(match.group(2)), history, names)
    as_json = json.dumps(
        {
            "month": month,
            "vat_percent": str(model.price_list.vat_percent),
            "history": history.source if history else None,
            "lines": [line.as_dict() for line in lines],
        },
        indent=2,
        ensure_ascii=False,
    )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"invoice-{month}.csv").write_text(to_csv(lines), encoding="utf-8")
        (out_dir / f"invoice-{month}.json").write_text(as_json + "\n", encoding="utf-8")
        err.print(
            _t("wrote {files} ({lines} lines)").format(
                files=f"{out_dir}/invoice-{month}.csv, .json", lines=len(lines)
            )
        )
    if output is OutputFormat.JSON:
        out.print(as_json, markup=False)
    elif output is OutputFormat.TEXT and out_dir is None:
        out.print(to_csv(lines), markup=False, end="")
    elif output is OutputFormat.MARKDOWN:
        raise KuntapilviError("invoice has csv (text) and json formats. Fix: use --format json")


def _git_stack_log(root: Path) -> str:
    """`git log` of stacks/ oldest first; empty outside a git checkout (no growth chart)."""
    git = shutil.which("git")
    if git is None:
        return ""
    done = subprocess.run(
        [
            git,
            "log",
            "--reverse",
            "--no-renames",
            "--name-status",
            "--format=@%ad",
            "--date=short",
            "--",
            "stacks/",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else ""


@boundary
def report_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for report.html and report.json")
    ] = Path("reports/management"),
    lang: Annotated[str | None, typer.Option("--lang", help="fi, sv or en (default: fi)")] = None,
    day: Annotated[
        str | None, typer.Option("--date", help="Judge owners on this day (default: today)")
    ] = None,
    history_file: HistoryOption = None,
    state: StateOption = False,
) -> None:
    """Management report: population coverage, revenue, capacity use, growth of stacks."""

    from kuntapilvi.i18n import pick_document
    from kuntapilvi.report import render_html, report_data, stack_growth

    language = pick_document(lang)
    try:
        when = dt.date.fromisoformat(day) if day else dt.date.today()
    except ValueError:
        raise KuntapilviError(f"--date {day!r} is not a date. Fix: write YYYY-MM-DD") from None
    paths = find_root()
    report = validate(paths)
    if report.errors:
        for f in report.errors:
            err.print(render_finding(f, pick(None)), markup=False)
        raise typer.Exit(EXIT_INVALID)
    model = report.model
    history = load_history(model, history_file, state, sorted(model.tenants))
    data = report_data(model, history, stack_growth(_git_stack_log(paths.root)), when)
    target = out_dir if out_dir.is_absolute() else paths.root / out_dir
    target.mkdir(parents=True, exist_ok=True)
    (target / "report.json").write_text(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (target / "report.html").write_text(render_html(data, language), encoding="utf-8")
    err.print(_t("wrote {files}").format(files=f"{target}/report.html, report.json"))
