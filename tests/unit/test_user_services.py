"""User services: a tenant's own administrators reach its project and servers, and nobody else's."""

from __future__ import annotations

import pytest
import yaml

from kuntapilvi.dryrun import dry_run
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate
from tests.conftest import REPO
from tests.unit.test_validate_bad_inputs import edit

PATHS = ProjectPaths(REPO)
KAJAANI = "stacks/Pulumi.kajaani.yaml"
# From stacks/Pulumi.kajaani.yaml, written out.
MMAKINEN = "AAAAC3NzaC1lZDI1NTE5AAAAICydbL8pav0b63wEP5/nEV31EWd+iEOUv13wBV7tqNfj"


def _userdata(stack: str) -> dict[str, dict]:
    return {
        r.inputs["name"]: yaml.safe_load(r.inputs["userData"])
        for r in dry_run(PATHS, stack, today="2027-01-15").resources
        if r.type == "openstack:compute/instance:Instance"
    }


def test_tenant_admins_get_a_login_with_their_key_on_every_own_server() -> None:
    servers = _userdata("kajaani")
    assert len(servers) == 6
    for name, data in servers.items():
        users = {u["name"]: u for u in data["users"] if isinstance(u, dict)}
        assert set(users) == {"yllapito", "adm-mmakinen", "adm-lvirtanen"}, name
        [key] = users["adm-mmakinen"]["ssh_authorized_keys"]
        assert MMAKINEN in key
        # The centre keeps its management access on the shared login.
        assert users["yllapito"]["ssh_authorized_keys"] == data["ssh_authorized_keys"]
        assert all(MMAKINEN not in k for k in data["ssh_authorized_keys"])


@pytest.mark.parametrize("stack", ["espoo", "turku", "lahti", "kainuunliitto"])
def test_another_tenants_admin_is_on_none_of_its_servers(stack: str) -> None:
    for data in _userdata(stack).values():
        assert MMAKINEN not in yaml.safe_dump(data)
        assert {u["name"] for u in data["users"] if isinstance(u, dict)} == {"yllapito"}


def test_tenant_admins_are_keystone_users_in_the_tenants_own_admins_group_only() -> None:
    recorded = dry_run(PATHS, "kajaani", today="2027-01-15").resources
    users = [r for r in recorded if r.type == "openstack:identity/user:User"]
    assert sorted(u.inputs["name"] for u in users) == ["kajaani-lvirtanen", "kajaani-mmakinen"]
    assert {u.inputs["defaultProjectId"] for u in users} == {"kajaani-project-id"}
    assert all("password" not in u.inputs for u in users)
    members = [r.inputs for r in recorded if r.type.endswith("userMembershipV3:UserMembershipV3")]
    assert sorted(m["userId"] for m in members) == sorted(f"{u.name}-id" for u in users)
    assert {m["groupId"] for m in members} == {"kajaani-admins-id"}
    # The group's only role: member on the tenant's own project.
    roles = [r.inputs for r in recorded if r.type.endswith("roleAssignment:RoleAssignment")]
    group_roles = [r for r in roles if r.get("groupId") == "kajaani-admins-id"]
    assert group_roles == [
        {"projectId": "kajaani-project-id", "groupId": "kajaani-admins-id", "roleId": "role-member"}
    ]
    assert not [r for r in roles if r.get("userId") in {f"{u.name}-id" for u in users}]


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("handle: mmakinen", "handle: root", None),  # allowed: the login is adm-root
        ("handle: mmakinen", "handle: MMakinen", "lower case"),
        ("handle: mmakinen", "handle: lvirtanen", "listed twice"),
        ('ssh_key: "ssh-ed25519 AAAAC3', 'ssh_key: "-----BEGIN OPENSSH PRIVATE KEY', "never"),
    ],
)
def test_bad_admin_entries_are_refused_with_the_field(
    project: ProjectPaths, old: str, new: str, needle: str | None
) -> None:
    edit(KAJAANI, old, new)(project.root)
    report = validate(project, ["kajaani"])
    if needle is None:
        assert report.ok, "\n".join(f.render() for f in report.errors)
        return
    [finding] = report.errors
    assert finding.code == "service.bad-param" and "admins" in finding.field
    assert needle in finding.message and finding.line is not None


def test_mailboxes_log_in_against_the_tenants_own_directory_with_the_sizes_quota() -> None:
    recorded = dry_run(PATHS, "kajaani", today="2027-01-15").resources
    ports = {r.inputs["name"]: r for r in recorded if r.type == "openstack:networking/port:Port"}
    servers = _userdata("kajaani")
    mailbox = servers["kajaani-mailbox"]
    files = {f["path"]: f["content"] for f in mailbox["write_files"]}
    ldap = files["/etc/dovecot/kuntapilvi-ldap.conf.ext"]
    # The mocks number ports in creation order; the directory's address is the one it got.
    assert "kajaani-directory" in ports
    assert "uris = ldap://192.0.2." in ldap
    assert "base = ou=ihmiset,dc=kajaani,dc=kuntapilvi,dc=fi" in ldap
    assert "quota_rule = *:storage=2G" in files["/etc/dovecot/conf.d/99-kuntapilvi.conf"]
    volumes = {r.inputs["name"]: r.inputs for r in recorded if r.type.endswith("volume:Volume")}
    assert volumes["kajaani-mailbox-data"]["size"] == 200


def test_the_relay_delivers_the_tenants_domain_into_its_mailboxes_only_when_it_has_them() -> None:
    def postconf(stack: str) -> dict[str, str]:
        relay = _userdata(stack)[f"{stack}-mail-relay"]
        settings = [c[2] for c in relay["runcmd"] if c[:2] == ["postconf", "-e"]]
        return dict(s.split(" = ", 1) if " = " in s else (s.rstrip(" ="), "") for s in settings)

    kajaani = postconf("kajaani")
    assert kajaani["relay_domains"] == "kajaani.kuntapilvi.fi"
    assert kajaani["transport_maps"].startswith("inline:{ kajaani.kuntapilvi.fi=lmtp:[192.0.2.")
    espoo = postconf("espoo")  # has a relay, no mailboxes: relay only
    assert (espoo["relay_domains"], espoo["transport_maps"]) == ("", "")
