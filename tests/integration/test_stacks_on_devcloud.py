"""The shipped stacks through the real engine and provider on devcloud, checked independently
through the OpenStack API (openstacksdk), not through Pulumi's outputs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kuntapilvi.devcloud import watcherprocess
from kuntapilvi.devcloud.paths import Paths
from kuntapilvi.hosts import HostManager, network
from kuntapilvi.hosts import volumes as vols
from kuntapilvi.model import Model, Tenant
from kuntapilvi.project import ProjectPaths
from kuntapilvi.schema.card import Port
from kuntapilvi.validate import validate

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


class Stacks:
    """A private copy of the project (conftest.copy_project) and pulumi commands on it."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        # monotonic time each stack's first `pulumi up` started, and how long it took
        self.up_started: dict[str, float] = {}
        self.up_seconds: dict[str, float] = {}
        self.kajaani_bridges: set[str] = set()
        self.kajaani_volumes: set[str] = set()

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"pulumi {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def up(self, stack: str) -> None:
        if self.pulumi("stack", "select", stack, check=False).returncode != 0:
            self.pulumi("stack", "init", stack)
        started = time.monotonic()
        self.up_started.setdefault(stack, started)
        self.pulumi("up", "--stack", stack, "--yes", "--skip-preview")
        self.up_seconds.setdefault(stack, time.monotonic() - started)

    def edit(self, stack: str, old: str, new: str) -> None:
        path = self.root / "stacks" / f"Pulumi.{stack}.yaml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))


TENANTS = ("espoo", "turku", "lahti", "kainuunliitto", "kajaani")
REPORT = REPO / "reports" / "devcloud-measurements.json"
HOSTS_READY_TIMEOUT = 900


@pytest.fixture(scope="module")
def stacks(
    devcloud: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    private_project: Callable[[Path, str], dict[str, str]],
) -> Iterator[Stacks]:
    root = tmp_path_factory.mktemp("project")
    env = private_project(root, "devcloud-tests")
    s = Stacks(root, env)
    timings: dict[str, dict[str, float]] = {}
    try:
        # The centre first (external networks, WAN, flavors, images), then every tenant.
        for stack in ("centre", *TENANTS):
            s.up(stack)
            started = time.monotonic()
            s.pulumi("up", "--stack", stack, "--yes", "--skip-preview", "--expect-no-changes")
            timings[stack] = {
                "up_s": round(s.up_seconds[stack], 1),
                "noop_up_s": round(time.monotonic() - started, 1),
            }
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({"pulumi_up": timings}, indent=2) + "\n")
        yield s
    finally:
        # Also after a failed setup: a fixture that raises never reaches code after `yield`,
        # and what it half-created would collide with the next run's cloud-wide flavors.
        for stack in (*reversed(TENANTS), "centre"):
            s.pulumi("destroy", "--stack", stack, "--yes", check=False)
        for stack in TENANTS:
            subprocess.run(
                [str(REPO / ".venv/bin/kuntapilvi"), "data", "purge", stack, "--all", "--yes"],
                env=s.env,
                capture_output=True,
                timeout=300,
            )


@pytest.fixture(scope="module")
def model(stacks: Stacks) -> Model:
    return validate(ProjectPaths(stacks.root), list(TENANTS)).model


def expected_sources(port: Port, tenant: Tenant, model: Model) -> set[str]:
    """Written out from the card's `source`, not taken from the program's own helper."""
    wan = [p for s in tenant.by_card("network.wan-link") for p in s.params["wan_prefixes"]]
    return {
        "tenant": {str(tenant.block)},
        "management": {str(model.centre.management_cidr)},
        "wan": set(wan),
        "office": {str(tenant.block), str(model.centre.management_cidr), *wan},
        "world": {"0.0.0.0/0"},
    }[port.source]


def expected_volumes(tenant: Tenant) -> set[tuple[str, int, str]]:
    out = set()
    for service in tenant.active(dt.date.today()):
        if service.card.module == "capacity.volume":
            attached = service.params.get("attach_to") is not None
            status = "in-use" if attached else "available"
            out.add((f"{tenant.stack}-{service.name}-data", service.params["size_gb"], status))
        data_gb = getattr(service.size, "data_gb", None) if service.size else None
        if data_gb:
            out.add((f"{tenant.stack}-{service.name}-data", data_gb, "in-use"))
    return out


