"""`kuntapilvi rollout plan|preview|up|status|resume`: a change to every stack it affects, in
waves. Exit codes: 0 done, 1 a stack failed, the rollout halted or `up` refused, 2 could not run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from kuntapilvi.cli.common import EXIT_INVALID, EXIT_USAGE, OutputFormat, boundary, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.fleet import ledger as lg
from kuntapilvi.fleet import rollout as ro
from kuntapilvi.fleet.plan import BILLING, INVALID, UP, FleetPlan
from kuntapilvi.fleet.report import display_for, write_reports
from kuntapilvi.fleet.runner import Options, resume

app = typer.Typer(help="Roll a change out to every stack it affects, in waves.")

Ledger = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        help="Rollout ledger URL (postgres://... or sqlite:///path); default "
        "KUNTAPILVI_LEDGER_URL, else the postgres state backend, else .state/rollout.db",
    ),
]
Format = Annotated[OutputFormat, typer.Option("--format", help="text, json or markdown")]
RolloutId = Annotated[
    str | None,
    typer.Option(
        "--id", help="Rollout id; runners given the same id share its queue (CI: the run id)"
    ),
]
Concurrency = Annotated[
    int | None, typer.Option(min=1, max=64, help="Stacks at once per wave (catalogue default)")
]
Parallel = Annotated[int | None, typer.Option(min=1, max=256, help="pulumi --parallel per stack")]
Check = Annotated[
    bool | None, typer.Option("--check/--no-check", help="kuntapilvi check after each wave")
]
Reports = Annotated[
    Path | None, typer.Option(help="Folder for logs, rollout.json and rollout.junit.xml")
]
PolicyPack = Annotated[
    str | None,
    typer.Option(
        help="Policy pack folder (default KUNTAPILVI_POLICY_PACK, else the project's policy/); "
        "'none' to run without (never in CI)"
    ),
]


def policy_pack_path(root: Path, given: str | None) -> Path | None:
    value = given or os.environ.get("KUNTAPILVI_POLICY_PACK")
    if value == "none":
        return None
    if value:
        return Path(value).resolve()
    if (root / "policy").is_dir():
        return root / "policy"
    from kuntapilvi.project import checkout_root

    return checkout_root() / "policy"


def _ledger(root: Path, url: str | None) -> lg.Ledger:
    return lg.Ledger(ro.ledger_url(root, url))


@app.command("plan")
@boundary
def plan_command(
    base: Annotated[
        str | None, typer.Option(help="Compare with this revision instead of the ledger")
    ] = None,
    ledger: Ledger = None,
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """Which stacks the change affects, why, and their waves."""
    root = find_root().root
    book = None if base else _ledger(root, ledger)
    try:
        fleet = ro.fleet_plan(root, book, base)
    finally:
        if book is not None:
            book.close()
    if fmt is OutputFormat.JSON:
        out.print(json.dumps(fleet.to_json(), indent=2), markup=False)
    elif fmt is OutputFormat.MARKDOWN:
        out.print(markdown(fleet), markup=False, end="")
    else:
        _print_plan(fleet)


def _print_plan(fleet: FleetPlan) -> None:
    counts = fleet.to_json()["counts"]
    out.print(
        f"{counts[UP]} to update, {counts[BILLING]} billing only, {counts['unchanged']} "
        f"unchanged, {counts[INVALID]} invalid"
        + (f" (against {fleet.base})" if fleet.base else ""),
        markup=False,
    )
    for wave, names in fleet.waves:
        out.print(f"wave {wave}: {len(names)} stack(s)", markup=False)
        for name in names:
            out.print(f"  {name}: {'; '.join(fleet.stacks[name].reasons)}", markup=False)
    for sp in fleet.stacks.values():
        if sp.action in (BILLING, INVALID):
            extra = (
                f" €/month {sp.monthly_before} -> {sp.monthly_after}"
                if sp.action == BILLING
                else ""
            )
            out.print(f"{sp.action}: {sp.stack}{extra}", markup=False)
    if fleet.code_changes:
        out.print(f"code changed: {', '.join(fleet.code_changes)}", markup=False)


def markdown(fleet: FleetPlan) -> str:
    """The fleet view of a pull request's comment: one screen."""
    lines = ["### Fleet rollout", ""]
    counts = fleet.to_json()["counts"]
    lines.append(
        f"**{counts[UP]}** stacks to update, **{counts[BILLING]}** billing only, "
        f"{counts['unchanged']} unchanged, {counts[INVALID]} invalid."
    )
    lines += ["", "| wave | stacks | why |", "| --- | --- | --- |"]
    for wave, names in fleet.waves:
        why = sorted({r for n in names for r in fleet.stacks[n].reasons})
        shown = ", ".join(names[:12]) + (f" … (+{len(names) - 12})" if len(names) > 12 else "")
        lines.append(f"| {wave} | {len(names)}: {shown} | {'; '.join(why[:6])} |")
    before = after = 0.0
    moved = 0
    for sp in fleet.stacks.values():
        if sp.monthly_before is not None and sp.monthly_after is not None:
            before += float(sp.monthly_before)
            after += float(sp.monthly_after)
            moved += sp.monthly_before != sp.monthly_after
    if fleet.base:
        lines += ["", f"€/month across the fleet: {before:.2f} → {after:.2f} ({moved} bills move)"]
    if fleet.code_changes:
        lines += ["", f"Code changed: {', '.join(fleet.code_changes[:10])}"]
    return "\n".join(lines) + "\n"


