"""OpenStack Heat in devcloud, started only on request (`kuntapilvi devcloud up --with heat`).

bench/peers.py builds a tenant with Heat to compare kuntapilvi with it; nothing else needs
Heat, so the default devcloud (and CI) neither installs nor starts it. It gets a venv of its
own beside the service venv, built with the same constraints file: installing it into the
shared service venv would change that venv for every checkout, and its hash (the name) with it.

What `--with heat` adds to a running devcloud: the `heat` database and its schema, the
`heat` service user, the orchestration endpoints in both regions, the roles and the `heat`
stack-user domain Heat expects, then heat-api (gunicorn, port 8004) and heat-engine.
`down` stops both with the rest (lifecycle.STOP_WAVES).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kuntapilvi.devcloud import bootstrap, processes
from kuntapilvi.devcloud import services as svc
from kuntapilvi.devcloud.config import Context, environment
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.install import build_venv
from kuntapilvi.devcloud.paths import Paths, pins_hash

# The release matching the service venv's (nova 34, keystone 30: 2026.2).
HEAT_VERSION = "27.0.1"
PACKAGES: tuple[str, ...] = (f"openstack-heat=={HEAT_VERSION}", "PyMySQL", "gunicorn")
API_PORT = 8004
DATABASE = "heat"
SERVICE_NAMES: tuple[str, ...] = ("heat-api", "heat-engine")
ENDPOINT = f"http://127.0.0.1:{API_PORT}/v1/%(project_id)s"
# Roles Heat's policy and its stack users refer to (heat.conf heat_stack_user_role).
ROLES: tuple[str, ...] = ("heat_stack_owner", "heat_stack_user")
STACK_DOMAIN = "heat"
STACK_DOMAIN_ADMIN = "heat_domain_admin"
_READY = ".devcloud-ready"


def venv(paths: Paths) -> Path:
    return paths.cache / f"devcloud-heat-venv-{pins_hash()}-{HEAT_VERSION}"


def venv_ready(paths: Paths) -> bool:
    return (venv(paths) / _READY).is_file()


def install(paths: Paths) -> str:
    """Build Heat's venv (PyPI, so outside any network namespace); cached once built."""
    target = venv(paths)
    if venv_ready(paths):
        return "cached"
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    paths.cache.mkdir(parents=True, exist_ok=True)
    build_venv(target, PACKAGES, paths.cache, paths.log("install-heat"), "Heat")
    (target / _READY).write_text(HEAT_VERSION + "\n")
    return str(target)


def render_config(ctx: Context) -> str:
    variables = ctx.variables()
    variables["ports"] = {**svc.PORTS, "heat-api": API_PORT}
    return environment().get_template("heat.conf.j2").render(**variables)


def wsgi_text(paths: Paths) -> str:
    conf = paths.etc / "heat" / "heat.conf"
    return environment().get_template("wsgi.py.j2").render(
        service="heat-api", module="heat.wsgi.api",
        argv=["heat-api", "--config-file", str(conf)], environ={})


def write_configs(ctx: Context) -> None:
    p = ctx.paths
    etc = p.etc / "heat"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "heat.conf").write_text(render_config(ctx))
    (p.etc / "wsgi").mkdir(parents=True, exist_ok=True)
    (p.etc / "wsgi" / "devcloud_heat_api.py").write_text(wsgi_text(p))
    shipped = venv(p) / "etc" / "heat"
    import shutil

    shutil.copyfile(shipped / "api-paste.ini", etc / "api-paste.ini")
    for folder in ("environment.d", "templates"):
        if (etc / folder).exists():
            shutil.rmtree(etc / folder)
        shutil.copytree(shipped / folder, etc / folder)
    (p.data / "heat" / "lock").mkdir(parents=True, exist_ok=True)


def argv_for(name: str, paths: Paths) -> list[str]:
    bin_ = venv(paths) / "bin"
    if name == "heat-api":
        return [str(bin_ / "gunicorn"), "--bind", f"127.0.0.1:{API_PORT}", "--workers", "1",
                "--threads", "4", "--worker-class", "gthread", "--timeout", "120",
                "--keep-alive", "0", *svc.access_log_args("heat-api", paths),
                "--pythonpath", str(paths.etc / "wsgi"), "devcloud_heat_api:application"]
    return [str(bin_ / "heat-engine"), "--config-file", str(paths.etc / "heat" / "heat.conf")]


def _env(paths: Paths) -> dict[str, str]:
    env = svc.base_env(paths)
    env["PATH"] = f"{venv(paths) / 'bin'}:{env['PATH']}"
    return env


def create_database(ctx: Context) -> None:
    user, pw = svc.DB_USER, ctx.secrets["db"]
    sql = (f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8;\n"
           f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO '{user}'@'localhost' "
           f"IDENTIFIED BY '{pw}';\n")
    bootstrap.run_manage(
        ctx.paths, "mariadb-setup",
        ["mariadb", f"--defaults-file={ctx.paths.etc / 'mariadb' / 'my.cnf'}", "-u", "root"],
        "Creating Heat's database", stdin=sql)


