"""`kuntapilvi check` against real hosts booted from the kajaani tenant's rendered user data.

One host per office card in kajaani's block (10.72.0.0/21; 10.72.0.11-15, gateway 10.72.0.1),
plus one from a deliberately broken print template (10.72.0.16). The good ones must pass every
check; the broken one must fail exactly the checks that show cupsd is down, with the output
that says so. Figures (boot start to all checks green, RAM per host) go to
reports/hosts-measurements.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jinja2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kuntapilvi.hosts import HostInfo, HostManager, HostsError
from kuntapilvi.hosts import volumes as vols
from kuntapilvi.hosts.volumes import VolumeSpec
from kuntapilvi.project import ProjectPaths
from kuntapilvi.render import environment, render
from kuntapilvi.servicecontext import server_name, userdata_context
from kuntapilvi.validate import validate

from .conftest import Measurements

pytestmark = pytest.mark.hosts

REPO = ProjectPaths(Path(__file__).resolve().parents[2])
FIXTURE_TEMPLATES = Path(__file__).parent / "fixtures" / "templates"
TENANT = "kajaani"
GATEWAY = "10.72.0.1"
NETWORK = "net-kajaani-office"
FIRST_HOST = 11  # 10.72.0.11 ... one per office card, in the stack's order
BROKEN = ("kajaani-print-broken", "10.72.0.16")
SHARE_VOLUME = "5e1f0c1a-7d3b-4e59-9a0b-6c2d8f4e1a37"  # as Cinder would name it


def _centre_key(directory: Path) -> tuple[Path, str]:
    """A stand-in for the centre's admin key: the real private key is never on a test machine."""
    private = Ed25519PrivateKey.generate()
    key = directory / "centre_ed25519"
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                    serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))  # fmt: skip
    key.chmod(0o600)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return key, public.decode() + " centre-test"


class Booted:
    def __init__(self) -> None:
        self.started = 0.0
        self.infos: dict[str, HostInfo] = {}
        self.servers: dict[str, dict[str, str]] = {}  # like the stack's `servers` output
        self.key = Path()
        self.user_data: dict[str, str] = {}
        self.share: tuple[str, VolumeSpec] = ("", VolumeSpec(SHARE_VOLUME, 1, "/dev/vdb"))


@pytest.fixture(scope="module")
def booted(manager: HostManager, tmp_path_factory: pytest.TempPathFactory) -> Booted:
    b = Booted()
    b.key, public = _centre_key(tmp_path_factory.mktemp("centre-key"))
    model = validate(REPO, [TENANT]).require_ok()
    tenant = model.tenants[TENANT]
    office = [s for s in tenant.services if s.card.server and s.card.id.startswith("office.")]
    assert len(office) == 5
    specs: list[tuple[str, str, str]] = []
    with pytest.MonkeyPatch.context() as mp:
        # Devcloud hosts get their apt proxy from the machinery; user data naming one would win.
        mp.delenv("KUNTAPILVI_APT_PROXY", raising=False)
        for i, service in enumerate(office):
            ctx = userdata_context(model, tenant, service)
            # The centre's keys are in catalog/centre.yaml; the test logs in with its own one.
            ctx["ssh_keys"] = [public]
            name, address = server_name(tenant, service), f"10.72.0.{FIRST_HOST + i}"
            specs.append((name, address, render(REPO.templates, service.card.server.template, ctx)))
            b.user_data[name] = specs[-1][2]
            if service.size is not None and service.size.data_gb:
                # Nova attaches the data volume after the server is ACTIVE; so does the test.
                b.share = (name, VolumeSpec(SHARE_VOLUME, service.size.data_gb, "/dev/vdb"))
            b.servers[name] = {
                "address": address,
                "service": service.name,
                "card": service.card.id,
                "card_version": service.card.version,
            }
            if service.card.id == "office.print":
                base = environment(REPO.templates)
                broken_env = base.overlay(loader=jinja2.ChoiceLoader(
                    [jinja2.FileSystemLoader(str(FIXTURE_TEMPLATES)), base.loader]))  # fmt: skip
                text = broken_env.get_template("cloud-init/print-broken.yaml.j2").render(**ctx)
                specs.append((BROKEN[0], BROKEN[1], text))
    b.started = time.monotonic()
    for name, address, user_data in specs:
        manager.ensure_host(name, f"{address}/24", GATEWAY, NETWORK, user_data, wait=False)
    assert b.share[0], "kajaani's file share has a data volume"
    manager.sync_volumes(b.share[0], [b.share[1]])
    with ThreadPoolExecutor(len(specs)) as pool:
        infos = list(pool.map(lambda s: manager.wait_ready(s[0], timeout=900), specs))
    b.infos = {i.name: i for i in infos}
    for info in infos:
        assert info.cloud_init_status == "done", f"{info.name}: see {info.console_log}"
    return b


