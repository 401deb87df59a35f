"""HostManager: the API the devcloud watcher calls when a Nova server appears or goes away."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from kuntapilvi.hosts import host as hostops
from kuntapilvi.hosts import network, ssh
from kuntapilvi.hosts import volumes as vols
from kuntapilvi.hosts.aptproxy import AptProxy
from kuntapilvi.hosts.errors import HostsError
from kuntapilvi.hosts.locking import file_lock
from kuntapilvi.hosts.mirror import DebianMirror, find_mirror
from kuntapilvi.hosts.names import (
    bridge_name,
    host_id,
    hostname_for,
    instance_tag,
    machine_name,
    netns_name,
    veth_name,
)
from kuntapilvi.hosts.paths import default_state_dir
from kuntapilvi.hosts.seed import DEFAULT_ALLOWED_NET, Seed, parse_address, user_data_bytes
from kuntapilvi.hosts.state import HostRecord, NetworkRecord, StateStore, process_alive
from kuntapilvi.hosts.system import ensure_inotify_instances, ensure_tools, require_root
from kuntapilvi.hosts.template import TemplateSpec, build_template


@dataclass(frozen=True)
class HostInfo:
    name: str
    host_id: str
    hostname: str
    address: str
    gateway: str
    network_id: str
    bridge: str
    running: bool
    pid: int
    cloud_init_status: str
    ssh_ready_s: float | None
    cloud_init_done_s: float | None
    pss_mib: float | None
    console_log: Path
    log: Path
    server_id: str = ""
    tenant: str = ""
    volumes: dict[str, dict] = field(default_factory=dict)  # volume id -> size_gb, device

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]


class HostManager:
    """Real Debian hosts for devcloud servers, one per server, booted from its user data."""

    def __init__(
        self,
        state_dir: Path | str | None = None,
        *,
        suite: str = "bookworm",
        mirror: DebianMirror | None = None,
        proxy_port: int | None = None,
    ) -> None:
        self.state_dir = Path(state_dir) if state_dir else default_state_dir()
        self.store = StateStore(self.state_dir)
        self.instance = instance_tag(str(self.state_dir.resolve()))
        self.suite = suite
        self._mirror = mirror
        self.proxy_port = proxy_port
        self.log = self.state_dir / "logs" / "hosts.log"
        self.allowed_net = os.environ.get("KUNTAPILVI_HOSTS_ALLOWED_NET", DEFAULT_ALLOWED_NET)

    # -- pieces -----------------------------------------------------------------------------
    @property
    def mirror(self) -> DebianMirror:
        if self._mirror is None:
            self._mirror = find_mirror(self.suite)
        return self._mirror

    @property
    def spec(self) -> TemplateSpec:
        return TemplateSpec(suite=self.suite, mirror=self.mirror)

    @property
    def proxy(self) -> AptProxy:
        return AptProxy(self.state_dir, self.mirror, self.proxy_port)

    def host_records(self) -> list[HostRecord]:
        """Every host this manager knows, booted or not (what callers outside hosts may read)."""
        return self.store.hosts()

    def machine_key(self) -> tuple[Path, str]:
        return ssh.ensure_machine_key(self.state_dir / "ssh")

    def _lock(self) -> Any:
        return file_lock(self.state_dir / ".lock")

    def _record(self, name: str) -> HostRecord:
        rec = self.store.load_host(host_id(name))
        if rec is None:
            raise HostsError(f"No host named {name!r} is known in {self.state_dir}")
        return rec

    def _paths(self, rec: HostRecord) -> hostops.HostPaths:
        return hostops.HostPaths(self.store, rec.host_id)

    # -- lifecycle ----------------------------------------------------------------------------
    def ensure_host(
        self,
        name: str,
        address_cidr: str,
        gateway: str,
        network_id: str,
        user_data: str | bytes | None,
        *,
        instance_id: str | None = None,
        public_keys: tuple[str, ...] = (),
        server_id: str = "",
        tenant: str = "",
        wait: bool = True,
        timeout: float = 900.0,
    ) -> HostInfo:
        """Make sure a host for server NAME runs with exactly these settings.

        Idempotent: a running host with the same settings is left alone; one with different settings
        (new address, rebuilt user data) is replaced, as Nova's rebuild would. With WAIT, returns
        once SSH answers and cloud-init has finished (done or error, see cloud_init_status).
        SERVER_ID and TENANT only label the host (the devcloud watcher's Nova server and project).
        """
        try:
            addr = parse_address(address_cidr, gateway, self.allowed_net)
        except ValueError as exc:
            raise HostsError(f"Cannot start host {name!r}: {exc}") from exc
        hid = host_id(name)
        data = user_data_bytes(user_data)
        data_hash = hashlib.sha256(data).hexdigest()
        iid = instance_id or f"kp-{hid}-{data_hash[:8]}"
        config = json.dumps(
            [name, str(addr.interface), str(addr.gateway), network_id, data_hash, iid,
             list(public_keys), self.spec.key()]
        )  # fmt: skip
        config_hash = hashlib.sha256(config.encode()).hexdigest()[:16]
        with self._lock():
            require_root()
            existing = self.store.load_host(hid)
            if existing and existing.config_hash == config_hash and self._alive(existing):
                start_new = False
            else:
                if existing:
                    self._teardown(existing)
                self._check_address_free(hid, network_id, addr.address)
                start_new = True
            if start_new:
                rec = HostRecord(
                    name=name, host_id=hid, hostname=hostname_for(name),
                    address=str(addr.interface), gateway=str(addr.gateway),
                    network_id=network_id, bridge=bridge_name(network_id), veth=veth_name(hid),
                    netns=netns_name(hid, self.instance), machine=machine_name(hid, self.instance),
                    instance_id=iid,
                    config_hash=config_hash, server_id=server_id, tenant=tenant,
                )  # fmt: skip
                self._start(rec, Seed(iid, rec.hostname, addr, data, tuple(public_keys)))
        if wait:
            return self.wait_ready(name, timeout=timeout)
        return self._info(self._record(name))

    def _alive(self, rec: HostRecord) -> bool:
        return process_alive(rec.pid, rec.pid_start)

    def _check_address_free(self, hid: str, network_id: str, address: str) -> None:
        for other in self.store.hosts():
            if (
                other.host_id != hid
                and other.network_id == network_id
                and other.address.split("/")[0] == address
            ):
                raise HostsError(f"Address {address} is already used by host {other.name!r}")

    def _start(self, rec: HostRecord, seed: Seed) -> None:
        paths = self._paths(rec)
        log = paths.log
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        ensure_tools(log)
        ensure_inotify_instances(log)
        template = build_template(self.spec)
        rec.template = template.path.name
        # The record goes to disk before anything is made, so a crash in between can be cleaned up.
        self.store.save_host(rec)
        try:
            network.ensure_bridge(rec.bridge, seed.address.gateway_cidr, log)
            self.store.save_network(
                NetworkRecord(rec.network_id, rec.bridge, seed.address.gateway_cidr)
            )
            self.proxy.ensure([n.gateway_cidr.split("/")[0] for n in self.store.networks()])
            hostops.mount_root(paths, template.rootfs, log)
            _, pubkey = self.machine_key()
            hostops.write_seed(paths.root, seed, pubkey, self.proxy.url(rec.gateway))
            network.create_host_link(rec.netns, rec.veth, rec.bridge, log)
            rec.started_at = time.time()
            rec.pid, rec.pid_start = hostops.boot(rec, paths)
            self.store.save_host(rec)
        except BaseException:
            self._teardown(rec)
            raise

    def wait_ready(self, name: str, timeout: float = 900.0) -> HostInfo:
        """Wait for SSH, then for `cloud-init status --wait`; timings are kept in the state."""
        rec = self._record(name)
        paths = self._paths(rec)
        if not self._alive(rec):
            raise HostsError(f"Host {name!r} is not running", paths.console)
        deadline = time.monotonic() + timeout
        key, _ = self.machine_key()
        client, _ = ssh.wait_for_ssh(
            rec.address.split("/")[0], paths.root, key, timeout, paths.console
        )
        ssh_s = time.time() - rec.started_at
        try:
            remaining = max(10.0, deadline - time.monotonic())
            rc, out, _ = ssh.run(client, "cloud-init status --wait --long", timeout=remaining)
        except (paramiko.SSHException, OSError) as exc:
            raise HostsError(
                f"SSH to {name!r} failed or timed out while waiting for cloud-init "
                f"({type(exc).__name__}: {exc})",
                paths.console,
            ) from exc
        finally:
            client.close()
        status = "unknown"
        for line in out.splitlines():
            if line.startswith("status:"):
                status = line.split(":", 1)[1].strip()
        waited_on = rec.pid
        with self._lock():
            rec = self._record(name)
            if rec.pid != waited_on:
                return self._info(rec)  # replaced while we waited; its own wait records it
            # First readiness only: a later ensure_host on a running host must not overwrite the
            # boot timings with "now".
            if rec.ssh_ready_s is None:
                rec.ssh_ready_s = round(ssh_s, 2)
            if rec.cloud_init_done_s is None or rec.cloud_init_status != status:
                rec.cloud_init_done_s = round(time.time() - rec.started_at, 2)
            rec.cloud_init_status = status if rc in (0, 1, 2) else f"unknown (rc {rc})"
            self.store.save_host(rec)
        return self._info(rec)

    # -- volumes ------------------------------------------------------------------------------
    def sync_volumes(self, name: str, volumes: Sequence[vols.VolumeSpec]) -> bool:
        """Attach exactly VOLUMES to the running host of server NAME, as hot-plugged disks;
        True if anything changed. A volume that grew in Cinder grows under the host too."""
        with self._lock():
            rec = self._record(name)
            if not self._alive(rec):
                raise HostsError(f"Host {name!r} is not running; its volumes wait for it")
            log = self._paths(rec).log
            init = hostops.container_init(rec.pid)
            wanted = {v.volume_id: v for v in volumes}
            changed = False
            for volume_id, attached in list(rec.volumes.items()):
                old = vols.VolumeSpec(volume_id, attached["size_gb"], attached["device"])
                if volume_id in wanted and wanted[volume_id].device == old.device:
                    continue
                vols.unplug(init, old, log)
                del rec.volumes[volume_id]
                self._free_volume(volume_id, rec, log)
                changed = True
            for volume in wanted.values():
                if rec.volumes.get(volume.volume_id) == volume.as_record():
                    continue
                path = vols.backing_file(self.state_dir, volume.volume_id)
                grown = vols.ensure_backing(path, volume.size_gb)
                loop = vols.attach_loop(path, log, grown=grown)
                if volume.volume_id not in rec.volumes:
                    try:
                        vols.plug(init, volume, loop, log)
                    except BaseException:
                        # Not recorded on the host, so its teardown would not free the loop.
                        self._free_volume(volume.volume_id, rec, log)
                        raise
                rec.volumes[volume.volume_id] = volume.as_record()
                changed = True
            if changed:
                self.store.save_host(rec)
            return changed

    def prune_volumes(self, known: set[str]) -> list[str]:
        """Remove the files of volumes that are not in KNOWN (all of Cinder's) and not attached."""
        with self._lock():
            in_use = {v for rec in self.store.hosts() for v in rec.volumes}
            return vols.prune(self.state_dir, known, in_use, self.log)

    def _free_volume(self, volume_id: str, leaving: HostRecord, log: Path) -> None:
        # A multi-attached volume keeps its loop device while another host still has it.
        others = (r for r in self.store.hosts() if r.host_id != leaving.host_id)
        if not any(volume_id in r.volumes for r in others):
            vols.detach_loops(vols.backing_file(self.state_dir, volume_id), log)

    def stop_host(self, name: str) -> bool:
        """Stop and remove the host of server NAME; False if there was none."""
        with self._lock():
            rec = self.store.load_host(host_id(name))
            if rec is None:
                return False
            self._teardown(rec)
            self._release_network(rec.bridge)
            return True

    def _release_network(self, bridge: str) -> None:
        """Remove BRIDGE and its proxy forwarder once no host uses it.

        A network whose servers are all gone has nothing left to serve, and its bridge would keep
        its subnet's gateway address, so a later network with the same subnet (the same tenant
        brought up again, a test's own hosts) could not have it.
        """
        if any(other.bridge == bridge for other in self.store.hosts()):
            return
        for net in self.store.networks():
            if net.bridge == bridge:
                AptProxy(self.state_dir, DebianMirror("http://unused"), self.proxy_port
                         ).stop_forwarder(net.gateway_cidr.split("/")[0])  # fmt: skip
                network.delete_bridge(bridge, self.log)
                self.store.forget_network(bridge)

    def _teardown(self, rec: HostRecord) -> None:
        require_root()
        paths = self._paths(rec)
        hostops.teardown(rec, paths, paths.log)
        for volume_id in rec.volumes:
            self._free_volume(volume_id, rec, paths.log)
        self.store.forget_host(rec.host_id)
        with contextlib.suppress(OSError):
            paths.dir.rmdir()

    def stop_all(self) -> list[str]:
        """Stop every host, then remove the bridges and the apt proxy: nothing of ours is left."""
        with self._lock():
            stopped = []
            for rec in self.store.hosts():
                self._teardown(rec)
                stopped.append(rec.name)
            for net in self.store.networks():
                network.delete_bridge(net.bridge, self.log)
                self.store.forget_network(net.bridge)
            # The proxy is stopped by its PID file; no mirror lookup is needed for that.
            AptProxy(self.state_dir, DebianMirror("http://unused"), self.proxy_port).stop()
            return stopped

    # -- looking at hosts ---------------------------------------------------------------------
    def _info(self, rec: HostRecord) -> HostInfo:
        paths = self._paths(rec)
        alive = self._alive(rec)
        pss = None
        if alive:
            pss = round(hostops.pss_kib(hostops.process_tree(rec.pid)) / 1024, 1)
        return HostInfo(
            name=rec.name, host_id=rec.host_id, hostname=rec.hostname, address=rec.address,
            gateway=rec.gateway, network_id=rec.network_id, bridge=rec.bridge, running=alive,
            pid=rec.pid, cloud_init_status=rec.cloud_init_status or ("booting" if alive else ""),
            ssh_ready_s=rec.ssh_ready_s, cloud_init_done_s=rec.cloud_init_done_s, pss_mib=pss,
            console_log=paths.console, log=paths.log, server_id=rec.server_id, tenant=rec.tenant,
            volumes=dict(rec.volumes),
        )  # fmt: skip

    def list_hosts(self) -> list[HostInfo]:
        return [self._info(rec) for rec in self.store.hosts()]

    def get_host(self, name: str) -> HostInfo:
        return self._info(self._record(name))

    def host_key(self, name: str) -> str:
        rec = self._record(name)
        key = ssh.read_host_key(self._paths(rec).root)
        if key is None:
            raise HostsError(f"Host {name!r} has not published an SSH host key yet")
        return key

    def ssh_client(self, name: str) -> paramiko.SSHClient:
        rec = self._record(name)
        key, _ = self.machine_key()
        return ssh.connect(rec.address.split("/")[0], key, self.host_key(name))

    def run(self, name: str, command: str, timeout: float = 120) -> tuple[int, str, str]:
        client = self.ssh_client(name)
        try:
            return ssh.run(client, command, timeout=timeout)
        finally:
            client.close()

    def testinfra(self, name: str) -> Any:
        """A testinfra Host for NAME over paramiko, pinned to the key the host published."""
        rec = self._record(name)
        key, _ = self.machine_key()
        return ssh.testinfra_host(rec.address.split("/")[0], key, self.host_key(name))
