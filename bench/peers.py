"""Benchmark: the kajaani tenant built three ways on devcloud, side by side.

  1. kuntapilvi: `pulumi up` with the policy pack, as the README runs it;
  2. OpenTofu with terraform-provider-openstack (scripts/install-peers builds both), from
     `kuntapilvi export --format tofu kajaani`;
  3. OpenStack Heat (devcloud `up --with heat`), from `kuntapilvi export --format heat kajaani`:
     two stacks, the identity one as admin, the rest scoped into the new project.

Each tool, in each of --runs rounds: create from empty, a no-op re-apply, one port added to a
card (office.time gets tcp/4460: two security group rules more), destroy. For every phase: wall
time, peak resident memory of the tool's processes, and the OpenStack API requests the phase
caused (lines added to devcloud's gunicorn access logs, every service, the tool's own calls and
what the services ask of each other alike). The table (medians) goes to docs/performance.md with
--write-docs, and everything to .state/bench/peers.json.

Run it where devcloud runs (its APIs on this namespace's loopback), with Heat, e.g.:

    scripts/install-peers     # outside the namespace: builds tofu and the provider once
    .venv/bin/kuntapilvi devcloud install --with heat
    KUNTAPILVI_DEVCLOUD_HOSTS=off nice -n 8 scripts/isolated peers bash -c \\
      '. scripts/env.sh && .venv/bin/kuntapilvi devcloud up --with heat \\
       && .venv/bin/python bench/peers.py --runs 3 --write-docs'

The floor: kajaani's longest chain of dependent creates, each weighted with the median duration
of its create request in these runs (from the same access logs), servers with their build time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TENANT = "kajaani"
PHASES = ("create", "no-op", "port added", "destroy")
CHANGED_CARD = "catalog/cards/office/time.yaml"
EXTRA_PORT = """  - protocol: tcp
    port: 4460
    source: office
    description: {fi: NTS-avaintenvaihto, en: NTS key exchange}
"""
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"


# ---------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d.name))
    return kids


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(roots: list[int]) -> int:
    kids = _children()
    seen, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += kids.get(pid, [])
    return sum(_rss_kib(p) for p in seen)


class PeakMemory:
    """Samples the summed RSS of process trees every 0.2 s; `roots()` is asked each time."""

    def __init__(self, roots: Callable[[], list[int]]) -> None:
        self.roots = roots
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_kib(self.roots()))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class AccessLogs:
    """Counts the request lines devcloud's APIs append to logs/*.access.log."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs

    def offsets(self) -> dict[str, int]:
        return {p.name: p.stat().st_size for p in self.logs.glob("*.access.log")}

    def since(self, before: dict[str, int]) -> dict[str, list[str]]:
        """{service: its request lines written since `before`}."""
        lines = {}
        for p in self.logs.glob("*.access.log"):
            with p.open("rb") as fh:
                fh.seek(before.get(p.name, 0))
                lines[p.name.removesuffix(".access.log")] = [
                    ln.decode(errors="replace").rstrip("\n") for ln in fh]
        return lines


@dataclass
class Phase:
    tool: str
    phase: str
    run: int
    seconds: float
    peak_mib: float
    requests: dict[str, int]
    ok: bool = True
    note: str = ""
    # The request lines themselves (create phases only): the floor is computed from them.
    lines: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


@dataclass
class Bench:
    logs: AccessLogs
    server_pids: Callable[[], list[int]] = lambda: []
    results: list[Phase] = field(default_factory=list)

    @contextmanager
    def phase(self, tool: str, phase: str, run: int, extra_roots: Callable[[], list[int]]
              ) -> Iterator[dict[str, Any]]:
        info: dict[str, Any] = {"pids": []}
        before = self.logs.offsets()
        start = time.monotonic()
        with PeakMemory(lambda: [*info["pids"], *extra_roots()]) as mem:
            try:
                yield info
                ok, note = True, ""
            except Exception as exc:  # a failed phase is a result too
                ok, note = False, f"{type(exc).__name__}: {str(exc)[-300:]}"
        seconds = time.monotonic() - start
        lines = self.logs.since(before)
        result = Phase(tool, phase, run, seconds, mem.peak / 1024,
                       {k: len(v) for k, v in lines.items()}, ok, note,
                       lines if phase == "create" else {})
        self.results.append(result)
        mark = "ok" if ok else f"FAILED ({note})"
        print(f"  {tool:10} {phase:11} run {run}: {seconds:6.1f} s, {result.peak_mib:5.0f} MiB, "
              f"{result.total_requests:5d} requests  {mark}", flush=True)
        if not ok:
            raise PhaseFailed(note)


