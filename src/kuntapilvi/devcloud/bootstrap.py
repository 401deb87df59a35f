"""One-time setup of what the centre starts with: databases, schemas, Keystone, the catalogue,
and compute host discovery.

Each schema step leaves a stamp holding the pins hash, so a warm `up` skips it and a new
set of pinned versions runs the (idempotent) migrations again.
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import grp
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kuntapilvi.devcloud import services as svc
from kuntapilvi.devcloud.config import Context
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import Paths, pins_hash

if TYPE_CHECKING:
    import openstack.connection

# Management commands load a whole service (2-5 s of CPU each); on a 2-core machine more
# than a few at once only makes every one of them slower.
CPU_SLOTS = threading.BoundedSemaphore(3)


def stamp_ok(paths: Paths, name: str) -> bool:
    stamp = paths.stamps / name
    return stamp.is_file() and stamp.read_text() == pins_hash()


def set_stamp(paths: Paths, name: str) -> None:
    paths.stamps.mkdir(parents=True, exist_ok=True)
    (paths.stamps / name).write_text(pins_hash())


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: be killed when the thread that started it dies (a killed `up`).

    A migration left running by a killed `up` would race the next `up`'s own (its tables
    appearing under the repair below); subprocess.run waits in that thread, so a live `up`
    never triggers it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_manage(
    paths: Paths, log_name: str, argv: Sequence[str], what: str, stdin: str | None = None,
    take_slot: bool = True,
) -> str:
    """Run a setup command with its output appended to logs/<log_name>.log; raise on failure."""
    log = paths.log(log_name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with CPU_SLOTS if take_slot else contextlib.nullcontext():
        proc = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            env=svc.base_env(paths),
            preexec_fn=_die_with_parent,
        )
    with log.open("a") as out:
        out.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(argv)} (exit {proc.returncode})\n")
        out.write(proc.stdout)
        out.write(proc.stderr)
    if proc.returncode != 0:
        raise DevcloudError(f"{what} failed (exit {proc.returncode}).", log)
    return proc.stdout


def init_mariadb(paths: Paths) -> None:
    """Make MariaDB's data folder once, atomically.

    It is built beside its final place and renamed into it, so an `up` killed half-way leaves
    either no data folder (the next `up` starts over) or a whole one, never a half one that
    the next `up` would take for finished.
    """
    datadir = paths.data / "mysql"
    if (datadir / "mysql").is_dir():
        return
    partial = paths.data / "mysql.partial"
    shutil.rmtree(partial, ignore_errors=True)
    if datadir.exists():
        # Made by an older devcloud that was killed mid-way: nothing in it is worth keeping.
        shutil.rmtree(datadir)
    run_manage(
        paths, "mariadb-setup",
        ["mariadb-install-db", f"--defaults-file={paths.etc / 'mariadb' / 'my.cnf'}",
         f"--datadir={partial}",
         f"--user={getpass.getuser()}", "--auth-root-authentication-method=normal",
         "--skip-test-db"],
        "Initialising the MariaDB data folder",
    )
    partial.rename(datadir)


def create_databases(ctx: Context) -> None:
    user, pw = svc.DB_USER, ctx.secrets["db"]
    sql = [f"CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{pw}';",
           f"ALTER USER '{user}'@'localhost' IDENTIFIED BY '{pw}';"]
    for db in svc.DATABASES:
        sql.append(f"CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8;")
        sql.append(f"GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'localhost';")
    run_manage(
        ctx.paths, "mariadb-setup",
        ["mariadb", f"--defaults-file={ctx.paths.etc / 'mariadb' / 'my.cnf'}", "-u", "root"],
        "Creating the service databases", stdin="\n".join(sql) + "\n",
    )


def _manage_steps(ctx: Context) -> dict[str, list[list[str]]]:
    p = ctx.paths
    etc = p.etc

    def bin_(name: str) -> str:
        return str(p.venv_bin(name))

    nova = [bin_("nova-manage"), "--config-file", str(etc / "nova" / "nova.conf")]
    group = grp.getgrgid(os.getgid()).gr_name
    user = getpass.getuser()
    keystone = [bin_("keystone-manage"), "--config-file", str(etc / "keystone" / "keystone.conf")]
    url = svc.KEYSTONE_URL
    return {
        "keystone": [
            [*keystone, "db_sync"],
            [*keystone, "fernet_setup", "--keystone-user", user, "--keystone-group", group],
            [*keystone, "credential_setup", "--keystone-user", user, "--keystone-group", group],
            [*keystone, "bootstrap", "--bootstrap-password", ctx.secrets["admin"],
             "--bootstrap-username", "admin", "--bootstrap-project-name", "admin",
             "--bootstrap-role-name", "admin", "--bootstrap-service-name", "keystone",
             "--bootstrap-region-id", svc.REGIONS[0],
             "--bootstrap-admin-url", url, "--bootstrap-internal-url", url,
             "--bootstrap-public-url", url],
        ],
        "placement": [[bin_("placement-manage"), "--config-file",
                       str(etc / "placement" / "placement.conf"), "db", "sync"]],
        "nova": [
            [*nova, "api_db", "sync"],
            [*nova, "cell_v2", "map_cell0"],
            # create_cell is not idempotent (exit 2 on a duplicate); the stamp guards it,
            # and _run_schema tolerates "already exists" on a re-run after a crash.
            [*nova, "cell_v2", "create_cell", "--name", "cell1"],
            [*nova, "db", "sync"],
        ],
        "neutron": [[bin_("neutron-db-manage"), "--config-file",
                     str(etc / "neutron" / "neutron.conf"), "--config-file",
                     str(etc / "neutron" / "ml2_conf.ini"), "upgrade", "heads"]],
        "cinder": [[bin_("cinder-manage"), "--config-file",
                    str(etc / "cinder" / "cinder.conf"), "db", "sync"]],
        "glance": [[bin_("glance-manage"), "--config-file",
                    str(etc / "glance" / "glance-api.conf"), "db_sync"]],
        "designate": [[bin_("designate-manage"), "--config-file",
                       str(etc / "designate" / "designate.conf"), "database", "sync"]],
    }


SCHEMA_OWNERS: tuple[str, ...] = (
    "keystone", "placement", "nova", "neutron", "cinder", "glance", "designate",
)


# The databases each schema owner's migrations create tables in.
SCHEMA_DATABASES: dict[str, tuple[str, ...]] = {
    "keystone": ("keystone",), "placement": ("placement",),
    "nova": ("nova_api", "nova", "nova_cell0"), "neutron": ("neutron",),
    "cinder": ("cinder",), "glance": ("glance",), "designate": ("designate",),
}


def sync_schema(ctx: Context, owner: str) -> bool:
    """Run `owner`'s DB migrations and setup; False when a stamp says they already ran."""
    stamp = f"schema-{owner}"
    if stamp_ok(ctx.paths, stamp):
        return False
    started = ctx.paths.stamps / f"{stamp}.started"
    if started.is_file() and not (ctx.paths.stamps / stamp).is_file():
        # A first sync was killed half-way. MariaDB's DDL is not transactional, so its tables
        # exist without the migration record and the next sync fails on "already exists"; the
        # databases hold nothing yet (no sync ever finished), so they are made anew.
        _recreate_databases(ctx, SCHEMA_DATABASES[owner])
    ctx.paths.stamps.mkdir(parents=True, exist_ok=True)
    started.write_text(pins_hash())
    # One slot for the whole chain: keystone's and nova's four commands then run back to
    # back instead of queueing behind every other service's, and they gate the rest of `up`.
    with CPU_SLOTS:
        for argv in _manage_steps(ctx)[owner]:
            try:
                run_manage(ctx.paths, f"{owner}-manage", argv,
                           f"{owner} setup `{' '.join(argv[-2:])}`", take_slot=False)
            except DevcloudError:
                if "create_cell" in argv and _cell1_exists(ctx):
                    continue
                raise
    set_stamp(ctx.paths, stamp)
    started.unlink(missing_ok=True)
    return True


