"""`kuntapilvi check` without hosts: inventory building, check expansion, parametrisation, SSH
trust choices, and that an unreachable server fails (named) instead of being skipped."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from kuntapilvi.checks import runner
from kuntapilvi.checks.cardchecks import PlaceholderError, card_checks, fill, host_checks
from kuntapilvi.checks.inventory import (
    InventoryHost,
    Login,
    build_inventory,
    read_inventory,
    servers_from_json,
    write_inventory,
)
from kuntapilvi.checks.plugin import plan
from kuntapilvi.cli import app
from kuntapilvi.cli.check import with_logins
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.hosts.names import host_id
from kuntapilvi.hosts.state import HostRecord, StateStore
from kuntapilvi.project import ProjectPaths
from kuntapilvi.servicecontext import check_context
from kuntapilvi.validate import validate

OFFICE = ["file-share", "print", "mail-relay", "directory", "time"]


def card_version(name: str) -> str:
    card = Path(__file__).resolve().parents[2] / "catalog" / "cards" / "office" / f"{name}.yaml"
    return str(yaml.safe_load(card.read_text())["version"])


def kajaani_servers() -> dict[str, dict[str, str]]:
    """What `pulumi stack output servers` gives for kajaani's office services, built from the
    cards as they are now."""
    return {
        f"kajaani-{name}": {
            "address": f"10.72.0.{11 + i}",
            "service": name,
            "card": f"office.{name}",
            "card_version": card_version(name),
        }
        for i, name in enumerate(OFFICE)
    }


@pytest.fixture(scope="module")
def model(repo_paths: ProjectPaths):  # type: ignore[no-untyped-def]
    return validate(repo_paths, ["kajaani"]).require_ok()


@pytest.fixture(scope="module")
def repo_paths() -> ProjectPaths:
    return ProjectPaths(Path(__file__).resolve().parents[2])


def _key_pair(tmp: Path, name: str = "id_ed25519") -> tuple[Path, str]:
    private = Ed25519PrivateKey.generate()
    tmp.mkdir(parents=True, exist_ok=True)
    key = tmp / name
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    key.chmod(0o600)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return key, public.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- inventory ----------------------------------------------------------------------------------
def test_servers_from_json_takes_the_output_or_the_whole_document() -> None:
    servers = kajaani_servers()
    assert servers_from_json(json.dumps(servers), "f") == servers
    whole = {"tenant": "kajaani", "servers": servers, "networks": {}}
    assert servers_from_json(json.dumps(whole), "f") == servers


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not JSON"),
        ("[1, 2]", "must map server names"),
        ('{"kajaani-print": {"address": "10.72.0.12", "card": "office.print"}}', "lacks service"),
    ],
)
def test_servers_from_json_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(KuntapilviError, match=message):
        servers_from_json(text, "inventory.json")


def test_inventory_gives_each_server_its_services_context(model) -> None:  # type: ignore[no-untyped-def]
    hosts = build_inventory(model, "kajaani", kajaani_servers())
    assert [h.name for h in hosts] == sorted(f"kajaani-{n}" for n in OFFICE)
    share = next(h for h in hosts if h.service == "file-share")
    tenant = model.tenants["kajaani"]
    service = next(s for s in tenant.services if s.name == "file-share")
    assert share.context == check_context(model, tenant, service)
    assert share.context["share_name"] == "yhteiset"
    assert share.context["tenant_block"] == "10.72.0.0/21"
    assert share.address == "10.72.0.11" and share.card == "office.file-share"
    assert all(not h.problems and not h.notes for h in hosts)


def test_inventory_flags_servers_that_do_not_match_the_stack(model) -> None:  # type: ignore[no-untyped-def]
    servers = {
        "kajaani-old": {"address": "10.72.0.40", "service": "scanner", "card": "office.scan"},
        "kajaani-print": {"address": "10.72.0.12", "service": "print", "card": "office.time"},
        "kajaani-time": {
            "address": "10.72.0.15", "service": "time", "card": "office.time",
            "card_version": "0.9.0",
        },
    }  # fmt: skip
    hosts = {h.name: h for h in build_inventory(model, "kajaani", servers)}
    assert "not in stacks/Pulumi.kajaani.yaml" in hosts["kajaani-old"].problems[0]
    assert "now gives service 'print' the card office.print" in hosts["kajaani-print"].problems[0]
    assert not hosts["kajaani-time"].problems
    assert "built from office.time 0.9.0" in hosts["kajaani-time"].notes[0]


def test_inventory_of_an_unknown_tenant_is_an_error(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KuntapilviError, match="no tenant stack 'kuopio'"):
        build_inventory(model, "kuopio", {})


def test_inventory_file_round_trips(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hosts = build_inventory(model, "kajaani", kajaani_servers())
    login = Login(user="yllapito", identity="/k", known_hosts="/kh", trust="from /kh")
    hosts = [InventoryHost.from_dict({**h.as_dict(), "login": login.__dict__}) for h in hosts]
    write_inventory(hosts, Path("/project"), tmp_path / "inv.json")
    project, again = read_inventory(tmp_path / "inv.json")
    assert project == Path("/project") and again == hosts


# -- checks from the cards ----------------------------------------------------------------------
def test_card_checks_fill_placeholders_and_take_sockets_from_ports(model) -> None:  # type: ignore[no-untyped-def]
    host = next(
        h for h in build_inventory(model, "kajaani", kajaani_servers()) if h.service == "file-share"
    )
    checks = card_checks(model.cards["office.file-share"], host.context)
    labels = [c.label for c in checks]
    assert labels[:3] == ["package samba", "package smbclient", "service smbd"]
    # The card's port 445 becomes the socket check; the card lists no socket of its own.
    assert [c.target for c in checks if c.kind == "socket"] == ["tcp://0.0.0.0:445"]
    share_dir = next(c for c in checks if c.kind == "file" and c.target == "/srv/samba/yhteiset")
    assert share_dir.spec["group"] == "yhteiset" and share_dir.spec["mode"] == "2770"
    smb_conf = next(c for c in checks if c.target == "/etc/samba/smb.conf")
    assert "workgroup = KAJAANI" in smb_conf.spec["contains"]
    listing = next(c for c in checks if c.kind == "command" and "smbclient" in c.target)
    assert listing.spec["stdout_contains"] == "yhteiset"
    nmbd = next(c for c in checks if c.target == "systemctl is-enabled nmbd")
    assert nmbd.spec["exit_status"] == 1
    # The share's volume: as large as the service's size says (kajaani's file share is S).
    [mount] = [c for c in checks if c.kind == "mount"]
    size = model.cards["office.file-share"].sizes["S"].data_gb
    assert mount.spec == {"path": "/srv/samba", "filesystem": "ext4", "size_gib": size}
    with pytest.raises(PlaceholderError, match="as large as data_gb"):
        card_checks(model.cards["office.file-share"], {**host.context, "data_gb": None})


def test_every_server_card_expands_for_every_tenant(repo_paths: ProjectPaths) -> None:
    """No card's checks name a placeholder that a real service's context lacks."""
    full = validate(repo_paths).require_ok()
    counted = 0
    for tenant in full.tenants.values():
        for service in tenant.services:
            if service.card.server is None:
                continue
            checks = host_checks(service.card, check_context(full, tenant, service))
            assert [c.kind for c in checks[:3]] == ["reachable", "cloud-init", "units"]
            counted += 1
    assert counted >= 5


def test_socket_listed_in_card_and_ports_is_checked_once(model) -> None:  # type: ignore[no-untyped-def]
    print_card = model.cards["office.print"]
    extra = ["tcp://0.0.0.0:631", "tcp://127.0.0.1:632"]
    checks = print_card.host_checks.model_copy(update={"sockets": extra})
    card = print_card.model_copy(update={"host_checks": checks})
    sockets = [c.target for c in card_checks(card, {"tenant_block": "10.72.0.0/21"})
               if c.kind == "socket"]  # fmt: skip
    assert sockets == ["tcp://0.0.0.0:631", "tcp://127.0.0.1:632"]


def test_fill_keeps_literal_braces_and_names_missing_placeholders() -> None:
    assert fill("{{x}} {a}", {"a": 1}) == "{x} 1"
    assert fill("{nets}", {"nets": ["10.0.0.0/8", "192.0.2.0/24"]}) == "10.0.0.0/8 192.0.2.0/24"
    with pytest.raises(PlaceholderError, match="unknown placeholder"):
        fill("{nope}", {})


# -- parametrisation ----------------------------------------------------------------------------
def _inventory_file(model, tmp_path: Path, repo_paths: ProjectPaths, **login: object) -> Path:  # type: ignore[no-untyped-def]
    hosts = build_inventory(model, "kajaani", kajaani_servers())
    defaults: dict[str, object] = {"user": "root", "identity": "/nonexistent", "trust": "test"}
    hosts = [
        InventoryHost.from_dict({**h.as_dict(), "login": {**defaults, **login}}) for h in hosts
    ]
    path = tmp_path / "inventory.json"
    write_inventory(hosts, repo_paths.root, path)
    return path


def test_plan_has_the_baseline_then_the_cards_checks_per_server(
    model, tmp_path: Path, repo_paths: ProjectPaths
) -> None:  # type: ignore[no-untyped-def]
    cases = plan(_inventory_file(model, tmp_path, repo_paths))
    by_host: dict[str, list[str]] = {}
    for case in cases:
        by_host.setdefault(case.host.name, []).append(case.check.label)
    assert set(by_host) == {f"kajaani-{n}" for n in OFFICE}
    for name, labels in by_host.items():
        assert labels[:3] == ["reachable ssh", "cloud-init status done",
                              "units no failed systemd unit"], name  # fmt: skip
    assert "socket udp://0.0.0.0:123" in by_host["kajaani-time"]
    assert (
        "command LDAPTLS_CACERT=/etc/ldap/tls/slapd.crt ldapsearch -x -ZZ -LLL "
        "-H ldap://127.0.0.1 -b dc=kajaani,dc=kuntapilvi,dc=fi -s one dn"
        in by_host["kajaani-directory"]
    )
    assert all(case.error is None for case in cases)
    assert len({c.id for c in cases}) == len(cases), "test ids must be unique"


def test_collection_parametrises_one_generic_test(model, tmp_path, repo_paths) -> None:  # type: ignore[no-untyped-def]
    """pytest itself collects one item per (server, check) from the generic module."""
    inventory = _inventory_file(model, tmp_path, repo_paths)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(runner.TEST_MODULE), "-c", str(runner.INI),
         "--rootdir", str(runner.HERE), "-p", "kuntapilvi.checks.plugin",
         f"--kp-inventory={inventory}", "--collect-only", "-q"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    items = [line for line in done.stdout.splitlines() if "::test_check[" in line]
    assert len(items) == len(plan(inventory))
    assert any("test_check[kajaani-print:service cups]" in i for i in items)


# -- unreachable servers fail, named ------------------------------------------------------------
def test_an_unreachable_server_fails_every_check_and_is_never_skipped(
    model, tmp_path: Path, repo_paths: ProjectPaths
) -> None:  # type: ignore[no-untyped-def]
    key, public = _key_pair(tmp_path)
    port = _free_port()  # nothing listens there: connection refused at once, on loopback only
    host = build_inventory(model, "kajaani", kajaani_servers())[0]
    login = Login(user="root", identity=str(key), host_key=public, trust="test key", port=port)
    host = InventoryHost.from_dict({**host.as_dict(), "address": "127.0.0.1",
                                    "login": login.__dict__})  # fmt: skip
    junit = tmp_path / "junit.xml"
    results = runner.run_checks([host], repo_paths.root, junit=junit, connect_timeout=5)
    assert results and not any(r.passed for r in results)
    first = results[0]
    assert first.kind == "reachable"
    assert f"cannot reach {host.name} (127.0.0.1) over SSH" in first.message
    assert all(host.name in r.message for r in results[1:])
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    assert int(suite.get("failures", "0")) == len(results)
    assert int(suite.get("skipped", "0")) == 0


def test_cli_check_exits_nonzero_with_a_table_and_junit(model, tmp_path, repo_paths) -> None:  # type: ignore[no-untyped-def]
    key, _ = _key_pair(tmp_path)
    inventory = tmp_path / "servers.json"
    servers = {"kajaani-print": {**kajaani_servers()["kajaani-print"], "address": "127.0.0.1"}}
    inventory.write_text(json.dumps(servers))
    junit = tmp_path / "out" / "junit.xml"
    result = CliRunner().invoke(
        app,
        ["check", "kajaani", "--inventory", str(inventory), "--identity", str(key),
         "--known-hosts", str(tmp_path / "no-such-known-hosts"),
         "--hosts-state", str(tmp_path / "no-state"), "--junit", str(junit)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "kajaani-print" in result.stdout and "FAIL" in result.stdout
    assert "no trusted host key for 127.0.0.1" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == "0 passed, 11 failed"
    assert junit.is_file()


def test_cli_check_without_a_key_cannot_run(tmp_path: Path) -> None:
    inventory = tmp_path / "servers.json"
    inventory.write_text(json.dumps({"kajaani-print": kajaani_servers()["kajaani-print"]}))
    result = CliRunner().invoke(
        app,
        ["check", "kajaani", "--inventory", str(inventory), "--identity",
         str(tmp_path / "missing"), "--hosts-state", str(tmp_path / "no-state")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "does not exist" in result.output


# -- SSH trust ----------------------------------------------------------------------------------
def test_devcloud_hosts_use_the_pinned_key_others_known_hosts(
    model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    _key_pair(tmp_path / "home" / ".ssh")  # the operator's default key
    state = tmp_path / "state"
    _key_pair(state / "ssh")  # the devcloud machinery's key
    _, host_pub = _key_pair(tmp_path, "host_key")
    store = StateStore(state)
    hid = host_id("kajaani-print")
    store.save_host(HostRecord(
        name="kajaani-print", host_id=hid, hostname="kajaani-print", address="10.72.0.12/24",
        gateway="10.72.0.1", network_id="n", bridge="b", veth="v", netns="ns", machine="m",
        instance_id="i", config_hash="c",
    ))  # fmt: skip
    pub = store.host_dir(hid) / "root" / "etc" / "ssh" / "ssh_host_ed25519_key.pub"
    pub.parent.mkdir(parents=True)
    pub.write_text(host_pub + " root@print\n")
    centre_key, _ = _key_pair(tmp_path, "centre")
    hosts = build_inventory(model, "kajaani", kajaani_servers())
    known = tmp_path / "known_hosts"
    devcloud = with_logins(hosts, identity=None, user=None, known_hosts=known,
                           hosts_state=state)  # fmt: skip
    logins = {h.name: h.login for h in devcloud}
    pinned = logins["kajaani-print"]
    assert pinned is not None and pinned.host_key == host_pub and pinned.known_hosts is None
    assert pinned.user == "root" and pinned.identity == str(state / "ssh" / "id_ed25519")
    other = logins["kajaani-time"]
    assert other is not None and other.host_key is None and other.known_hosts == str(known)
    assert other.user == "yllapito"
    # With the centre's key, its admin user logs in, also on devcloud hosts (pinned still).
    centre = with_logins(hosts, identity=centre_key, user=None, known_hosts=known,
                         hosts_state=state)  # fmt: skip
    print_login = next(h.login for h in centre if h.name == "kajaani-print")
    assert print_login is not None
    assert print_login.user == "yllapito" and print_login.identity == str(centre_key)
    assert print_login.host_key == host_pub


def test_servers_come_from_the_stack_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo_paths: ProjectPaths
) -> None:
    """Without --inventory, `pulumi stack output --json --stack <tenant>` is read (a stand-in
    pulumi here, which also records how it was called)."""
    from kuntapilvi.checks.inventory import stack_servers

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"tenant": "kajaani", "servers": kajaani_servers()}))
    calls = tmp_path / "calls"
    fake = bin_dir / "pulumi"
    fake.write_text(f'#!/bin/sh\necho "$PWD $*" >> {calls}\ncat {outputs}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert stack_servers("kajaani", repo_paths.root) == kajaani_servers()
    assert calls.read_text().strip() == f"{repo_paths.root} stack output --json --stack kajaani"
    fake.write_text("#!/bin/sh\necho 'error: no stack named kajaani found' >&2\nexit 255\n")
    with pytest.raises(KuntapilviError, match="no stack named kajaani"):
        stack_servers("kajaani", repo_paths.root)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(KuntapilviError, match="pulumi CLI is not on PATH"):
        stack_servers("kajaani", repo_paths.root)
