"""The generic host checks of the service cards: one test, parametrised per (server, check).

Nothing here knows a card. The cases come from the catalogue and an inventory (plugin.plan):
each server gets the baseline (reachable, cloud-init done, no failed unit) and its card's
host_checks, with the placeholders filled from its service's context. Every failure message
carries the output of the command that shows why, so a report is readable on its own.

Run by `kuntapilvi check`; by hand: pytest -p kuntapilvi.checks.plugin --kp-inventory FILE
<this file>.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kuntapilvi.checks.plugin import PLAN, Case, Connections

OUTPUT_LIMIT = 4000  # characters of one command's output in a message


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = metafunc.config.stash.get(PLAN, [])
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])


def test_check(case: Case, connections: Connections) -> None:
    if case.error:
        _fail(case.error)
    host = connections.get(case.host)
    broken = None
    try:
        CHECKS[case.check.kind](host, case)
    except Exception as exc:  # pytest.fail's exception is no Exception, so it passes through
        # An SSH drop or a command time-out is this check's failure, in one line.
        broken = f"{case.check.label}: {type(exc).__name__}: {exc}"
    if broken:
        _fail(broken)


# -- the kinds of check -----------------------------------------------------------------------
def _reachable(host: Any, case: Case) -> None:
    # Connected; the checks also need root (directly, or sudo for the admin user).
    r = host.run("id -u")
    if r.rc != 0 or r.stdout.strip() != "0":
        _fail(f"connected as {case.host.login.user if case.host.login else '?'}, but commands "
              f"do not run as root (sudo?)", _shown("id -u", r))  # fmt: skip


def _cloud_init(host: Any, case: Case) -> None:
    r = host.run("cloud-init status --long")
    if "status: done" not in r.stdout:
        log = host.run("tail -n 40 /var/log/cloud-init-output.log")
        _fail("cloud-init has not finished cleanly", _shown("cloud-init status --long", r),
              _shown("tail -n 40 /var/log/cloud-init-output.log", log))  # fmt: skip


def _units(host: Any, case: Case) -> None:
    r = host.run("systemctl is-system-running")
    if r.stdout.strip() != "running":
        failed = host.run("systemctl --failed --no-pager --plain --no-legend")
        _fail(f"systemd is {r.stdout.strip() or 'unknown'}, not running",
              _shown("systemctl --failed", failed))  # fmt: skip


def _package(host: Any, case: Case) -> None:
    name = case.check.target
    if not host.package(name).is_installed:
        r = host.run("dpkg-query -W -f '${Status} ${Version}\\n' %s", name)
        _fail(f"package {name} is not installed", _shown(f"dpkg-query -W {name}", r))


def _service(host: Any, case: Case) -> None:
    name = case.check.target
    service = host.service(name)
    running, enabled = service.is_running, service.is_enabled
    if not (running and enabled):
        state = ", ".join(
            [("running" if running else "NOT running"), ("enabled" if enabled else "NOT enabled")]
        )
        status = host.run("systemctl status --no-pager --full --lines=15 %s", name)
        _fail(f"service {name}: {state}", _shown(f"systemctl status {name}", status))


def _socket(host: Any, case: Case) -> None:
    spec = case.check.target
    if not host.socket(spec).is_listening:
        r = host.run("ss -Hlntu")
        _fail(f"nothing listens on {spec}", _shown("ss -Hlntu", r))


def _file(host: Any, case: Case) -> None:
    spec = case.check.spec
    path = spec["path"]
    f = host.file(path)
    if not f.exists:
        r = host.run("ls -la %s", path.rsplit("/", 1)[0] or "/")
        _fail(f"{path} does not exist", _shown(f"ls -la {path.rsplit('/', 1)[0] or '/'}", r))
    problems = []
    if spec.get("owner") and f.user != spec["owner"]:
        problems.append(f"owner is {f.user}, not {spec['owner']}")
    if spec.get("group") and f.group != spec["group"]:
        problems.append(f"group is {f.group}, not {spec['group']}")
    if spec.get("mode") and f.mode != int(spec["mode"], 8):
        problems.append(f"mode is {f.mode:04o}, not {spec['mode']}")
    missing: list[str] = []
    content = ""
    if spec.get("contains"):
        content = f.content_string if f.is_file else ""
        missing = [c for c in spec["contains"] if c not in content]
        problems += [f"does not contain {c!r}" for c in missing]
    if problems:
        stat = host.run("stat -c '%%U %%G %%a %%F' %s", path)
        parts = [_shown(f"stat {path}", stat)]
        if missing:
            parts.append(f"--- {path} ---\n{_clip(content)}")
        _fail(f"{path}: " + "; ".join(problems), *parts)


# ext4 keeps up to a few percent of a volume for its journal and inode tables.
MOUNT_SIZE_SLACK = 0.05


def _mount(host: Any, case: Case) -> None:
    spec = case.check.spec
    path = spec["path"]
    r = host.run("findmnt --bytes --noheadings --raw --output SOURCE,FSTYPE,SIZE --mountpoint %s",
                 path)  # fmt: skip
    if r.rc != 0 or not r.stdout.strip():
        under = host.run("findmnt --target %s", path)
        _fail(f"{path} is not a mount point: what is there lives on the filesystem below",
              _shown(f"findmnt --target {path}", under))  # fmt: skip
    source, fstype, size = r.stdout.split()[:3]
    problems = []
    if spec.get("filesystem") and fstype != spec["filesystem"]:
        problems.append(f"filesystem is {fstype}, not {spec['filesystem']}")
    gib = spec.get("size_gib")
    if gib is not None:
        have = int(size) / 1024**3
        if not gib * (1 - MOUNT_SIZE_SLACK) <= have <= gib:
            problems.append(f"size is {have:.1f} GiB, not {gib} GiB (up to "
                            f"{MOUNT_SIZE_SLACK:.0%} less for metadata)")  # fmt: skip
    if problems:
        df = host.run("df -h %s", path)
        _fail(f"{path} ({source}): " + "; ".join(problems), _shown(f"df -h {path}", df))


def _command(host: Any, case: Case) -> None:
    spec = case.check.spec
    r = host.run(spec["run"])
    problems = []
    if r.rc != spec["exit_status"]:
        problems.append(f"exit status {r.rc}, expected {spec['exit_status']}")
    want = spec.get("stdout_contains")
    if want is not None and want not in r.stdout:
        problems.append(f"output lacks {want!r}")
    if problems:
        _fail(f"`{spec['run']}`: " + "; ".join(problems), _shown(spec["run"], r))


CHECKS: dict[str, Callable[[Any, Case], None]] = {
    "reachable": _reachable,
    "cloud-init": _cloud_init,
    "units": _units,
    "package": _package,
    "service": _service,
    "socket": _socket,
    "file": _file,
    "mount": _mount,
    "command": _command,
}


# -- messages ---------------------------------------------------------------------------------
def _clip(text: str) -> str:
    text = text.rstrip("\n")
    if len(text) > OUTPUT_LIMIT:
        return f"[… {len(text) - OUTPUT_LIMIT} characters cut]\n" + text[-OUTPUT_LIMIT:]
    return text


def _shown(command: str, result: Any) -> str:
    """A command and what it printed, as a person would have seen it in a terminal."""
    lines = [f"$ {command}   (exit status {result.rc})"]
    if result.stdout.strip():
        lines.append(_clip(result.stdout))
    if result.stderr.strip():
        lines.append("[stderr]\n" + _clip(result.stderr))
    return "\n".join(lines)


def _fail(summary: str, *details: str) -> None:
    pytest.fail("\n".join([summary, *details]), pytrace=False)
