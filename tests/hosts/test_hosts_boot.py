"""Real Debian hosts booted from fixture user data, checked with testinfra over pinned SSH.

Runs as root only (marker `hosts`); a first run builds the template (about 2 minutes) and fills the
apt proxy's cache, later runs reuse both.
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import struct
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import paramiko
import pytest

from kuntapilvi.hosts import HostInfo, HostManager, cgroups, network, ssh
from kuntapilvi.hosts import host as hostops

from .conftest import Measurements, boot_all

pytestmark = pytest.mark.hosts

BASIC_GW = "10.64.201.1"
BASIC = [
    ("perus-1", "10.64.201.11/24", BASIC_GW, "net-perus", "basic"),
    ("perus-2", "10.64.201.12/24", BASIC_GW, "net-perus", "basic"),
]
# The office fixtures name these addresses (relay host, mynetworks, NTP allow), as rendered
# templates for one tenant would.
OFFICE_GW = "10.64.2.1"
OFFICE = [
    ("tiedosto", "10.64.2.10/24", OFFICE_GW, "net-toimisto", "fileshare"),
    ("tulostus", "10.64.2.11/24", OFFICE_GW, "net-toimisto", "print"),
    ("posti", "10.64.2.12/24", OFFICE_GW, "net-toimisto", "mailrelay"),
    ("alypaate", "10.64.2.13/24", OFFICE_GW, "net-toimisto", "smarthost"),
    ("hakemisto", "10.64.2.14/24", OFFICE_GW, "net-toimisto", "directory"),
    ("aika", "10.64.2.15/24", OFFICE_GW, "net-toimisto", "time"),
]


def _figures(infos: dict[str, HostInfo]) -> dict:
    return {
        name: {
            "ssh_ready_s": i.ssh_ready_s,
            "cloud_init_done_s": i.cloud_init_done_s,
            "pss_mib_after_provisioning": i.pss_mib,
        }
        for name, i in infos.items()
    }


def _wait_for(check, timeout: float = 60.0, every: float = 1.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


@pytest.fixture(scope="module")
def basic(manager: HostManager, measurements: Measurements) -> dict[str, HostInfo]:
    infos = boot_all(manager, BASIC)
    measurements.data["two_basic_hosts_at_once"] = _figures(infos)
    return infos


@pytest.fixture(scope="module")
def office(manager: HostManager, measurements: Measurements) -> dict[str, HostInfo]:
    infos = boot_all(manager, OFFICE)
    measurements.data["six_office_hosts_at_once"] = _figures(infos)
    return infos


# -- the template -------------------------------------------------------------------------------
def test_template_is_cached(template_timing: dict) -> None:
    from kuntapilvi.hosts.template import build_template

    started = time.monotonic()
    build_template()
    assert time.monotonic() - started < 2.0, "a second build with the same inputs must reuse it"


# -- two plain hosts on one bridge --------------------------------------------------------------
@pytest.mark.parametrize("name", ["perus-1", "perus-2"])
def test_basic_host(basic: dict[str, HostInfo], manager: HostManager, name: str) -> None:
    info = basic[name]
    assert info.cloud_init_status == "done", info.console_log
    h = manager.testinfra(name)
    assert h.check_output("cloud-init status") == "status: done"
    assert h.check_output("systemctl is-system-running") == "running"
    assert h.process.get(pid=1).comm == "systemd"
    assert h.check_output("hostname") == name
    assert info.ip in h.interface("eth0").addresses
    assert f"via {BASIC_GW}" in h.check_output("ip route show default")
    assert h.package("nginx").is_installed and h.package("curl").is_installed
    nginx = h.service("nginx")
    assert nginx.is_running and nginx.is_enabled
    assert h.socket("tcp://0.0.0.0:80").is_listening
    assert h.socket("tcp://0.0.0.0:22").is_listening
    role = h.file("/etc/kuntapilvi/role")
    assert role.content_string == "basic\n" and role.mode == 0o644
    assert h.file("/var/www/html/index.html").content_string == "kuntapilvi basic host\n"
    assert h.file("/var/lib/kuntapilvi-runcmd-done").exists
    assert h.user("tester").exists
    assert h.run("su -s /bin/sh tester -c 'sudo -n true'").rc == 0


def test_hosts_reach_each_other(basic: dict[str, HostInfo], manager: HostManager) -> None:
    h1 = manager.testinfra("perus-1")
    assert h1.check_output(f"curl -sf http://{basic['perus-2'].ip}/hostname.txt") == "perus-2"


def test_host_key_is_pinned(basic: dict[str, HostInfo], manager: HostManager) -> None:
    """Only the key the host published is accepted; it is also the one cloud-init printed."""
    info = basic["perus-1"]
    published = manager.host_key("perus-1")
    console = info.console_log.read_text(errors="replace")
    assert published in console, "host key on disk differs from the one on the console"
    key, _ = manager.machine_key()
    other = paramiko.Ed25519Key.from_private_key_file(str(key))  # any key that is not the host's
    wrong = f"ssh-ed25519 {base64.b64encode(other.asbytes()).decode()}"
    with pytest.raises(paramiko.BadHostKeyException):
        ssh.connect(info.ip, key, wrong)


def test_machine_side_isolation(basic: dict[str, HostInfo], manager: HostManager) -> None:
    bridge = basic["perus-1"].bridge
    assert Path(f"/proc/sys/net/ipv4/conf/{bridge}/forwarding").read_text().strip() == "0"
    def bound(netns: str | None) -> list[str]:
        enter = ["nsenter", f"--net={netns}"] if netns else []
        out = subprocess.run(
            [*enter, "ss", "-ltnH", f"sport = :{manager.proxy.port}"],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        return sorted(line.split()[3].rsplit(":", 1)[0] for line in out.splitlines())

    gateways = {n.gateway_cidr.split("/")[0] for n in manager.store.networks()}
    assert BASIC_GW in gateways
    uplink = manager.proxy.uplink
    if uplink is None:
        assert bound(None) == sorted({"127.0.0.1", *gateways})
    else:
        # scripts/isolated: the forwarders here, apt-cacher-ng on loopback in the uplink only.
        assert bound(None) == sorted(gateways)
        assert bound(uplink) == ["127.0.0.1"]


def test_each_host_has_its_own_cgroup(basic: dict[str, HostInfo], manager: HostManager) -> None:
    """Hosts booted together must not share a cgroup tree (their systemds would collide)."""
    seen = []
    for name in ("perus-1", "perus-2"):
        rec = manager.store.load_host(name)
        assert rec is not None
        own = cgroups.pids(rec.machine)
        assert rec.pid in own and len(own) > 3  # nspawn, the host's init and its services
        seen.append(own)
    assert not seen[0] & seen[1]


def test_list_hosts_reports_memory(basic: dict[str, HostInfo], manager: HostManager) -> None:
    listed = {i.name: i for i in manager.list_hosts()}
    assert {"perus-1", "perus-2"} <= set(listed)
    assert all(listed[n].running and listed[n].pss_mib for n in ("perus-1", "perus-2"))


def test_single_host_boot_and_stop_leaves_nothing(
    basic: dict[str, HostInfo], manager: HostManager, measurements: Measurements
) -> None:
    """One host alone (warm apt proxy), then stopped: nothing of it may remain."""
    info = manager.ensure_host(
        "yksin", "10.64.201.13/24", BASIC_GW, "net-perus", (Path(__file__).parent /
        "fixtures" / "basic.yaml").read_text(), timeout=600,
    )  # fmt: skip
    assert info.cloud_init_status == "done", info.console_log
    rec = manager.store.load_host(info.host_id)
    assert rec is not None
    paths = hostops.HostPaths(manager.store, rec.host_id)
    pss_idle = manager.get_host("yksin").pss_mib
    started = time.monotonic()
    assert manager.stop_host("yksin")
    stop_s = time.monotonic() - started
    measurements.data["single_basic_host"] = {
        "ssh_ready_s": info.ssh_ready_s,
        "cloud_init_done_s": info.cloud_init_done_s,
        "pss_mib": pss_idle,
        "stop_and_teardown_s": round(stop_s, 2),
    }
    assert not network.netns_exists(rec.netns)
    assert not network.link_exists(rec.veth)
    assert not hostops.is_mounted(paths.root)
    assert not paths.dir.exists()
    assert not (hostops.NSPAWN_PROPAGATE / rec.machine).exists()
    assert hostops.process_start_time(rec.pid) is None
    assert not cgroups.leftovers(rec.machine)
    assert manager.store.load_host(rec.host_id) is None
    # The other hosts on the same bridge are untouched.
    assert manager.get_host("perus-1").running
    assert network.link_exists(rec.bridge)


# -- office services ----------------------------------------------------------------------------
def test_office_hosts_provisioned(office: dict[str, HostInfo], manager: HostManager) -> None:
    for name, info in office.items():
        assert info.cloud_init_status == "done", f"{name}: see {info.console_log}"
        h = manager.testinfra(name)
        assert h.check_output("systemctl is-system-running") == "running", name


def test_file_share(office: dict[str, HostInfo], manager: HostManager) -> None:
    h = manager.testinfra("tiedosto")
    ip = office["tiedosto"].ip
    assert h.package("samba").is_installed
    smbd = h.service("smbd")
    assert smbd.is_running and smbd.is_enabled
    assert not h.service("nmbd").is_running  # NetBIOS is off; nmbd would fail
    assert h.socket("tcp://0.0.0.0:445").is_listening
    assert not h.socket("tcp://0.0.0.0:139").is_listening
    user = "-U maija%Testi-Salasana-1"
    out = h.check_output(
        f"smbclient //{ip}/yhteinen {user} -c 'put /etc/os-release testi.txt; ls; du'"
    )
    assert "testi.txt" in out
    total, size, free = map(
        int, re.search(r"(\d+) blocks of size (\d+)\. (\d+) blocks", out).groups()
    )
    assert total * size == 100 * 1024 * 1024, out  # the share's quota, as clients see it
    assert 0 < free * size < total * size
    stored = h.file("/srv/samba/yhteinen/testi.txt")
    assert stored.exists and stored.user == "maija" and stored.group == "tiedosto"
    bad = h.run(f"smbclient //{ip}/yhteinen -U maija%wrong -c ls")
    assert bad.rc != 0 and "NT_STATUS_LOGON_FAILURE" in bad.stdout + bad.stderr
    guest = h.run(f"smbclient //{ip}/yhteinen -N -c ls")
    assert guest.rc != 0


def test_print(office: dict[str, HostInfo], manager: HostManager) -> None:
    h = manager.testinfra("tulostus")
    ip = office["tulostus"].ip
    assert h.package("cups").is_installed and h.package("printer-driver-cups-pdf").is_installed
    cups = h.service("cups")
    assert cups.is_running and cups.is_enabled
    assert h.socket("tcp://0.0.0.0:631").is_listening
    assert "IdleExitTimeout 0" in h.file("/etc/cups/cupsd.conf").content_string
    assert "enabled" in h.check_output("lpstat -p toimisto-pdf")
    assert "toimisto-pdf" in h.check_output("lpstat -d")
    # IPP over HTTP from this machine (the subnet's gateway, so @LOCAL) sees the queue.
    with urllib.request.urlopen(f"http://{ip}:631/printers/toimisto-pdf", timeout=10) as resp:
        assert resp.status == 200 and b"toimisto-pdf" in resp.read()
    h.check_output("lp -d toimisto-pdf -t kuntapilvi-testi /etc/os-release")
    found = _wait_for(
        lambda: h.run(
            "find /var/spool/cups-pdf /root/PDF -name '*.pdf' 2>/dev/null"
        ).stdout.strip(),
        timeout=60,
    )
    assert found, "cups-pdf wrote no PDF"


def test_mail_relay(office: dict[str, HostInfo], manager: HostManager) -> None:
    h = manager.testinfra("posti")
    ip = office["posti"].ip
    assert h.package("postfix").is_installed
    assert h.service("postfix").is_running and h.service("postfix").is_enabled
    assert h.socket("tcp://0.0.0.0:25").is_listening
    assert h.check_output("postconf -h relayhost") == "[10.64.2.13]:25"
    assert h.check_output("postconf -h mydestination") == ""
    # This machine (10.64.2.1) is not in mynetworks: relaying for it must be refused.
    with smtplib.SMTP(ip, 25, timeout=20) as smtp:
        smtp.ehlo("testi.example")
        assert smtp.mail("ulkopuolinen@example.com")[0] == 250
        code, msg = smtp.rcpt("joku@example.org")
        assert code == 554 and b"Relay access denied" in msg
    # A tenant server (tiedosto, 10.64.2.10, inside 10.64.2.8/29) may relay, and the mail reaches
    # the smarthost.
    tag = uuid.uuid4().hex
    send = (
        "import smtplib; s = smtplib.SMTP('10.64.2.12', 25, timeout=20); "
        f"s.sendmail('palvelin@kunta.example', ['joku@example.org'], 'Subject: {tag}\\n\\nhei'); "
        "s.quit()"
    )
    manager.testinfra("tiedosto").check_output(f'python3 -c "{send}"')
    sink = manager.testinfra("alypaate")
    assert _wait_for(
        lambda: tag in sink.check_output("journalctl -u smtp-sink --no-pager -o cat"), timeout=60
    ), "the relayed mail did not reach the smarthost"


def test_directory(office: dict[str, HostInfo], manager: HostManager) -> None:
    h = manager.testinfra("hakemisto")
    ip = office["hakemisto"].ip
    assert h.package("slapd").is_installed
    assert h.service("slapd").is_running and h.service("slapd").is_enabled
    assert h.socket("tcp://0.0.0.0:389").is_listening
    base = h.check_output(f"ldapsearch -x -LLL -H ldap://{ip} -b dc=kunta,dc=example -s base o")
    assert "dn: dc=kunta,dc=example" in base and "o: Esimerkkikunta" in base
    maija = h.check_output(
        f"ldapsearch -x -LLL -H ldap://{ip} -b dc=kunta,dc=example uid=maija mail"
    )
    assert "mail: maija@kunta.example" in maija
    admin = "-D cn=admin,dc=kunta,dc=example"
    assert h.run(f"ldapwhoami -x -H ldap://{ip} {admin} -w Testi-Salasana-2").rc == 0
    assert h.run(f"ldapwhoami -x -H ldap://{ip} {admin} -w wrong").rc == 49  # invalid credentials
    with socket.create_connection((ip, 389), timeout=5):
        pass  # reachable from the tenant network's gateway too


def _sntp_query(address: str) -> tuple[int, int]:
    """(mode, stratum) of one NTP server reply; a few bounded tries."""
    packet = b"\x23" + 47 * b"\0"  # LI 0, version 4, mode 3 (client)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        for _ in range(3):
            s.sendto(packet, (address, 123))
            try:
                data, _ = s.recvfrom(512)
            except TimeoutError:
                continue
            first, stratum = struct.unpack("!BB", data[:2])
            return first & 0x7, stratum
    raise AssertionError(f"no NTP reply from {address}")


def test_time(office: dict[str, HostInfo], manager: HostManager) -> None:
    h = manager.testinfra("aika")
    ip = office["aika"].ip
    assert h.package("chrony").is_installed
    assert h.check_output("systemd-detect-virt --container") == "systemd-nspawn"
    chrony = h.service("chrony")
    assert chrony.is_running and chrony.is_enabled
    assert h.file("/etc/systemd/system/chrony.service.d/10-container-no-clock.conf").exists
    assert any("-x" in p.args.split() for p in h.process.filter(comm="chronyd"))
    assert h.socket("udp://0.0.0.0:123").is_listening
    assert "allow 10.64.2.0/24" in h.file("/etc/chrony/conf.d/kunta.conf").content_string
    assert "Stratum         : 10" in h.check_output("chronyc -n tracking")
    mode, stratum = _sntp_query(ip)
    assert (mode, stratum) == (4, 10)  # a server reply, from chrony's local clock


def test_memory_per_host(
    office: dict[str, HostInfo], basic: dict[str, HostInfo], manager: HostManager,
    measurements: Measurements,
) -> None:  # fmt: skip
    listed = manager.list_hosts()
    pss = {i.name: i.pss_mib for i in listed}
    measurements.data["pss_mib_now"] = pss
    assert all(v and v < 400 for v in pss.values()), pss
