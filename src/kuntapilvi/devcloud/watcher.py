"""The host watcher: one real host for every ACTIVE devcloud server, gone when the server is.

`kuntapilvi devcloud up` runs it as `python -m kuntapilvi.devcloud.watcher` with its own PID
file and log (watcherprocess.py). Every few seconds it lists all projects' servers as admin and
brings the hosts in line through HostManager: a server that is ACTIVE and has no host (or a host
made from other user data or another address) gets one, booting its own user data; a host whose
server is deleted is stopped and removed. A failure with one server is logged and retried later,
with growing pauses; it never ends the watcher. Volumes attached to a server are hot-plugged into
its running host (hosts/volumes.py), and their files go when Cinder deletes them.

Stopping the watcher leaves its hosts running: a restarted watcher adopts them (ensure_host is
idempotent), and `devcloud down` stops them itself after the watcher.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kuntapilvi.devcloud.servers import NoWiring, Server, Volume, Wiring
from kuntapilvi.hosts import HostManager, HostsError
from kuntapilvi.hosts.state import HostRecord, process_alive
from kuntapilvi.hosts.volumes import VolumeSpec

log = logging.getLogger("kuntapilvi.devcloud.watcher")

POLL_S = 3.0
# After a failed start: 10 s, 20 s, 40 s ... at most 5 minutes between tries.
RETRY_FIRST_S = 10.0
RETRY_MAX_S = 300.0
# While Nova or Keystone do not answer, polls slow down to this.
CLOUD_DOWN_POLL_S = 15.0
READY_TIMEOUT_S = 900.0


class CloudView(Protocol):
    def servers(self) -> list[Server]: ...
    def volumes(self) -> list[Volume]: ...
    def wiring(self, server: Server) -> Wiring: ...
    def project_name(self, project_id: str) -> str: ...
    def public_keys(self, server: Server) -> tuple[str, ...]: ...
    def reset(self) -> None: ...


@dataclass
class Retry:
    """When a server's host may be tried again, and what went wrong last time."""

    failures: int = 0
    next_try: float = 0.0
    message: str = ""


