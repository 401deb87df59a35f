"""`kuntapilvi export`: kajaani as OpenTofu HCL and as Heat HOT hold the program's resources.

Structure only: no tofu, no Heat, no cloud. bench/peers.py applies both on devcloud."""

from __future__ import annotations

import collections
import re
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.dryrun import Recorded, dry_run
from kuntapilvi.peerexport import HEAT_TYPES, TF_TYPES, collect, heat_stacks, short_type, to_hcl
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate
from tests.conftest import REPO

PATHS = ProjectPaths(REPO)


@pytest.fixture(scope="module")
def recorded() -> list[Recorded]:
    return [r for r in dry_run(PATHS, "kajaani", today="2027-01-15").resources
            if r.type.startswith("openstack:")]


@pytest.fixture(scope="module")
def export(recorded: list[Recorded]):  # type: ignore[no-untyped-def]
    return collect(validate(PATHS, ["kajaani"]).model, "kajaani", recorded)


@pytest.fixture(scope="module")
def hcl(export) -> str:  # type: ignore[no-untyped-def]
    return to_hcl(export)


def hcl_blocks(text: str) -> dict[tuple[str, str], str]:
    """{(type, name): body} of every top-level `resource` block."""
    out = {}
    for m in re.finditer(r'^resource "([^"]+)" "([^"]+)" \{\n(.*?)^\}', text, re.M | re.S):
        out[(m.group(1), m.group(2))] = m.group(3)
    return out


def test_hcl_has_every_resource_of_the_program_with_its_terraform_type(
        recorded: list[Recorded], hcl: str) -> None:
    blocks = hcl_blocks(hcl)
    want = collections.Counter(TF_TYPES[short_type(r.type)] for r in recorded)
    got = collections.Counter(t for t, _ in blocks)
    assert got == want
    assert got["openstack_compute_instance_v2"] == 6
    assert got["openstack_networking_secgroup_rule_v2"] == 21
    assert {name for _, name in blocks} == {r.name for r in recorded}


def test_hcl_carries_no_mock_value(hcl: str) -> None:
    assert not re.search(r'"[a-z0-9-]+-id"', hcl)
    assert "192.0.2." not in hcl
    assert '"flavor-' not in hcl and '"image-' not in hcl and '"role-' not in hcl
    assert hcl.count("{") == hcl.count("}")


def test_hcl_references_follow_the_programs_dependencies(hcl: str) -> None:
    blocks = hcl_blocks(hcl)
    relay = blocks[("openstack_compute_instance_v2", "kajaani-mail-relay-server")]
    assert "provider = openstack.scoped" in relay
    assert "key_pair = openstack_compute_keypair_v2.kajaani-keypair.name" in relay
    assert "port = openstack_networking_port_v2.kajaani-mail-relay-port.id" in relay
    # The relay's user data names the mailbox server's address, as the program renders it.
    assert "${openstack_networking_port_v2.kajaani-mailbox-port.all_fixed_ips[0]}" in relay
    assert "openstack_identity_role_assignment_v3.kajaani-operator-admin" in relay
    port = blocks[("openstack_networking_port_v2", "kajaani-directory-port")]
    assert "provider" not in port
    assert "tenant_id = openstack_identity_project_v3.kajaani-project.id" in port
    assert "openstack_networking_quota_v2.kajaani-quota-network" in port  # after the quotas
    assert "fixed_ip {\n    subnet_id = openstack_networking_subnet_v2." in port
    # The program's explicit depends_on: the WAN route after both router interfaces, the WAN
    # port after the RBAC policy sharing its network.
    route = blocks[("openstack_networking_router_route_v2", "kajaani-wan-route-172-30-0-0-16")]
    assert "openstack_networking_router_interface_v2.kajaani-wan-router-if" in route
    assert "openstack_networking_router_interface_v2.kajaani-tenant-network-router-if" in route
    wan = blocks[("openstack_networking_port_v2", "kajaani-wan-port")]
    assert "openstack_networking_rbac_policy_v2.kajaani-wan-rbac" in wan
    router = blocks[("openstack_networking_router_v2", "kajaani-tenant-network-router")]
    assert "external_network_id = data.openstack_networking_network_v2." in router
    assert 'data "openstack_compute_flavor_v2" "flavor_kp_1c_2g_20g"' in hcl
    assert 'alias       = "scoped"' in hcl and 'tenant_name = "kajaani"' in hcl


