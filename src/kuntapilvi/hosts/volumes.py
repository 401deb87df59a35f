"""Cinder volumes for hosts: a sparse file per volume, a loop device, a disk node in the host.

devcloud's Cinder stores nothing (its driver is a fake), so a volume's bytes live here: one
sparse file per volume id in `<state>/volumes/`, as large as the volume. Attaching it to a host
binds the file to a loop device and makes a block device node with Nova's device name (and the
`/dev/disk/by-id/virtio-<id>` link udev would make on a KVM guest) inside the running host's own
/dev. That is a hot-plug, as on a real cloud, where Nova attaches a volume after the server is
ACTIVE: the guest sees a disk appear, it does not reboot.

The file outlives hosts (a replaced server gets the same volume, with its data, as in Cinder); it
goes only when the volume is gone from Cinder (prune).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from kuntapilvi.hosts import system
from kuntapilvi.hosts.errors import HostsError

GIB = 1024**3
_VOLUME_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_DEVICE = re.compile(r"^/dev/(vd|sd|xvd)[a-z]$")


@dataclass(frozen=True)
class VolumeSpec:
    """A volume attached to a server: its id, its size and the device name Nova gave it."""

    volume_id: str
    size_gb: int
    device: str  # /dev/vdb, or /dev/sdb as devcloud's fake Nova driver names it

    def __post_init__(self) -> None:
        if not _VOLUME_ID.match(self.volume_id):
            raise HostsError(f"volume id {self.volume_id!r} is not a Cinder id")
        if not _DEVICE.match(self.device):
            raise HostsError(f"volume {self.volume_id}: device {self.device!r} is not a disk name "
                             "like /dev/vdb")  # fmt: skip
        if self.size_gb < 1:
            raise HostsError(f"volume {self.volume_id}: size {self.size_gb} GiB")

    @property
    def by_id(self) -> str:
        # What udev names a virtio disk by its serial, which Nova sets to the volume id (20 chars).
        return f"/dev/disk/by-id/virtio-{self.volume_id[:20]}"

    def as_record(self) -> dict[str, object]:
        return {"size_gb": self.size_gb, "device": self.device}


def volumes_dir(state_dir: Path) -> Path:
    return state_dir / "volumes"


def backing_file(state_dir: Path, volume_id: str) -> Path:
    return volumes_dir(state_dir) / f"{volume_id}.img"


def ensure_backing(path: Path, size_gb: int) -> bool:
    """A sparse file of SIZE_GB GiB at PATH (made, or grown as Cinder extends); True if grown.

    Never shrinks: Cinder cannot shrink a volume either, and cutting the file would cut data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wanted = size_gb * GIB
    with open(path, "ab") as fh:
        current = os.fstat(fh.fileno()).st_size
        if current >= wanted:
            return False
        fh.truncate(wanted)
    path.chmod(0o600)
    return current > 0


def loops_for(path: Path) -> list[str]:
    """Loop devices this machine has bound to PATH."""
    proc = system.quiet(["losetup", "--noheadings", "--output", "NAME", "--associated", str(path)])
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def attach_loop(path: Path, log: Path, *, grown: bool = False) -> str:
    """The loop device for PATH, bound now if it is not yet; told about a grown file."""
    existing = loops_for(path)
    if existing:
        if grown:
            system.run(["losetup", "--set-capacity", existing[0]], log,
                       f"tell {existing[0]} that {path.name} grew")  # fmt: skip
        return existing[0]
    proc = system.quiet(["losetup", "--find", "--show", str(path)])
    if proc.returncode != 0 or not proc.stdout.strip():
        raise HostsError(f"Could not bind {path} to a loop device: {proc.stderr.strip()}", log)
    return proc.stdout.strip()


def detach_loops(path: Path, log: Path) -> None:
    for loop in loops_for(path):
        # A filesystem still mounted in a host that is going away keeps the device until the
        # kernel lets go; losetup then marks it to be freed when it does.
        system.run(["losetup", "--detach", loop], log, f"free {loop}", check=False)


def device_numbers(node: str) -> tuple[int, int]:
    st = os.stat(node)
    if not stat.S_ISBLK(st.st_mode):
        raise HostsError(f"{node} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def plug(init_pid: int, volume: VolumeSpec, loop: str, log: Path) -> None:
    """Make the disk node (and its by-id link) in the /dev of the host whose init is INIT_PID."""
    major, minor = device_numbers(loop)
    name = volume.device.removeprefix("/dev/")
    script = (
        f"rm -f {volume.device} && mknod {volume.device} b {major} {minor} && "
        f"chmod 0660 {volume.device} && (chgrp disk {volume.device} 2>/dev/null || true) && "
        f"mkdir -p /dev/disk/by-id && ln -sfn ../../{name} {volume.by_id}"
    )
    _in_host(init_pid, script, log, f"attach volume {volume.volume_id} as {volume.device}")


def unplug(init_pid: int, volume: VolumeSpec, log: Path) -> None:
    _in_host(init_pid, f"rm -f {volume.device} {volume.by_id}", log,
             f"detach volume {volume.volume_id} from {volume.device}")  # fmt: skip


def _in_host(init_pid: int, script: str, log: Path, what: str) -> None:
    # Only the mount namespace: the host's /dev is its own tmpfs; the rest is this machine's.
    system.run(["nsenter", f"--target={init_pid}", "--mount", "--", "sh", "-c", script], log, what)


def prune(state_dir: Path, known: set[str], in_use: set[str], log: Path) -> list[str]:
    """Remove the files of volumes Cinder no longer has (KNOWN is its whole list) and no host
    uses; the volume ids removed."""
    removed: list[str] = []
    folder = volumes_dir(state_dir)
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob("*.img")):
        volume_id = path.stem
        if volume_id in known or volume_id in in_use:
            continue
        detach_loops(path, log)
        path.unlink(missing_ok=True)
        removed.append(volume_id)
    return removed