class PhaseFailed(Exception):
    pass


def run_tool(cmd: list[str], info: dict[str, Any], env: dict[str, str], cwd: Path,
             log: Path) -> None:
    with log.open("a") as out:
        out.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        info["pids"].append(proc.pid)
        rc = proc.wait()
    if rc != 0:
        tail = log.read_text().splitlines()[-12:]
        raise RuntimeError(f"{cmd[0]} {cmd[1]} exited {rc}: " + " | ".join(tail))


# ---------------------------------------------------------------------------------------------
# the project copy the tools run from
# ---------------------------------------------------------------------------------------------


def make_workdir(base: Path) -> Path:
    work = base / "project"
    work.mkdir(parents=True)
    for name in ("catalog", "stacks", "templates", "schemas"):
        shutil.copytree(REPO / name, work / name)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, work / name)
    # The policy pack finds the venv at ../.venv; both are links to the checkout's.
    (work / "policy").symlink_to(REPO / "policy")
    (work / ".venv").symlink_to(REPO / ".venv")
    return work


def set_extra_port(work: Path, on: bool) -> None:
    card = work / CHANGED_CARD
    original = (REPO / CHANGED_CARD).read_text()
    if not on:
        card.write_text(original)
        return
    marker = "host_checks:"
    assert marker in original, f"{CHANGED_CARD} changed shape; update bench/peers.py"
    card.write_text(original.replace(marker, EXTRA_PORT + marker, 1))


def export(work: Path, fmt: str, dest: Path, env: dict[str, str]) -> None:
    """The tool's input from the work folder's catalogue, with the centre's real ids."""
    subprocess.run([str(REPO / ".venv/bin/kuntapilvi"), "export", "--format", fmt, TENANT,
                    "-o", str(dest), "--centre-outputs", str(work.parent / "centre.json")],
                   cwd=work, env={**env, "KUNTAPILVI_ROOT": str(work)}, check=True,
                   capture_output=True)


def engine_env() -> dict[str, str]:
    out = subprocess.run(["bash", "-c", f'. "{REPO / "scripts/env.sh"}" >/dev/null && env -0'],
                         capture_output=True, check=True)
    return dict(kv.split("=", 1) for kv in out.stdout.decode().split("\0") if "=" in kv)


def devcloud_env() -> dict[str, str]:
    from kuntapilvi.devcloud.credentials import connection_info

    return {k: str(v) for k, v in connection_info()["environ"].items()}


# ---------------------------------------------------------------------------------------------
# the three tools
# ---------------------------------------------------------------------------------------------


