"""What devcloud runs: every daemon, its port, how it is started, and the service catalogue.

One table, so `up`, `down`, `status` and `logs` agree on the same names and order.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kuntapilvi.devcloud.paths import Paths

# The centre's regions. Both get the same loopback endpoints: devcloud is one cloud that
# answers to both names, so stacks written for either region run unchanged. The first one
# is what the services themselves use to find each other.
REGIONS: tuple[str, ...] = ("fi-kuo-1", "fi-kaj-1")

# Flat physical networks Neutron accepts: one per region, as catalog/centre.yaml names them
# (external_network.physical_network); the centre's stack builds each external net on one.
FLAT_PHYSNETS: tuple[str, ...] = ("public-kuo", "public-kaj")

# The Neutron `test` mechanism driver binds ports (vif_type ovs, ACTIVE) only for this host.
COMPUTE_HOST = "host-ovs-filter-active"

DATABASES: tuple[str, ...] = (
    "keystone", "placement", "nova_api", "nova", "nova_cell0", "neutron", "cinder", "glance",
    "designate",
)
DB_USER = "openstack"
RABBIT_USER = "openstack"

PORTS: dict[str, int] = {
    "epmd": 4369,
    "rabbitmq": 5672,
    "rabbitmq-dist": 25672,
    "keystone": 5000,
    "placement": 8778,
    "nova-api": 8774,
    "neutron-api": 9696,
    "cinder-api": 8776,
    "glance-api": 9292,
    "designate-api": 9001,
    # DNS: designate-mdns serves zones to named; named serves them to everyone else.
    "designate-mdns": 5354,
    "named": 5322,
    "rndc": 9530,
}

KEYSTONE_URL = f"http://127.0.0.1:{PORTS['keystone']}/v3"


@dataclass(frozen=True)
class Service:
    name: str
    # "infra" (Debian daemons), "api" (gunicorn-served WSGI app) or "worker" (RPC service).
    kind: str
    # TCP ports it opens; the first one is probed for "answering".
    ports: tuple[int, ...] = ()
    # WSGI module exposing `application` (api kind only).
    wsgi_module: str = ""
    # Console script in the service venv (worker kind only).
    script: str = ""
    config_files: tuple[str, ...] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int | None:
        return self.ports[0] if self.ports else None


SERVICES: tuple[Service, ...] = (
    Service("mariadb", "infra"),
    Service("epmd", "infra", ports=(PORTS["epmd"],)),
    Service("rabbitmq", "infra", ports=(PORTS["rabbitmq"], PORTS["rabbitmq-dist"])),
    Service("keystone", "api", ports=(PORTS["keystone"],), wsgi_module="keystone.wsgi.api"),
    Service("placement", "api", ports=(PORTS["placement"],), wsgi_module="placement.wsgi.api"),
    Service(
        "nova-api", "api", ports=(PORTS["nova-api"],), wsgi_module="nova.wsgi.osapi_compute",
        config_files=("nova/nova.conf",),
    ),
    Service(
        "neutron-api", "api", ports=(PORTS["neutron-api"],), wsgi_module="neutron.wsgi.api",
        config_files=("neutron/neutron.conf", "neutron/ml2_conf.ini"),
        # The `test` mechanism driver asserts on its own bookkeeping and fails the first
        # bind; stripping asserts is what makes ports bind.
        extra_env={"PYTHONOPTIMIZE": "1"},
    ),
    Service(
        "cinder-api", "api", ports=(PORTS["cinder-api"],), wsgi_module="cinder.wsgi.api",
        config_files=("cinder/cinder.conf",),
    ),
    Service("glance-api", "api", ports=(PORTS["glance-api"],), wsgi_module="glance.wsgi.api"),
    Service("nova-conductor", "worker", script="nova-conductor",
            config_files=("nova/nova.conf",)),
    Service("nova-scheduler", "worker", script="nova-scheduler",
            config_files=("nova/nova.conf",)),
    # Its own config without DB sections: nova-compute must not have DB access.
    Service("nova-compute", "worker", script="nova-compute",
            config_files=("nova/nova-compute.conf",)),
    Service("cinder-scheduler", "worker", script="cinder-scheduler",
            config_files=("cinder/cinder.conf",)),
    Service("cinder-volume", "worker", script="cinder-volume",
            config_files=("cinder/cinder.conf",)),
    # Designate (the dns-zone card) with named from Debian as its one real DNS server.
    Service("named", "infra", ports=(PORTS["named"], PORTS["rndc"])),
    Service("designate-api", "api", ports=(PORTS["designate-api"],),
            wsgi_module="designate.wsgi.api"),
    Service("designate-central", "worker", script="designate-central",
            config_files=("designate/designate.conf",)),
    Service("designate-worker", "worker", script="designate-worker",
            config_files=("designate/designate.conf",)),
    Service("designate-producer", "worker", script="designate-producer",
            config_files=("designate/designate.conf",)),
    Service("designate-mdns", "worker", ports=(PORTS["designate-mdns"],),
            script="designate-mdns", config_files=("designate/designate.conf",)),
)

BY_NAME: dict[str, Service] = {s.name: s for s in SERVICES}

# Env vars that tell the WSGI apps where their config is. Keystone, placement and glance do
# not read argv at all; nova-api does, but loads its paste pipeline from this folder only.
CONFIG_DIR_ENV: dict[str, tuple[str, str]] = {
    "nova-api": ("OS_NOVA_CONFIG_DIR", "nova"),
    "keystone": ("OS_KEYSTONE_CONFIG_DIR", "keystone"),
    "placement": ("OS_PLACEMENT_CONFIG_DIR", "placement"),
    "glance-api": ("OS_GLANCE_CONFIG_DIR", "glance"),
    "designate-api": ("OS_DESIGNATE_CONFIG_DIR", "designate"),
}


@dataclass(frozen=True)
class CatalogEntry:
    type: str
    name: str
    url: str
    # The service user that owns it (None for keystone, made by keystone-manage bootstrap).
    user: str | None


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry("identity", "keystone", KEYSTONE_URL, None),
    CatalogEntry("placement", "placement", f"http://127.0.0.1:{PORTS['placement']}", "placement"),
    CatalogEntry("compute", "nova", f"http://127.0.0.1:{PORTS['nova-api']}/v2.1", "nova"),
    CatalogEntry("network", "neutron", f"http://127.0.0.1:{PORTS['neutron-api']}", "neutron"),
    # Registered under both names: newer clients look for block-storage, older for volumev3.
    CatalogEntry("block-storage", "cinder",
                 f"http://127.0.0.1:{PORTS['cinder-api']}/v3/%(project_id)s", "cinder"),
    CatalogEntry("volumev3", "cinderv3",
                 f"http://127.0.0.1:{PORTS['cinder-api']}/v3/%(project_id)s", None),
    CatalogEntry("image", "glance", f"http://127.0.0.1:{PORTS['glance-api']}", "glance"),
    CatalogEntry("dns", "designate", f"http://127.0.0.1:{PORTS['designate-api']}", "designate"),
)
SERVICE_USERS: tuple[str, ...] = tuple(e.user for e in CATALOG if e.user)
# No "admin" interface: nothing here asks for it, and each endpoint is one more Keystone
# call on a cold start (keystone-manage bootstrap still registers all three for identity).
INTERFACES: tuple[str, ...] = ("public", "internal")


def base_env(paths: Paths) -> dict[str, str]:
    """A minimal environment: PATH with the service venv first, nothing from the caller's
    OS_* variables (a developer's own cloud credentials must not leak into the services)."""
    return {
        "PATH": f"{paths.venv / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                "/sbin:/bin",
        "HOME": str(Path.home()),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }


def _find_mariadbd() -> str:
    return shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin") or "mariadbd"


def argv_for(service: Service, paths: Paths, socket_fd: int = 3) -> list[str]:
    """The command line of a daemon; `socket_fd` is the inherited listening socket (epmd)."""
    etc = paths.etc
    if service.name == "mariadb":
        import getpass

        return [
            _find_mariadbd(),
            f"--defaults-file={etc / 'mariadb' / 'my.cnf'}",
            f"--user={getpass.getuser()}",
        ]
    if service.name == "epmd":
        # Started by us, in the foreground, so `down` owns it; an Erlang node would
        # otherwise daemonise its own epmd that nobody stops. epmd always adds [::1] to
        # any -address list, so instead it gets one ready 127.0.0.1 socket the way systemd
        # hands it over (fd 3, LISTEN_FDS, LISTEN_PID = its own pid, hence the exec).
        epmd = shutil.which("epmd") or "/usr/bin/epmd"
        move = "" if socket_fd == 3 else f" 3<&{socket_fd} {socket_fd}<&-"
        # bash, not sh: dash takes only one-digit fds in a redirection ("Bad fd number" once
        # the CLI itself holds a few more files open, e.g. the `up` lock).
        return [
            "/bin/bash", "-c",
            f'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -systemd -port "$1"{move}',
            epmd, str(PORTS["epmd"]),
        ]
    if service.name == "rabbitmq":
        return ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
    if service.name == "named":
        # -g: foreground, every log line to stderr (the service log), none to syslog.
        named = shutil.which("named") or shutil.which("named", path="/usr/sbin") or "named"
        return [named, "-g", "-4", "-c", str(etc / "bind" / "named.conf")]
    if service.kind == "api":
        return [
            str(paths.venv_bin("gunicorn")),
            "--bind", f"127.0.0.1:{service.port}",
            "--workers", "1",
            "--threads", "4",
            "--worker-class", "gthread",
            "--timeout", "120",
            # No keep-alive: gunicorn closes an idle connection after 2 s, and a client that
            # reuses it at that moment gets "connection reset by peer" on a POST it cannot
            # retry (seen from the Pulumi provider against neutron-api).
            "--keep-alive", "0",
            *access_log_args(service.name, paths),
            "--pythonpath", str(etc / "wsgi"),
            f"{wsgi_module_name(service)}:application",
        ]
    argv = [str(paths.venv_bin(service.script))]
    for cfg in service.config_files:
        argv += ["--config-file", str(etc / cfg)]
    return argv


# One line per request in logs/<api>.access.log: the service logs themselves do not all log
# requests (keystone and neutron under gunicorn log none). bench/peers.py counts the lines
# written while a tool runs. Fields: end time, client address, request line, status, user
# agent, duration in microseconds.
ACCESS_LOG_FORMAT = '%(t)s %(h)s "%(r)s" %(s)s "%(a)s" %(D)s'


def access_log(name: str, paths: Paths) -> Path:
    return paths.logs / f"{name}.access.log"


def access_log_args(name: str, paths: Paths) -> list[str]:
    return ["--access-logfile", str(access_log(name, paths)),
            "--access-logformat", ACCESS_LOG_FORMAT]


def wsgi_module_name(service: Service) -> str:
    return "devcloud_" + service.name.replace("-", "_")


def env_for(service: Service, paths: Paths) -> dict[str, str]:
    env = base_env(paths)
    env.update(service.extra_env)
    if service.name in ("rabbitmq", "epmd"):
        # The Erlang cookie lands in $HOME; keep it in the state folder, not root's home.
        env["HOME"] = str(paths.data / "rabbitmq")
        env["RABBITMQ_CONF_ENV_FILE"] = str(paths.etc / "rabbitmq" / "rabbitmq-env.conf")
        env["ERL_EPMD_ADDRESS"] = "127.0.0.1"
        env["ERL_EPMD_PORT"] = str(PORTS["epmd"])
    return env
