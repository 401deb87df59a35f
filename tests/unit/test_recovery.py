"""Recovery after an interrupted `pulumi up`: locks, pending operations, matching, orphans.

The engine and the cloud are replaced by small fakes holding plain data; the code under test
(lock verdicts, matching, the corrected state, the decisions) runs for real."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kuntapilvi.dryrun import dry_run
from kuntapilvi.project import ProjectPaths
from kuntapilvi.recovery import locks, state
from kuntapilvi.recovery.engine import Engine
from kuntapilvi.recovery.match import (
    INSTANCE,
    PORT,
    SEC_GROUP_RULE,
    CloudResource,
    Outcome,
    match,
)
from kuntapilvi.recovery.orphans import find, monthly_cost
from kuntapilvi.recovery.recover import Action, plan, recover
from kuntapilvi.statestore import Store, file_backend_dir
from kuntapilvi.validate import validate
from tests.conftest import REPO

NOW = dt.datetime(2026, 11, 30, 20, 0, tzinfo=dt.UTC)
PROJECT = "kuntapilvi"


def urn(name: str, type_: str = INSTANCE, stack: str = "kajaani") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::kuntapilvi:index:OfficeServices${type_}::{name}"


def server_op(name: str = "kajaani-print-server", tenant: str = "kajaani") -> dict[str, Any]:
    return {
        "type": "creating",
        "resource": {
            "urn": urn(name),
            "custom": True,
            "type": INSTANCE,
            "inputs": {
                "name": "kajaani-print",
                "userData": "#cloud-config\n",
                "__defaults": ["forceDelete"],
                "metadata": {"kuntapilvi-tenant": tenant, "kuntapilvi-name": name},
                "tags": [f"kuntapilvi-tenant={tenant}"],
            },
            "parent": "urn:pulumi:kajaani::kuntapilvi::kuntapilvi:index:OfficeServices::kajaani",
            "provider": "urn:pulumi:kajaani::kuntapilvi::pulumi:providers:openstack::x::p1",
        },
    }


def export_with(*ops: dict[str, Any], resources: list[dict[str, Any]] | None = None) -> dict:
    return {
        "version": 3,
        "deployment": {
            "manifest": {},
            "resources": resources or [],
            "pending_operations": list(ops),
        },
    }


def server(id_: str, name: str = "kajaani-print-server", tenant: str = "kajaani") -> CloudResource:
    return CloudResource(
        INSTANCE, id_, "kajaani-print",
        labels={"kuntapilvi-tenant": tenant, "kuntapilvi-name": name},
    )  # fmt: skip


# --- locks -------------------------------------------------------------------------------


def write_lock(root: Path, stack: str, **content: Any) -> Path:
    folder = root / ".pulumi" / "locks" / "organization" / PROJECT / stack
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "0b8e7a34-lock.json"
    path.write_text(json.dumps(content))
    return path


def test_lock_file_as_the_engine_writes_it_is_read(tmp_path: Path) -> None:
    write_lock(
        tmp_path, "kajaani", pid=4242, username="ci", hostname="runner-7",
        timestamp="2026-11-30T19:59:48.123456789Z",
    )  # fmt: skip
    [lock] = locks.read_locks(Store(f"file://{tmp_path}"), "kajaani")
    assert (lock.pid, lock.username, lock.hostname) == (4242, "ci", "runner-7")
    assert lock.taken == dt.datetime(2026, 11, 30, 19, 59, 48, 123456, tzinfo=dt.UTC)
    assert locks.read_locks(Store(f"file://{tmp_path}"), "espoo") == []


def test_file_backend_dir_only_for_file_urls() -> None:
    assert file_backend_dir("file:///srv/state") == Path("/srv/state")
    assert file_backend_dir("s3://bucket/prefix") is None


def test_dead_process_on_this_host_makes_a_stale_lock() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not locks.pid_alive(dead.pid)
    lock = locks.Lock("x", dead.pid, "ci", "here", NOW)
    verdict = locks.judge(lock, this_host="here", now=NOW)
    assert verdict.stale, verdict.reason


def test_live_holder_on_this_host_keeps_its_lock() -> None:
    lock = locks.Lock("x", 77, "ci", "here", NOW - dt.timedelta(days=3))
    verdict = locks.judge(lock, this_host="here", now=NOW, alive=lambda pid: pid == 77)
    assert not verdict.stale


@pytest.mark.parametrize(
    ("age_h", "answers", "stale"),
    [(1, False, False), (7, True, False), (7, False, True)],
)
def test_lock_of_another_host_needs_lease_and_silence(
    age_h: int, answers: bool, stale: bool
) -> None:
    lock = locks.Lock("x", 77, "ci", "runner-7", NOW - dt.timedelta(hours=age_h))
    verdict = locks.judge(
        lock, this_host="here", now=NOW, alive=lambda pid: False, reachable=lambda h: answers
    )
    assert verdict.stale is stale, verdict.reason


# --- state -------------------------------------------------------------------------------


def test_adopting_a_pending_create_records_it_as_a_create_would() -> None:
    export = export_with(server_op(), {**server_op("kajaani-time-server"), "type": "updating"})
    fixed = state.apply(export, {urn("kajaani-print-server"): "srv-1"}, set())
    [record] = fixed["deployment"]["resources"]
    assert record["id"] == "srv-1" and record["outputs"]["id"] == "srv-1"
    assert record["parent"].endswith("OfficeServices::kajaani")
    # The provider keeps user data as its SHA-1; raw text here would replace the server.
    assert record["outputs"]["userData"] == hashlib.sha1(b"#cloud-config\n").hexdigest()
    assert record["inputs"]["userData"] == "#cloud-config\n"
    assert "__defaults" not in record["outputs"] and "__defaults" in record["inputs"]
    [left] = fixed["deployment"]["pending_operations"]
    assert left["type"] == "updating"
    assert export["deployment"]["resources"] == [], "the original export is not changed"


def test_cleared_operations_leave_the_state_and_others_stay() -> None:
    export = export_with(server_op(), server_op("kajaani-time-server"))
    fixed = state.apply(export, {}, {("creating", urn("kajaani-time-server"))})
    assert [op["resource"]["urn"] for op in fixed["deployment"]["pending_operations"]] == [
        urn("kajaani-print-server")
    ]


def test_adopted_replacement_marks_the_old_resource_for_deletion() -> None:
    old = {"urn": urn("kajaani-print-server"), "custom": True, "id": "old", "type": INSTANCE}
    export = export_with(server_op(), resources=[old])
    fixed = state.apply(export, {urn("kajaani-print-server"): "new"}, set())
    records = fixed["deployment"]["resources"]
    assert [(r["id"], bool(r.get("delete"))) for r in records] == [("old", True), ("new", False)]


# --- matching ----------------------------------------------------------------------------


def pending(raw: dict[str, Any]) -> state.PendingOp:
    [op] = state.pending_operations(export_with(raw))
    return op


def test_server_is_found_by_tenant_and_logical_name() -> None:
    cloud = [server("a", "kajaani-time-server"), server("b"), server("c", tenant="espoo")]
    m = match(pending(server_op()), "kajaani", cloud, known=set())
    assert (m.outcome, m.resource.id if m.resource else None) == (Outcome.FOUND, "b")


def test_resource_already_in_the_state_is_not_adopted_twice() -> None:
    m = match(pending(server_op()), "kajaani", [server("b")], known={"b"})
    assert m.outcome is Outcome.ABSENT


def test_two_candidates_are_ambiguous_and_named() -> None:
    m = match(pending(server_op()), "kajaani", [server("b"), server("c")], known=set())
    assert m.outcome is Outcome.AMBIGUOUS and "b, c" in m.reason


def test_without_a_name_tag_name_and_every_tag_must_agree() -> None:
    raw = server_op()
    raw["resource"]["inputs"]["metadata"].pop("kuntapilvi-name")
    same = CloudResource(INSTANCE, "s", "kajaani-print", labels={"kuntapilvi-tenant": "kajaani"})
    other = CloudResource(INSTANCE, "o", "kajaani-time", labels={"kuntapilvi-tenant": "kajaani"})
    m = match(pending(raw), "kajaani", [same, other], known=set())
    assert m.resource == same


def test_untagged_inputs_and_unknown_types_are_left_alone() -> None:
    raw = server_op(tenant="espoo")
    assert match(pending(raw), "kajaani", [server("b")], set()).outcome is Outcome.UNSUPPORTED
    raw = server_op()
    raw["resource"]["type"] = "openstack:objectstorage/container:Container"
    assert match(pending(raw), "kajaani", [], set()).outcome is Outcome.UNSUPPORTED


def test_keyed_resources_match_on_what_the_cloud_found_for_their_inputs() -> None:
    raw = server_op()
    raw["resource"]["type"] = SEC_GROUP_RULE
    rule = CloudResource(SEC_GROUP_RULE, "r1", "")
    assert match(pending(raw), "kajaani", [rule], set()).resource == rule


def test_plan_adopts_deletes_clears_and_leaves() -> None:
    ops = state.pending_operations(
        export_with(
            server_op(), server_op("kajaani-time-server"),
            {**server_op("kajaani-dir-server"), "type": "deleting"},
        )
    )  # fmt: skip
    cloud = [server("b"), server("x", "kajaani-time-server"), server("y", "kajaani-time-server")]
    matches = {op.urn: match(op, "kajaani", cloud, set()) for op in ops if op.is_create}
    assert [s.action for s in plan(ops, matches, delete=False)] == [
        Action.ADOPT, Action.LEAVE, Action.CLEAR,
    ]  # fmt: skip
    assert plan(ops, matches, delete=True)[0].action is Action.DELETE


# --- the whole command on fakes ----------------------------------------------------------


class FakeEngine(Engine):
    def __init__(self, root: Path, export: dict[str, Any]) -> None:
        super().__init__(cwd=root, env={"PULUMI_BACKEND_URL": f"file://{root}"})
        self.state = export
        self.refreshes = 0

    def export(self, stack: str) -> dict[str, Any]:
        return self.state

    def import_(self, stack: str, export: dict[str, Any]) -> None:
        self.state = export

    def refresh(self, stack: str) -> str:
        self.refreshes += 1
        return ""


def fake_conn(servers: list[Any]) -> Any:
    empty = lambda **kw: []  # noqa: E731
    network = SimpleNamespace(
        networks=empty, subnets=empty, routers=empty, ports=empty, security_groups=empty, ips=empty
    )
    return SimpleNamespace(
        network=network,
        compute=SimpleNamespace(servers=lambda **kw: servers),
        block_storage=SimpleNamespace(volumes=lambda **kw: []),
    )


def nova_server(id_: str, name: str) -> Any:
    return SimpleNamespace(
        id=id_, name="kajaani-print", tags=[], status="ACTIVE", project_id="p",
        metadata={"kuntapilvi-tenant": "kajaani", "kuntapilvi-name": name},
        created_at="2026-11-30T19:59:50Z", flavor={"original_name": "kp-1c-2g-20g"},
    )  # fmt: skip


def test_recover_clears_a_dead_runs_lock_adopts_its_server_and_refreshes(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = write_lock(
        tmp_path, "kajaani", pid=dead.pid, username="ci", hostname="here",
        timestamp="2026-11-30T19:59:00Z",
    )  # fmt: skip
    engine = FakeEngine(tmp_path, export_with(server_op()))
    conn = fake_conn([nova_server("srv-1", "kajaani-print-server")])
    report = recover("kajaani", engine, lambda: conn, now=NOW, this_host="here")
    assert report.code == 0, report.left
    assert not lock.exists()
    assert any("stale lock" in m for m in report.messages)
    assert [r["id"] for r in engine.state["deployment"]["resources"]] == ["srv-1"]
    assert engine.state["deployment"]["pending_operations"] == []
    assert engine.refreshes == 1


def test_a_building_server_is_waited_for_and_one_in_error_is_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kuntapilvi.recovery import cloud

    monkeypatch.setattr(cloud, "POLL_SECONDS", 0.01)
    engine = FakeEngine(tmp_path, export_with(server_op(), server_op("kajaani-time-server")))
    building = [
        SimpleNamespace(**{**vars(nova_server("ok", "kajaani-print-server")), "status": "BUILD"}),
        SimpleNamespace(**{**vars(nova_server("bad", "kajaani-time-server")), "status": "BUILD"}),
    ]
    later = {"ok": iter(["BUILD", "ACTIVE"]), "bad": iter(["ERROR"])}
    deleted: list[str] = []
    conn = fake_conn(building)
    conn.compute.get_server = lambda id_: SimpleNamespace(status=next(later[id_]))
    conn.compute.delete_server = lambda id_, ignore_missing: deleted.append(id_)
    conn.compute.find_server = lambda id_, ignore_missing: None
    report = recover("kajaani", engine, lambda: conn, now=NOW, this_host="here")
    assert report.code == 0, report.left
    assert [r["id"] for r in engine.state["deployment"]["resources"]] == ["ok"]
    assert deleted == ["bad"]
    assert engine.state["deployment"]["pending_operations"] == []


def test_recover_stops_at_a_live_lock_and_changes_nothing(tmp_path: Path) -> None:
    # A process whose command line names pulumi stands in for a running engine.
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "pulumi"])
    try:
        lock = write_lock(
            tmp_path, "kajaani", pid=holder.pid, username="ci", hostname="here",
            timestamp="2026-11-30T19:59:00Z",
        )  # fmt: skip
        engine = FakeEngine(tmp_path, export_with(server_op()))
        report = recover("kajaani", engine, lambda: fake_conn([]), now=NOW, this_host="here")
    finally:
        holder.kill()
        holder.wait()
    assert report.code == 1 and "live run" in report.left[0]
    assert lock.exists() and engine.refreshes == 0


def test_recover_with_nothing_pending_does_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(tmp_path, export_with())
    report = recover("kajaani", engine, lambda: pytest.fail("no cloud needed"), now=NOW)
    assert report.code == 0 and engine.refreshes == 0


def test_ambiguous_server_is_reported_and_stays_pending(tmp_path: Path) -> None:
    engine = FakeEngine(tmp_path, export_with(server_op()))
    conn = fake_conn(
        [nova_server("a", "kajaani-print-server"), nova_server("b", "kajaani-print-server")]
    )
    report = recover("kajaani", engine, lambda: conn, now=NOW, this_host="here")
    assert report.code == 1 and "a, b" in report.left[0]
    assert len(engine.state["deployment"]["pending_operations"]) == 1
    assert engine.state["deployment"]["resources"] == []
    assert engine.refreshes == 0, "stack import would drop the op left alone: nothing changes"
    # Once a person deleted the extra copy and said so, the rest goes through.
    report = recover(
        "kajaani", engine, lambda: conn, now=NOW, this_host="here",
        forget=frozenset({urn("kajaani-print-server")}),
    )  # fmt: skip
    assert report.code == 0 and engine.refreshes == 1
    assert engine.state["deployment"]["pending_operations"] == []


# --- tags on what the program builds -----------------------------------------------------


def test_every_server_port_volume_and_network_carries_its_logical_name() -> None:
    resources = dry_run(ProjectPaths(REPO), "kajaani", today="2027-01-15").resources
    named = 0
    for r in resources:
        if r.type in (INSTANCE, "openstack:blockstorage/volume:Volume"):
            assert r.inputs["metadata"]["kuntapilvi-name"] == r.name
            named += 1
        elif r.type in (PORT, "openstack:networking/network:Network"):
            assert f"kuntapilvi-name={r.name}" in r.inputs["tags"]
            named += 1
    assert named >= 5 * 2 + 1 + 1  # five servers and their ports, the file share's volume, a net


# --- orphans -----------------------------------------------------------------------------


def test_orphans_are_what_no_state_knows_priced_from_the_cards() -> None:
    cards = validate(ProjectPaths(REPO), ["kajaani"]).model.cards
    orphan = CloudResource(
        INSTANCE, "o1", "kajaani-print", flavor="kp-1c-2g-20g",
        labels={"kuntapilvi-tenant": "kajaani", "kuntapilvi-card": "office.print"},
        created=NOW - dt.timedelta(hours=5),
    )  # fmt: skip
    kept = server("k1")
    volume = CloudResource(
        "openstack:blockstorage/volume:Volume", "v1", "kajaani-arkisto-data", size_gb=200,
        labels={"kuntapilvi-tenant": "kajaani", "kuntapilvi-card": "capacity.block-storage",
                "kuntapilvi-service": "arkisto"},
    )  # fmt: skip
    found = find("kajaani", [orphan, kept, volume], {"k1"}, cards, services={"print"})
    assert [(o.id, o.monthly_eur, o.retained) for o in found] == [
        ("o1", Decimal("60.00"), False),
        ("v1", Decimal("18.00"), True),
    ]
    assert found[0].as_dict(NOW)["age_hours"] == 5.0
    assert monthly_cost(CloudResource(PORT, "p", "x"), cards) == 0


def test_a_killed_but_unreaped_engine_is_dead_and_an_unrelated_pid_is_not_the_holder() -> None:
    zombie = subprocess.Popen([sys.executable, "-c", "pass", "pulumi"])
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=30)
        while "Z" not in Path(f"/proc/{zombie.pid}/stat").read_text().rpartition(")")[2][:3]:
            assert dt.datetime.now() < deadline
            time.sleep(0.01)
        assert not locks.pid_alive(zombie.pid)
    finally:
        zombie.wait()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=30)
        while not Path(f"/proc/{other.pid}/cmdline").read_bytes():
            assert dt.datetime.now() < deadline
            time.sleep(0.01)
        assert not locks.pid_alive(other.pid), "a reused pid is not the engine's"
    finally:
        other.kill()
        other.wait()


# --- command line ------------------------------------------------------------------------


def test_recover_names_a_missing_stack_and_a_missing_engine_with_exit_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from kuntapilvi.cli import app

    monkeypatch.setenv("KUNTAPILVI_ROOT", str(REPO))
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    done = CliRunner().invoke(app, ["recover", "nosuch"])
    assert done.exit_code == 2 and "Pulumi.nosuch.yaml" in done.output
    done = CliRunner().invoke(app, ["recover", "kajaani"])
    assert done.exit_code == 2 and "not on PATH" in done.output
    done = CliRunner().invoke(app, ["orphans", "nosuch"])
    assert done.exit_code == 2 and "nosuch" in done.output


def test_a_projects_quotas_and_role_assignments_are_found_by_their_inputs() -> None:
    from kuntapilvi.recovery import cloud
    from kuntapilvi.recovery.match import QUOTA_COMPUTE, ROLE_ASSIGNMENT

    raw = server_op()
    raw["resource"]["type"] = QUOTA_COMPUTE
    raw["resource"]["inputs"] = {"projectId": "p1", "cores": 16}
    identity = SimpleNamespace(
        find_project=lambda id_, ignore_missing: SimpleNamespace(id=id_) if id_ == "p1" else None,
        role_assignments=lambda **kw: [object()] if kw.get("user_id") == "u1" else [],
    )
    conn = SimpleNamespace(identity=identity)
    [quota] = cloud.keyed(conn, pending(raw), "fi-kaj-1")
    assert quota.id == "p1/fi-kaj-1", "the provider's id: project/region"
    raw["resource"]["inputs"] = {"projectId": "gone"}
    assert cloud.keyed(conn, pending(raw), "fi-kaj-1") == []
    raw["resource"]["type"] = ROLE_ASSIGNMENT
    raw["resource"]["inputs"] = {"projectId": "p1", "userId": "u1", "roleId": "r1"}
    [role] = cloud.keyed(conn, pending(raw))
    assert role.id == "/p1//u1/r1"
    raw["resource"]["inputs"]["userId"] = "u2"
    assert cloud.keyed(conn, pending(raw)) == []


def test_two_pending_rules_of_different_groups_each_find_only_their_own(tmp_path: Path) -> None:
    def rule_op(name: str, group: str) -> dict[str, Any]:
        raw = server_op(name)
        raw["resource"]["type"] = SEC_GROUP_RULE
        raw["resource"]["inputs"] = {
            "securityGroupId": group, "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "portRangeMin": 445, "portRangeMax": 445,
            "remoteIpPrefix": "10.72.0.0/21",
        }  # fmt: skip
        return raw

    rules = {
        g: [
            SimpleNamespace(
                id=f"rule-{g}",
                direction="ingress",
                ether_type="IPv4",
                protocol="tcp",
                port_range_min=445,
                port_range_max=445,
                remote_ip_prefix="10.72.0.0/21",
                remote_group_id=None,
            )
        ]
        for g in ("g1", "g2")
    }
    engine = FakeEngine(tmp_path, export_with(rule_op("a", "g1"), rule_op("b", "g2")))
    conn = fake_conn([])
    conn.network.security_group_rules = lambda security_group_id: rules[security_group_id]
    report = recover("kajaani", engine, lambda: conn, now=NOW, this_host="here")
    assert report.code == 0, report.left
    assert sorted(r["id"] for r in engine.state["deployment"]["resources"]) == [
        "rule-g1", "rule-g2",
    ]  # fmt: skip


def test_every_resource_type_a_tenant_builds_can_be_found_after_a_kill() -> None:
    # A new card that adds a resource type recovery cannot look up leaves every interrupted
    # `up` of its tenants to a person (found by the devcloud journey: the WAN route).
    from kuntapilvi.recovery.match import KEYED, TAGGED

    missing: dict[str, set[str]] = {}
    for file in sorted((REPO / "stacks").glob("Pulumi.*.yaml")):
        stack = file.name.removeprefix("Pulumi.").removesuffix(".yaml")
        if stack == "centre":
            continue
        for r in dry_run(ProjectPaths(REPO), stack, today="2027-01-15").resources:
            if r.type.startswith("openstack:") and r.type not in (*TAGGED, *KEYED):
                missing.setdefault(r.type, set()).add(stack)
    assert missing == {}


def test_a_wan_route_qos_rule_and_membership_are_found_by_their_inputs() -> None:
    from kuntapilvi.recovery import cloud
    from kuntapilvi.recovery.match import QOS_BANDWIDTH_RULE, ROUTER_ROUTE, USER_MEMBERSHIP

    router = SimpleNamespace(
        id="r1", routes=[{"destination": "172.30.0.0/16", "nexthop": "100.64.0.1"}]
    )
    rules = [
        SimpleNamespace(id="q-in", direction="ingress"),
        SimpleNamespace(id="q-out", direction="egress"),
    ]
    network = SimpleNamespace(
        find_router=lambda id_, ignore_missing: router if id_ == "r1" else None,
        find_qos_policy=lambda id_, ignore_missing: (
            SimpleNamespace(id=id_) if id_ == "p1" else None
        ),
        qos_bandwidth_limit_rules=lambda policy: rules,
    )
    identity = SimpleNamespace(check_user_in_group=lambda user, group: user == "u1")
    conn = SimpleNamespace(network=network, identity=identity)

    raw = server_op()
    raw["resource"]["type"] = ROUTER_ROUTE
    raw["resource"]["inputs"] = {
        "routerId": "r1",
        "destinationCidr": "172.30.0.0/16",
        "nextHop": "100.64.0.1",
    }
    [route] = cloud.keyed(conn, pending(raw))
    assert route.id == "r1-route-172.30.0.0/16-100.64.0.1", "the provider's id"
    raw["resource"]["inputs"]["destinationCidr"] = "172.31.0.0/16"
    assert cloud.keyed(conn, pending(raw)) == [], "a route the killed run never added"

    raw["resource"]["type"] = QOS_BANDWIDTH_RULE
    raw["resource"]["inputs"] = {"qosPolicyId": "p1", "direction": "ingress", "maxKbps": 100000}
    [rule] = cloud.keyed(conn, pending(raw))
    assert rule.id == "p1/q-in"
    raw["resource"]["inputs"]["qosPolicyId"] = "gone"
    assert cloud.keyed(conn, pending(raw)) == []

    raw["resource"]["type"] = USER_MEMBERSHIP
    raw["resource"]["inputs"] = {"userId": "u1", "groupId": "g1"}
    [member] = cloud.keyed(conn, pending(raw))
    assert member.id == "u1/g1"
    raw["resource"]["inputs"]["userId"] = "u2"
    assert cloud.keyed(conn, pending(raw)) == []