class Pulumi:
    name = "kuntapilvi"

    def __init__(self, work: Path, env: dict[str, str], log: Path) -> None:
        from kuntapilvi.devcloud.paths import Paths

        self.work, self.log = work, log
        # Kept with devcloud's state, not the work folder: the centre stack stays up between
        # bench runs (its flavors are unique by name; a fresh backend would try them again).
        state = Paths.default().state / "bench-peers-pulumi"
        state.mkdir(exist_ok=True)
        self.env = {**env, "KUNTAPILVI_ROOT": str(work), "PULUMI_BACKEND_URL": f"file://{state}"}

    def _pulumi(self, info: dict[str, Any], *args: str) -> None:
        run_tool(["pulumi", *args, "--non-interactive"], info, self.env, self.work, self.log)

    def prepare(self) -> None:
        info: dict[str, Any] = {"pids": []}
        for stack in ("centre", TENANT):
            subprocess.run(["pulumi", "stack", "init", stack, "--non-interactive"],
                           env=self.env, cwd=self.work, capture_output=True)
        self._pulumi(info, "up", "--stack", "centre", "--yes", "--skip-preview",
                     "--policy-pack", "policy")
        outputs = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", "centre"],
                                 env=self.env, cwd=self.work, capture_output=True, check=True,
                                 text=True).stdout
        (self.work.parent / "centre.json").write_text(outputs)

    def apply(self, info: dict[str, Any]) -> None:
        self._pulumi(info, "up", "--stack", TENANT, "--yes", "--skip-preview",
                     "--policy-pack", "policy")

    def destroy(self, info: dict[str, Any]) -> None:
        self._pulumi(info, "destroy", "--stack", TENANT, "--yes", "--skip-preview")

    def after_destroy(self) -> None:
        delete_retained_volumes()


class Tofu:
    name = "opentofu"

    def __init__(self, work: Path, env: dict[str, str], log: Path) -> None:
        paths = json.loads(subprocess.run([sys.executable, str(REPO / "scripts/install-peers"),
                                           "--print"], capture_output=True, check=True,
                                          text=True).stdout)
        if not Path(paths["tofu"]).exists() or not Path(paths["provider"]).exists():
            raise SystemExit("tofu or its provider is not built: run scripts/install-peers "
                             "(outside scripts/isolated: it downloads Go modules)")
        self.tofu = paths["tofu"]
        self.dir = work.parent / "tofu"
        self.dir.mkdir()
        self.work, self.log = work, log
        rc = work.parent / "tofurc"
        rc.write_text(
            "provider_installation {\n"
            f"  filesystem_mirror {{\n    path    = \"{paths['mirror']}\"\n"
            f"    include = [\"registry.opentofu.org/{paths['provider_source']}\"]\n  }}\n"
            "  direct {\n    exclude = [\"registry.opentofu.org/*/*\"]\n  }\n}\n")
        # Credentials as OS_* variables without OS_CLOUD: with OS_CLOUD the provider takes the
        # clouds.yaml entry's project over the scoped alias's tenant_name.
        self.env = {k: v for k, v in env.items() if k not in ("OS_CLOUD",
                                                              "OS_CLIENT_CONFIG_FILE")}
        self.env.update(TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1",
                        CHECKPOINT_DISABLE="1")

    def _tofu(self, info: dict[str, Any], *args: str) -> None:
        run_tool([self.tofu, *args], info, self.env, self.dir, self.log)

    def prepare(self) -> None:
        export(self.work, "tofu", self.dir, self.env)
        self._tofu({"pids": []}, "init", "-input=false", "-no-color")

    def apply(self, info: dict[str, Any]) -> None:
        export(self.work, "tofu", self.dir, self.env)
        self._tofu(info, "apply", "-auto-approve", "-input=false", "-no-color")

    def destroy(self, info: dict[str, Any]) -> None:
        self._tofu(info, "destroy", "-auto-approve", "-input=false", "-no-color")

    def after_destroy(self) -> None:
        pass