class Watcher:
    def __init__(
        self,
        cloud: CloudView,
        manager: HostManager,
        *,
        clock: Callable[[], float] = time.monotonic,
        status_file: Path | None = None,
        wait_ready: bool = True,
    ) -> None:
        self.cloud = cloud
        self.manager = manager
        self.clock = clock
        self.status_file = status_file
        self.wait_ready = wait_ready
        self.made: dict[str, str] = {}  # server id -> fingerprint its running host was made from
        self.retries: dict[str, Retry] = {}
        self.waiting: dict[str, threading.Thread] = {}
        self.cloud_error: str | None = None
        self.servers_seen = 0

    # -- one poll -------------------------------------------------------------------------------
    def poll(self) -> None:
        try:
            servers = self.cloud.servers()
            volumes = self.cloud.volumes()
        except Exception as exc:  # any API or connection failure: say it once, keep polling
            message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            if message != self.cloud_error:
                log.warning("cannot list servers (%s); retrying every %.0f s",
                            message, CLOUD_DOWN_POLL_S)  # fmt: skip
            self.cloud_error = message
            self.cloud.reset()
            self._write_status()
            return
        if self.cloud_error is not None:
            log.info("Nova answers again")
            self.cloud_error = None
        self.servers_seen = len(servers)
        self.reconcile(servers)
        self.sync_volumes(volumes)
        self._write_status()

    def reconcile(self, servers: list[Server]) -> None:
        present = {s.id: s for s in servers if not s.gone}
        for rec in self._our_records():
            if rec.server_id not in present:
                self._stop(rec)
        records = self.manager.host_records()
        by_server = {r.server_id: r for r in records if r.server_id}
        by_name = {r.name: r for r in records}
        for server in sorted(present.values(), key=lambda s: s.name):
            if server.status != "ACTIVE":
                continue
            rec = by_server.get(server.id)
            alive = rec is not None and process_alive(rec.pid, rec.pid_start)
            made = self.made.get(server.id)
            if alive and made == server.fingerprint:
                continue
            if not self._may_try(server.id):
                continue
            died = made == server.fingerprint and not alive
            if died:
                self._failed(server, "its host stopped by itself (see its console log); restarting")
            if rec is not None and rec.name != server.name:
                # Renamed in Nova: the host is named after its server, so it is made anew.
                self._stop(rec)
            clash = by_name.get(server.name)
            if clash is not None and clash.server_id != server.id:
                # Nova allows equal names; a host is named after its server, so the first keeps it.
                owner = clash.server_id or "a host started by hand"
                self._failed(server, f"another server ({owner}) already has a host named "
                                     f"{server.name!r}; waiting for it to go")  # fmt: skip
                continue
            if self._start(server, keep_retry=died):
                by_name = {r.name: r for r in self.manager.host_records()}

    def sync_volumes(self, volumes: list[Volume]) -> None:
        """Every running host gets exactly its server's attached volumes (hot-plugged, as Nova
        attaches them after the server is ACTIVE); the files of deleted volumes go."""
        wanted: dict[str, list[VolumeSpec]] = {}
        for volume in volumes:
            for server_id, device in volume.attachments:
                if not device:
                    continue  # still attaching: Nova names the device when it is done
                try:
                    spec = VolumeSpec(volume.id, volume.size_gb, device)
                except HostsError as exc:
                    log.warning("volume %s on server %s: %s", volume.id, server_id, exc)
                    continue
                wanted.setdefault(server_id, []).append(spec)
        for rec in self._our_records():
            specs = wanted.get(rec.server_id, [])
            if {v.volume_id: v.as_record() for v in specs} == rec.volumes:
                continue
            key = f"volumes:{rec.server_id}"
            if not process_alive(rec.pid, rec.pid_start) or not self._may_try(key):
                continue
            try:
                self.manager.sync_volumes(rec.name, specs)
            except Exception as exc:  # one host's disks must not stop the others'
                delay = self._retry_later(key, str(exc))
                log.warning("%s: could not attach its volumes (%s); retrying in %.0f s",
                            rec.name, exc, delay)  # fmt: skip
                continue
            self.retries.pop(key, None)
            shown = ", ".join(f"{v.device} ({v.volume_id}, {v.size_gb} GiB)" for v in specs)
            log.info("%s: volumes attached: %s", rec.name, shown or "none")
        try:
            removed = self.manager.prune_volumes({v.id for v in volumes})
        except Exception:
            log.exception("could not remove the files of deleted volumes")
            return
        if removed:
            log.info("volumes deleted in Cinder, their files removed: %s", ", ".join(removed))

    def _our_records(self) -> list[HostRecord]:
        # Hosts started by hand (`devcloud hosts start`) carry no server id and are left alone.
        return [r for r in self.manager.host_records() if r.server_id]

    # -- starting and stopping ------------------------------------------------------------------
    def _start(self, server: Server, *, keep_retry: bool = False) -> bool:
        try:
            wiring = self.cloud.wiring(server)
            tenant = self.cloud.project_name(server.project_id) if server.project_id else ""
            keys = self._keys(server)
            if wiring.note:
                log.info("%s: %s", server.name, wiring.note)
            info = self.manager.ensure_host(
                server.name, wiring.address_cidr, wiring.gateway, wiring.network_id,
                server.user_data, instance_id=server.id, public_keys=keys,
                server_id=server.id, tenant=tenant, wait=False,
            )  # fmt: skip
        except (HostsError, NoWiring) as exc:
            self._failed(server, str(exc))
            return False
        except Exception as exc:  # a bug or an API error must cost one server, not the watcher
            log.exception("%s: unexpected error while starting its host", server.name)
            self._failed(server, f"{type(exc).__name__}: {exc}")
            return False
        self.made[server.id] = server.fingerprint
        if not keep_retry:
            # A host that keeps dying keeps its count until it is ready again (see the wait).
            self.retries.pop(server.id, None)
        log.info("%s (%s, %s): host %s on %s, booting its user data", server.name, server.id,
                 tenant or "-", info.hostname, info.address)  # fmt: skip
        if self.wait_ready:
            self._wait_in_background(server)
        return True

    def _keys(self, server: Server) -> tuple[str, ...]:
        try:
            return self.cloud.public_keys(server)
        except Exception as exc:  # the user data usually carries the keys; the host still boots
            log.warning("%s: key pair %r not readable (%s); booting without it",
                        server.name, server.key_name, exc)  # fmt: skip
            return ()

    def _wait_in_background(self, server: Server) -> None:
        running = self.waiting.get(server.id)
        if running is not None and running.is_alive():
            return

        def wait() -> None:
            try:
                info = self.manager.wait_ready(server.name, timeout=READY_TIMEOUT_S)
            except HostsError as exc:
                log.warning("%s: host did not become ready: %s", server.name, exc)
                return
            except Exception:
                log.exception("%s: unexpected error while waiting for its host", server.name)
                return
            level = logging.INFO if info.cloud_init_status == "done" else logging.WARNING
            if info.cloud_init_status == "done":
                self.retries.pop(server.id, None)
            log.log(level, "%s: ssh after %s s, cloud-init %s after %s s (console: %s)",
                    server.name, info.ssh_ready_s, info.cloud_init_status,
                    info.cloud_init_done_s, info.console_log)  # fmt: skip

        # A daemon thread: a wait of up to 15 minutes must not hold up the watcher's exit.
        thread = threading.Thread(target=wait, name=f"wait-{server.name}", daemon=True)
        self.waiting[server.id] = thread
        thread.start()

    def _stop(self, rec: HostRecord) -> None:
        key = f"stop:{rec.server_id}"
        if not self._may_try(key):
            return
        try:
            self.manager.stop_host(rec.name)
        except Exception as exc:
            retry = self._retry_later(key, str(exc))
            log.warning("%s: could not remove the host of deleted server %s (%s); retrying in "
                        "%.0f s", rec.name, rec.server_id, exc, retry)  # fmt: skip
            return
        self.retries.pop(key, None)
        self.made.pop(rec.server_id, None)
        self.retries.pop(rec.server_id, None)
        log.info("%s: server %s is gone; host stopped and removed", rec.name, rec.server_id)

    # -- retries --------------------------------------------------------------------------------
    def _may_try(self, key: str) -> bool:
        retry = self.retries.get(key)
        return retry is None or self.clock() >= retry.next_try

    def _retry_later(self, key: str, message: str) -> float:
        retry = self.retries.setdefault(key, Retry())
        retry.failures += 1
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (retry.failures - 1))
        retry.next_try = self.clock() + delay
        retry.message = message
        return delay

    def _failed(self, server: Server, message: str) -> None:
        delay = self._retry_later(server.id, message)
        failures = self.retries[server.id].failures
        log.warning("%s (%s): %s; try %d failed, next in %.0f s",
                    server.name, server.id, message, failures, delay)  # fmt: skip

    # -- status for `devcloud status` -----------------------------------------------------------
    def _write_status(self) -> None:
        if self.status_file is None:
            return
        doc = {
            "last_poll": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "last_poll_epoch": time.time(),
            "servers": self.servers_seen,
            "hosts": len(self._our_records()),
            "cloud_error": self.cloud_error,
            "failing": {k: r.message for k, r in self.retries.items()},
        }
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        tmp.replace(self.status_file)

    def run(self, stop: threading.Event, interval: float = POLL_S) -> None:
        while not stop.is_set():
            started = self.clock()
            try:
                self.poll()
            except Exception:  # the last line of defence: log it, keep watching
                log.exception("poll failed")
            pause = CLOUD_DOWN_POLL_S if self.cloud_error else interval
            stop.wait(max(0.5, pause - (self.clock() - started)))


def main(argv: list[str] | None = None) -> int:
    """Watch the devcloud named by KUNTAPILVI_DEVCLOUD_STATE until SIGTERM."""
    from kuntapilvi.devcloud.credentials import CLOUD_NAME
    from kuntapilvi.devcloud.paths import Paths
    from kuntapilvi.devcloud.servers import Cloud

    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    # openstacksdk and paramiko log every request and handshake at INFO.
    for noisy in ("openstack", "keystoneauth", "paramiko", "urllib3", "stevedore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    paths = Paths.default()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from kuntapilvi.devcloud.watcherprocess import status_file

    manager = HostManager(paths.hosts)
    watcher = Watcher(Cloud(paths.clouds_yaml, CLOUD_NAME), manager,
                      status_file=status_file(paths))  # fmt: skip
    log.info("watching devcloud servers (state %s); hosts in %s", paths.state, paths.hosts)
    watcher.run(stop)
    log.info("stopped; hosts keep running until `kuntapilvi devcloud down`")
    with contextlib.suppress(OSError):
        status_file(paths).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
