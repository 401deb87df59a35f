"""Real hosts for the `hosts` tests: one HostManager with its own state folder and apt proxy port.

These tests need root (namespaces, overlay mounts, systemd-nspawn). Missing Debian packages are not
a
reason to skip: the machinery installs them, as it would on a fresh machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kuntapilvi.hosts import HostInfo, HostManager, cgroups, network
from kuntapilvi.hosts import host as hostops
from kuntapilvi.hosts import volumes as vols
from kuntapilvi.hosts.paths import project_root
from kuntapilvi.hosts.template import build_template, default_spec, find_template

FIXTURES = Path(__file__).parent / "fixtures"
# Not the default 3142, so a developer's own hosts and proxy can keep running beside a test run.
TEST_PROXY_PORT = int(os.environ.get("KUNTAPILVI_TEST_APT_PROXY_PORT", "3149"))
REPORT = project_root() / "reports" / "hosts-measurements.json"


def fixture_text(name: str) -> str:
    return (FIXTURES / f"{name}.yaml").read_text()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Booting hosts takes minutes (and root), so a plain `pytest` does not; ask with `-m hosts` or
    # KUNTAPILVI_HOSTS_TESTS=1.
    asked = "hosts" in (config.option.markexpr or "") or os.environ.get("KUNTAPILVI_HOSTS_TESTS")
    reason = None
    if not asked:
        reason = "boots real hosts: run with -m hosts (or KUNTAPILVI_HOSTS_TESTS=1)"
    elif os.geteuid() != 0:
        reason = "hosts tests need root (netns, overlay, systemd-nspawn)"
    if reason:
        for item in items:
            if "hosts" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


class Measurements:
    """Figures the issue asks for, written to reports/hosts-measurements.json at the end."""

    def __init__(self) -> None:
        self.data: dict = {}

    def write(self) -> None:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def measurements() -> Iterator[Measurements]:
    m = Measurements()
    yield m
    m.write()


@pytest.fixture(scope="session")
def template_timing(measurements: Measurements) -> dict:
    spec = default_spec()
    cached = find_template(spec) is not None
    started = time.monotonic()
    tpl = build_template(spec)
    took = time.monotonic() - started
    info = tpl.info
    result = {
        "template": tpl.path.name,
        "size_mb": info["size_mb"],
        "this_run": "reused" if cached else "built",
        "this_run_seconds": round(took, 2),
        "last_build_seconds": info["build_seconds"],
        "last_build_debs_cache_warm": info["debs_cache_warm"],
    }
    measurements.data["template"] = result
    return result


@pytest.fixture(scope="session")
def manager(
    tmp_path_factory: pytest.TempPathFactory, template_timing: dict
) -> Iterator[HostManager]:
    state = tmp_path_factory.mktemp("hosts-state")
    mgr = HostManager(state, proxy_port=TEST_PROXY_PORT)
    yield mgr
    records = mgr.store.hosts()
    mgr.stop_all()
    assert_nothing_left(mgr, records)


def assert_nothing_left(mgr: HostManager, records: list) -> None:
    """No netns, veth, bridge, mount, process or propagate folder of ours survives stop_all."""
    for rec in records:
        paths = hostops.HostPaths(mgr.store, rec.host_id)
        assert not network.netns_exists(rec.netns), rec.netns
        assert not network.link_exists(rec.veth), rec.veth
        assert not network.link_exists(rec.bridge), rec.bridge
        assert not hostops.is_mounted(paths.root), paths.root
        assert not paths.dir.exists(), paths.dir
        assert not (hostops.NSPAWN_PROPAGATE / rec.machine).exists()
        assert hostops.process_start_time(rec.pid) is None, f"nspawn {rec.pid} still runs"
        assert not cgroups.leftovers(rec.machine), rec.machine
    with open("/proc/self/mountinfo") as fh:
        assert str(mgr.state_dir) not in fh.read()
    assert not mgr.proxy.is_running()
    # Volume files stay (they are the volumes' data); their loop devices do not.
    for image in vols.volumes_dir(mgr.state_dir).glob("*.img"):
        assert vols.loops_for(image) == [], image


def boot_all(mgr: HostManager, specs: list[tuple[str, str, str, str, str]]) -> dict[str, HostInfo]:
    """Start every (name, address, gateway, network, fixture) at once, then wait for all of them."""
    for name, address, gateway, net, fixture in specs:
        mgr.ensure_host(name, address, gateway, net, fixture_text(fixture), wait=False)
    with ThreadPoolExecutor(len(specs)) as pool:
        infos = list(pool.map(lambda s: mgr.wait_ready(s[0], timeout=900), specs))
    return {info.name: info for info in infos}
