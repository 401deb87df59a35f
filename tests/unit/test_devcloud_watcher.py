"""The host watcher's decisions, with a fake cloud and a fake HostManager (no root, no hosts)."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.devcloud import watcherprocess
from kuntapilvi.devcloud.paths import Paths
from kuntapilvi.devcloud.servers import (
    NoWiring,
    Server,
    Volume,
    Wiring,
    server_from_sdk,
    volume_from_sdk,
    wiring_from_ports,
)
from kuntapilvi.devcloud.watcher import RETRY_FIRST_S, Watcher
from kuntapilvi.hosts import HostsError
from kuntapilvi.hosts.state import HostRecord, process_start_time
from kuntapilvi.hosts.volumes import VolumeSpec

ALIVE = (os.getpid(), process_start_time(os.getpid()) or 0)


def server(sid: str = "s1", name: str = "kajaani-print", status: str = "ACTIVE",
           user_data: bytes | None = b"#cloud-config\n{}\n") -> Server:  # fmt: skip
    return Server(sid, name, "p1", status, user_data, None, "u1", ("10.72.0.11",))


class FakeCloud:
    def __init__(self, servers: list[Server]) -> None:
        self.listed = servers
        self.wirings: list[str] = []
        self.fail_list: Exception | None = None
        self.fail_wiring: Exception | None = None
        self.resets = 0
        self.volume_list: list[Volume] = []

    def servers(self) -> list[Server]:
        if self.fail_list is not None:
            raise self.fail_list
        return list(self.listed)

    def volumes(self) -> list[Volume]:
        return list(self.volume_list)

    def wiring(self, s: Server) -> Wiring:
        self.wirings.append(s.id)
        if self.fail_wiring is not None:
            raise self.fail_wiring
        return Wiring("10.72.0.11/24", "10.72.0.1", "net-1")

    def project_name(self, project_id: str) -> str:
        return "kajaani"

    def public_keys(self, s: Server) -> tuple[str, ...]:
        return ()

    def reset(self) -> None:
        self.resets += 1


class FakeManager:
    """Records what the watcher asked for; hosts 'run' as this test process."""

    def __init__(self) -> None:
        self.records: dict[str, HostRecord] = {}
        self.started: list[dict[str, Any]] = []
        self.stopped: list[str] = []
        self.fail: Exception | None = None
        self.volume_calls: list[tuple[str, list[VolumeSpec]]] = []
        self.fail_volumes: Exception | None = None
        self.known_volumes: list[set[str]] = []

    def host_records(self) -> list[HostRecord]:
        return list(self.records.values())

    def add(self, name: str, server_id: str = "", alive: bool = True) -> HostRecord:
        pid, start = ALIVE if alive else (0, 0)
        rec = HostRecord(
            name=name, host_id=name, hostname=name, address="10.72.0.11/24",
            gateway="10.72.0.1", network_id="net-1", bridge="kpbr1", veth="kpv1",
            netns=f"kp-{name}", machine=f"kp-{name}", instance_id=server_id or name,
            config_hash="x", pid=pid, pid_start=start, server_id=server_id,
        )  # fmt: skip
        self.records[name] = rec
        return rec

    def ensure_host(self, name: str, address: str, gateway: str, network_id: str,
                    user_data: Any, **kw: Any) -> Any:  # fmt: skip
        if self.fail is not None:
            raise self.fail
        self.started.append({"name": name, "address": address, "gateway": gateway,
                             "network_id": network_id, "user_data": user_data, **kw})  # fmt: skip
        self.add(name, kw["server_id"])
        return SimpleNamespace(hostname=name, address=address)

    def stop_host(self, name: str) -> bool:
        self.stopped.append(name)
        return self.records.pop(name, None) is not None

    def sync_volumes(self, name: str, volumes: list[VolumeSpec]) -> bool:
        self.volume_calls.append((name, list(volumes)))
        if self.fail_volumes is not None:
            raise self.fail_volumes
        self.records[name].volumes = {v.volume_id: v.as_record() for v in volumes}
        return True

    def prune_volumes(self, known: set[str]) -> list[str]:
        self.known_volumes.append(known)
        return []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(servers: list[Server]) -> tuple[Watcher, FakeCloud, FakeManager, Clock]:
    cloud, manager, clock = FakeCloud(servers), FakeManager(), Clock()
    w = Watcher(cloud, manager, clock=clock, wait_ready=False)  # type: ignore[arg-type]
    return w, cloud, manager, clock


def test_active_server_gets_a_host_booting_its_own_user_data() -> None:
    w, cloud, manager, _ = make([server()])
    w.poll()
    [call] = manager.started
    assert call["name"] == "kajaani-print"
    assert (call["address"], call["gateway"], call["network_id"]) == (
        "10.72.0.11/24", "10.72.0.1", "net-1")  # fmt: skip
    assert call["user_data"] == b"#cloud-config\n{}\n"
    assert call["instance_id"] == call["server_id"] == "s1"
    assert call["tenant"] == "kajaani" and call["wait"] is False
    w.poll()
    assert len(manager.started) == 1 and cloud.wirings == ["s1"], "no API calls for a host in line"


def test_servers_not_active_get_no_host() -> None:
    w, _, manager, _ = make([server(status="BUILD"), server("s2", "x", status="ERROR")])
    w.poll()
    assert manager.started == []


def test_deleted_server_loses_its_host_and_hand_made_hosts_stay() -> None:
    w, cloud, manager, _ = make([server()])
    w.poll()
    manager.add("by-hand")  # `devcloud hosts start`: no server id
    deleting = server(user_data=None)  # its port is gone already, its server not yet
    cloud.listed = [Server(**{**vars(deleting), "addresses": (), "task_state": "deleting"})]
    w.poll()
    assert manager.stopped == ["kajaani-print"] and w.retries == {}, "no rebuild on the way out"
    cloud.listed = [server(status="DELETED")]
    w.poll()
    assert manager.stopped == ["kajaani-print"]
    cloud.listed = []
    w.poll()
    assert manager.stopped == ["kajaani-print"] and set(manager.records) == {"by-hand"}


def test_failed_start_is_retried_later_with_growing_pauses(caplog: Any) -> None:
    w, _, manager, clock = make([server()])
    manager.fail = HostsError("Subnet 10.72.0.0/24 overlaps eth9", "/tmp/x.log")
    w.poll()
    assert "overlaps eth9" in caplog.text and "try 1 failed, next in 10 s" in caplog.text
    clock.now += RETRY_FIRST_S - 1
    w.poll()
    assert "try 2" not in caplog.text
    clock.now += 1
    w.poll()
    assert "try 2 failed, next in 20 s" in caplog.text
    manager.fail = None
    clock.now += 20
    w.poll()
    assert [c["name"] for c in manager.started] == ["kajaani-print"]
    assert w.retries == {}


def test_unexpected_errors_cost_one_server_not_the_watcher(caplog: Any) -> None:
    caplog.set_level(logging.INFO, "kuntapilvi.devcloud.watcher")
    w, cloud, manager, _ = make([server(), server("s2", "kajaani-time")])
    cloud.fail_wiring = KeyError("fixed_ips")
    w.poll()
    assert manager.started == [] and set(w.retries) == {"s1", "s2"}
    cloud.fail_list = ConnectionError("Connection refused\nmore")
    w.poll()  # must not raise
    assert w.cloud_error == "ConnectionError: Connection refused" and cloud.resets == 1
    cloud.fail_list = None
    w.poll()
    assert w.cloud_error is None and "Nova answers again" in caplog.text


def test_no_wiring_is_one_sentence_and_retried() -> None:
    w, cloud, _, _ = make([server()])
    cloud.fail_wiring = NoWiring("server kajaani-print has no port with an IPv4 fixed address")
    w.poll()
    assert w.retries["s1"].message.endswith("IPv4 fixed address")


def test_new_user_data_or_dead_host_makes_it_anew() -> None:
    w, cloud, manager, clock = make([server()])
    w.poll()
    cloud.listed = [server(user_data=b"#cloud-config\npackages: [cups]\n")]
    w.poll()
    assert len(manager.started) == 2
    manager.add("kajaani-print", "s1", alive=False)  # nspawn died
    w.poll()
    assert len(manager.started) == 3 and w.retries["s1"].failures == 1
    manager.add("kajaani-print", "s1", alive=False)  # and again, at once: waits its turn
    w.poll()
    assert len(manager.started) == 3
    clock.now += 2 * RETRY_FIRST_S
    w.poll()
    assert len(manager.started) == 4 and w.retries["s1"].failures == 2


def test_running_host_is_adopted_after_a_watcher_restart() -> None:
    w, _, manager, _ = make([server()])
    manager.add("kajaani-print", "s1")
    w.poll()
    # ensure_host is idempotent: it keeps a running host with the same inputs.
    assert [c["server_id"] for c in manager.started] == ["s1"] and manager.stopped == []


def test_equal_names_the_first_server_keeps_the_host() -> None:
    w, _, manager, _ = make([server("s1", "web"), server("s2", "web")])
    w.poll()
    assert [c["server_id"] for c in manager.started] == ["s1"]
    assert "already has a host named 'web'" in w.retries["s2"].message


def test_renamed_server_gets_its_host_under_the_new_name() -> None:
    w, cloud, manager, _ = make([server()])
    w.poll()
    cloud.listed = [server(name="kajaani-print-2")]
    w.poll()
    assert manager.stopped == ["kajaani-print"] and set(manager.records) == {"kajaani-print-2"}


VOLUME = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_attached_volume_is_plugged_into_the_running_host_and_unplugged_when_detached() -> None:
    w, cloud, manager, _ = make([server()])
    cloud.volume_list = [Volume(VOLUME, 1000, (("s1", "/dev/sdb"),))]
    w.poll()
    assert manager.started and manager.volume_calls == [
        ("kajaani-print", [VolumeSpec(VOLUME, 1000, "/dev/sdb")])
    ]
    w.poll()  # the host has it already: nothing to do
    assert len(manager.volume_calls) == 1
    cloud.volume_list = [Volume(VOLUME, 2000, (("s1", "/dev/sdb"),))]  # extended in Cinder
    w.poll()
    assert manager.volume_calls[-1] == ("kajaani-print", [VolumeSpec(VOLUME, 2000, "/dev/sdb")])
    cloud.volume_list = [Volume(VOLUME, 2000)]  # detached, kept
    w.poll()
    assert manager.volume_calls[-1] == ("kajaani-print", [])
    assert manager.known_volumes[-1] == {VOLUME}
    cloud.volume_list = []  # deleted: its file may go
    w.poll()
    assert manager.known_volumes[-1] == set()


def test_volume_still_attaching_or_on_a_server_without_host_waits() -> None:
    w, cloud, manager, _ = make([server(status="BUILD")])
    cloud.volume_list = [Volume(VOLUME, 10, (("s1", ""),)), Volume("v2", 10, (("s9", "/dev/vdb"),))]
    w.poll()
    assert manager.volume_calls == []


def test_failed_volume_attach_is_retried_later(caplog: Any) -> None:
    w, cloud, manager, clock = make([server()])
    cloud.volume_list = [Volume(VOLUME, 10, (("s1", "/dev/vdb"),))]
    manager.fail_volumes = HostsError("no loop device free")
    w.poll()
    assert "could not attach its volumes (no loop device free); retrying in 10 s" in caplog.text
    w.poll()
    assert len(manager.volume_calls) == 1  # not before its time
    manager.fail_volumes = None
    clock.now += RETRY_FIRST_S
    w.poll()
    assert len(manager.volume_calls) == 2
    assert manager.records["kajaani-print"].volumes == {
        VOLUME: {"size_gb": 10, "device": "/dev/vdb"}
    }


def test_volume_from_sdk_keeps_attachments_with_a_server() -> None:
    raw = SimpleNamespace(id=VOLUME, size=200, attachments=[
        {"server_id": "s1", "device": "/dev/sdb", "attachment_id": "a1"},
        {"server_id": None, "device": None},
    ])  # fmt: skip
    assert volume_from_sdk(raw) == Volume(VOLUME, 200, (("s1", "/dev/sdb"),))
    assert volume_from_sdk(SimpleNamespace(id="v", size=1, attachments=None)).attachments == ()


def test_status_file_reports_counts(tmp_path: Path) -> None:
    w, _, _, _ = make([server()])
    w.status_file = tmp_path / "watcher.json"
    w.poll()
    doc = json.loads(w.status_file.read_text())
    assert (doc["servers"], doc["hosts"], doc["cloud_error"]) == (1, 1, None)


# -- reading Nova and Neutron ----------------------------------------------------------------
def test_server_from_sdk_decodes_user_data_and_fixed_addresses() -> None:
    raw = SimpleNamespace(
        id="s1", name="kajaani-print", project_id="p1", status="active", key_name="centre",
        user_id="u1", user_data=base64.b64encode(b"#cloud-config\n").decode(),
        addresses={"net": [{"addr": "10.72.0.11", "OS-EXT-IPS:type": "fixed"},
                           {"addr": "192.0.2.5", "OS-EXT-IPS:type": "floating"}]},
    )  # fmt: skip
    s = server_from_sdk(raw)
    assert (s.status, s.user_data, s.addresses) == ("ACTIVE", b"#cloud-config\n", ("10.72.0.11",))
    assert server_from_sdk(SimpleNamespace(**{**vars(raw), "user_data": None})).user_data is None


def _port(pid: str, ips: list[tuple[str, str]], net: str = "net-1") -> Any:
    fixed = [{"ip_address": a, "subnet_id": sn} for a, sn in ips]
    return SimpleNamespace(id=pid, network_id=net, fixed_ips=fixed)


def test_wiring_uses_the_first_ipv4_port_and_its_subnet() -> None:
    subnets = {
        "v6": SimpleNamespace(cidr="fd00::/64", gateway_ip="fd00::1"),
        "v4": SimpleNamespace(cidr="10.72.0.0/24", gateway_ip="10.72.0.1"),
        "other": SimpleNamespace(cidr="10.73.0.0/24", gateway_ip="10.73.0.1"),
    }
    ports = [
        _port("a", [("fd00::5", "v6"), ("10.72.0.11", "v4")]),
        _port("b", [("10.73.0.4", "other")]),
    ]
    w = wiring_from_ports(server(), ports, subnets.__getitem__)
    assert (w.address_cidr, w.gateway, w.network_id) == ("10.72.0.11/24", "10.72.0.1", "net-1")
    assert "not wired: 10.73.0.4" in w.note


def test_wiring_needs_an_ipv4_port_and_a_gateway() -> None:
    with pytest.raises(NoWiring, match="no port with an IPv4"):
        wiring_from_ports(server(), [], lambda _: None)
    no_gw = SimpleNamespace(cidr="10.72.0.0/24", gateway_ip=None)
    with pytest.raises(NoWiring, match="has no gateway"):
        wiring_from_ports(server(), [_port("a", [("10.72.0.11", "x")])], lambda _: no_gw)


# -- the process: up's decision, status -------------------------------------------------------
@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("KUNTAPILVI_DEVCLOUD_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("KUNTAPILVI_CACHE", str(tmp_path / "cache"))
    p = Paths.default()
    p.ensure()
    return p


def test_switched_off_watcher_is_not_started_and_status_says_why(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(watcherprocess.SWITCH_ENV, "off")
    note = watcherprocess.ensure(paths)
    assert note == f"not started: switched off by {watcherprocess.SWITCH_ENV}=off"
    assert not paths.pidfile("watcher").exists()
    st = watcherprocess.status(paths)
    assert st.ok and not st.running
    assert (
        st.summary()
        == f"Host watcher not started: switched off by {watcherprocess.SWITCH_ENV}=off."
    )
    result = CliRunner().invoke(app, ["devcloud", "status", "--json"])
    row = next(r for r in json.loads(result.output) if r["name"] == "watcher")
    assert row["ok"] and "switched off" in row["detail"]


def test_machine_that_cannot_run_hosts_gets_no_watcher(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kuntapilvi.hosts import system

    monkeypatch.setattr(system.os, "geteuid", lambda: 1000)
    assert watcherprocess.why_not() is not None and "root" in str(watcherprocess.why_not())
    watcherprocess.ensure(paths)
    assert "need root" in watcherprocess.status(paths).summary()


def test_watcher_that_should_run_and_does_not_is_a_fault(paths: Paths) -> None:
    st = watcherprocess.status(paths)
    assert not st.ok and "devcloud up" in st.summary()


def test_down_stops_the_watcher_before_the_services(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kuntapilvi.devcloud import lifecycle

    order: list[str] = []
    monkeypatch.setattr(
        watcherprocess, "stop", lambda p: (order.append("watcher"), (True, ["kajaani-print"]))[1]
    )
    monkeypatch.setattr(
        lifecycle.processes, "stop_all", lambda pidfiles: (order.append("services"), [])[1]
    )
    result = lifecycle.down(paths)
    assert order[0] == "watcher" and "services" in order
    assert result.stopped[:1] == ["watcher"] and result.hosts == ["kajaani-print"]


def test_stop_without_hosts_is_quiet(paths: Paths) -> None:
    assert watcherprocess.stop(paths) == (False, [])
