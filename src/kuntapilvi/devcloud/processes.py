"""Start and stop devcloud's daemons by PID file, and check loopback ports.

A PID file holds the PID *and* the kernel start time of the process: a bare PID can be
reused by an unrelated process after a reboot or a crash, and `down` must stop exactly
what `up` started, never a stranger that inherited the number.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from kuntapilvi.devcloud.errors import DevcloudError

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class PidRecord:
    pid: int
    starttime: int
    command: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def proc_starttime(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot, None if it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name in parentheses may itself hold spaces or parentheses.
    fields = raw[raw.rindex(")") + 2 :].split()
    state, starttime = fields[0], fields[19]
    if state in ("Z", "X"):
        return None
    return int(starttime)


def read_pidfile(path: Path) -> PidRecord | None:
    try:
        data = json.loads(path.read_text())
        return PidRecord(int(data["pid"]), int(data["starttime"]), str(data["command"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def write_pidfile(path: Path, record: PidRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.to_json())
    tmp.replace(path)


def is_alive(record: PidRecord | None) -> bool:
    return record is not None and proc_starttime(record.pid) == record.starttime


def running_record(pidfile: Path) -> PidRecord | None:
    """The live process a PID file names; a stale file is removed so it cannot mislead."""
    record = read_pidfile(pidfile)
    if record is None:
        return None
    if is_alive(record):
        return record
    pidfile.unlink(missing_ok=True)
    return None


def start(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    pidfile: Path,
    cwd: Path | None = None,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start a daemon in its own session so it outlives the CLI and `down` can kill its group."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: "
                  f"{' '.join(argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                pass_fds=pass_fds,
            )
        except OSError as exc:
            raise DevcloudError(
                f"Could not start {name}: {exc.strerror} ({argv[0]}).", log
            ) from exc
    starttime = proc_starttime(proc.pid)
    if starttime is None:
        # Died before /proc could be read; the caller's health wait reports it with the log.
        starttime = -1
    write_pidfile(pidfile, PidRecord(proc.pid, starttime, Path(argv[0]).name))
    return proc


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Each daemon leads its own session (start_new_session), so its PGID is its PID:
    # signalling the group reaches gunicorn workers and forked service workers too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop_all(pidfiles: Iterable[Path], timeout: float = 40.0) -> list[str]:
    """SIGTERM every live recorded process group, wait, then SIGKILL what remains.

    Returns the names (PID file stems) that had to be killed.
    """
    live: dict[Path, PidRecord] = {}
    for pidfile in pidfiles:
        record = running_record(pidfile)
        if record is not None:
            live[pidfile] = record
            _signal_group(record.pid, signal.SIGTERM)
        else:
            pidfile.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        for pidfile, record in list(live.items()):
            if not is_alive(record) and not _group_alive(record.pid):
                pidfile.unlink(missing_ok=True)
                del live[pidfile]
        if live:
            time.sleep(0.2)
    killed = []
    for pidfile, record in live.items():
        _signal_group(record.pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
        killed.append(pidfile.stem)
    return killed


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg; look for a member that is really running.
    return any(
        group == pgid and state not in ("Z", "X") for _, state, group in _process_table()
    )


def _process_table() -> Iterator[tuple[int, str, int]]:
    """(pid, state, process group) of every process, from /proc/<pid>/stat."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; the fields start after the last ')'.
        fields = raw[raw.rindex(")") + 2 :].split()
        yield int(entry.name), fields[0], int(fields[2])


def group_members(pgid: int) -> list[int]:
    return [pid for pid, _, group in _process_table() if group == pgid]


def group_pss_kib(pgid: int) -> int:
    """Proportional set size of a whole process group: shared pages are split, not counted
    once per gunicorn worker, so the sum over services is the RAM devcloud really uses."""
    total = 0
    for pid in group_members(pgid):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
    return total


def loopback_listener(port: int, service: str) -> socket.socket:
    """A listening socket on 127.0.0.1:port, to hand to a daemon (systemd-style activation)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DevcloudError(port_conflict_message(port, service)) from exc
        raise
    sock.listen(128)
    return sock


def port_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port (a wildcard listener counts as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR ignores TIME_WAIT leftovers of our own last run, not live listeners.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def port_answers(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


_SS_USER = re.compile(r'\("([^"]+)",pid=(\d+)')


def who_listens(port: int) -> str | None:
    """'name (pid N)' of the process listening on a TCP port, from `ss`, if it can tell."""
    try:
        out = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _SS_USER.search(out)
    if match is None:
        return None
    return f"{match.group(1)} (pid {match.group(2)})"


def port_conflict_message(port: int, service: str) -> str:
    holder = who_listens(port)
    by = f" by {holder}" if holder else " by another process"
    return (
        f"Port {port} on {LOOPBACK}, which devcloud's {service} needs, is already in use{by}; "
        f"stop it (or run `kuntapilvi devcloud down` if it is an older devcloud) and retry."
    )


def require_port_free(port: int, service: str) -> None:
    if not port_free(port):
        raise DevcloudError(port_conflict_message(port, service))
