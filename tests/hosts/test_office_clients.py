"""Kajaani's office services used from its offices, and refused to another tenant's offices.

Real Debian hosts from kajaani's rendered user data (the five office cards and its mailboxes, in
its block 10.72.0.0/21), and two client workstations, each a Debian host in a network namespace
of its own:

- a workstation in Kajaani's offices, 172.30.1.10 (its WAN link's office prefix 172.30.0.0/16);
- a workstation in Espoo's offices, 172.20.1.10 (Espoo's office prefix 172.20.0.0/16).

Both are routed in to kajaani's network as the municipal WAN would route them: this machine holds
every network's gateway address and forwards between them, standing in for the WAN router and
kajaani's Neutron router (devcloud's Neutron has no data path of its own, so no security group is
applied here either: what refuses Espoo's workstation is each service's own configuration, the
second of the two places `kuntapilvi.reach` admits from). docs/services.md, "Checked from
outside".

The Kajaani workstation mounts the share (an SMB session: a container has no kernel CIFS), prints,
gets time, takes a user.accounts account through its first login and binds with it, sends mail
through the relay and reads it over IMAP; the account, disabled by a push without it, can no
longer bind or read mail, and is enabled again by the next push. Every one of those services
refuses the Espoo workstation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kuntapilvi.accounts import request_json
from kuntapilvi.hosts import HostManager
from kuntapilvi.hosts.volumes import VolumeSpec
from kuntapilvi.project import ProjectPaths
from kuntapilvi.render import render
from kuntapilvi.servicecontext import base_dn, server_name, userdata_context
from kuntapilvi.validate import validate

pytestmark = pytest.mark.hosts

REPO = ProjectPaths(Path(__file__).resolve().parents[2])
TENANT = "kajaani"
DOMAIN = "kajaani.kuntapilvi.fi"
BASE = base_dn(DOMAIN)
GATEWAY = "10.72.0.1"
NETWORK = "net-kajaani-office"  # the same tenant network as test_card_checks
# The servers' addresses: the office cards as test_card_checks puts them (stack order from .11),
# the mailboxes after its broken print host (.16).
ADDRESSES = {
    "office.file-share": "10.72.0.11",
    "office.print": "10.72.0.12",
    "office.mail-relay": "10.72.0.13",
    "office.directory": "10.72.0.14",
    "office.time": "10.72.0.15",
    "user.mailbox": "10.72.0.17",
}
# Data volumes of their own (test_card_checks has the share's first one).
VOLUMES = {
    "office.file-share": "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a",
    "user.mailbox": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
}
PRINT_QUEUE = "testi"
ACCOUNT = "aaltonen"
NEW_PASSWORD = "Kajaani-toimisto-2027"
SHARE_PASSWORD = "Jaettu-kansio-2027"


@dataclass(frozen=True)
class Client:
    name: str
    address: str
    gateway: str
    network: str


KAJAANI_WS = Client("kajaani-toimisto-ws", "172.30.1.10", "172.30.1.1", "net-kajaani-wan-office")
ESPOO_WS = Client("espoo-toimisto-ws", "172.20.1.10", "172.20.1.1", "net-espoo-wan-office")
CLIENT_USER_DATA = """#cloud-config
hostname: {name}
package_update: true
packages: [smbclient, cups-client, ldap-utils, ca-certificates]
write_files:
  - path: /etc/hosts
    append: true
    content: |
      {directory} directory.{domain}
"""


@dataclass
class Office:
    servers: dict[str, str] = field(default_factory=dict)  # card id -> server name
    inventory: Path = Path()
    first_password: str = ""


def sh(mgr: HostManager, host: str, command: str, timeout: float = 120) -> tuple[int, str]:
    rc, out, err = mgr.run(host, command, timeout=timeout)
    return rc, out + err


def ok(mgr: HostManager, host: str, command: str, timeout: float = 120) -> str:
    rc, out = sh(mgr, host, command, timeout)
    assert rc == 0, f"{host}: {command}\n{out}"
    return out


@contextmanager
def wan_router() -> Iterator[None]:
    """This machine forwards between the office networks and kajaani's (the WAN and the tenant
    router); the hosts machinery turns forwarding off per bridge, so it is switched on here for
    the test only, and off again (which turns it off on every interface)."""
    knob = Path("/proc/sys/net/ipv4/ip_forward")
    before = knob.read_text().strip()
    knob.write_text("1")
    try:
        yield
    finally:
        knob.write_text(before)


@contextmanager
def office_addresses(mgr: HostManager) -> Iterator[None]:
    """The machinery takes only 10.64.0.0/12 (tenant blocks); the workstations are on the
    municipalities' own office networks."""
    before = mgr.allowed_net
    mgr.allowed_net = "172.16.0.0/12"
    try:
        yield
    finally:
        mgr.allowed_net = before