def markdown_status(record: dict[str, object], rows: list[lg.StackRow]) -> str:
    """A rollout (a pull request's preview) per wave: stacks, results and resource changes."""
    lines = [
        f"#### Rollout `{record['id']}` ({record['action']}): {record['status']}",
        "",
        "| wave | stacks | results | resource changes |",
        "| --- | --- | --- | --- |",
    ]
    waves: dict[str, list[lg.StackRow]] = {}
    for r in rows:
        waves.setdefault(r.wave, []).append(r)
    for wave, members in waves.items():
        results: dict[str, int] = {}
        changes: dict[str, int] = {}
        for r in members:
            results[r.status] = results.get(r.status, 0) + 1
            for kind, n in (r.changes or {}).items():
                if kind != "unchanged":
                    changes[kind] = changes.get(kind, 0) + n
        lines.append(
            f"| {wave} | {len(members)} | "
            + ", ".join(f"{n} {s}" for s, n in sorted(results.items()))
            + " | "
            + (", ".join(f"{n} {k}" for k, n in sorted(changes.items())) or "none")
            + " |"
        )
    bad = [r for r in rows if r.status in (lg.FAILED, lg.LOCKED, lg.REFUSED)]
    for r in bad[:10]:
        lines.append(f"\n- **{r.stack}** {r.status}: {r.message}")
    if record.get("halted_reason"):
        lines.append(f"\nHalted: {record['halted_reason']}")
    return "\n".join(lines) + "\n"


def _go(
    action: str,
    rollout_id: str | None,
    ledger: str | None,
    concurrency: int | None,
    parallel: int | None,
    check: bool | None,
    reports: Path | None,
    policy_pack: str | None,
    previewed: str | None = None,
) -> None:
    root = find_root().root
    book = _ledger(root, ledger)
    try:
        fleet = ro.fleet_plan(root, book)
        policy = fleet.policy
        rid = rollout_id or f"{action}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
        commit = ro.commit_of(root)
        existing = book.rollout(rid)
        if previewed is not None and existing is None and fleet.to_apply:
            # An exact id, or the newest successful preview whose id starts with it.
            found = previewed if book.rollout(previewed) else book.latest(previewed, lg.SUCCEEDED)
            if found is None:
                err.print(
                    f"refused: no successful preview '{previewed}' in the ledger", markup=False
                )
                raise typer.Exit(EXIT_INVALID)
            drifted = ro.drift(fleet, book.stacks(found))
            if drifted:
                for d in drifted:
                    err.print(f"refused: {d.stack} {d.what}", markup=False)
                err.print(
                    "nothing was applied: the change differs from what was previewed; "
                    "preview it again",
                    markup=False,
                )
                raise typer.Exit(EXIT_INVALID)
        if existing is None and not fleet.to_apply:
            if ro.create(book, rid, action, fleet, commit, {}):
                book.set_status(rid, lg.SUCCEEDED)
            err.print(f"rollout {rid}: nothing to {action}: every stack matches its fingerprint")
            return
        options = {"concurrency": concurrency, "parallel": parallel, "check": check}
        if ro.create(book, rid, action, fleet, commit, options):
            err.print(
                f"rollout {rid}: {len(fleet.to_apply)} stack(s) in {len(fleet.waves)} wave(s)"
            )
        else:
            err.print(f"rollout {rid}: joining it")
        _execute(
            root, book, rid, action, concurrency, parallel, check, reports, policy_pack, policy
        )
    finally:
        book.close()


def _execute(
    root: Path,
    book: lg.Ledger,
    rid: str,
    action: str,
    concurrency: int | None,
    parallel: int | None,
    check: bool | None,
    reports: Path | None,
    policy_pack: str | None,
    policy: object,
) -> None:
    from kuntapilvi.schema.rollout import RolloutPolicy

    assert isinstance(policy, RolloutPolicy)
    folder = reports or root / "reports" / "rollout" / rid
    pack = policy_pack_path(root, policy_pack)
    opts = Options(
        action=action,
        policy=policy,
        concurrency=concurrency or policy.concurrency,
        logs=folder / "logs",
        commit=ro.commit_of(root),
        check=policy.check if check is None else check,
    )
    engine = ro.engine_for(root, parallel or policy.parallel, pack)
    backend = os.environ.get("PULUMI_BACKEND_URL", "")
    with display_for(err) as display:
        record = ro.run(book, rid, opts, engine, display, ro.checker(root, opts.logs), backend)
    rows = book.stacks(rid)
    json_path, xml_path = write_reports(folder, record, rows)
    _summary(record, rows)
    err.print(f"reports: {json_path}, {xml_path}; logs in {opts.logs}", markup=False)
    if record["status"] != lg.SUCCEEDED:
        raise typer.Exit(EXIT_INVALID)