def _recreate_databases(ctx: Context, databases: Sequence[str]) -> None:
    user = svc.DB_USER
    sql = []
    for db in databases:
        sql += [f"DROP DATABASE IF EXISTS `{db}`;",
                f"CREATE DATABASE `{db}` CHARACTER SET utf8;",
                f"GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'localhost';"]
    run_manage(
        ctx.paths, "mariadb-setup",
        ["mariadb", f"--defaults-file={ctx.paths.etc / 'mariadb' / 'my.cnf'}", "-u", "root"],
        f"Recreating {', '.join(databases)} after an interrupted first migration",
        stdin="\n".join(sql) + "\n",
    )


def _cell1_exists(ctx: Context) -> bool:
    out = run_manage(
        ctx.paths, "nova-manage",
        [str(ctx.paths.venv_bin("nova-manage")), "--config-file",
         str(ctx.paths.etc / "nova" / "nova.conf"), "cell_v2", "list_cells"],
        "Listing nova cells",
        take_slot=False,  # called while the nova chain holds its slot
    )
    return " cell1 " in out


def update_dns_pool(ctx: Context) -> str | None:
    """Load pools.yaml into Designate (through designate-central, so it must be running).

    Stamped with the file's hash: the update is idempotent but costs a service start.
    """
    import hashlib

    pools = ctx.paths.etc / "designate" / "pools.yaml"
    digest = hashlib.sha256(pools.read_bytes()).hexdigest()[:12]
    stamp = ctx.paths.stamps / "dns-pool"
    if stamp.is_file() and stamp.read_text() == digest:
        return "loaded before"
    run_manage(
        ctx.paths, "designate-manage",
        [str(ctx.paths.venv_bin("designate-manage")), "--config-file",
         str(ctx.paths.etc / "designate" / "designate.conf"), "pool", "update",
         "--file", str(pools)],
        "Loading the DNS pool into Designate",
    )
    stamp.write_text(digest)
    return "named on 127.0.0.1"


