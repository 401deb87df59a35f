"""One host's life on this machine: overlay root, NoCloud seed, systemd-nspawn boot, and teardown.

Everything here is driven by a HostRecord so that a later process (CLI, watcher, test teardown) can
stop a host another process started.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kuntapilvi.hosts import cgroups, network, system
from kuntapilvi.hosts.errors import HostsError
from kuntapilvi.hosts.seed import Seed, files
from kuntapilvi.hosts.state import HostRecord, StateStore, process_alive, process_start_time

SEED_DIR = "var/lib/cloud/seed/nocloud"
NSPAWN_PROPAGATE = Path("/run/systemd/nspawn/propagate")
STOP_GRACE_S = 30.0


class HostPaths:
    def __init__(self, store: StateStore, hid: str) -> None:
        self.dir = store.host_dir(hid)
        self.upper = self.dir / "upper"
        self.work = self.dir / "work"
        self.root = self.dir / "root"
        logs = store.root / "logs"
        self.console = logs / f"{hid}.console.log"
        self.log = logs / f"{hid}.log"


def is_mounted(path: Path) -> bool:
    target = str(path.resolve()) if path.exists() else str(path)
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


def mount_root(paths: HostPaths, lower: Path, log: Path) -> None:
    """An overlay with the template below and this host's own writable layer on top."""
    for d in (paths.upper, paths.work, paths.root):
        d.mkdir(parents=True, exist_ok=True)
    opts = f"lowerdir={lower},upperdir={paths.upper},workdir={paths.work}"
    system.run(
        ["mount", "-t", "overlay", "overlay", "-o", opts, str(paths.root)],
        log,
        "mount the host's overlay root",
    )


def write_seed(root: Path, seed: Seed, machine_pubkey: str, proxy_url: str) -> None:
    """Put the NoCloud seed and the devcloud-only plumbing into the host's root before it boots."""
    seed_dir = root / SEED_DIR
    seed_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files(seed).items():
        path = seed_dir / name
        path.write_bytes(data)
        # User data can carry secrets (preseeded passwords), as it can in Nova's metadata.
        path.chmod(0o600)
    # The machinery's own way in, accepted only from the bridge (this machine). It is not part of
    # the server's user data, so it works whatever users that user data makes or removes; cloud-init
    # only edits the lines for keys it manages, so this line survives disable_root.
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    gateway = str(seed.address.gateway)
    entry = f'from="{gateway}",no-agent-forwarding,no-X11-forwarding {machine_pubkey}\n'
    auth = ssh_dir / "authorized_keys"
    auth.write_text(entry)
    auth.chmod(0o600)
    # apt's only way out is the proxy on the gateway; a file of our own, so user data's apt settings
    # (written by cloud-init to 90cloud-init-*) still win when they name a proxy.
    (root / "etc/apt/apt.conf.d/01kuntapilvi-devcloud-proxy").write_text(
        f"// kuntapilvi devcloud host: packages come through the apt proxy on the gateway\n"
        f'Acquire::http::Proxy "{proxy_url}";\n'
    )


def nspawn_command(rec: HostRecord, root: Path) -> list[str]:
    return [
        "systemd-nspawn",
        "--boot",
        "--quiet",
        f"--directory={root}",
        f"--machine={rec.machine}",
        # No systemd or machined runs on this machine: without --keep-unit nspawn asks the (missing)
        # system bus for a scope and fails, and --register=no skips machined.
        "--register=no",
        "--keep-unit",
        "--link-journal=no",
        f"--network-namespace-path={network.NETNS_DIR / rec.netns}",
        # nspawn drops CAP_NET_ADMIN when it joins an existing netns; ifupdown needs it for eth0.
        "--capability=CAP_NET_ADMIN",
        "--resolv-conf=off",
        "--console=read-only",
    ]


