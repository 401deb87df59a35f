"""`up`, `down` and `reset`: bring the whole control plane up in dependency order, or stop it.

`up` is a small dependency graph run on a thread pool: the schema syncs of six services
overlap, and every API starts as soon as its own schema is there, which is what keeps a
warm start short on two cores.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from kuntapilvi.devcloud import (
    bootstrap,
    config,
    credentials,
    heat,
    identity,
    install,
    processes,
    uplock,
    watcherprocess,
)
from kuntapilvi.devcloud import services as svc
from kuntapilvi.devcloud import status as st
from kuntapilvi.devcloud.config import Context
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import Paths

API_TIMEOUT = 180.0
WORKER_SETTLE = 2.0

# Written when a whole `up` succeeded, removed by `down`: processes alone being alive does
# not prove bootstrap (catalogue, host discovery) finished.
READY_STAMP = "up-complete"

# Holds the digest of the configs the running services were started with.
CONFIGS_STAMP = "configs-running"


def configs_digest(ctx: Context) -> str:
    """What the services would be configured with now: every rendered config file."""
    digest = hashlib.sha256()
    for rel, text in sorted(config.render_all(ctx).items()):
        digest.update(rel.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


# Set when one step fails, so steps still waiting on other services give up at once.
ABORT = threading.Event()


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], str | None]
    after: tuple[str, ...] = ()
    # Service log that explains an unexpected failure of this step (e.g. an SDK error).
    log: Path | None = None


@dataclass(frozen=True)
class UpResult:
    already_running: bool
    seconds: float
    timings: dict[str, float]
    # What happened to the host watcher (started, already running, not started and why).
    watcher: str = ""


@dataclass(frozen=True)
class DownResult:
    stopped: list[str]  # services, and "watcher" if it ran
    killed: list[str]  # those that needed SIGKILL
    hosts: list[str]  # hosts stopped with the watcher


def run_steps(steps: Iterable[Step], console: Console) -> dict[str, float]:
    """Run steps as soon as their dependencies finish; the first failure stops the run."""
    pending = {s.name: s for s in steps}
    for step in pending.values():
        unknown = [d for d in step.after if d not in pending]
        if unknown:
            raise ValueError(f"step {step.name} waits for unknown {unknown}")
    done: set[str] = set()
    timings: dict[str, float] = {}
    running: dict[Future[str | None], tuple[Step, float]] = {}
    ABORT.clear()
    pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="devcloud")
    try:
        with console.status("starting") as spinner:
            while pending or running:
                for name, step in list(pending.items()):
                    if all(d in done for d in step.after):
                        running[pool.submit(step.run)] = (step, time.monotonic())
                        del pending[name]
                spinner.update("[bold]waiting for:[/] " + ", ".join(
                    s.name for s, _ in running.values()))
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    step, started = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        ABORT.set()
                        raise _explained(step, error)
                    took = time.monotonic() - started
                    timings[step.name] = took
                    done.add(step.name)
                    note = future.result()
                    suffix = f" [dim]({note})[/]" if note else ""
                    console.print(f"[green]✓[/] {step.name} [dim]{took:.1f} s[/]{suffix}")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return timings


def _explained(step: Step, error: BaseException) -> BaseException:
    """API errors from openstacksdk/keystoneauth become one sentence plus the service log."""
    if isinstance(error, DevcloudError) or not isinstance(error, Exception):
        return error
    detail = str(error).splitlines()[0] if str(error) else ""
    return DevcloudError(f"Step '{step.name}' failed: {type(error).__name__}: {detail}",
                         step.log)


def _wait_answering(service: svc.Service, paths: Paths,
                    proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ABORT.is_set():
            raise DevcloudError(f"{service.name}: start-up abandoned after another failure.")
        if proc is not None and proc.poll() is not None:
            raise DevcloudError(
                f"{service.name} exited during start-up (exit code {proc.returncode}).",
                paths.log(service.name),
            )
        if st.answers(service, paths):
            return
        time.sleep(0.3)
    raise DevcloudError(f"{service.name} did not answer within {timeout:.0f} s.",
                        paths.log(service.name))


def start_service(name: str, paths: Paths) -> str | None:
    service = svc.BY_NAME[name]
    pidfile = paths.pidfile(name)
    if processes.running_record(pidfile) is not None:
        _wait_answering(service, paths, None, API_TIMEOUT)
        return "already running"
    for port in service.ports:
        processes.require_port_free(port, name)
    if name == "epmd":
        proc = _start_epmd(service, paths)
    else:
        proc = processes.start(
            name, svc.argv_for(service, paths), env=svc.env_for(service, paths),
            log=paths.log(name), pidfile=pidfile, cwd=paths.state,
        )
    if service.kind == "worker" and service.port is None:
        # Workers open no port; catch an immediate crash (bad config, missing module) here,
        # later readiness comes from their service records. One that serves a port
        # (designate-mdns) is waited for below like any other.
        time.sleep(WORKER_SETTLE)
        if proc.poll() is not None:
            raise DevcloudError(f"{name} exited during start-up (exit code {proc.returncode}).",
                                paths.log(name))
        return f"pid {proc.pid}"
    _wait_answering(service, paths, proc, API_TIMEOUT)
    return f"pid {proc.pid}"


def _start_epmd(service: svc.Service, paths: Paths) -> subprocess.Popen[bytes]:
    assert service.port is not None
    sock = processes.loopback_listener(service.port, service.name)
    fd = sock.fileno()
    try:
        return processes.start(
            service.name, svc.argv_for(service, paths, socket_fd=fd),
            env=svc.env_for(service, paths), log=paths.log(service.name),
            pidfile=paths.pidfile(service.name), cwd=paths.state, pass_fds=(fd,),
        )
    finally:
        # epmd holds its own copy now; ours would keep the port open after `down`.
        sock.close()


def _setup_infra(ctx: Context) -> str | None:
    bootstrap.init_mariadb(ctx.paths)
    return None


def _wait(what: str, probe: Callable[[], object], log: str, ctx: Context,
          timeout: float = API_TIMEOUT, watch: tuple[str, ...] = ()) -> None:
    """Poll `probe`; fail at once if a watched daemon dies instead of timing out."""
    def guarded() -> object:
        if ABORT.is_set():
            raise DevcloudError(f"{what}: abandoned after another failure.")
        for name in watch:
            if processes.running_record(ctx.paths.pidfile(name)) is None:
                raise DevcloudError(f"{name} stopped during start-up.", ctx.paths.log(name))
        return probe()

    bootstrap.wait_for(what, guarded, timeout, log, ctx.paths)


def _compute_ready(ctx: Context) -> str | None:
    _wait("nova-compute registering its node", lambda: bootstrap.compute_node_reported(ctx),
          "nova-compute", ctx, watch=("nova-compute", "nova-conductor"))
    if bootstrap.compute_host_mapped(ctx):
        return "mapped before"
    # Explicit discovery: the periodic one would take up to a minute.
    bootstrap.discover_hosts(ctx)
    _wait("nova host discovery", lambda: bootstrap.compute_host_mapped(ctx),
          "nova-manage", ctx, timeout=30)
    return svc.COMPUTE_HOST


def _volume_ready(ctx: Context) -> str | None:
    _wait("cinder-volume reporting up", lambda: bootstrap.volume_service_up(ctx),
          "cinder-volume", ctx, watch=("cinder-volume", "cinder-scheduler"))
    return None


def _schema(ctx: Context, owner: str) -> str | None:
    return None if bootstrap.sync_schema(ctx, owner) else "done before"


def _install_debian(paths: Paths) -> str | None:
    missing = install.missing_debian_packages()
    install.install_debian_packages(missing, paths.log("install"))
    return f"installed {' '.join(missing)}" if missing else "present"


def _install_venv(paths: Paths) -> str | None:
    if install.venv_ready(paths):
        return "cached"
    install.install_venv(paths, paths.log("install"))
    return str(paths.venv)


def _configs(ctx: Context) -> str | None:
    config.write_all(ctx)
    config.copy_shipped_files(ctx.paths)
    config.write_base_image(ctx.paths)
    credentials.write_clouds_yaml(ctx.paths)
    return str(ctx.paths.etc)


def up_steps(ctx: Context) -> list[Step]:
    p = ctx.paths

    def start(name: str) -> Callable[[], str | None]:
        return lambda: start_service(name, p)

    def schema(owner: str) -> Callable[[], str | None]:
        return lambda: _schema(ctx, owner)

    steps = [
        Step("debian packages", lambda: _install_debian(p)),
        Step("service venv", lambda: _install_venv(p)),
        Step("configs", lambda: _configs(ctx), after=("service venv",)),
        Step("mariadb data", lambda: _setup_infra(ctx), after=("debian packages", "configs")),
        Step("mariadb", start("mariadb"), after=("mariadb data",)),
        Step("epmd", start("epmd"), after=("debian packages", "configs")),
        Step("rabbitmq", start("rabbitmq"), after=("epmd",)),
        Step("databases", lambda: bootstrap.create_databases(ctx), after=("mariadb",)),
    ]
    for owner in bootstrap.SCHEMA_OWNERS:
        steps.append(Step(f"{owner} schema", schema(owner), after=("databases",)))
    steps += [
        Step("keystone", start("keystone"), after=("keystone schema",)),
        Step("catalogue", lambda: bootstrap.ensure_catalog(ctx), after=("keystone",),
             log=p.log("keystone")),
        # APIs open their queue connections on first use, so they boot alongside RabbitMQ;
        # the RPC workers below need it from their first second.
        Step("placement", start("placement"), after=("placement schema",)),
        Step("glance-api", start("glance-api"), after=("glance schema",)),
        Step("neutron-api", start("neutron-api"), after=("neutron schema",)),
        Step("cinder-api", start("cinder-api"), after=("cinder schema",)),
        Step("nova-api", start("nova-api"), after=("nova schema",)),
        # After the catalogue: their placement client looks placement up once, and a miss
        # disables it for the process's life ("Service 'placement' is disabled"), which put
        # every server of the journey's post-reset demo in ERROR.
        Step("nova-conductor", start("nova-conductor"),
             after=("nova schema", "rabbitmq", "catalogue")),
        Step("nova-scheduler", start("nova-scheduler"),
             after=("nova schema", "rabbitmq", "catalogue")),
        # Started once placement and the catalogue exist: its first resource report runs
        # at start-up, and a failed one is only retried by a 60 s periodic task.
        Step("nova-compute", start("nova-compute"),
             after=("catalogue", "placement", "nova-conductor")),
        Step("cinder-scheduler", start("cinder-scheduler"), after=("cinder schema", "rabbitmq")),
        Step("cinder-volume", start("cinder-volume"), after=("cinder schema", "rabbitmq")),
        Step("compute host", lambda: _compute_ready(ctx),
             after=("nova-compute", "nova-api", "nova-scheduler"), log=p.log("nova-compute")),
        Step("network policy", lambda: bootstrap.warm_network_policy(ctx),
             after=("neutron-api", "catalogue"), log=p.log("neutron-api")),
        Step("volume service", lambda: _volume_ready(ctx),
             after=("cinder-volume", "cinder-api", "cinder-scheduler", "catalogue"),
             log=p.log("cinder-volume")),
        Step("named", start("named"), after=("debian packages", "configs")),
        Step("designate-api", start("designate-api"), after=("designate schema", "catalogue")),
        Step("designate-central", start("designate-central"),
             after=("designate schema", "rabbitmq")),
        Step("designate-worker", start("designate-worker"),
             after=("designate schema", "rabbitmq", "named")),
        Step("designate-producer", start("designate-producer"),
             after=("designate schema", "rabbitmq")),
        Step("designate-mdns", start("designate-mdns"), after=("designate schema", "rabbitmq")),
        Step("dns pool", lambda: bootstrap.update_dns_pool(ctx),
             after=("designate-central", "designate-mdns", "designate-worker", "named"),
             log=p.log("designate-manage")),
        # The watcher survives the APIs being down, but starting it before they answer would
        # only fill its log with retries.
        Step("host watcher", lambda: watcherprocess.ensure(p),
             after=("nova-api", "neutron-api", "catalogue"), log=p.log(watcherprocess.NAME)),
    ]
    return steps


def install_only(paths: Paths, with_heat: bool = False) -> list[str]:
    """What `up` installs, and nothing else; one line per part."""
    paths.ensure()
    lines = [f"debian packages: {_install_debian(paths)}",
             f"service venv: {_install_venv(paths)}"]
    if with_heat:
        lines.append(f"heat venv: {heat.install(paths)}")
    return lines


def context(paths: Paths) -> Context:
    paths.ensure()
    return Context(paths=paths, secrets=config.load_secrets(paths))


def up(paths: Paths, console: Console, with_heat: bool = False) -> UpResult:
    """Bring devcloud up; only one `up` per state folder runs at a time (see uplock).

    with_heat: Heat too (kuntapilvi.devcloud.heat), after everything else is up."""
    paths.ensure()
    with uplock.held(paths):
        result = _up(paths, console)
        if with_heat:
            def say(step: str, note: str, took: float) -> None:
                result.timings[step] = took
                console.print(f"[green]✓[/] {step} [dim]{took:.1f} s[/] [dim]({note})[/]")

            heat.up(context(paths), say)
        return result


def _up(paths: Paths, console: Console) -> UpResult:
    t0 = time.monotonic()
    identity.ensure(paths)
    ready = paths.stamps / READY_STAMP
    ctx = context(paths)
    digest = configs_digest(ctx)
    running_with = paths.stamps / CONFIGS_STAMP
    if ready.is_file() and all(s.ok for s in st.collect(paths, check_workers=False)):
        if running_with.is_file() and running_with.read_text() == digest:
            # The services are up; the watcher may not be (first `up` with this version, a crash).
            note = watcherprocess.ensure(paths)
            return UpResult(True, time.monotonic() - t0, {}, note)
        # A newer devcloud renders other configs (a service plugin, a port): the running
        # services read theirs at start, so they are restarted rather than left on the old ones.
        console.print("devcloud's configuration changed since its services started: "
                      "restarting them (state and data are kept).", highlight=False)
        down(paths)
    ready.unlink(missing_ok=True)
    timings = run_steps(up_steps(ctx), console)
    down_now = [s.name for s in st.collect(paths, check_workers=False) if not s.ok]
    if down_now:
        first = down_now[0]
        raise DevcloudError(f"{', '.join(down_now)} stopped right after start-up.",
                            paths.log(first))
    ready.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    running_with.write_text(digest)
    note = watcherprocess.status(paths).summary()
    return UpResult(False, time.monotonic() - t0, timings, note)


# Stop order: OpenStack first (they would log reconnect storms otherwise), then the queue,
# then epmd and the database.
STOP_WAVES: tuple[tuple[str, ...], ...] = (
    (*heat.SERVICE_NAMES, *(s.name for s in svc.SERVICES if s.kind in ("api", "worker"))),
    ("rabbitmq", "named"),
    ("epmd", "mariadb"),
)


def down(paths: Paths) -> DownResult:
    """Stop what devcloud started: the watcher and its hosts first, then the services."""
    (paths.stamps / READY_STAMP).unlink(missing_ok=True)
    watcher_ran, hosts = watcherprocess.stop(paths)
    stopped: list[str] = [watcherprocess.NAME] if watcher_ran else []
    killed: list[str] = []
    for wave in STOP_WAVES:
        pidfiles = [paths.pidfile(n) for n in wave]
        stopped += [n for n in wave if processes.running_record(paths.pidfile(n))]
        killed += processes.stop_all(pidfiles)
    return DownResult(stopped, killed, hosts)


def reset(paths: Paths) -> DownResult:
    result = down(paths)
    if paths.state.exists():
        # KUNTAPILVI_DEVCLOUD_STATE may point anywhere; only wipe what devcloud made.
        if not paths.marker.is_file():
            raise DevcloudError(
                f"{paths.state} does not look like a devcloud state folder "
                f"(no {paths.marker.name}); not deleting it."
            )
        mounted = _mounts_under(paths.state)
        if mounted:
            # A host root still mounted would have its files deleted through the mount.
            raise DevcloudError(
                f"{mounted[0]} is still mounted; stop its host (`kuntapilvi devcloud hosts "
                "stop-all`) before resetting."
            )
        shutil.rmtree(paths.state)
    return result


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    with open("/proc/self/mountinfo") as fh:
        return [f for line in fh if (f := line.split()[4]).startswith(prefix)]