@pytest.fixture(scope="module")
def hot(export) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return heat_stacks(export)


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "get_resource" in value:
            return [value["get_resource"]]
        if "get_attr" in value:
            return [value["get_attr"][0]]
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_hot_splits_kajaani_into_an_admin_stack_and_a_scoped_one(
        recorded: list[Recorded], hot: dict[str, dict[str, Any]]) -> None:
    assert set(hot) == {"kajaani-identity", "kajaani"}
    identity, main = hot["kajaani-identity"]["resources"], hot["kajaani"]["resources"]
    memberships = {r.name for r in recorded if r.type.endswith("UserMembershipV3")}
    assert len(memberships) == 2
    assert set(identity) | set(main) == {r.name for r in recorded} - memberships
    assert not set(identity) & set(main)
    # Heat has no membership resource: the user names its groups.
    user = identity["kajaani-admin-mmakinen"]["properties"]
    assert user["groups"] == [{"get_resource": "kajaani-admins"}]
    assert identity["kajaani-project"]["type"] == "OS::Keystone::Project"
    types = collections.Counter(r["type"] for r in main.values())
    assert types["OS::Nova::Server"] == 6 and types["OS::Neutron::SecurityGroupRule"] == 21
    assert types["OS::Cinder::VolumeAttachment"] == 2 and types["OS::Neutron::Port"] == 7
    for template in hot.values():
        assert template["heat_template_version"] == "2021-04-16"
        names = set(template["resources"])
        for res in template["resources"].values():
            assert set(_refs(res)) <= names  # no reference leaves its stack
            assert set(res.get("depends_on", [])) <= names
            assert res["type"].startswith("OS::")


def test_hot_scoped_stack_names_no_project_and_keeps_the_user_data_references(
        hot: dict[str, dict[str, Any]]) -> None:
    main = hot["kajaani"]["resources"]
    text = yaml.safe_dump(hot["kajaani"])
    assert "tenant_id" not in text and "kajaani-project" not in text and "192.0.2." not in text
    assert main["kajaani-keypair"]["properties"]["name"] == "kajaani-yllapito"
    relay = main["kajaani-mail-relay-server"]["properties"]
    assert relay["key_name"] == {"get_resource": "kajaani-keypair"}  # a key pair's id is its name
    assert relay["networks"] == [{"port": {"get_resource": "kajaani-mail-relay-port"}}]
    replace = relay["user_data"]["str_replace"]
    assert {"get_attr": ["kajaani-mailbox-port", "fixed_ips", 0, "ip_address"]} in \
        replace["params"].values()
    assert all(key in replace["template"] for key in replace["params"])
    wan = main["kajaani-wan-port"]["properties"]
    assert wan["network"] == "kuntaverkko"
    assert wan["qos_policy"] == {"get_resource": "kajaani-wan-qos"}


def test_every_translated_type_has_a_heat_type() -> None:
    special = {"identity/roleAssignment:RoleAssignment",
               "identity/userMembershipV3:UserMembershipV3", "networking/routerRoute:RouterRoute"}
    assert set(TF_TYPES) - special <= set(HEAT_TYPES)


def test_export_command_writes_the_files(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    r = runner.invoke(app, ["export", "--format", "heat", "kajaani", "-o", str(tmp_path / "h")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == ["kajaani-identity.yaml",
                                                                 "kajaani.yaml"]
    r = runner.invoke(app, ["export", "--format", "tofu", "centre"])
    assert r.exit_code != 0 and "centre" in r.output


def test_centre_outputs_replace_the_lookups_by_name(recorded: list[Recorded]) -> None:
    model = validate(PATHS, ["kajaani"]).model
    regions = {"kaj": {"external_network_id": "ext-uuid", "wan_network_id": "wan-uuid",
                       "image_ids": {"debian-12": "image-uuid"},
                       "flavor_ids": {"kp-1c-2g-20g": "flavor-uuid"}}}
    region_id = model.tenants["kajaani"].region.id
    hcl = to_hcl(collect(model, "kajaani", recorded, {region_id: regions["kaj"]}))
    blocks = hcl_blocks(hcl)
    assert 'network_id = "wan-uuid"' in blocks[("openstack_networking_port_v2", "kajaani-wan-port")]
    router = blocks[("openstack_networking_router_v2", "kajaani-tenant-network-router")]
    assert 'external_network_id = "ext-uuid"' in router
    relay = blocks[("openstack_compute_instance_v2", "kajaani-mail-relay-server")]
    assert 'flavor_id = "flavor-uuid"' in relay and 'image_id = "image-uuid"' in relay
    assert "data.openstack_networking_network_v2" not in hcl