@pytest.fixture(scope="module")
def office(manager: HostManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    model = validate(REPO, [TENANT]).require_ok()
    tenant = model.tenants[TENANT]
    o = Office()
    specs: list[tuple[str, str, str, str, str]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("KUNTAPILVI_APT_PROXY", raising=False)
        for card, address in ADDRESSES.items():
            [service] = tenant.by_card(card)
            ctx = userdata_context(model, tenant, service)
            # What modules/office.py fills in once the ports exist: the servers' addresses.
            ctx["directory_host"] = ADDRESSES["office.directory"]
            ctx["mailbox_host"] = ADDRESSES["user.mailbox"]
            name = server_name(tenant, service)
            o.servers[card] = name
            user_data = render(REPO.templates, service.card.server.template, ctx)
            specs.append((name, f"{address}/24", GATEWAY, NETWORK, user_data))
    for spec in specs:
        manager.ensure_host(*spec, wait=False)
    # Nova attaches the data volumes after the servers are ACTIVE; so does the test.
    for card, volume_id in VOLUMES.items():
        [service] = tenant.by_card(card)
        assert service.size is not None and service.size.data_gb
        spec = VolumeSpec(volume_id, service.size.data_gb, "/dev/vdb")
        manager.sync_volumes(o.servers[card], [spec])
    with office_addresses(manager):
        for ws in (KAJAANI_WS, ESPOO_WS):
            user_data = CLIENT_USER_DATA.format(
                name=ws.name, directory=ADDRESSES["office.directory"], domain=DOMAIN
            )
            specs.append((ws.name, f"{ws.address}/24", ws.gateway, ws.network, user_data))
            manager.ensure_host(*specs[-1], wait=False)
    with ThreadPoolExecutor(len(specs)) as pool:
        infos = list(pool.map(lambda s: manager.wait_ready(s[0], timeout=900), specs))
    for info in infos:
        assert info.cloud_init_status == "done", f"{info.name}: see {info.console_log}"

    # The accounts of kajaani's request, pushed by the centre's command over SSH.
    o.inventory = tmp_path_factory.mktemp("office") / "servers.json"
    o.inventory.write_text(
        json.dumps(
            {
                o.servers["office.directory"]: {
                    "address": ADDRESSES["office.directory"],
                    "service": "directory",
                    "card": "office.directory",
                }
            }
        )
    )
    pushed = push_accounts(manager, o.inventory)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "created: aaltonen, heikkinen, kyllonen" in pushed.stdout, pushed.stdout
    directory = o.servers["office.directory"]
    o.first_password = ok(manager, directory, f"kuntapilvi-accounts first-password {ACCOUNT}")
    o.first_password = o.first_password.strip()
    # The directory's own certificate, pinned on both workstations.
    cert = ok(manager, directory, "cat /etc/ldap/tls/slapd.crt")
    for ws in (KAJAANI_WS, ESPOO_WS):
        ok(manager, ws.name, f"cat > /etc/ssl/certs/kuntapilvi-directory.pem <<'PEM'\n{cert}PEM")
    # What the municipality's own administrators do on their servers: a Samba login for the
    # share (the share is not bound to the directory: docs/services.md), and a queue (the card
    # has none; a municipality adds its printers), here one that prints to /dev/null.
    share = o.servers["office.file-share"]
    ok(
        manager,
        share,
        f"useradd -M -s /usr/sbin/nologin -G yhteiset {ACCOUNT} && "
        f"printf '%s\\n%s\\n' '{SHARE_PASSWORD}' '{SHARE_PASSWORD}' | smbpasswd -s -a {ACCOUNT}",
    )
    printer = o.servers["office.print"]
    ok(
        manager,
        printer,
        "echo 'FileDevice Yes' >> /etc/cups/cups-files.conf && "
        "systemctl restart cups && for i in $(seq 30); do "
        "lpstat -h 127.0.0.1:631 -r | grep -q 'is running' && break; sleep 1; done && "
        f"lpadmin -p {PRINT_QUEUE} -E -v file:///dev/null",
    )
    with wan_router():
        yield o


def push_accounts(mgr: HostManager, inventory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kuntapilvi",
            "accounts",
            "sync",
            TENANT,
            "--inventory",
            str(inventory),
            "--hosts-state",
            str(mgr.state_dir),
        ],
        cwd=REPO.root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**_env(), "NO_COLOR": "1", "COLUMNS": "200"},
    )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "KUNTAPILVI_SSH_KEY"}


