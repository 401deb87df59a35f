"""Which stacks a change affects, why, and in which wave each one runs."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.fleet.fingerprint import Fingerprint, fingerprints, shared_inputs
from kuntapilvi.project import ProjectPaths
from kuntapilvi.schema.rollout import RolloutPolicy
from kuntapilvi.validate import validate

# What a stack needs in this rollout.
UP = "up"  # its resources may change: run the engine
BILLING = "billing"  # only its bill moves: nothing to apply
UNCHANGED = "unchanged"
INVALID = "invalid"  # the change leaves it with errors: never applied

CENTRE_WAVE = "centre"
CANARY_WAVE = "canary"


@dataclass(slots=True)
class StackPlan:
    stack: str
    action: str
    reasons: list[str]
    fingerprint: Fingerprint | None
    centre: bool = False
    wave: str = ""
    monthly_before: str | None = None
    monthly_after: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "action": self.action,
            "wave": self.wave,
            "reasons": self.reasons,
            "fingerprint": self.fingerprint.value if self.fingerprint else None,
            "monthly_before": self.monthly_before,
            "monthly_after": self.monthly_after,
        }


@dataclass(slots=True)
class FleetPlan:
    stacks: dict[str, StackPlan]
    waves: list[tuple[str, list[str]]]
    policy: RolloutPolicy
    base: str | None = None
    code_changes: list[str] = field(default_factory=list)

    @property
    def to_apply(self) -> list[str]:
        return [s for _, names in self.waves for s in names]

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "code_changes": self.code_changes,
            "waves": [{"name": n, "stacks": s} for n, s in self.waves],
            "stacks": [p.to_json() for p in sorted(self.stacks.values(), key=_order)],
            "counts": {
                a: sum(1 for p in self.stacks.values() if p.action == a)
                for a in (UP, BILLING, UNCHANGED, INVALID)
            },
        }


def _order(p: StackPlan) -> tuple[bool, str]:
    return (not p.centre, p.stack)


def describe(component: str) -> str:
    kind, _, name = component.partition(":")
    return (
        {
            "request": "the stack file",
            "centre": "catalog/centre.yaml",
            "code": "program or module code",
            "engine": "engine or provider version",
            "flavors": "the flavors of the cards' sizes",
        }.get(kind, f"{kind} {name}")
        if not name
        else f"{kind} {name}"
    )


def assign_waves(
    affected: list[str], centre: list[str], policy: RolloutPolicy
) -> list[tuple[str, list[str]]]:
    """Centre stacks first, each alone; then the canary volunteers; then cumulative percentages
    of the remaining tenants, in name order so every runner computes the same waves."""
    waves: list[tuple[str, list[str]]] = [(CENTRE_WAVE, [c]) for c in sorted(centre)]
    tenants = sorted(affected)
    canary = [t for t in tenants if t in set(policy.canary)]
    if canary:
        waves.append((CANARY_WAVE, canary))
    rest = [t for t in tenants if t not in set(canary)]
    done = 0
    for i, pct in enumerate(policy.waves, start=1):
        upto = len(rest) if pct == 100 else math.ceil(len(rest) * pct / 100)
        if upto > done:
            waves.append((f"wave-{i}", rest[done:upto]))
            done = upto
    return waves


def _at(root: Path, day: dt.date) -> tuple[dict[str, Fingerprint], set[str], RolloutPolicy, Any]:
    report = validate(ProjectPaths(root))
    model = report.model
    if not model.catalogue.complete:
        raise KuntapilviError(
            "the catalogue has errors; run 'kuntapilvi validate' and fix them before a rollout"
        )
    invalid = set(model.tenant_stacks) - set(model.tenants)
    return fingerprints(root, model, day), invalid, model.centre.rollout, model


def plan(
    root: Path,
    recorded: dict[str, dict[str, Any]],
    day: dt.date,
    base: str | None = None,
    only: list[str] | None = None,
) -> FleetPlan:
    """Compare each stack's fingerprint with the one recorded when it was last applied (or with
    the base revision's, when `base` is given) and put the affected stacks into waves."""
    head, invalid, policy, model = _at(root, day)
    before: dict[str, dict[str, Any]] = {}
    code_changes: list[str] = []
    if base is not None:
        with revision(root, base) as base_root:
            prior, _, _, base_model = _at(base_root, day)
            before = {
                name: {"components": fp.components, "billing": fp.billing, "monthly": fp.monthly}
                for name, fp in prior.items()
            }
            if base_model.catalogue.complete and model.catalogue.complete:
                old = shared_inputs(base_root, base_model).code_files
                new = shared_inputs(root, model).code_files
                code_changes = sorted(f for f in set(old) | set(new) if old.get(f) != new.get(f))
    reference = before if base is not None else recorded
    stacks: dict[str, StackPlan] = {}
    for name in sorted(set(head) | invalid):
        if only and name not in only:
            continue
        fp = head.get(name)
        is_centre = name in model.centre_stacks
        if fp is None:
            stacks[name] = StackPlan(name, INVALID, ["the stack file has errors"], None, is_centre)
            continue
        prior_rec = reference.get(name)
        if prior_rec is None:
            action, reasons = UP, ["new stack" if base is not None else "never applied"]
        else:
            changed = fp.differences(prior_rec.get("components"))
            if changed:
                action, reasons = UP, [describe(c) for c in changed]
            elif prior_rec.get("billing") not in (None, fp.billing):
                action, reasons = BILLING, ["price"]
            else:
                action, reasons = UNCHANGED, []
        stacks[name] = StackPlan(
            name,
            action,
            reasons,
            fp,
            is_centre,
            monthly_before=prior_rec.get("monthly") if prior_rec else None,
            monthly_after=None if is_centre else fp.monthly,
        )
    affected = [p.stack for p in stacks.values() if p.action == UP and not p.centre]
    centre = [p.stack for p in stacks.values() if p.action == UP and p.centre]
    waves = assign_waves(affected, centre, policy)
    for wave, names in waves:
        for name in names:
            stacks[name].wave = wave
    return FleetPlan(stacks, waves, policy, base, code_changes)


# What a fingerprint reads at a revision: data and the code it hashes.
REVISION_PATHS = (
    "catalog",
    "stacks",
    "templates",
    "Pulumi.yaml",
    "__main__.py",
    "modules",
    "policy",
    "src/kuntapilvi",
    "engine",
    "pyproject.toml",
)


@contextlib.contextmanager
def revision(root: Path, rev: str) -> Iterator[Path]:
    """The files fingerprints read, as they were at `rev`, in a temporary folder."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-tree", "--name-only", rev, "--", *REVISION_PATHS],
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        raise KuntapilviError(f"cannot read revision {rev}: {listed.stderr.strip()}")
    present = [p for p in REVISION_PATHS if p in listed.stdout.split() or "/" in p]
    with tempfile.TemporaryDirectory(prefix="kuntapilvi-fleet-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", "--format=tar", rev, "--", *present],
            capture_output=True,
        )
        if archive.returncode != 0:
            raise KuntapilviError(f"cannot read revision {rev}: {archive.stderr.decode().strip()}")
        tar_path = Path(tmp) / "rev.tar"
        tar_path.write_bytes(archive.stdout)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
        tar_path.unlink()
        for folder in ("catalog", "stacks", "templates"):
            (Path(tmp) / folder).mkdir(exist_ok=True)
        yield Path(tmp)
