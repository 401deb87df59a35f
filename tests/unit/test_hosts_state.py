"""State files: what lets one process stop a host another process started."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kuntapilvi.hosts.state import (
    HostRecord,
    NetworkRecord,
    StateStore,
    process_alive,
    process_start_time,
)


def record(**over: object) -> HostRecord:
    base = {
        "name": "Tiedosto 1", "host_id": "tiedosto-1-abcd1234", "hostname": "tiedosto-1",
        "address": "10.64.1.10/24", "gateway": "10.64.1.1", "network_id": "net",
        "bridge": "kpbr0123456789", "veth": "kpv0123456789", "netns": "kp-tiedosto-1",
        "machine": "kp-tiedosto-1", "instance_id": "iid", "config_hash": "c0ffee",
    }  # fmt: skip
    base.update(over)
    return HostRecord(**base)  # type: ignore[arg-type]


def test_host_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    rec = record(pid=1234, pid_start=99)
    store.save_host(rec)
    assert store.load_host(rec.host_id) == rec
    assert (store.host_dir(rec.host_id) / "nspawn.pid").read_text() == "1234\n"
    assert store.hosts() == [rec]


def test_forget_host(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    rec = record()
    store.save_host(rec)
    store.forget_host(rec.host_id)
    assert store.load_host(rec.host_id) is None
    assert store.hosts() == []


def test_unknown_fields_are_ignored_and_broken_files_skipped(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    rec = record()
    store.save_host(rec)
    path = store.host_dir(rec.host_id) / "host.json"
    path.write_text(path.read_text().replace('"name"', '"future_field": 1, "name"'))
    assert store.load_host(rec.host_id) == rec
    broken = store.host_dir("broken")
    broken.mkdir()
    (broken / "host.json").write_text("{")
    assert store.hosts() == [rec]


def test_networks(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    net = NetworkRecord("net-1", "kpbr0123456789", "10.64.1.1/24")
    store.save_network(net)
    assert store.networks() == [net]
    store.forget_network(net.bridge)
    assert store.networks() == []


def test_empty_state_dir(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "missing")
    assert store.hosts() == [] and store.networks() == []


def test_process_identity_survives_only_with_same_start_time() -> None:
    me = os.getpid()
    start = process_start_time(me)
    assert start is not None
    assert process_alive(me, start)
    assert not process_alive(me, start + 1)  # a recycled PID has another start time
    assert not process_alive(0, 0)


def test_exited_process_is_not_alive() -> None:
    proc = subprocess.Popen(["true"])
    start = process_start_time(proc.pid)
    proc.wait()
    assert not process_alive(proc.pid, start or 0)