# --- what a workstation runs ---------------------------------------------------------------------


def smb(mgr: HostManager, ws: Client, password: str, token: str) -> tuple[int, str]:
    share = ADDRESSES["office.file-share"]
    return sh(
        mgr,
        ws.name,
        f"echo {token} > /tmp/{token}.txt && smbclient //{share}/yhteiset "
        f"-U '{ACCOUNT}%{password}' -c 'put /tmp/{token}.txt {token}.txt; ls' 2>&1",
    )


def lp(mgr: HostManager, ws: Client) -> tuple[int, str]:
    return sh(
        mgr,
        ws.name,
        f"lp -h {ADDRESSES['office.print']}:631 -d {PRINT_QUEUE} -t testisivu /etc/os-release 2>&1",
    )


PRINTER_PAGE = f"""python3 - <<'PY'
import urllib.error, urllib.request
try:
    urllib.request.urlopen("http://{{server}}:631/printers/{PRINT_QUEUE}", timeout=10)
except urllib.error.HTTPError as e:
    print("HTTP", e.code)
    raise SystemExit(1)
print("HTTP 200")
PY"""


NTP_QUERY = """python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"\\x23" + 47 * b"\\0", ("{server}", 123))
try:
    data, _ = s.recvfrom(512)
except socket.timeout:
    print("no answer")
    raise SystemExit(1)
print("mode", data[0] & 7, "stratum", data[1])
PY"""


def ntp(mgr: HostManager, ws: Client) -> tuple[int, str]:
    return sh(mgr, ws.name, NTP_QUERY.format(server=ADDRESSES["office.time"]))


def ldap(
    mgr: HostManager, ws: Client, tool: str, password: str, extra: str = ""
) -> tuple[int, str]:
    return sh(
        mgr,
        ws.name,
        "LDAPTLS_CACERT=/etc/ssl/certs/kuntapilvi-directory.pem "
        f"{tool} -x -ZZ -H ldap://directory.{DOMAIN} -D uid={ACCOUNT},ou=ihmiset,{BASE} "
        f"-w '{password}' {extra} 2>&1",
    )


SMTP_SEND = """python3 - <<'PY'
import smtplib
msg = "From: toimisto@{domain}\\r\\nTo: {rcpt}\\r\\nSubject: {subject}\\r\\n\\r\\nHei!\\r\\n"
try:
    with smtplib.SMTP("{relay}", 25, timeout=30) as s:
        s.sendmail("toimisto@{domain}", ["{rcpt}"], msg)
except smtplib.SMTPRecipientsRefused as e:
    print("refused", e.recipients)
    raise SystemExit(1)
print("sent")
PY"""


def send_mail(mgr: HostManager, ws: Client, subject: str) -> tuple[int, str]:
    return sh(
        mgr,
        ws.name,
        SMTP_SEND.format(
            domain=DOMAIN,
            rcpt=f"{ACCOUNT}@{DOMAIN}",
            subject=subject,
            relay=ADDRESSES["office.mail-relay"],
        ),
    )


