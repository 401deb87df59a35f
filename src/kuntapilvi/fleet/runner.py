"""Running a rollout: waves in order, a bounded pool per wave, tolerance, bake and checks.

Every runner of a rollout (one, or n sharing it) loops over the waves; it claims stacks of the
current wave from the ledger's queue, so no stack is run twice, and starts the next wave only
when no runner has a stack of this one left. A failure beyond the tolerance halts the rollout:
no runner starts another stack, running ones finish, the rest are recorded as halted.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kuntapilvi.fleet import ledger as lg
from kuntapilvi.fleet.engine import RunResult, StackFailed, StackLocked, TransientError
from kuntapilvi.fleet.locks import recovery_command
from kuntapilvi.fleet.plan import CENTRE_WAVE
from kuntapilvi.schema.rollout import RolloutPolicy

# A running stack whose runner has not beaten for this long belongs to a dead runner.
STALE_AFTER_S = 30.0
POLL_S = 0.5


class Display(Protocol):
    def started(self, stack: str, wave: str) -> None: ...
    def finished(self, stack: str, wave: str, status: str, detail: str) -> None: ...
    def wave(self, name: str, index: int, total: int, size: int) -> None: ...
    def note(self, text: str) -> None: ...


EngineFn = Callable[[str, str, Path], RunResult]
CheckFn = Callable[[str], tuple[bool, str]]


@dataclass(slots=True)
class Options:
    action: str  # "up" or "preview"
    policy: RolloutPolicy
    concurrency: int
    logs: Path
    commit: str
    check: bool = True
    runner_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )


def waves_of(rows: list[lg.StackRow]) -> list[tuple[int, str]]:
    return sorted({(r.wave_index, r.wave) for r in rows})


def tolerated(rows: list[lg.StackRow], policy: RolloutPolicy) -> int:
    tenants = sum(1 for r in rows if r.wave != CENTRE_WAVE)
    return policy.tolerated(tenants)


def failures(rows: list[lg.StackRow]) -> int:
    return sum(1 for r in rows if r.status in (lg.FAILED, lg.LOCKED))


def execute(
    ledger: lg.Ledger,
    rollout_id: str,
    opts: Options,
    engine: EngineFn,
    display: Display,
    check: CheckFn | None = None,
    locked: Callable[[str], list[str]] | None = None,
) -> dict[str, Any]:
    """Run (or join) a rollout until it is finished or halted; returns the ledger's record."""
    beating: set[str] = set()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(5):
            if beating:
                ledger.heartbeat(rollout_id, sorted(beating))

    heart = threading.Thread(target=beat, daemon=True)
    heart.start()
    try:
        rows = ledger.stacks(rollout_id)
        waves = waves_of(rows)
        for index, name in waves:
            if _halted(ledger, rollout_id):
                break
            _wait_for_earlier(ledger, rollout_id, index)
            size = sum(1 for r in rows if r.wave_index == index)
            display.wave(name, index, len(waves), size)
            mine = _run_wave(ledger, rollout_id, index, name, opts, engine, display, beating)
            if _halted(ledger, rollout_id):
                break
            _wait_for_wave(ledger, rollout_id, index)
            if check is not None and opts.check and opts.action == "up" and mine:
                _check_wave(ledger, rollout_id, name, mine, check, display, opts)
            if opts.policy.bake_seconds and index != waves[-1][0]:
                display.note(f"{name}: baking {opts.policy.bake_seconds} s before the next wave")
                time.sleep(opts.policy.bake_seconds)
        if _halted(ledger, rollout_id):
            halted = ledger.halt_pending(rollout_id)
            if halted:
                display.note(f"halted: {halted} stack(s) not started")
        else:
            rows = ledger.stacks(rollout_id)
            if all(r.status in lg.FINISHED for r in rows):
                status = lg.SUCCEEDED if not failures(rows) else lg.FAILED
                ledger.set_status(rollout_id, status)
    finally:
        stop.set()
        heart.join(timeout=1)
    record = ledger.rollout(rollout_id)
    assert record is not None
    return record