def _check(args: list[str], tmp: Path) -> tuple[subprocess.CompletedProcess[str], ET.Element]:
    junit = tmp / "junit.xml"
    env = {k: v for k, v in os.environ.items() if k != "KUNTAPILVI_SSH_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "kuntapilvi", "check", TENANT, *args, "--junit", str(junit)],
        cwd=REPO.root, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    root = ET.parse(junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None, done.stdout
    return done, suite


def test_kajaani_office_servers_pass_every_card_check(
    booted: Booted, manager: HostManager, measurements: Measurements, tmp_path: Path
) -> None:
    inventory = tmp_path / "servers.json"
    inventory.write_text(json.dumps(booted.servers, indent=2))
    # The centre's key and its admin user (sudo), host keys pinned from the devcloud state.
    done, suite = _check(
        ["--inventory", str(inventory), "--hosts-state", str(manager.state_dir),
         "--identity", str(booted.key)],
        tmp_path,
    )  # fmt: skip
    green_s = time.monotonic() - booted.started
    assert done.returncode == 0, done.stdout + done.stderr
    assert int(suite.get("failures", "0")) == 0 and int(suite.get("errors", "0")) == 0
    assert int(suite.get("skipped", "0")) == 0
    assert int(suite.get("tests", "0")) >= 5 * 10, done.stdout
    assert done.stdout.rstrip().splitlines()[-1].endswith(" passed, 0 failed")
    for name in booted.servers:
        assert f"{name} (" in done.stdout
        assert f"{name}: yllapito@" in done.stderr  # logged in as the centre's admin user
    listed = {i.name: i for i in manager.list_hosts()}
    measurements.data["kajaani_card_checks"] = {
        "boot_start_to_all_checks_green_s": round(green_s, 1),
        "checks": int(suite.get("tests", "0")),
        "check_run_s": float(suite.get("time", "0")),
        "hosts": {
            name: {
                "ssh_ready_s": booted.infos[name].ssh_ready_s,
                "cloud_init_done_s": booted.infos[name].cloud_init_done_s,
                "pss_mib": listed[name].pss_mib,
            }
            for name in [*booted.servers, BROKEN[0]]
        },
    }


def test_broken_print_template_fails_the_right_checks(
    booted: Booted, manager: HostManager, tmp_path: Path
) -> None:
    inventory = tmp_path / "servers.json"
    address = BROKEN[1]
    inventory.write_text(json.dumps({BROKEN[0]: {
        "address": address, "service": "print", "card": "office.print"}}))  # fmt: skip
    # No --identity: devcloud's own key for root, host key pinned.
    done, suite = _check(
        ["--inventory", str(inventory), "--hosts-state", str(manager.state_dir)], tmp_path
    )
    assert done.returncode == 1, done.stdout + done.stderr
    failed: dict[str, str] = {}
    for case in suite.iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            failed[case.get("name", "")] = f"{failure.get('message', '')}\n{failure.text or ''}"
    names = {n.split("[", 1)[1].rstrip("]") for n in failed}
    assert names == {
        f"{BROKEN[0]}:service cups",
        f"{BROKEN[0]}:socket tcp://0.0.0.0:631",
        f"{BROKEN[0]}:command lpstat -h 127.0.0.1:631 -r",
    }, done.stdout
    service = next(m for n, m in failed.items() if n.endswith(":service cups]"))
    assert "service cups: NOT running" in service
    assert "$ systemctl status cups" in service and "masked" in service  # the command's output
    socket_msg = next(m for n, m in failed.items() if ":socket " in n)
    assert "nothing listens on tcp://0.0.0.0:631" in socket_msg and "$ ss -Hlntu" in socket_msg
    # The same, readable, in the command's own report.
    assert "FAIL" in done.stdout and "scheduler is not running" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].endswith(" passed, 3 failed")


def test_file_share_keeps_its_data_on_a_new_server_and_grows_with_its_volume(
    booted: Booted, manager: HostManager, tmp_path: Path
) -> None:
    """The share is on the data volume: a replaced server (a new host, fresh root disk) gets the
    same volume and finds the files on it, not a new empty filesystem; an extended volume grows
    the filesystem at boot. The card's size check then sees a share larger than its size."""
    name, volume = booted.share
    address = booted.servers[name]["address"]
    rc, _, err = manager.run(name, "echo 'pöytäkirja 1/2026' > /srv/samba/yhteiset/pk.txt && sync")
    assert rc == 0, err
    manager.stop_host(name)
    backing = vols.backing_file(manager.state_dir, volume.volume_id)
    assert backing.is_file() and vols.loops_for(backing) == []  # kept, but no longer bound
    grown = VolumeSpec(volume.volume_id, volume.size_gb + 50, volume.device)
    manager.ensure_host(name, f"{address}/24", GATEWAY, NETWORK, booted.user_data[name],
                        wait=False)  # fmt: skip
    manager.sync_volumes(name, [grown])
    info = manager.wait_ready(name, timeout=900)
    assert info.cloud_init_status == "done", f"see {info.console_log}"
    look = ("cat /srv/samba/yhteiset/pk.txt; findmnt -bnro SIZE --mountpoint /srv/samba; "
            "journalctl -u kuntapilvi-data-volume --no-pager -o cat")  # fmt: skip
    rc, out, err = manager.run(name, look)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "pöytäkirja 1/2026"
    size_gib = int(lines[1]) / 1024**3
    assert volume.size_gb < size_gib <= grown.size_gb, out
    assert "formatted" not in out and "(kp-fileshare) mounted at /srv/samba" in out, out
    inventory = tmp_path / "servers.json"
    inventory.write_text(json.dumps({name: booted.servers[name]}))
    done, suite = _check(["--inventory", str(inventory), "--hosts-state", str(manager.state_dir)],
                         tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name", "").split("[", 1)[1] for c in failed] == [f"{name}:mount /srv/samba]"]
    message = failed[0].find("failure").get("message", "")  # type: ignore[union-attr]
    assert f"not {volume.size_gb} GiB" in message and "$ df -h /srv/samba" in done.stdout


def test_volume_that_cannot_be_plugged_leaves_no_loop_device(
    booted: Booted, manager: HostManager
) -> None:
    """A failed attach is an error naming the volume, and frees the loop device it bound."""
    name = next(n for n in booted.servers if n.endswith("-time"))
    rc, _, err = manager.run(name, "mkdir -p /dev/vdc")  # the node's name is taken by a folder
    assert rc == 0, err
    volume = VolumeSpec("0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d", 1, "/dev/vdc")
    with pytest.raises(HostsError, match=f"attach volume {volume.volume_id} as /dev/vdc"):
        manager.sync_volumes(name, [volume])
    assert vols.loops_for(vols.backing_file(manager.state_dir, volume.volume_id)) == []
    assert manager.get_host(name).volumes == {}