class Heat:
    """Stacks through openstacksdk in this process (its memory is counted with heat-api and
    heat-engine, which do the work)."""

    name = "heat"

    def __init__(self, work: Path, env: dict[str, str], log: Path) -> None:
        self.work, self.env, self.log = work, env, log
        self.dir = work.parent / "heat"
        self.dir.mkdir()

    def _conn(self, project: str) -> Any:
        import openstack

        return openstack.connect(
            auth_url=self.env["OS_AUTH_URL"], username=self.env["OS_USERNAME"],
            password=self.env["OS_PASSWORD"], project_name=project,
            user_domain_name="Default", project_domain_name="Default",
            region_name="fi-kaj-1", load_yaml_config=False, load_envvars=False,
            app_name="kuntapilvi-bench-heat")

    def prepare(self) -> None:
        pass

    def _templates(self) -> dict[str, Any]:
        import yaml

        export(self.work, "heat", self.dir, self.env)
        return {n: yaml.safe_load((self.dir / f"{n}.yaml").read_text())
                for n in (f"{TENANT}-identity", TENANT)}

    def _wait(self, conn: Any, name: str, want: str, gone_ok: bool = False) -> None:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            stack = conn.orchestration.find_stack(name)
            if stack is None:
                if gone_ok:
                    return
                raise RuntimeError(f"stack {name} vanished")
            status = stack.status
            if status == want:
                return
            if status.endswith("FAILED"):
                raise RuntimeError(f"stack {name}: {status}: {stack.status_reason}")
            time.sleep(1.0)
        raise RuntimeError(f"stack {name} not {want} after 900 s")

    def _put(self, conn: Any, name: str, template: Any) -> None:
        existing = conn.orchestration.find_stack(name)
        if existing is None:
            conn.orchestration.create_stack(name=name, template=template, timeout_mins=15)
            self._wait(conn, name, "CREATE_COMPLETE")
        else:
            conn.orchestration.update_stack(existing, template=template, timeout_mins=15)
            time.sleep(0.5)
            self._wait(conn, name, "UPDATE_COMPLETE")

    def apply(self, info: dict[str, Any]) -> None:
        templates = self._templates()
        self._put(self._conn("admin"), f"{TENANT}-identity", templates[f"{TENANT}-identity"])
        self._put(self._conn(TENANT), TENANT, templates[TENANT])

    def destroy(self, info: dict[str, Any]) -> None:
        scoped = self._conn(TENANT)
        try:
            stack = scoped.orchestration.find_stack(TENANT)
        except Exception:  # keystoneauth's Unauthorized when the project is gone
            stack = None  # no project (the identity stack failed): nothing was made inside it
        if stack is not None:
            scoped.orchestration.delete_stack(stack)
            self._wait(scoped, TENANT, "DELETE_COMPLETE", gone_ok=True)
        admin = self._conn("admin")
        stack = admin.orchestration.find_stack(f"{TENANT}-identity")
        if stack is not None:
            admin.orchestration.delete_stack(stack)
            self._wait(admin, f"{TENANT}-identity", "DELETE_COMPLETE", gone_ok=True)

    def after_destroy(self) -> None:
        pass


def delete_retained_volumes() -> None:
    """The program keeps tenant data volumes when their service leaves (retain_on_delete):
    a destroyed kajaani leaves two, deleted here between rounds (not timed)."""
    from kuntapilvi.devcloud.bootstrap import admin_connection
    from kuntapilvi.devcloud.config import Context, load_secrets
    from kuntapilvi.devcloud.paths import Paths

    paths = Paths.default()
    conn = admin_connection(Context(paths=paths, secrets=load_secrets(paths)))
    for v in conn.block_storage.volumes(all_projects=True):
        if v.name and v.name.startswith(f"{TENANT}-"):
            conn.block_storage.delete_volume(v, ignore_missing=True)


def heat_pids() -> list[int]:
    from kuntapilvi.devcloud import processes
    from kuntapilvi.devcloud.paths import Paths

    paths = Paths.default()
    pids = []
    for name in ("heat-api", "heat-engine"):
        rec = processes.running_record(paths.pidfile(name))
        if rec:
            pids.append(rec.pid)
    return pids


# ---------------------------------------------------------------------------------------------
# the floor: the cloud's own critical path for the tenant
# ---------------------------------------------------------------------------------------------