IMAP_READ = """python3 - <<'PY'
import imaplib, ssl, time
ctx = ssl.create_default_context()
# The mailbox's certificate is its own self-signed one; the channel is what is checked here.
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for _ in range({tries}):
    with imaplib.IMAP4_SSL("{server}", 993, ssl_context=ctx, timeout=30) as m:
        try:
            m.login("{user}", "{password}")
        except imaplib.IMAP4.error as e:
            print("login refused", e)
            raise SystemExit(1)
        m.select("INBOX")
        _, found = m.search(None, "SUBJECT", '"{subject}"')
        if found[0].split():
            print("found", len(found[0].split()))
            raise SystemExit(0)
    time.sleep(2)
print("not found")
raise SystemExit(2)
PY"""


def read_mail(
    mgr: HostManager, ws: Client, password: str, subject: str, tries: int = 30
) -> tuple[int, str]:
    return sh(
        mgr,
        ws.name,
        IMAP_READ.format(
            server=ADDRESSES["user.mailbox"],
            user=ACCOUNT,
            password=password,
            subject=subject,
            tries=tries,
        ),
        timeout=300,
    )


# --- the checks ---------------------------------------------------------------------------------


def test_every_server_passes_its_cards_checks(
    office: Office, manager: HostManager, tmp_path: Path
) -> None:
    """The card checks of the directory (password policy, sync program), the relay (client
    restrictions) and the mailboxes (one passdb, allow_nets, the data volume), on these hosts."""
    inventory = tmp_path / "servers.json"
    inventory.write_text(json.dumps({
        name: {"address": ADDRESSES[card], "service": name.removeprefix(f"{TENANT}-"),
               "card": card}
        for card, name in office.servers.items()
    }))  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "kuntapilvi", "check", TENANT, "--inventory", str(inventory),
         "--hosts-state", str(manager.state_dir)],
        cwd=REPO.root, capture_output=True, text=True, timeout=600,
        env={**_env(), "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].endswith(" passed, 0 failed"), done.stdout
    for name in office.servers.values():
        assert f"{name} (" in done.stdout


def test_kajaani_workstation_uses_every_office_service(
    office: Office, manager: HostManager
) -> None:
    token = f"k{uuid.uuid4().hex[:10]}"
    # File share: a file written over SMB lands on the share's data volume.
    rc, out = smb(manager, KAJAANI_WS, SHARE_PASSWORD, token)
    assert rc == 0 and f"{token}.txt" in out, out
    assert (
        ok(
            manager, office.servers["office.file-share"], f"cat /srv/samba/yhteiset/{token}.txt"
        ).strip()
        == token
    )
    # Print: a test page is taken and printed (to the null device).
    rc, out = lp(manager, KAJAANI_WS)
    assert rc == 0 and f"request id is {PRINT_QUEUE}-" in out, out
    job = out.split("request id is ", 1)[1].split()[0]
    rc, out = sh(manager, KAJAANI_WS.name, PRINTER_PAGE.format(server=ADDRESSES["office.print"]))
    assert rc == 0 and "HTTP 200" in out, out
    ok(
        manager,
        office.servers["office.print"],
        "for i in $(seq 60); do lpstat -W completed -o "
        f"{PRINT_QUEUE} | grep -q '^{job} ' && exit 0; sleep 1; done; lpstat -t; exit 1",
    )
    # Time: a server answer (mode 4) from chrony's local clock.
    rc, out = ntp(manager, KAJAANI_WS)
    assert rc == 0 and "mode 4 stratum 10" in out, out


def test_a_new_account_changes_its_first_password_then_binds_and_reads_its_mail(
    office: Office, manager: HostManager
) -> None:
    assert len(office.first_password) >= 20
    rc, out = ldap(
        manager,
        KAJAANI_WS,
        "ldappasswd",
        office.first_password,
        f"-a '{office.first_password}' -s '{NEW_PASSWORD}'",
    )
    assert rc == 0, out
    rc, out = ldap(manager, KAJAANI_WS, "ldapwhoami", NEW_PASSWORD)
    assert rc == 0 and f"dn:uid={ACCOUNT},ou=ihmiset,{BASE}" in out, out
    # The one-time password is spent: it binds no more, and the host no longer shows one.
    rc, out = ldap(manager, KAJAANI_WS, "ldapwhoami", office.first_password)
    assert rc == 49, out
    rc, _ = sh(
        manager, office.servers["office.directory"], f"kuntapilvi-accounts first-password {ACCOUNT}"
    )
    assert rc == 1
    subject = f"Tervetuloa {uuid.uuid4().hex[:8]}"
    rc, out = send_mail(manager, KAJAANI_WS, subject)
    assert rc == 0 and "sent" in out, out
    rc, out = read_mail(manager, KAJAANI_WS, NEW_PASSWORD, subject)
    assert rc == 0 and "found 1" in out, out


def test_an_account_that_leaves_the_request_is_disabled_in_place_and_comes_back(
    office: Office, manager: HostManager
) -> None:
    directory = office.servers["office.directory"]
    model = validate(REPO, [TENANT]).require_ok()
    request = json.loads(request_json(model.tenants[TENANT]))
    without = {"accounts": [a for a in request["accounts"] if a["uid"] != ACCOUNT]}
    booted = ok(manager, directory, "cat /proc/sys/kernel/random/boot_id")
    out = ok(manager, directory, f"echo '{json.dumps(without)}' | kuntapilvi-accounts sync")
    assert json.loads(out)["disabled"] == [ACCOUNT]
    rc, out = ldap(manager, KAJAANI_WS, "ldapwhoami", NEW_PASSWORD)
    assert rc == 49, out
    rc, out = read_mail(manager, KAJAANI_WS, NEW_PASSWORD, "x", tries=1)
    assert rc == 1 and "login refused" in out, out
    listed = json.loads(ok(manager, directory, "kuntapilvi-accounts list"))
    assert listed[ACCOUNT] == {"name": "Anna Aaltonen", "state": "disabled", "groups": []}
    # The request again, pushed by the centre's command: enabled, with the password it had.
    pushed = push_accounts(manager, office.inventory)
    assert pushed.returncode == 0 and f"enabled: {ACCOUNT}" in pushed.stdout, pushed.stdout
    rc, out = ldap(manager, KAJAANI_WS, "ldapwhoami", NEW_PASSWORD)
    assert rc == 0, out
    assert ok(manager, directory, "cat /proc/sys/kernel/random/boot_id") == booted  # in place


def test_espoo_workstation_is_refused_by_every_kajaani_service(
    office: Office, manager: HostManager
) -> None:
    # It reaches kajaani's servers: the refusals below are the services', not the network's.
    connect = f"import socket; socket.create_connection(('{ADDRESSES['office.print']}', 631), 5)"
    rc, out = sh(manager, ESPOO_WS.name, f'python3 -c "{connect}"')
    assert rc == 0, out
    token = f"e{uuid.uuid4().hex[:10]}"
    rc, out = smb(manager, ESPOO_WS, SHARE_PASSWORD, token)
    assert rc != 0 and "NT_STATUS_" in out, out
    rc, _ = sh(
        manager, office.servers["office.file-share"], f"test -e /srv/samba/yhteiset/{token}.txt"
    )
    assert rc == 1
    rc, out = lp(manager, ESPOO_WS)
    assert rc != 0 and "request id" not in out, out
    rc, out = sh(manager, ESPOO_WS.name, PRINTER_PAGE.format(server=ADDRESSES["office.print"]))
    assert rc == 1 and "HTTP 403" in out, out  # cupsd's Location rules, not a missing queue
    rc, out = ntp(manager, ESPOO_WS)
    assert rc == 1 and "no answer" in out, out
    rc, out = ldap(manager, ESPOO_WS, "ldapwhoami", NEW_PASSWORD)
    assert rc != 0 and "dn:uid=" not in out, out
    rc, out = send_mail(manager, ESPOO_WS, "ei perille")
    assert rc == 1 and "refused" in out and "554" in out, out
    rc, out = read_mail(manager, ESPOO_WS, NEW_PASSWORD, "x", tries=1)
    assert rc == 1 and "login refused" in out, out
    # And none of it was a broken service: the same account works from Kajaani's offices.
    rc, out = ldap(manager, KAJAANI_WS, "ldapwhoami", NEW_PASSWORD)
    assert rc == 0, out
