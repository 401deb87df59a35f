"""Starting, joining and resuming a rollout from a plan; the settings come from the CLI."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.fleet import ledger as lg
from kuntapilvi.fleet.engine import RunResult, run_stack
from kuntapilvi.fleet.locks import recovery_command, stack_locks
from kuntapilvi.fleet.plan import BILLING, FleetPlan, describe, plan
from kuntapilvi.fleet.runner import Display, Options, execute


def today() -> dt.date:
    """KUNTAPILVI_TODAY pins the day staged adoption is judged on, as in the program."""
    pinned = os.environ.get("KUNTAPILVI_TODAY")
    return dt.date.fromisoformat(pinned) if pinned else dt.date.today()


def ledger_url(root: Path, explicit: str | None = None) -> str:
    """--ledger, else KUNTAPILVI_LEDGER_URL, else the state database when the backend is one,
    else a SQLite file in .state/ for a single engineer."""
    if explicit:
        return explicit
    if os.environ.get("KUNTAPILVI_LEDGER_URL"):
        return os.environ["KUNTAPILVI_LEDGER_URL"]
    backend = os.environ.get("PULUMI_BACKEND_URL") or os.environ.get("KUNTAPILVI_BACKEND_URL", "")
    if backend.startswith(("postgres://", "postgresql://")):
        # The backend's own `table=` parameter means nothing to libpq.
        base, _, query = backend.partition("?")
        kept = "&".join(p for p in query.split("&") if p and not p.startswith("table="))
        return base + ("?" + kept if kept else "")
    return f"sqlite://{root / '.state' / 'rollout.db'}"


def commit_of(root: Path) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def fleet_plan(root: Path, ledger: lg.Ledger | None, base: str | None = None) -> FleetPlan:
    recorded = ledger.applied() if ledger is not None else {}
    return plan(root, recorded, today(), base)


@dataclass(slots=True)
class Drift:
    stack: str
    what: str


def drift(current: FleetPlan, previewed: list[lg.StackRow]) -> list[Drift]:
    """Stacks whose inputs differ from those the preview ran with: `up` refuses them."""
    seen = {r.stack: r for r in previewed}
    out: list[Drift] = []
    for name in current.to_apply:
        fp = current.stacks[name].fingerprint
        assert fp is not None
        row = seen.get(name)
        if row is None:
            out.append(Drift(name, "was not previewed"))
        elif row.fingerprint != fp.value:
            what = ", ".join(describe(c) for c in fp.differences(row.components)) or "inputs"
            out.append(Drift(name, f"changed since the preview: {what}"))
    return out


def create(
    ledger: lg.Ledger,
    rollout_id: str,
    action: str,
    fleet: FleetPlan,
    commit: str,
    options: dict[str, Any],
) -> bool:
    stacks = []
    for index, (wave, names) in enumerate(fleet.waves):
        for name in names:
            sp = fleet.stacks[name]
            assert sp.fingerprint is not None
            fp = sp.fingerprint
            stacks.append((index, wave, name, fp.value, fp.components, fp.billing, sp.reasons))
    created = ledger.create_rollout(rollout_id, action, commit, fleet.to_json(), options, stacks)
    if created and action == "up":
        # A price-only change is applied by recording it: nothing to run in the cloud.
        applied = ledger.applied()
        for sp in fleet.stacks.values():
            if sp.action == BILLING and sp.fingerprint is not None and sp.stack in applied:
                fp = sp.fingerprint
                ledger.record_applied(
                    sp.stack, fp.value, fp.components, fp.billing, fp.monthly, rollout_id, commit
                )
    return created


def engine_for(root: Path, parallel: int, policy_pack: Path | None) -> Any:
    def run(action: str, stack: str, log: Path) -> RunResult:
        if action == "up":
            ensure_stack(root, stack, log)
            return run_stack(
                action, stack, cwd=root, log=log, parallel=parallel, policy_pack=policy_pack
            )
        return preview_stack(root, stack, log, parallel, policy_pack)

    return run


def _pulumi(root: Path, log: Path, *args: str) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ pulumi {' '.join(args)}\n")
        out.flush()
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=root, stdout=out, stderr=subprocess.STDOUT
        ).returncode


def ensure_stack(root: Path, stack: str, log: Path) -> None:
    """A new tenant's first apply makes its stack, as the apply workflow always did."""
    if _pulumi(root, log, "stack", "select", stack) != 0:
        _pulumi(root, log, "stack", "init", stack)


def preview_stack(
    root: Path, stack: str, log: Path, parallel: int, policy_pack: Path | None
) -> RunResult:
    """Preview; a stack the backend lacks is made for it and removed after, leaving the tenant's
    file byte for byte (as scripts/preview-stacks does)."""
    if _pulumi(root, log, "stack", "select", stack) == 0:
        return run_stack(
            "preview", stack, cwd=root, log=log, parallel=parallel, policy_pack=policy_pack
        )
    file = root / "stacks" / f"Pulumi.{stack}.yaml"
    saved = file.read_bytes()
    if _pulumi(root, log, "stack", "init", stack) != 0:
        raise KuntapilviError(f"cannot make stack {stack} for its preview; see {log}")
    try:
        return run_stack(
            "preview", stack, cwd=root, log=log, parallel=parallel, policy_pack=policy_pack
        )
    finally:
        _pulumi(root, log, "stack", "rm", stack, "--yes", "--preserve-config")
        file.write_bytes(saved)


def _kuntapilvi(root: Path, log: Path, *args: str) -> int:
    """`kuntapilvi ARGS` in its own process (one process per stack, as the engine runs)."""
    exe = shutil.which("kuntapilvi")
    argv = [exe, *args] if exe else [sys.executable, "-m", "kuntapilvi", *args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        return subprocess.run(argv, cwd=root, stdout=out, stderr=subprocess.STDOUT).returncode


def checker(root: Path, log_dir: Path) -> Any:
    def check(stack: str) -> tuple[bool, str]:
        log = log_dir / f"{stack}.check.log"
        code = _kuntapilvi(root, log, "check", stack)
        return code == 0, f"kuntapilvi check {stack} exited {code}; see {log}"

    return check


def recoverer(root: Path, log_dir: Path) -> Any:
    """`kuntapilvi recover STACK` for a stack a killed rollout left locked; its exit codes are
    docs/recovery.md's (0 recovered, 1 left for a person, 3 the engine or cloud failed)."""

    def recover(stack: str) -> tuple[bool, str]:
        log = log_dir / f"{stack}.recover.log"
        code = _kuntapilvi(root, log, "recover", stack)
        verdict = "recovered" if code == 0 else f"exited {code}"
        return code == 0, f"{recovery_command(stack)} {verdict}; see {log}"

    return recover


def locks_for(backend_url: str) -> Any:
    def locked(stack: str) -> list[str]:
        try:
            return stack_locks(backend_url, stack)
        except Exception as exc:  # an unreadable backend must not pass for an unlocked one
            return [f"unknown ({type(exc).__name__}: {exc})"]

    return locked


def run(
    ledger: lg.Ledger,
    rollout_id: str,
    opts: Options,
    engine: Any,
    display: Display,
    check: Any,
    backend_url: str,
) -> dict[str, Any]:
    return execute(ledger, rollout_id, opts, engine, display, check, locks_for(backend_url))