# The request that creates each kind of resource: (service log, "METHOD path" pattern).
CREATE_CALLS: dict[str, tuple[str, str]] = {
    "identity/project:Project": ("keystone", r"POST /v3/projects$"),
    "identity/groupV3:GroupV3": ("keystone", r"POST /v3/groups$"),
    "identity/roleAssignment:RoleAssignment":
        ("keystone", r"PUT /v3/projects/[^/]+/(users|groups)/[^/]+/roles/[^/]+$"),
    "identity/user:User": ("keystone", r"POST /v3/users$"),
    "identity/userMembershipV3:UserMembershipV3": ("keystone", r"PUT /v3/groups/[^/]+/users/"),
    "compute/quotaSetV2:QuotaSetV2": ("nova-api", r"PUT /v2.1/os-quota-sets/"),
    "blockstorage/quoteSetV3:QuoteSetV3": ("cinder-api", r"PUT /v3/[^/]+/os-quota-sets/"),
    "networking/quotaV2:QuotaV2": ("neutron-api", r"PUT /v2.0/quotas/"),
    "networking/network:Network": ("neutron-api", r"POST /v2.0/networks$"),
    "networking/subnet:Subnet": ("neutron-api", r"POST /v2.0/subnets$"),
    "networking/router:Router": ("neutron-api", r"POST /v2.0/routers$"),
    "networking/routerInterface:RouterInterface":
        ("neutron-api", r"PUT /v2.0/routers/[^/]+/add_router_interface$"),
    "networking/routerRoute:RouterRoute":
        ("neutron-api", r"PUT /v2.0/routers/[^/]+(/add_extraroutes)?$"),
    "networking/secGroup:SecGroup": ("neutron-api", r"POST /v2.0/security-groups$"),
    "networking/secGroupRule:SecGroupRule": ("neutron-api", r"POST /v2.0/security-group-rules$"),
    "networking/port:Port": ("neutron-api", r"POST /v2.0/ports$"),
    "networking/qosPolicy:QosPolicy": ("neutron-api", r"POST /v2.0/qos/policies$"),
    "networking/qosBandwidthLimitRule:QosBandwidthLimitRule":
        ("neutron-api", r"POST /v2.0/qos/policies/[^/]+/bandwidth_limit_rules$"),
    "networking/rbacPolicyV2:RbacPolicyV2": ("neutron-api", r"POST /v2.0/rbac-policies$"),
    "compute/keypair:Keypair": ("nova-api", r"POST /v2.1/os-keypairs$"),
    "compute/instance:Instance": ("nova-api", r"POST /v2.1/servers$"),
    "compute/volumeAttach:VolumeAttach":
        ("nova-api", r"POST /v2.1/servers/[^/]+/os-volume_attachments$"),
    "blockstorage/volume:Volume": ("cinder-api", r"POST /v3/[^/]+/volumes$"),
}
LINE = re.compile(r'"(\S+) (\S+) HTTP/[^"]*" (\d+) "[^"]*" (\d+)$')


def call_durations(results: list[Phase]) -> dict[str, list[float]]:
    """{resource kind: durations in s of its create request, from every create phase}."""
    out: dict[str, list[float]] = {k: [] for k in CREATE_CALLS}
    out["token"] = []
    compiled = {k: (svc, re.compile(pat)) for k, (svc, pat) in CREATE_CALLS.items()}
    for r in results:
        for svc, lines in r.lines.items():
            for line in lines:
                m = LINE.search(line)
                if not m or not m.group(3).startswith("2"):
                    continue
                call = f"{m.group(1)} {m.group(2).split('?')[0]}"
                secs = int(m.group(4)) / 1e6
                if svc == "keystone" and call == "POST /v3/auth/tokens":
                    out["token"].append(secs)
                for kind, (want, pat) in compiled.items():
                    if svc == want and pat.search(call):
                        out[kind].append(secs)
    return out