def discover_hosts(ctx: Context) -> str:
    return run_manage(
        ctx.paths, "nova-manage",
        [str(ctx.paths.venv_bin("nova-manage")), "--config-file",
         str(ctx.paths.etc / "nova" / "nova.conf"), "cell_v2", "discover_hosts", "--verbose"],
        "Nova host discovery",
    )


# --- openstacksdk -----------------------------------------------------------------------

_CONNECTIONS = threading.local()


def admin_connection(ctx: Context) -> openstack.connection.Connection:
    """One admin connection per thread: readiness probes poll every second, and a fresh
    connection would log in (a password hash on Keystone's side) on every poll.

    Only for use once the catalogue is complete: the token caches the catalogue it got.
    """
    cached = getattr(_CONNECTIONS, "by_password", {})
    conn = cached.get(ctx.secrets["admin"])
    if conn is None:
        conn = _connect(ctx)
        _CONNECTIONS.by_password = {ctx.secrets["admin"]: conn}
    return conn


def _connect(ctx: Context) -> openstack.connection.Connection:
    try:
        import openstack
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DevcloudError(
            "openstacksdk is not installed in kuntapilvi's venv; run scripts/bootstrap "
            "(it installs the dev extra)."
        ) from exc
    return openstack.connect(
        auth_url=svc.KEYSTONE_URL,
        username="admin",
        password=ctx.secrets["admin"],
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=ctx.region,
        identity_interface="public",
        # Never read the developer's own clouds.yaml or OS_* variables.
        load_yaml_config=False,
        load_envvars=False,
        app_name="kuntapilvi-devcloud",
    )


