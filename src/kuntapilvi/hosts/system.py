"""Root-level commands with their output in a log file, and installing what the machinery needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from kuntapilvi.hosts.errors import HostsError

# Debian packages the machinery needs on the machine itself, keyed by a command each one provides.
REQUIRED_TOOLS: dict[str, str] = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "apt-cacher-ng": "apt-cacher-ng",
    "ip": "iproute2",
    "mount": "mount",
}


def require_root() -> None:
    if os.geteuid() != 0:
        raise HostsError(
            "Hosts need root (network namespaces, overlay mounts, systemd-nspawn); run as root"
        )


def unavailable_reason() -> str | None:
    """Why this machine cannot run hosts, as one sentence; None when it can.

    Only what cannot be fixed by the machinery itself counts: missing Debian packages are not a
    reason, ensure_tools() installs them on first use.
    """
    if os.geteuid() != 0:
        return (
            "hosts need root (network namespaces, overlay mounts, systemd-nspawn) and this runs "
            f"as uid {os.geteuid()}"
        )
    if shutil.which("systemd-nspawn") is None and shutil.which("apt-get") is None:
        return "systemd-nspawn is not installed and there is no apt-get to install it with"
    try:
        filesystems = Path("/proc/filesystems").read_text()
    except OSError:
        filesystems = ""
    if "overlay" not in filesystems.split():
        return "the kernel has no overlay file system, which every host's root is mounted with"
    return None


# Every host's systemd, journald, dbus and logind open inotify instances as uid 0 of this machine
# (no user namespace), so all hosts share root's fs.inotify.max_user_instances, 128 by default.
# About 20 office hosts exhaust it; systemd's path units then fail when they re-arm their watch
# (systemd-ask-password-*.path), and the host reports "degraded". 1024 leaves room for ~100.
INOTIFY_INSTANCES_MIN = 1024
INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")


def ensure_inotify_instances(
    log: Path, minimum: int = INOTIFY_INSTANCES_MIN, path: Path = INOTIFY_INSTANCES
) -> None:
    """Raise the machine's inotify instance limit to MINIMUM if it is lower (never lowers it)."""
    try:
        current = int(path.read_text())
    except (OSError, ValueError):
        return
    if current >= minimum:
        return
    path.write_text(f"{minimum}\n")
    _log_header(log, ["sysctl", f"fs.inotify.max_user_instances={minimum}"])
    with log.open("a") as fh:
        fh.write(f"raised from {current}: every host's systemd shares root's inotify instances\n")


def _log_header(log: Path, cmd: Sequence[str]) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}  # {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")


def run(
    cmd: Sequence[str],
    log: Path,
    what: str,
    *,
    check: bool = True,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run CMD with its output appended to LOG; on failure raise HostsError naming WHAT and LOG."""
    _log_header(log, cmd)
    full_env = None if env is None else {**os.environ, **env}
    with log.open("a") as fh:
        try:
            proc = subprocess.run(
                list(cmd),
                stdout=fh,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                env=full_env,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError as exc:
            raise HostsError(f"Could not {what}: {cmd[0]} is not installed", log) from exc
        except subprocess.TimeoutExpired as exc:
            raise HostsError(f"Could not {what}: it took longer than {timeout:.0f} s", log) from exc
    if check and proc.returncode != 0:
        raise HostsError(f"Could not {what}: {cmd[0]} exited with {proc.returncode}", log)
    return proc


def quiet(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a query whose failure is an answer (e.g. `ip link show X`), capturing its output."""
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise HostsError(
            f"{cmd[0]} is not installed; run scripts/install-hosts-deps as root"
        ) from exc


def ensure_tools(log: Path) -> None:
    """Install the machine-side packages once, so a fresh machine works without manual steps."""
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    require_root()
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], log, "update the apt package lists", env=env, timeout=600)
    run(
        [
            "apt-get",
            "install",
            "-y",
            "-q",
            "-o",
            "DPkg::Lock::Timeout=300",
            "--no-install-recommends",
            *missing,
        ],
        log,
        f"install {', '.join(missing)}",
        env=env,
        timeout=900,
    )
    if "apt-cacher-ng" in missing:
        _stop_distribution_acng(log)


def _stop_distribution_acng(log: Path) -> None:
    """The packaged apt-cacher-ng service listens on every address and on our port; keep it off.

    The machinery runs its own instance bound to loopback and the bridges. Only the service's own
    PID file is used, so a kuntapilvi instance is never touched.
    """
    if Path("/run/apt-cacher-ng/pid").is_file() and Path("/etc/init.d/apt-cacher-ng").is_file():
        run(["/etc/init.d/apt-cacher-ng", "stop"], log, "stop the distribution's apt-cacher-ng",
            check=False)  # fmt: skip
    if shutil.which("update-rc.d"):
        run(["update-rc.d", "apt-cacher-ng", "disable"], log, "disable it at boot", check=False)