def floor(results: list[Phase], boot_seconds: list[float]) -> tuple[float, list[str]]:
    """The longest chain of dependent creates in kajaani's resource graph, each step weighted
    with the median duration its create request took in the runs (the services' access logs),
    servers also with their median build time (created_at to launched_at), plus one token.
    Returns (seconds, the chain)."""
    from kuntapilvi.dryrun import dry_run
    from kuntapilvi.peerexport import Ref, Template, collect
    from kuntapilvi.project import ProjectPaths
    from kuntapilvi.validate import validate

    paths = ProjectPaths(REPO)
    export = collect(validate(paths, [TENANT]).model, TENANT, dry_run(paths, TENANT).resources)
    durations = call_durations(results)
    weight: dict[str, float] = {}
    deps: dict[str, set[str]] = {}

    def refs(v: Any) -> set[str]:
        if isinstance(v, Ref):
            return {v.target}
        if isinstance(v, Template):
            return {p.target for p in v.parts if isinstance(p, Ref)}
        if isinstance(v, list):
            return set().union(*(refs(x) for x in v)) if v else set()
        if isinstance(v, dict):
            return set().union(*(refs(x) for x in v.values())) if v else set()
        return set()

    for r in export.resources:
        ds = durations.get(r.token) or []
        w = statistics.median(ds) if ds else 0.0
        if r.token == "compute/instance:Instance" and boot_seconds:
            w += statistics.median(boot_seconds)
        weight[r.name] = w
        deps[r.name] = refs(r.inputs) | set(r.depends_on)
    finish: dict[str, tuple[float, list[str]]] = {}

    def done(name: str) -> tuple[float, list[str]]:
        if name not in finish:
            best: tuple[float, list[str]] = (0.0, [])
            for d in deps[name]:
                best = max(best, done(d), key=lambda b: b[0])
            finish[name] = (best[0] + weight[name], [*best[1], name])
        return finish[name]

    seconds, chain = max((done(n) for n in weight), key=lambda b: b[0])
    token = statistics.median(durations["token"]) if durations["token"] else 0.0
    return seconds + token, chain


def server_boot_seconds() -> list[float]:
    """Created-to-launched time of the tenant's servers (nova's own timestamps)."""
    import datetime as dt

    from kuntapilvi.devcloud.bootstrap import admin_connection
    from kuntapilvi.devcloud.config import Context, load_secrets
    from kuntapilvi.devcloud.paths import Paths

    paths = Paths.default()
    conn = admin_connection(Context(paths=paths, secrets=load_secrets(paths)))
    out = []
    for s in conn.compute.servers(all_projects=True, name=f"^{TENANT}-"):
        if s.launched_at and s.created_at:
            launched = dt.datetime.fromisoformat(s.launched_at.replace("Z", "+00:00"))
            created = dt.datetime.fromisoformat(s.created_at.replace("Z", "+00:00"))
            if launched.tzinfo is None:
                launched = launched.replace(tzinfo=dt.UTC)
            out.append((launched - created).total_seconds())
    return out


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


BOOTS: list[float] = []


def one_round(bench: Bench, tool: Any, run: int) -> None:
    roots: Callable[[], list[int]] = (
        (lambda: [os.getpid(), *heat_pids()]) if tool.name == "heat" else (lambda: []))
    set_extra_port(tool.work, False)
    try:
        with bench.phase(tool.name, "create", run, roots) as info:
            tool.apply(info)
        BOOTS.extend(server_boot_seconds())
        with bench.phase(tool.name, "no-op", run, roots) as info:
            tool.apply(info)
        set_extra_port(tool.work, True)
        with bench.phase(tool.name, "port added", run, roots) as info:
            tool.apply(info)
    finally:
        set_extra_port(tool.work, False)
        try:
            with bench.phase(tool.name, "destroy", run, roots) as info:
                tool.destroy(info)
        finally:
            tool.after_destroy()