def _halted(ledger: lg.Ledger, rollout_id: str) -> bool:
    record = ledger.rollout(rollout_id)
    return record is not None and record["status"] == lg.HALTED


def _wait_for_earlier(ledger: lg.Ledger, rollout_id: str, index: int) -> None:
    while True:
        rows = ledger.stacks(rollout_id)
        if all(r.status in lg.FINISHED for r in rows if r.wave_index < index):
            return
        if _halted(ledger, rollout_id):
            return
        time.sleep(POLL_S)


def _wait_for_wave(ledger: lg.Ledger, rollout_id: str, index: int) -> None:
    """Other runners may still be finishing stacks of this wave."""
    _wait_for_earlier(ledger, rollout_id, index + 1)


def _run_wave(
    ledger: lg.Ledger,
    rollout_id: str,
    index: int,
    wave: str,
    opts: Options,
    engine: EngineFn,
    display: Display,
    beating: set[str],
) -> list[str]:
    concurrency = 1 if wave == CENTRE_WAVE else opts.concurrency
    done: list[str] = []
    running: dict[Future[RunResult], str] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        while True:
            while len(running) < concurrency and not _halted(ledger, rollout_id):
                stack = ledger.claim(rollout_id, index, opts.runner_id)
                if stack is None:
                    break
                beating.add(stack)
                display.started(stack, wave)
                log = opts.logs / f"{stack}.log"
                running[pool.submit(engine, opts.action, stack, log)] = stack
            if not running:
                return done
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                stack = running.pop(future)
                _record(ledger, rollout_id, wave, stack, future, opts, display)
                beating.discard(stack)
                done.append(stack)


def _record(
    ledger: lg.Ledger,
    rollout_id: str,
    wave: str,
    stack: str,
    future: Future[RunResult],
    opts: Options,
    display: Display,
) -> None:
    try:
        result = future.result()
    except StackLocked as exc:
        message = (
            f"stack locked by an earlier run ({exc}); recover with '{recovery_command(stack)}'"
        )
        ledger.finish(rollout_id, stack, lg.LOCKED, message=message)
        display.finished(stack, wave, lg.LOCKED, message)
    except (StackFailed, TransientError) as exc:
        ledger.finish(rollout_id, stack, lg.FAILED, message=str(exc))
        display.finished(stack, wave, lg.FAILED, str(exc))
    except Exception as exc:  # a runner bug must not leave the stack 'running' forever
        ledger.finish(rollout_id, stack, lg.FAILED, message=f"{type(exc).__name__}: {exc}")
        display.finished(stack, wave, lg.FAILED, str(exc))
    else:
        if opts.action == "up":
            row = next(r for r in ledger.stacks(rollout_id) if r.stack == stack)
            # Applied first, then finished: a runner killed in between is found applied on resume.
            ledger.record_applied(
                stack, row.fingerprint, row.components, row.billing, None, rollout_id, opts.commit
            )
        ledger.finish(rollout_id, stack, lg.SUCCEEDED, changes=result.changes)
        detail = ", ".join(f"{n} {k}" for k, n in sorted(result.changes.items()) if n)
        display.finished(stack, wave, lg.SUCCEEDED, f"{result.seconds:.1f} s; {detail}")
    _judge(ledger, rollout_id, wave, stack, opts)


def _judge(ledger: lg.Ledger, rollout_id: str, wave: str, stack: str, opts: Options) -> None:
    rows = ledger.stacks(rollout_id)
    failed = failures(rows)
    mine = next(r for r in rows if r.stack == stack)
    if wave == CENTRE_WAVE and mine.status != lg.SUCCEEDED:
        ledger.halt(rollout_id, f"the centre stack {stack} failed: every tenant reads it")
    elif failed > tolerated(rows, opts.policy):
        ledger.halt(
            rollout_id,
            f"{failed} stack(s) failed, more than the tolerance of "
            f"{tolerated(rows, opts.policy)} ({opts.policy.failure_tolerance})",
        )


