"""One `pulumi preview|up --stack X` per process, with retries for transient cloud errors only.

The Python SDK keeps global state, so programs of two stacks never share a process; each run
gets a bounded `--parallel` so that workers x parallel bounds the load on the cloud's APIs.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

# Transient: the cloud or the network, worth another try. A program error never is.
TRANSIENT = re.compile(
    r"\b(500|502|503|504) (Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)"
    r"|\b429\b|Too Many Requests|[Rr]ate limit|connection reset by peer|ECONNRESET"
    r"|Expected HTTP response code \[[^\]]*\] when accessing \[[^\]]*\], but got 5\d\d"
    r"|i/o timeout|TLS handshake timeout"
)
PROGRAM_ERROR = re.compile(
    r"Program failed|RunError|Traceback \(most recent call last\)|policy violations?|"
    r"Policy Violations|error: preview failed|mandatory"
)
LOCKED = re.compile(r"the stack is currently locked|stack is locked|currently locked by")
SUMMARY = re.compile(
    r"^\s*[+~\-±]*\s*(?P<n>\d+) (?P<what>(to )?(create|update|delete|replace|created|updated"
    r"|deleted|replaced|unchanged))\b",
    re.MULTILINE,
)


class TransientError(Exception):
    pass


class StackLocked(Exception):
    pass


class StackFailed(Exception):
    pass


@dataclass(slots=True)
class RunResult:
    changes: dict[str, int]
    attempts: int
    seconds: float


def parse_changes(output: str) -> dict[str, int]:
    changes: dict[str, int] = {}
    for m in SUMMARY.finditer(output):
        what = m.group("what").removeprefix("to ")
        what = {"create": "created", "update": "updated", "delete": "deleted"}.get(what, what)
        what = "replaced" if what == "replace" else what
        changes[what] = int(m.group("n"))
    return changes


def classify(returncode: int, output: str) -> None:
    if returncode == 0:
        return
    if LOCKED.search(output):
        raise StackLocked(last_error(output))
    if TRANSIENT.search(output) and not PROGRAM_ERROR.search(output):
        raise TransientError(last_error(output))
    raise StackFailed(last_error(output))


def last_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no output"])[-1][:400]


def command(action: str, stack: str, parallel: int, policy_pack: Path | None) -> list[str]:
    args = ["pulumi", action, "--stack", stack, "--non-interactive", "--parallel", str(parallel)]
    if action == "up":
        args += ["--yes", "--skip-preview"]
    if policy_pack is not None:
        args += ["--policy-pack", str(policy_pack)]
    return args


def run_stack(
    action: str,
    stack: str,
    *,
    cwd: Path,
    log: Path,
    parallel: int,
    policy_pack: Path | None,
    attempts: int = 3,
    env: dict[str, str] | None = None,
    on_retry: Callable[[str, int], None] | None = None,
    runner: Callable[[list[str], Path, Path, dict[str, str]], tuple[int, str]] | None = None,
) -> RunResult:
    """Run the engine for one stack; raises StackFailed, StackLocked or (after the last try)
    TransientError."""
    run = runner or _subprocess
    started = time.monotonic()
    tries = 0

    def _note(state: RetryCallState) -> None:
        if on_retry is not None:
            on_retry(stack, state.attempt_number)

    @retry(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=float(os.environ.get("KUNTAPILVI_RETRY_WAIT", "2"))),
        before_sleep=_note,
        reraise=True,
    )
    def _once() -> dict[str, int]:
        nonlocal tries
        tries += 1
        code, output = run(
            command(action, stack, parallel, policy_pack), cwd, log, env or dict(os.environ)
        )
        classify(code, output)
        return parse_changes(output)

    changes = _once()
    return RunResult(changes, tries, time.monotonic() - started)


def _subprocess(args: list[str], cwd: Path, log: Path, env: dict[str, str]) -> tuple[int, str]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run(
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        out.write(proc.stdout)
        out.write(f"[exit {proc.returncode}]\n")
    return proc.returncode, proc.stdout