def table(results: list[Phase], runs: int, floor_s: float | None = None) -> str:
    tools = list(dict.fromkeys(r.tool for r in results))
    lines = [
        f"| tool | phase | wall time, median of {runs} | × floor | peak memory | API requests |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for tool in tools:
        for phase in PHASES:
            rs = [r for r in results if r.tool == tool and r.phase == phase]
            ok = [r for r in rs if r.ok]
            if not ok:
                lines.append(f"| {tool} | {phase} | failed | | | |")
                continue
            t = statistics.median(r.seconds for r in ok)
            m = statistics.median(r.peak_mib for r in ok)
            q = statistics.median(r.total_requests for r in ok)
            runs_note = "" if len(ok) == len(rs) else f" ({len(rs) - len(ok)} failed)"
            ratio = f"{t / floor_s:.1f}" if floor_s and phase == "create" else ""
            lines.append(f"| {tool} | {phase} | {t:.1f} s{runs_note} | {ratio} | {m:.0f} MiB "
                         f"| {q:.0f} |")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOC.read_text()
    if BEGIN not in doc:
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} section to fill")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tools", default="kuntapilvi,heat,opentofu")
    ap.add_argument("--write-docs", action="store_true", help="put the table in "
                    "docs/performance.md between its peers markers")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--with-earlier", action="store_true",
                    help="table also the other tools' results of the previous run "
                         "(.state/bench/peers.json), e.g. after rerunning one tool")
    args = ap.parse_args()
    from kuntapilvi.devcloud.paths import Paths

    paths = Paths.default()
    env = {**os.environ, **engine_env(), **devcloud_env()}
    base = Path(tempfile.mkdtemp(prefix="peers-", dir=REPO / ".state"))
    work = make_workdir(base)
    log = base / "tools.log"
    print(f"bench/peers.py: work folder {base}, tool output in {log}", flush=True)
    bench = Bench(AccessLogs(paths.logs))
    classes = {"kuntapilvi": Pulumi, "opentofu": Tofu, "heat": Heat}
    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
    t0 = time.monotonic()
    # The centre stack (external networks, WAN, flavors, images) is every tool's given.
    centre = Pulumi(work, env, log)
    centre.prepare()
    print(f"  centre stack up ({time.monotonic() - t0:.0f} s)", flush=True)
    tools = []
    for name in wanted:
        tool = centre if name == "kuntapilvi" else classes[name](work, env, log)
        tool.prepare()
        tools.append(tool)
    # Rounds interleave the tools, so a change in the machine's load (it is shared) spreads
    # over all of them instead of landing on whichever tool ran at the time.
    for run in range(1, args.runs + 1):
        for tool in tools:
            try:
                one_round(bench, tool, run)
            except PhaseFailed:
                print(f"  {tool.name}: round {run} failed; see {log}", flush=True)
    out = REPO / ".state" / "bench" / "peers.json"
    if args.with_earlier and out.exists():
        earlier = json.loads(out.read_text())
        kept = [Phase(**r) for r in earlier["results"] if r["tool"] not in wanted]
        bench.results = kept + bench.results
        BOOTS.extend(earlier.get("server_boot_seconds", []))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": [r.__dict__ for r in bench.results],
                               "server_boot_seconds": BOOTS}, indent=2))
    try:
        floor_s, chain = floor([r for r in bench.results if r.ok], BOOTS)
    except Exception as exc:  # the measurements are kept; the floor can be redone from them
        print(f"bench/peers.py: the floor failed: {exc!r}", file=sys.stderr)
        floor_s, chain = 0.0, []
    text = table(bench.results, args.runs, floor_s)
    stamp = time.strftime("%Y-%m-%d")
    load = os.getloadavg()[0]
    text = (f"Measured {stamp} by `bench/peers.py --runs {args.runs}` on devcloud "
            f"({os.cpu_count()} cores, load average {load:.0f} at the end), "
            f"{time.monotonic() - t0:.0f} s in all:\n\n{text}\n\n"
            f"Floor for create: {floor_s:.1f} s, the chain "
            f"{' → '.join(chain)} (one token, then each create request's median duration "
            f"from the access logs; servers with their median build time, "
            f"{statistics.median(BOOTS) if BOOTS else 0:.1f} s).")
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": [r.__dict__ for r in bench.results],
                               "server_boot_seconds": BOOTS, "floor_seconds": floor_s,
                               "floor_chain": chain}, indent=2))
    if args.write_docs:
        write_docs(text)
    if not args.keep:
        shutil.rmtree(base / "project", ignore_errors=True)
    return 0 if all(r.ok for r in bench.results) else 1


if __name__ == "__main__":
    sys.exit(main())
