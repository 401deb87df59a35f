"""A cgroup of its own for every host, in the hierarchies systemd uses.

nspawn started with --keep-unit treats the cgroup it runs in as the container's root. On this
machine every process sits in the root cgroup ("/") of the name=systemd and unified hierarchies, so
without this all hosts would share one cgroup tree: each host's systemd creating and removing
/system.slice/<unit> under the same folders as its neighbours. Units then fail at random with
219/CGROUP ("Failed to attach to cgroup ... No such file or directory") when hosts boot together.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

PARENT = "kuntapilvi-hosts"


def _hierarchies(mountinfo: str | None = None) -> list[Path]:
    """Mount points of the unified (cgroup2) hierarchy and of the v1 name=systemd one, if any."""
    if mountinfo is None:
        with open("/proc/self/mountinfo") as fh:
            mountinfo = fh.read()
    found = []
    for line in mountinfo.splitlines():
        pre, _, post = line.partition(" - ")
        fields, post_fields = pre.split(), post.split()
        if len(fields) < 5 or len(post_fields) < 3:
            continue
        mount_point, fstype, super_opts = fields[4], post_fields[0], post_fields[2]
        if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in super_opts.split(",")):
            found.append(Path(mount_point))
    return found


def host_cgroups(machine: str) -> list[Path]:
    return [h / PARENT / machine for h in _hierarchies()]


def create(machine: str) -> list[Path]:
    """Make the host's cgroups (empty); the paths whose cgroup.procs nspawn must be moved into."""
    paths = host_cgroups(machine)
    for p in paths:
        p.mkdir(parents=True, exist_ok=True)
    return paths


def pids(machine: str) -> set[int]:
    """Every process in the host's cgroups, at any depth."""
    found: set[int] = set()
    for top in host_cgroups(machine):
        if not top.is_dir():
            continue
        for procs in top.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                found.update(int(x) for x in procs.read_text().split())
    return found


def kill_all(machine: str) -> None:
    """SIGKILL whatever is left in the host's cgroup (cgroup2's cgroup.kill, kernel 5.14+)."""
    for top in host_cgroups(machine):
        kill = top / "cgroup.kill"
        if kill.exists():
            with contextlib.suppress(OSError):
                kill.write_text("1")


def remove(machine: str, wait: float = 5.0) -> None:
    """Remove the host's cgroups, deepest first, once their processes are gone."""
    deadline = time.monotonic() + wait
    while pids(machine) and time.monotonic() < deadline:
        time.sleep(0.1)
    for top in host_cgroups(machine):
        if not top.is_dir():
            continue
        # cgroup folders are removed with rmdir only; their files are not real files.
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                d.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
        with contextlib.suppress(OSError):
            top.parent.rmdir()  # the shared parent, once no host uses it


def leftovers(machine: str) -> list[Path]:
    return [p for p in host_cgroups(machine) if p.exists()]
