"""The host watcher as one of devcloud's processes: started by `up`, stopped with its hosts by
`down`, reported by `status`.

Whether this machine can run hosts is decided once, by `up`, and written down with the reason,
so `status` repeats that sentence instead of guessing again in a different environment.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kuntapilvi.devcloud import processes
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import CACHE_ENV, STATE_ENV, Paths

NAME = "watcher"
# `off` (or 0/no/false) keeps the watcher from starting, e.g. on a machine shared by people who
# only plan stacks and do not want hosts booting behind their servers.
SWITCH_ENV = "KUNTAPILVI_DEVCLOUD_HOSTS"
SETTLE_S = 1.0
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def off_file(paths: Paths) -> Path:
    """Holds the sentence saying why `up` did not start the watcher."""
    return paths.run / f"{NAME}.off"


def status_file(paths: Paths) -> Path:
    """The watcher's own report, rewritten after every poll."""
    return paths.run / f"{NAME}.json"


def why_not() -> str | None:
    """Why the watcher must not run here, in one sentence; None when it can."""
    if os.environ.get(SWITCH_ENV, "").strip().lower() in ("0", "off", "no", "false"):
        return f"switched off by {SWITCH_ENV}={os.environ[SWITCH_ENV]}"
    from kuntapilvi.hosts.system import unavailable_reason

    return unavailable_reason()


def _env(paths: Paths) -> dict[str, str]:
    # The caller's settings (KUNTAPILVI_*) carry over; OS_* credentials never do: the watcher
    # reads devcloud's own clouds.yaml.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env[STATE_ENV] = str(paths.state)
    env[CACHE_ENV] = str(paths.cache)
    env["PYTHONUNBUFFERED"] = "1"
    # ip, mount and friends live in sbin, which a non-login PATH may lack.
    path = env.get("PATH", "/usr/bin:/bin").split(":")
    env["PATH"] = ":".join(path + [d for d in SBIN if d not in path])
    return env


def ensure(paths: Paths) -> str:
    """Start the watcher unless it runs or cannot run here; a note for `up`'s step line."""
    reason = why_not()
    if reason is not None:
        off_file(paths).write_text(f"Host watcher not started: {reason}.\n")
        return f"not started: {reason}"
    off_file(paths).unlink(missing_ok=True)
    pidfile = paths.pidfile(NAME)
    if processes.running_record(pidfile) is not None:
        return "already running"
    proc = processes.start(
        NAME,
        [sys.executable, "-m", "kuntapilvi.devcloud.watcher"],
        env=_env(paths),
        log=paths.log(NAME),
        pidfile=pidfile,
        cwd=paths.state,
    )
    time.sleep(SETTLE_S)
    if proc.poll() is not None:
        raise DevcloudError(
            f"The host watcher exited during start-up (exit code {proc.returncode}).",
            paths.log(NAME),
        )
    return f"pid {proc.pid}"


def stop(paths: Paths) -> tuple[bool, list[str]]:
    """Stop the watcher, then every host it made; (watcher was running, names of hosts stopped).

    The hosts are stopped here, not by the watcher on its way out: this also cleans up after a
    watcher that crashed or was killed.
    """
    pidfile = paths.pidfile(NAME)
    was_running = processes.running_record(pidfile) is not None
    processes.stop_all([pidfile])
    stopped: list[str] = []
    if not paths.hosts.is_dir():
        return was_running, stopped
    from kuntapilvi.hosts import HostManager, HostsError

    manager = HostManager(paths.hosts)
    if os.geteuid() != 0:
        if manager.host_records():
            raise DevcloudError(
                f"Hosts in {paths.hosts} can only be stopped as root; run "
                "`kuntapilvi devcloud down` as root."
            )
        return was_running, stopped
    try:
        stopped = manager.stop_all()
    except HostsError as exc:
        raise DevcloudError(f"Could not stop the hosts: {exc.message}.", exc.log) from None
    status_file(paths).unlink(missing_ok=True)
    return was_running, stopped


@dataclass(frozen=True)
class WatcherStatus:
    pid: int | None
    # Why `up` did not start it (one sentence), if it decided so.
    off_reason: str | None
    memory_mib: float
    report: dict

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def ok(self) -> bool:
        """Running, or deliberately not started: only a watcher that should run and does not is
        a fault."""
        return self.running or self.off_reason is not None

    def summary(self) -> str:
        if self.running:
            r = self.report
            if not r:
                return "watching (no poll finished yet)"
            text = f"{r.get('servers', 0)} servers, {r.get('hosts', 0)} hosts"
            if r.get("cloud_error"):
                text += f"; cannot list servers: {r['cloud_error']}"
            failing = r.get("failing") or {}
            if failing:
                text += f"; {len(failing)} failing, retried (see its log)"
            return text
        if self.off_reason is not None:
            return self.off_reason
        return "not running; `kuntapilvi devcloud up` starts it"


def status(paths: Paths) -> WatcherStatus:
    record = processes.running_record(paths.pidfile(NAME))
    off = off_file(paths)
    reason = off.read_text().strip() if record is None and off.is_file() else None
    report: dict = {}
    if record is not None:
        try:
            report = json.loads(status_file(paths).read_text())
        except (OSError, ValueError):
            report = {}
    memory = processes.group_pss_kib(record.pid) / 1024 if record is not None else 0.0
    return WatcherStatus(record.pid if record else None, reason, memory, report)