def sync_schema(ctx: Context) -> str:
    stamp = ctx.paths.stamps / "schema-heat"
    if stamp.is_file() and stamp.read_text() == HEAT_VERSION:
        return "done before"
    bootstrap.run_manage(
        ctx.paths, "heat-manage",
        [str(venv(ctx.paths) / "bin" / "heat-manage"), "--config-file",
         str(ctx.paths.etc / "heat" / "heat.conf"), "db_sync"],
        "Heat's schema sync `heat-manage db_sync`")
    stamp.write_text(HEAT_VERSION)
    return "synced"


def register(ctx: Context) -> int:
    """The heat user, the orchestration service and endpoints, roles, the stack domain."""
    conn = bootstrap._connect(ctx)
    ident: Any = conn.identity  # v3 only here; the SDK types it as v2 or v3
    created = 0
    project = ident.find_project("service", domain_id="default", ignore_missing=False)
    admin = ident.find_role("admin", ignore_missing=False)
    user = ident.find_user("heat", domain_id="default")
    if user is None:
        user = ident.create_user(name="heat", password=ctx.secrets["service"],
                                 domain_id="default", default_project_id=project.id)
        created += 1
    for role_name in ("admin", "service"):
        ident.assign_project_role_to_user(project, user, ident.find_role(role_name))
    for name in ROLES:
        if ident.find_role(name) is None:
            ident.create_role(name=name)
            created += 1
    domain = ident.find_domain(STACK_DOMAIN)
    if domain is None:
        domain = ident.create_domain(name=STACK_DOMAIN,
                                     description="Users Heat creates for its stacks")
        created += 1
    dadmin = ident.find_user(STACK_DOMAIN_ADMIN, domain_id=domain.id)
    if dadmin is None:
        dadmin = ident.create_user(name=STACK_DOMAIN_ADMIN, password=ctx.secrets["service"],
                                   domain_id=domain.id)
        created += 1
    ident.assign_domain_role_to_user(domain, dadmin, admin)
    service = next((s for s in ident.services() if s.type == "orchestration"), None)
    if service is None:
        service = ident.create_service(type="orchestration", name="heat", is_enabled=True)
        created += 1
    have = {(e.region_id, e.interface) for e in ident.endpoints(service_id=service.id)}
    for region in svc.REGIONS:
        for interface in svc.INTERFACES:
            if (region, interface) not in have:
                ident.create_endpoint(service_id=service.id, interface=interface, url=ENDPOINT,
                                      region_id=region, is_enabled=True)
                created += 1
    return created


def start(name: str, paths: Paths) -> str:
    pidfile = paths.pidfile(name)
    if processes.running_record(pidfile) is not None:
        return "already running"
    if name == "heat-api":
        processes.require_port_free(API_PORT, name)
    proc = processes.start(name, argv_for(name, paths), env=_env(paths), log=paths.log(name),
                           pidfile=pidfile, cwd=paths.state)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DevcloudError(f"{name} exited during start-up (exit code {proc.returncode}).",
                                paths.log(name))
        if name == "heat-engine":
            time.sleep(2.0)
            if proc.poll() is None:
                return f"pid {proc.pid}"
            continue
        from kuntapilvi.devcloud.status import http_answers

        if http_answers(API_PORT):
            return f"pid {proc.pid}"
        time.sleep(0.3)
    raise DevcloudError(f"{name} did not answer within 120 s.", paths.log(name))


def engine_up(ctx: Context, timeout: float = 90.0) -> bool:
    """heat-engine has registered itself (orchestration service list shows it up)."""
    conn = bootstrap._connect(ctx)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            resp = conn.orchestration.get("/services", microversion=None)
            if resp.ok and any(s.get("status") == "up"
                               for s in resp.json().get("services", [])):
                return True
        except Exception:  # the API may still be warming up
            pass
        time.sleep(1.0)
    return False


def up(ctx: Context, say) -> None:  # type: ignore[no-untyped-def]
    """Bring Heat up on a running devcloud; each step idempotent. `say(step, note)` reports."""
    if not venv_ready(ctx.paths):
        raise DevcloudError(f"Heat is not installed ({venv(ctx.paths)}); run `kuntapilvi "
                            "devcloud install --with heat` where PyPI can be reached.")
    t = time.monotonic()
    write_configs(ctx)
    create_database(ctx)
    say("heat schema", sync_schema(ctx), time.monotonic() - t)
    t = time.monotonic()
    say("heat catalogue", f"{register(ctx)} created", time.monotonic() - t)
    for name in SERVICE_NAMES:
        t = time.monotonic()
        say(name, start(name, ctx.paths), time.monotonic() - t)
    t = time.monotonic()
    if not engine_up(ctx):
        raise DevcloudError("heat-engine did not report up within 90 s.",
                            ctx.paths.log("heat-engine"))
    say("heat engine", "up", time.monotonic() - t)


def running(paths: Paths) -> bool:
    return all(processes.running_record(paths.pidfile(n)) is not None for n in SERVICE_NAMES)