def boot(rec: HostRecord, paths: HostPaths) -> tuple[int, int]:
    """Start systemd-nspawn in the background; (pid, start time)."""
    paths.console.parent.mkdir(parents=True, exist_ok=True)
    # A small shell moves itself into the host's own cgroups, then becomes nspawn (same PID), so
    # nspawn never runs in the shared root cgroup (see cgroups.py). No preexec_fn: the caller may
    # have threads.
    procs = " ".join(shlex.quote(str(p / "cgroup.procs")) for p in cgroups.create(rec.machine))
    wrapper = f'for p in {procs}; do echo $$ > "$p" || exit 97; done; exec "$@"'
    with paths.console.open("w") as fh:
        proc = subprocess.Popen(
            ["sh", "-c", wrapper, "kuntapilvi-host", *nspawn_command(rec, paths.root)],
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            # Its own session: the host outlives the CLI call or test process that started it.
            start_new_session=True,
        )
    start = process_start_time(proc.pid)
    time.sleep(0.3)
    if proc.poll() is not None or start is None:
        raise HostsError(f"systemd-nspawn for {rec.name} exited at once", paths.console)
    return proc.pid, start


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def container_init(nspawn_pid: int, timeout: float = 30.0) -> int:
    """The PID of the host's init, whose mount namespace holds the host's /dev.

    nspawn's first child sets up the host and forks init, then exits; until only init is left,
    the answer is not known yet."""
    deadline = time.monotonic() + timeout
    while True:
        kids = children(nspawn_pid)
        if len(kids) == 1:
            with contextlib.suppress(OSError):
                if Path(f"/proc/{kids[0]}/comm").read_text().strip() == "systemd":
                    return kids[0]
        if time.monotonic() >= deadline:
            raise HostsError(f"the host of nspawn {nspawn_pid} has no init after {timeout:.0f} s")
        time.sleep(0.2)


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children(p))
    return tree


def pss_kib(pids: list[int]) -> int:
    """Proportional set size of PIDS: shared pages split between sharers, so hosts add up
    honestly."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_process(rec: HostRecord, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM to nspawn powers the host off cleanly; after GRACE seconds its init is killed."""
    if not process_alive(rec.pid, rec.pid_start):
        _reap(rec.pid)
        return
    inits = children(rec.pid)
    _signal(rec.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(rec.pid)
        if not process_alive(rec.pid, rec.pid_start):
            return
        time.sleep(0.1)
    # Killing the container's init ends its whole PID namespace; nspawn then exits by itself.
    for pid in inits:
        _signal(pid, signal.SIGKILL)
    _signal(rec.pid, signal.SIGKILL)
    cgroups.kill_all(rec.machine)
    for _ in range(50):
        _reap(rec.pid)
        if not process_alive(rec.pid, rec.pid_start):
            return
        time.sleep(0.1)


def teardown(rec: HostRecord, paths: HostPaths, log: Path) -> None:
    """Remove everything a host had on this machine; safe to repeat and on half-made hosts."""
    stop_process(rec)
    if is_mounted(paths.root):
        proc = system.run(["umount", str(paths.root)], log, "unmount the host root", check=False)
        if proc.returncode != 0:
            # Something still holds a file open in it; detach now, the kernel frees it when
            # released.
            system.run(["umount", "-l", str(paths.root)], log, "lazily unmount the host root")
    network.delete_host_link(rec.netns, rec.veth, log)
    if cgroups.pids(rec.machine):
        # nspawn is gone but something of the host still runs: end it with its cgroup.
        cgroups.kill_all(rec.machine)
    cgroups.remove(rec.machine)
    # nspawn leaves this folder behind when /run is not a tmpfs, as on this machine.
    shutil.rmtree(NSPAWN_PROPAGATE / rec.machine, ignore_errors=True)
    if paths.dir.exists() and not is_mounted(paths.root):
        shutil.rmtree(paths.upper, ignore_errors=True)
        shutil.rmtree(paths.work, ignore_errors=True)
        shutil.rmtree(paths.root, ignore_errors=True)
