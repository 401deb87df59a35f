"""Stack locks of a self-managed backend (file or PostgreSQL): whose they are, and whether the
holder lives.

The engine writes `.pulumi/locks/<org>/<project>/<stack>/<uuid>.json` (a file, or a row of the
PostgreSQL backend's table) holding the pid, user, host and time of the process that took it,
and removes it when that process ends normally. A process killed with SIGKILL leaves it behind,
and it never expires by itself."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.statestore import Store, lock_prefixes

# A CI job that holds a lock longer than this is not a job any more (GitHub's own job timeout
# is 6 h): past it, a lock whose holder cannot be asked is presumed dead.
DEFAULT_LEASE = dt.timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class Lock:
    key: str
    pid: int
    username: str
    hostname: str
    taken: dt.datetime | None

    def describe(self) -> str:
        when = self.taken.isoformat(timespec="seconds") if self.taken else "an unknown time"
        return f"pid {self.pid} of {self.username}@{self.hostname}, taken {when}"


@dataclass(frozen=True, slots=True)
class Verdict:
    lock: Lock
    stale: bool
    reason: str


def _parse_time(text: str) -> dt.datetime | None:
    # Go writes nanoseconds and 'Z'; fromisoformat takes at most microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def read_locks(store: Store, stack: str) -> list[Lock]:
    """Every lock of `stack` in the backend."""
    found: list[Lock] = []
    for prefix in lock_prefixes(stack):
        for key in store.keys(prefix):
            if not key.endswith(".json"):
                continue
            try:
                raw = json.loads(store.read(key))
            except ValueError as exc:
                raise KuntapilviError(
                    f"{key}: the lock cannot be read ({exc}); look at it and delete it by hand "
                    "if no pulumi runs on the stack"
                ) from None
            found.append(
                Lock(
                    key=key,
                    pid=int(raw.get("pid", 0)),
                    username=str(raw.get("username", "")),
                    hostname=str(raw.get("hostname", "")),
                    taken=_parse_time(str(raw.get("timestamp", ""))),
                )
            )
    return found


def pid_alive(pid: int) -> bool:
    """True when a process with this pid runs here and looks like the engine (pids are reused)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return True  # no /proc: the process exists, assume it is the holder
    if stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"]):
        return False  # killed, only waiting for its parent to reap it
    # Empty while the process is still being exec'd: too early to call it someone else.
    return not cmdline or b"pulumi" in cmdline


def host_reachable(hostname: str, port: int = 22, timeout: float = 2.0) -> bool:
    """Whether the lock holder's machine still answers (its name resolves and SSH accepts)."""
    try:
        with socket.create_connection((hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def judge(
    lock: Lock,
    *,
    this_host: str,
    now: dt.datetime,
    lease: dt.timedelta = DEFAULT_LEASE,
    alive: Callable[[int], bool] = pid_alive,
    reachable: Callable[[str], bool] = host_reachable,
) -> Verdict:
    """Stale or live. On this host the process is asked directly; on another host (a shared
    backend) a lock is stale only when older than the lease AND its host does not answer."""
    if lock.hostname == this_host:
        if alive(lock.pid):
            return Verdict(lock, False, f"process {lock.pid} still runs on this host")
        return Verdict(lock, True, f"process {lock.pid} no longer runs on this host")
    if lock.taken is None:
        return Verdict(lock, False, "taken at an unknown time on another host")
    age = now - lock.taken
    if age < lease:
        return Verdict(
            lock,
            False,
            f"held by another host for {_human(age)}, within the lease of {_human(lease)}",
        )
    if reachable(lock.hostname):
        return Verdict(lock, False, f"{lock.hostname} still answers; ask there before clearing")
    return Verdict(
        lock, True, f"older than the lease ({_human(age)}) and {lock.hostname} does not answer"
    )


def _human(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