def register_catalog(ctx: Context, regions: Sequence[str] = svc.REGIONS) -> int:
    """Service project, service users, services and endpoints in every region.

    Find-or-create throughout, so a re-run after a partial failure completes the catalogue.
    Returns how many objects it created.
    """
    # Not the cached connection: its token's catalogue would be the one from before this
    # registration, and later probes on the same thread would not find nova or cinder.
    conn = _connect(ctx)
    ident = conn.identity
    created = 0
    domain_id = "default"
    project = ident.find_project("service", domain_id=domain_id)
    if project is None:
        project = ident.create_project(name="service", domain_id=domain_id,
                                       description="OpenStack service users")
        created += 1
    # keystone-manage bootstrap creates admin, member, reader and service roles.
    roles = [ident.find_role(name, ignore_missing=False) for name in ("admin", "service")]
    for name in svc.SERVICE_USERS:
        user = ident.find_user(name, domain_id=domain_id)
        if user is None:
            user = ident.create_user(name=name, password=ctx.secrets["service"],
                                     domain_id=domain_id, default_project_id=project.id)
            created += 1
        for role in roles:
            ident.assign_project_role_to_user(project, user, role)
    existing_regions = {r.id for r in ident.regions()}
    for region in regions:
        if region not in existing_regions:
            ident.create_region(id=region, description="kuntapilvi devcloud")
            created += 1
    services = {(s.type, s.name): s for s in ident.services()}
    for entry in svc.CATALOG:
        service = services.get((entry.type, entry.name))
        if service is None:
            service = ident.create_service(type=entry.type, name=entry.name, is_enabled=True)
            created += 1
        have = {(e.region_id, e.interface) for e in ident.endpoints(service_id=service.id)}
        for region in regions:
            for interface in svc.INTERFACES:
                if (region, interface) not in have:
                    ident.create_endpoint(service_id=service.id, interface=interface,
                                          url=entry.url, region_id=region, is_enabled=True)
                    created += 1
    return created


def catalog_fingerprint(regions: Sequence[str] = svc.REGIONS) -> str:
    """Changes whenever the catalogue devcloud would register changes."""
    import hashlib

    text = repr((tuple(regions), svc.CATALOG, svc.SERVICE_USERS, svc.INTERFACES))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ensure_catalog(ctx: Context) -> str:
    """Register the catalogue unless this state already holds the same one.

    Skipping matters on a warm start: thirty-odd Keystone calls while six APIs boot on two
    cores cost half a minute.
    """
    stamp = ctx.paths.stamps / "catalogue"
    fingerprint = catalog_fingerprint()
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return "registered before"
    created = register_catalog(ctx)
    stamp.write_text(fingerprint)
    return f"{created} created"


def wait_for(
    what: str, probe: Callable[[], Any], timeout: float, log_name: str, paths: Paths,
    interval: float = 1.0,
) -> Any:
    """Poll `probe` until it returns something truthy; errors count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except DevcloudError:
            raise
        except Exception as exc:  # the API may still be warming up
            last_error = exc
        time.sleep(interval)
    detail = f" (last error: {type(last_error).__name__})" if last_error else ""
    raise DevcloudError(f"{what} was not ready after {timeout:.0f} s{detail}.",
                        paths.log(log_name))


def compute_node_reported(ctx: Context) -> bool:
    """nova-compute is up and has created its resource provider in placement.

    The provider is made right after the compute_nodes row, which host discovery maps; the
    hypervisor API cannot tell, since it only lists hosts already mapped.
    """
    conn = admin_connection(ctx)
    up = any(s.binary == "nova-compute" and s.state == "up" and s.status == "enabled"
             for s in conn.compute.services())
    return up and any(True for _ in conn.placement.resource_providers())


def compute_host_mapped(ctx: Context) -> bool:
    conn = admin_connection(ctx)
    return any(True for _ in conn.compute.hypervisors())


def volume_service_up(ctx: Context) -> bool:
    conn = admin_connection(ctx)
    return any(s.binary == "cinder-volume" and s.state == "up"
               for s in conn.block_storage.services())


def warm_network_policy(ctx: Context) -> str:
    """Create and delete one network and one router, one request at a time.

    A fresh neutron-api builds its policy enforcer on first use; concurrent first requests
    (Pulumi sends many at once) were seen to get 403 "disallowed by policy" for an admin.
    Doing the first ones sequentially here makes `up` hand over a Neutron that answers right.
    """
    conn = admin_connection(ctx)
    network = conn.network.create_network(name="devcloud-warm-up")
    router = conn.network.create_router(name="devcloud-warm-up")
    conn.network.delete_router(router)
    conn.network.delete_network(network)
    return "policy warmed"