def _summary(record: dict[str, object], rows: list[lg.StackRow]) -> None:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    err.print(f"rollout {record['id']}: {record['status']} ({text})", markup=False)
    if record.get("halted_reason"):
        err.print(f"halted: {record['halted_reason']}", markup=False)
    for r in rows:
        if r.status == lg.LOCKED:
            err.print(f"locked: {r.stack}: {r.message}", markup=False)


@app.command("preview")
@boundary
def preview_command(
    rollout_id: RolloutId = None,
    ledger: Ledger = None,
    concurrency: Concurrency = None,
    parallel: Parallel = None,
    reports: Reports = None,
    policy_pack: PolicyPack = None,
) -> None:
    """Preview every affected stack with the policy pack, wave by wave (nothing is applied)."""
    _go("preview", rollout_id, ledger, concurrency, parallel, False, reports, policy_pack)


@app.command("up")
@boundary
def up_command(
    rollout_id: RolloutId = None,
    ledger: Ledger = None,
    concurrency: Concurrency = None,
    parallel: Parallel = None,
    check: Check = None,
    reports: Reports = None,
    policy_pack: PolicyPack = None,
    previewed: Annotated[
        str | None,
        typer.Option(help="Refuse unless every stack's inputs equal this preview rollout's"),
    ] = None,
) -> None:
    """Apply the change: the centre first and alone, the canary wave, then the waves."""
    _go("up", rollout_id, ledger, concurrency, parallel, check, reports, policy_pack, previewed)


@app.command("status")
@boundary
def status_command(
    rollout_id: Annotated[
        str | None, typer.Argument(help="Rollout id; the latest when absent")
    ] = None,
    ledger: Ledger = None,
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """Where a rollout stands, stack by stack."""
    from kuntapilvi.fleet.report import report_json

    root = find_root().root
    book = _ledger(root, ledger)
    try:
        rid = rollout_id or book.latest()
        record = book.rollout(rid) if rid else None
        if record is None:
            raise KuntapilviError("no such rollout in the ledger" if rid else "no rollout yet")
        rows = book.stacks(record["id"])
    finally:
        book.close()
    if fmt is OutputFormat.JSON:
        out.print(json.dumps(report_json(record, rows), indent=2), markup=False)
        return
    if fmt is OutputFormat.MARKDOWN:
        out.print(markdown_status(record, rows), markup=False, end="")
        return
    for r in rows:
        detail = r.message or (json.dumps(r.changes, sort_keys=True) if r.changes else "")
        out.print(f"{r.wave:10} {r.stack:20} {r.status:10} {detail}", markup=False)
    _summary(record, rows)


@app.command("resume")
@boundary
def resume_command(
    rollout_id: Annotated[
        str | None, typer.Argument(help="Rollout id; the latest when absent")
    ] = None,
    ledger: Ledger = None,
    concurrency: Concurrency = None,
    parallel: Parallel = None,
    check: Check = None,
    reports: Reports = None,
    policy_pack: PolicyPack = None,
    recover: Annotated[
        bool,
        typer.Option(
            "--recover/--no-recover",
            help="Run `kuntapilvi recover STACK` on each stack a killed run left locked (a "
            "stale lock cleared, its in-flight creates adopted) before running it again",
        ),
    ] = True,
) -> None:
    """Continue a halted or killed rollout; finished stacks are not run again."""
    root = find_root().root
    book = _ledger(root, ledger)
    try:
        rid = rollout_id or book.latest()
        record = book.rollout(rid) if rid else None
        if record is None:
            raise KuntapilviError("no rollout to resume")
        backend = os.environ.get("PULUMI_BACKEND_URL", "")
        logs = (reports or root / "reports" / "rollout" / record["id"]) / "logs"
        with display_for(err) as display:
            resume(
                book, record["id"], ro.locks_for(backend), display,
                recover=ro.recoverer(root, logs) if recover else None,
            )  # fmt: skip
        fleet = ro.fleet_plan(root, book)
        _execute(
            root, book, record["id"], record["action"], concurrency, parallel, check, reports,
            policy_pack, fleet.policy,
        )  # fmt: skip
    finally:
        book.close()


__all__ = ["EXIT_USAGE", "app"]
