"""Is each devcloud daemon running, and does it answer?"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

from kuntapilvi.devcloud import processes
from kuntapilvi.devcloud import services as svc
from kuntapilvi.devcloud.paths import Paths


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    kind: str
    pid: int | None
    port: int | None
    answering: bool
    # Proportional set size of the service's whole process group.
    memory_mib: float = 0.0

    @property
    def ok(self) -> bool:
        return self.pid is not None and self.answering


def http_answers(port: int, timeout: float = 2.0) -> bool:
    """Any HTTP response counts: the version documents answer 200 or 300 without a token."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def mysql_answers(paths: Paths, timeout: float = 1.0) -> bool:
    """MariaDB greets every new connection first; a greeting means it serves queries."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(paths.mysql_socket))
            return len(sock.recv(64)) > 0
    except OSError:
        return False


def epmd_answers(port: int, timeout: float = 1.0) -> bool:
    """Ask epmd for its node names (NAMES_REQ), as `epmd -names` does; a bare connect and
    close would make it log a 'partial packet' line on every status call."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"\x00\x01n")
            return len(sock.recv(4)) == 4
    except OSError:
        return False


def answers(service: svc.Service, paths: Paths) -> bool:
    if service.name == "mariadb":
        return mysql_answers(paths)
    if service.name == "epmd":
        assert service.port is not None
        return epmd_answers(service.port)
    if service.kind == "api":
        assert service.port is not None
        return http_answers(service.port)
    if service.port is not None:
        return processes.port_answers(service.port)
    # RPC workers open no port; a live process is all a quick check can see. `up` waits
    # for their service records to report "up" through the APIs.
    return True


def service_status(service: svc.Service, paths: Paths) -> ServiceStatus:
    record = processes.running_record(paths.pidfile(service.name))
    pid = record.pid if record else None
    answering = pid is not None and answers(service, paths)
    memory = processes.group_pss_kib(pid) / 1024 if pid is not None else 0.0
    return ServiceStatus(service.name, service.kind, pid, service.port, answering, memory)


def worker_states(paths: Paths) -> dict[str, bool]:
    """{binary: reported up} for nova's and cinder's RPC workers, as the APIs see them.

    Empty when the APIs or credentials are not there; then only the PIDs can tell.
    """
    if not paths.secrets.is_file():
        return {}
    try:
        from kuntapilvi.devcloud.bootstrap import admin_connection
        from kuntapilvi.devcloud.config import Context, load_secrets

        conn = admin_connection(Context(paths=paths, secrets=load_secrets(paths)))
        states: dict[str, bool] = {}
        for service in [*conn.compute.services(), *conn.block_storage.services()]:
            up = service.state == "up" and service.status == "enabled"
            states[service.binary] = states.get(service.binary, False) or up
        return states
    except Exception:  # status must report, not fail, when an API is down
        return {}


def collect(paths: Paths, check_workers: bool = True) -> list[ServiceStatus]:
    rows = [service_status(s, paths) for s in svc.SERVICES]
    apis_up = all(r.ok for r in rows if r.name in ("keystone", "nova-api", "cinder-api"))
    states = worker_states(paths) if check_workers and apis_up else {}
    if not states:
        return rows
    # A worker whose process lives but whose service record is down is not answering.
    return [
        ServiceStatus(r.name, r.kind, r.pid, r.port, r.answering and states.get(r.name, True),
                      r.memory_mib) if r.kind == "worker" else r
        for r in rows
    ]