def _kajaani_records(manager: HostManager) -> dict[str, Any]:
    return {r.name: r for r in manager.store.hosts() if r.tenant == "kajaani"}


def test_watcher_hosts_pass_every_card_check(stacks: Stacks, tmp_path: Path) -> None:
    """`pulumi up` of kajaani → devcloud's watcher boots a real host for every server from the
    server's own user data → `kuntapilvi check kajaani` (the real CLI) passes every card's check.
    Runs first, so the time from `pulumi up` to all checks green is not padded by other tests."""
    paths = Paths.default()
    watcher = watcherprocess.status(paths)
    if watcher.off_reason is not None:
        pytest.skip(watcher.off_reason)
    assert watcher.running, watcher.summary()
    servers = json.loads(
        stacks.pulumi("stack", "output", "servers", "--json", "--stack", "kajaani").stdout
    )
    assert len(servers) == 6, servers  # five office cards and user.mailbox
    manager = HostManager(paths.hosts)
    deadline = time.monotonic() + HOSTS_READY_TIMEOUT
    while True:
        records = _kajaani_records(manager)
        if all(n in records and records[n].cloud_init_status in ("done", "error") for n in servers):
            break
        if time.monotonic() > deadline:
            log = paths.log(watcherprocess.NAME).read_text()[-3000:]
            pytest.fail(f"hosts not ready after {HOSTS_READY_TIMEOUT} s: {sorted(records)}\n{log}")
        time.sleep(2)
    stacks.kajaani_bridges = {r.bridge for r in records.values()}
    for name, entry in servers.items():
        rec = records[name]
        assert rec.address.split("/")[0] == entry["address"], name
        assert rec.cloud_init_status == "done", f"{name}: see {paths.hosts}/logs"
    # The file share's data volume, attached by Nova after the server was ACTIVE, is a disk in
    # its host under the device name Nova reported; the card's mount check sizes it below.
    [share_volume] = records["kajaani-file-share"].volumes.items()
    assert share_volume[1]["size_gb"] == 200 and share_volume[1]["device"].startswith("/dev/")
    stacks.kajaani_volumes = {v for r in records.values() for v in r.volumes}
    junit = tmp_path / "junit.xml"
    done = subprocess.run(
        [str(REPO / ".venv/bin/kuntapilvi"), "check", "kajaani", "--junit", str(junit)],
        cwd=stacks.root, env={**stacks.env, "NO_COLOR": "1"}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    green_s = time.monotonic() - stacks.up_started["kajaani"]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    root = ET.parse(junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")
    assert int(suite.get("tests", "0")) >= 5 * 10, done.stdout
    for name in servers:
        assert f"{name} (" in done.stdout
    infos = {h.name: h for h in manager.list_hosts() if h.tenant == "kajaani"}
    _write_measurements({
        "kajaani_on_devcloud": {
            "pulumi_up_start_to_all_checks_green_s": round(green_s, 1),
            "pulumi_up_s": round(stacks.up_seconds["kajaani"], 1),
            "checks": int(suite.get("tests", "0")),
            "check_run_s": float(suite.get("time", "0")),
            "watcher_pss_mib": round(watcherprocess.status(paths).memory_mib, 1),
            # every tenant is up, so the watcher runs hosts for all their servers meanwhile
            "hosts_of_all_tenants": len([r for r in manager.store.hosts() if r.server_id]),
            "hosts": {
                name: {"ssh_ready_s": i.ssh_ready_s, "cloud_init_done_s": i.cloud_init_done_s,
                       "pss_mib": i.pss_mib}
                for name, i in sorted(infos.items())
            },
        }
    })  # fmt: skip


def _write_measurements(data: dict[str, Any]) -> None:
    """Figures the issue asks for, merged into reports/devcloud-measurements.json."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(REPORT.read_text()) if REPORT.is_file() else {}
    REPORT.write_text(json.dumps({**old, **data}, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("stack", TENANTS)
def test_cloud_holds_what_the_cards_say(
    stacks: Stacks, admin_conn: Any, model: Model, stack: str
) -> None:
    conn = admin_conn
    tenant = model.tenants[stack]
    active = tenant.active(dt.date.today())
    project = conn.identity.find_project(stack)
    assert f"kuntapilvi-tenant={stack}" in project.tags
    tier = tenant.by_module("project.quota")[0].size.quota
    quota = conn.compute.get_quota_set(project.id)
    assert (quota.cores, quota.instances, quota.ram) == (
        tier.cores,
        tier.instances,
        tier.ram_gb * 1024,
    )
    net_quota = conn.network.get_quota(project.id)
    assert (net_quota.routers, net_quota.floating_ips) == (tier.routers, tier.floating_ips)
    [subnet] = list(conn.network.subnets(project_id=project.id))
    assert ipaddress.ip_network(subnet.cidr).subnet_of(tenant.block)
    assert subnet.gateway_ip == str(next(ipaddress.ip_network(subnet.cidr).hosts()))
    [router] = list(conn.network.routers(project_id=project.id))
    external = conn.network.find_network(tenant.region.external_network.name)
    assert router.external_gateway_info["network_id"] == external.id
    servers = {s.name: s for s in conn.compute.servers(all_projects=True, project_id=project.id)}
    with_server = [s for s in active if s.card.server is not None]
    assert set(servers) == {f"{stack}-{s.name}" for s in with_server}
    for service in with_server:
        server = servers[f"{stack}-{service.name}"]
        size = service.size
        assert server.status == "ACTIVE"
        assert server.flavor["original_name"] == f"kp-{size.vcpu}c-{size.ram_gb}g-{size.disk_gb}g"
        assert server.metadata["kuntapilvi-card"] == service.card.id
    # Security groups: the baseline firewall's, and one per office server, each holding
    # exactly the rules its card's ports ask for.
    for service in active:
        if not service.card.ports:
            continue
        name = "baseline" if service.card.module == "network.firewall" else service.name
        group = conn.network.find_security_group(f"{stack}-{name}", project_id=project.id)
        assert group is not None, f"{stack}-{name}"
        rules = {
            (r.protocol, r.port_range_min, r.remote_ip_prefix)
            for r in conn.network.security_group_rules(security_group_id=group.id)
            if r.direction == "ingress"
        }
        assert rules == {
            (p.protocol, p.port, prefix)
            for p in service.card.ports
            for prefix in expected_sources(p, tenant, model)
        }, f"{stack}-{name}"
    volumes = {
        (v.name, v.size, v.status)
        for v in conn.block_storage.volumes(all_projects=True, details=True, project_id=project.id)
    }
    assert volumes == expected_volumes(tenant)


@pytest.mark.parametrize("stack", [t for t in TENANTS if t in ("espoo", "turku")])
def test_dns_zone_is_served_by_the_centres_name_server(
    stacks: Stacks, admin_conn: Any, model: Model, stack: str
) -> None:
    """Designate made the zone, and devcloud's named answers for it with Designate's serial."""
    import dns.message
    import dns.query
    import dns.rdatatype

    from kuntapilvi.devcloud.services import PORTS

    tenant = model.tenants[stack]
    [service] = tenant.by_card("network.dns-zone")
    project = admin_conn.identity.find_project(stack)
    # Designate's list does not filter by project; the zone must be in the tenant's own.
    zones = [z for z in admin_conn.dns.zones(all_projects=True) if z.project_id == project.id]
    assert [(z.name, z.status, z.email) for z in zones] == [
        (f"{tenant.domain}.", "ACTIVE", service.params["hostmaster"])
    ]
    query = dns.message.make_query(f"{tenant.domain}.", dns.rdatatype.SOA)
    answer = dns.query.udp(query, "127.0.0.1", port=PORTS["named"], timeout=5)
    [soa] = [rr for rrset in answer.answer for rr in rrset]
    assert soa.serial == zones[0].serial


@pytest.mark.parametrize("stack", ["centre", *TENANTS])
def test_second_up_changes_nothing(stacks: Stacks, stack: str) -> None:
    """The fixture already ran a second `up --expect-no-changes`; a preview must agree."""
    result = stacks.pulumi("preview", "--stack", stack, "--expect-no-changes", check=False)
    assert result.returncode == 0, result.stdout[-2000:]


def test_refresh_finds_a_change_made_behind_pulumis_back(stacks: Stacks, admin_conn: Any) -> None:
    project = admin_conn.identity.find_project("kajaani")
    admin_conn.compute.update_quota_set(project.id, cores=7)
    drift = stacks.pulumi(
        "preview", "--stack", "kajaani", "--refresh", "--expect-no-changes", "--diff", check=False
    )
    assert drift.returncode != 0
    assert "cores" in drift.stdout
    stacks.pulumi("up", "--stack", "kajaani", "--refresh", "--yes", "--skip-preview")
    assert admin_conn.compute.get_quota_set(project.id).cores == 64


def test_removing_a_service_keeps_its_data_until_purged(stacks: Stacks, admin_conn: Any) -> None:
    removed = (
        "      - card: capacity.block-storage\n        name: kirjastodata\n"
        "        params: {size_gb: 200, attach_to: kirjasto}\n"
    )
    stacks.edit("lahti", removed, "")
    stacks.pulumi("up", "--stack", "lahti", "--yes", "--skip-preview")
    [volume] = [
        v
        for v in admin_conn.block_storage.volumes(all_projects=True, details=True)
        if v.name == "lahti-kirjastodata-data"
    ]
    assert volume.status == "available", "detached but kept: it holds the tenant's data"
    purge = subprocess.run(
        [str(REPO / ".venv/bin/kuntapilvi"), "data", "purge", "lahti", "--yes"],
        env=stacks.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert purge.returncode == 0, purge.stderr
    remaining = [
        v
        for v in admin_conn.block_storage.volumes(all_projects=True, details=True)
        if v.name == "lahti-kirjastodata-data" and v.status != "deleting"
    ]
    assert remaining == []


def test_a_changed_template_replaces_a_server_on_its_own_port(
    stacks: Stacks, admin_conn: Any
) -> None:
    """A catalogue editor's template change reaches a tenant as a new server on the same port
    (its address is the service's): the old server must go before the new one takes the port,
    or Nova refuses it (409 "port still in use")."""
    before = admin_conn.compute.find_server(
        "kajaani-print", ignore_missing=False, all_projects=True
    )
    [port] = list(admin_conn.network.ports(device_id=before.id))
    template = stacks.root / "templates" / "cloud-init" / "print.yaml.j2"
    text = template.read_text()
    assert "LogLevel warn" in text
    # Inside the rendered config (text outside a child template's blocks renders nothing).
    template.write_text(text.replace("LogLevel warn", "LogLevel info"))
    up = stacks.pulumi("up", "--stack", "kajaani", "--yes", "--skip-preview", check=False)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]
    after = admin_conn.compute.find_server("kajaani-print", ignore_missing=False, all_projects=True)
    assert after.id != before.id, "the user data changed: the server is a new one"
    assert [p.id for p in admin_conn.network.ports(device_id=after.id)] == [port.id]
    stacks.pulumi("preview", "--stack", "kajaani", "--expect-no-changes")


def test_destroy_leaves_nothing_of_the_tenant(stacks: Stacks, admin_conn: Any) -> None:
    stacks.pulumi("destroy", "--stack", "kajaani", "--yes")
    purge = subprocess.run(
        [str(REPO / ".venv/bin/kuntapilvi"), "data", "purge", "kajaani", "--all", "--yes"],
        env=stacks.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert purge.returncode == 0, purge.stderr
    assert admin_conn.identity.find_project("kajaani") is None
    tagged = list(admin_conn.network.networks(tags="kuntapilvi-tenant=kajaani"))
    assert tagged == []
    servers = [
        s for s in admin_conn.compute.servers(all_projects=True) if s.name.startswith("kajaani-")
    ]
    assert servers == []
    left = [
        v
        for v in admin_conn.block_storage.volumes(all_projects=True, details=True)
        if (v.metadata or {}).get("kuntapilvi-tenant") == "kajaani" and v.status != "deleting"
    ]
    assert left == []


def test_deleted_servers_lose_their_hosts(stacks: Stacks) -> None:
    """After the destroy above, the watcher removes kajaani's hosts and their bridge."""
    paths = Paths.default()
    if not watcherprocess.status(paths).running:
        pytest.skip("no host watcher runs on this devcloud")
    manager = HostManager(paths.hosts)
    bridges = stacks.kajaani_bridges
    deadline = time.monotonic() + 120
    while _kajaani_records(manager) and time.monotonic() < deadline:
        time.sleep(1)
    assert _kajaani_records(manager) == {}
    assert not any(network.link_exists(b) for b in bridges), bridges
    # The volumes were purged from Cinder, so their bytes go too.
    files = [vols.backing_file(paths.hosts, v) for v in stacks.kajaani_volumes]
    while any(f.exists() for f in files) and time.monotonic() < deadline + 30:
        time.sleep(1)
    assert files and not any(f.exists() for f in files), files
