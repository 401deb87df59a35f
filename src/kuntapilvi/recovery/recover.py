"""`kuntapilvi recover STACK`: after an interrupted `pulumi up`, bring state and cloud together.

1. A lock whose holder is gone is cleared (a live one stops everything).
2. Each pending create is looked up in the cloud by its tags: found once → adopted into the
   state (or, with `delete`, deleted in the cloud); not found → the pending create is dropped;
   found more than once, or of a type that cannot be looked up → reported and left alone.
   Pending updates and deletes are dropped: the resource is still in the state.
3. The corrected state is imported and refreshed, so the next `up` builds only what is missing.
"""

from __future__ import annotations

import datetime as dt
import enum
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kuntapilvi import statestore
from kuntapilvi.recovery import cloud, locks, state
from kuntapilvi.recovery.engine import Engine
from kuntapilvi.recovery.match import Match, Outcome, match, short

EXIT_OK = 0
EXIT_LEFT = 1
EXIT_USAGE = 2
EXIT_ENGINE = 3


class Action(enum.StrEnum):
    ADOPT = "adopt"
    DELETE = "delete"
    CLEAR = "clear"
    LEAVE = "leave"


@dataclass(frozen=True, slots=True)
class Step:
    op: state.PendingOp
    action: Action
    why: str
    match: Match | None = None


@dataclass
class Report:
    stack: str
    messages: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    """What a person must look at; non-empty means exit code 1."""
    refreshed: bool = False

    @property
    def code(self) -> int:
        return EXIT_LEFT if self.left else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "messages": self.messages,
            "steps": [
                {
                    "urn": s.op.urn,
                    "operation": s.op.kind,
                    "action": str(s.action),
                    "id": s.match.resource.id if s.match and s.match.resource else None,
                    "why": s.why,
                }
                for s in self.steps
            ],
            "left": self.left,
            "refreshed": self.refreshed,
        }


def plan(
    ops: list[state.PendingOp],
    matches: dict[str, Match],
    *,
    delete: bool,
    forget: frozenset[str] = frozenset(),
) -> list[Step]:
    """What to do with each pending operation (pure: the decisions the runbook documents)."""
    steps = []
    for op in ops:
        if op.urn in forget:
            steps.append(Step(op, Action.CLEAR, "--forget: a person settled it in the cloud"))
            continue
        if not op.is_create:
            steps.append(Step(op, Action.CLEAR, f"pending {op.kind}: the state still holds it"))
            continue
        m = matches[op.urn]
        if m.outcome is Outcome.FOUND:
            action = Action.DELETE if delete else Action.ADOPT
            steps.append(Step(op, action, m.reason, m))
        elif m.outcome is Outcome.ABSENT:
            steps.append(Step(op, Action.CLEAR, f"the create never happened: {m.reason}", m))
        else:
            steps.append(Step(op, Action.LEAVE, m.reason, m))
    return steps


def clear_stale_locks(
    engine: Engine,
    stack: str,
    report: Report,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    this_host: str,
    alive: Callable[[int], bool] = locks.pid_alive,
    reachable: Callable[[str], bool] = locks.host_reachable,
) -> bool:
    """False when a live lock means another run is under way (then nothing else is done)."""
    if not statestore.supported(engine.backend_url):
        report.messages.append(
            f"locks of a {engine.backend_url.split(':', 1)[0]}:// backend are not inspected; if "
            "`pulumi up` says the stack is locked, check its holder, then `pulumi cancel`"
        )
        return True
    store = statestore.Store(engine.backend_url)
    verdicts = [
        locks.judge(k, this_host=this_host, now=now, lease=lease, alive=alive, reachable=reachable)
        for k in locks.read_locks(store, stack)
    ]
    live = [v for v in verdicts if not v.stale]
    if live:
        for v in live:
            report.left.append(
                f"the stack is locked by a live run ({v.lock.describe()}): {v.reason}"
            )
        return False
    for v in verdicts:
        store.delete(v.lock.key)
        report.messages.append(f"cleared a stale lock ({v.lock.describe()}): {v.reason}")
    return True


def recover(
    stack: str,
    engine: Engine,
    connect: Callable[[], Any],
    *,
    delete: bool = False,
    dry_run: bool = False,
    forget: frozenset[str] = frozenset(),
    lease: dt.timedelta = locks.DEFAULT_LEASE,
    now: dt.datetime | None = None,
    this_host: str | None = None,
    region: str = "",
) -> Report:
    report = Report(stack)
    now = now or dt.datetime.now(dt.UTC)
    host = this_host or socket.gethostname()
    if not dry_run and not clear_stale_locks(
        engine, stack, report, now=now, lease=lease, this_host=host
    ):
        return report
    export = engine.export(stack)
    ops = state.pending_operations(export)
    if not ops:
        report.messages.append("no pending operations: nothing to recover")
        return report
    creates = [op for op in ops if op.is_create and op.urn not in forget]
    matches: dict[str, Match] = {}
    conn: Any = None
    if creates:
        conn = connect()
        tagged = cloud.tagged(conn, stack)
        known = state.known_ids(export)
        # Keyed candidates belong to their own create only: two rules of different groups
        # must not see each other's rule as a second match.
        matches = {
            op.urn: match(op, stack, [*tagged, *cloud.keyed(conn, op, region)], known)
            for op in creates
        }
    report.steps = plan(ops, matches, delete=delete, forget=forget)
    for step in report.steps:
        where = f"{short(step.op.type)} {step.op.name}"
        if step.action is Action.LEAVE:
            report.left.append(f"{where}: left alone, {step.why}")
        else:
            report.messages.append(f"{where}: {step.action} ({step.why})")
    if dry_run:
        return report
    if report.left:
        # `pulumi stack import` drops every pending operation it is given, so a corrected
        # state would lose the ones left alone and the next `up` would build them again.
        # Nothing is changed until a person has settled them.
        report.messages.append(
            "state not changed: settle what is listed (delete the extra copies in the cloud, "
            "or pass --forget URN for a create you know never happened), then run recover again"
        )
        return report
    if conn is not None:
        report.steps = [_settled(conn, s, report) for s in report.steps]
        for step in report.steps:
            if step.action is Action.DELETE and step.match and step.match.resource:
                cloud.delete(conn, step.match.resource)
    adopt = {
        s.op.urn: s.match.resource.id
        for s in report.steps
        if s.action is Action.ADOPT and s.match and s.match.resource
    }
    clear = {
        (s.op.kind, s.op.urn) for s in report.steps if s.action in (Action.CLEAR, Action.DELETE)
    }
    engine.import_(stack, state.apply(export, adopt, clear))
    engine.refresh(stack)
    report.refreshed = True
    return report


def _settled(conn: Any, step: Step, report: Report) -> Step:
    """A server still building when its run was killed is waited for; one that ended in
    ERROR is no resource to adopt: it is deleted and the next `up` creates it again."""
    if step.action is not Action.ADOPT or step.match is None or step.match.resource is None:
        return step
    status = cloud.settle(conn, step.match.resource)
    if not cloud.failed(step.match.resource, status):
        return step
    report.messages.append(
        f"{short(step.op.type)} {step.op.name}: {step.match.resource.id} ended in {status}; "
        "deleting it instead of adopting it"
    )
    return Step(step.op, Action.DELETE, f"the cloud left it in {status}", step.match)