def _check_wave(
    ledger: lg.Ledger,
    rollout_id: str,
    wave: str,
    stacks: list[str],
    check: CheckFn,
    display: Display,
    opts: Options,
) -> None:
    rows = {r.stack: r for r in ledger.stacks(rollout_id)}
    for stack in stacks:
        if rows[stack].status != lg.SUCCEEDED or wave == CENTRE_WAVE:
            continue
        ok, detail = check(stack)
        if not ok:
            ledger.finish(
                rollout_id, stack, lg.FAILED, rows[stack].changes, f"check failed: {detail}"
            )
            display.finished(stack, wave, lg.FAILED, f"check failed: {detail}")
            _judge(ledger, rollout_id, wave, stack, opts)


def _settle_heartbeats(
    ledger: lg.Ledger, rollout_id: str, display: Display, stale_after: float
) -> None:
    """A runner killed a moment ago still looks alive: its last beat is fresh. Wait until each
    running stack's beat either goes stale (its runner is dead: resume takes it over) or keeps
    coming (a live runner: this one joins it), instead of waiting for it forever."""
    seen: dict[str, float] = {}
    deadline = time.time() + stale_after + 2 * POLL_S
    while time.time() < deadline:
        now = time.time()
        fresh: dict[str, float] = {
            r.stack: r.heartbeat
            for r in ledger.stacks(rollout_id)
            if r.status == lg.RUNNING
            and r.heartbeat is not None
            and r.heartbeat >= now - stale_after
        }
        if not fresh or any(seen.get(s, b) != b for s, b in fresh.items()):
            return  # none to settle, or one beats again: its runner lives
        if not seen:
            display.note(
                f"{', '.join(sorted(fresh))}: last beat {now - max(fresh.values()):.0f} s ago; "
                f"waiting up to {stale_after:.0f} s to tell a dead runner from a live one"
            )
        seen = fresh
        time.sleep(POLL_S)


def resume(
    ledger: lg.Ledger,
    rollout_id: str,
    locked: Callable[[str], list[str]],
    display: Display,
    stale_after: float = STALE_AFTER_S,
    recover: Callable[[str], tuple[bool, str]] | None = None,
) -> None:
    """Make a halted or killed rollout runnable again without redoing finished stacks.

    A stack whose run was killed keeps the engine's lock and the creates that were in flight.
    With `recover` (`kuntapilvi recover STACK`: a stale lock cleared, what the killed run made
    adopted into the state) it runs again; without it, or when recover leaves something to a
    person, it stays locked and counts against the tolerance."""
    _settle_heartbeats(ledger, rollout_id, display, stale_after)
    applied = ledger.applied()
    rows = {r.stack: r for r in ledger.stacks(rollout_id)}

    def still_locked(stack: str) -> str | None:
        locks = locked(stack)
        if not locks:
            return None
        if recover is None:
            return (
                f"the killed run left its lock ({', '.join(locks)}); check the stack and run "
                f"'{recovery_command(stack)}', then resume again"
            )
        ok, detail = recover(stack)
        display.note(f"{stack}: {detail}")
        if ok and not locked(stack):
            return None
        return f"{detail}; settle what it lists, then resume again"

    reopened = ledger.reopen(rollout_id, stale_after)
    for stack in reopened:
        row = rows[stack]
        message = still_locked(stack)
        if message:
            ledger.finish(rollout_id, stack, lg.LOCKED, message=message)
            display.finished(stack, row.wave, lg.LOCKED, message)
        elif applied.get(stack, {}).get("fingerprint") == row.fingerprint:
            ledger.finish(rollout_id, stack, lg.SUCCEEDED, message="applied before the kill")
            display.finished(stack, row.wave, lg.SUCCEEDED, "applied before the kill")
        else:
            ledger.requeue(rollout_id, stack)
            display.note(f"{stack}: its run was killed before it applied; queued again")
    # A stack locked by an earlier kill runs again once its lock is gone (recovered here, or
    # by a person since).
    for row in ledger.stacks(rollout_id):
        if row.stack in reopened or row.status != lg.LOCKED:
            continue
        if still_locked(row.stack) is None:
            ledger.requeue(rollout_id, row.stack)
            display.note(f"{row.stack}: its lock is gone (recovered); queued again")
