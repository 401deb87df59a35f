"""The program under Pulumi's mocks: the resource graph each shipped stack registers."""

from __future__ import annotations

import collections
from functools import cache
from typing import Any

import pulumi
import pulumi.runtime.mocks
import pytest
import yaml

from kuntapilvi.dryrun import Recorded, dry_run
from kuntapilvi.errors import InvalidInput
from kuntapilvi.project import ProjectPaths
from kuntapilvi.render import render
from kuntapilvi.servicecontext import userdata_context
from kuntapilvi.validate import validate
from tests.conftest import REPO

TODAY = "2027-01-15"
PATHS = ProjectPaths(REPO)


@cache
def resources(stack: str) -> tuple[Recorded, ...]:
    return tuple(dry_run(PATHS, stack, today=TODAY).resources)


def of_type(stack: str, suffix: str) -> list[Recorded]:
    return [r for r in resources(stack) if r.type.endswith(suffix)]


@pytest.mark.parametrize("stack", ["espoo", "turku", "lahti", "kajaani", "kainuunliitto"])
def test_every_tagged_resource_names_its_tenant(stack: str) -> None:
    for r in resources(stack):
        if "tags" in r.inputs:
            assert f"kuntapilvi-tenant={stack}" in r.inputs["tags"], r.name
        if "metadata" in r.inputs:
            assert r.inputs["metadata"]["kuntapilvi-tenant"] == stack, r.name


@pytest.mark.parametrize("stack", ["espoo", "turku", "lahti", "kajaani", "kainuunliitto"])
def test_quotas_equal_the_tier_numbers(stack: str) -> None:
    model = validate(PATHS, [stack]).model
    tier = model.tenants[stack].by_module("project.quota")[0]
    quota = tier.size.quota
    compute = of_type(stack, "compute/quotaSetV2:QuotaSetV2")[0].inputs
    assert (compute["cores"], compute["instances"], compute["ram"]) == (
        quota.cores,
        quota.instances,
        quota.ram_gb * 1024,
    )
    volume = of_type(stack, "blockstorage/quoteSetV3:QuoteSetV3")[0].inputs
    assert (volume["volumes"], volume["gigabytes"]) == (quota.volumes, quota.volume_gb)
    network = of_type(stack, "networking/quotaV2:QuotaV2")[0].inputs
    assert (network["router"], network["floatingip"]) == (quota.routers, quota.floating_ips)


def test_subnet_is_first_slash24_of_block_and_router_uses_region_gateway() -> None:
    subnet = of_type("kajaani", "networking/subnet:Subnet")[0].inputs
    assert subnet["cidr"] == "10.72.0.0/24"
    assert subnet["gatewayIp"] == "10.72.0.1"
    router = of_type("kajaani", "networking/router:Router")[0].inputs
    assert router["externalNetworkId"] == "ext-fi-kaj-1"


def test_every_security_rule_is_traceable_to_a_card_port() -> None:
    model = validate(PATHS, ["espoo"]).model
    allowed = {(c.id, p.protocol, p.port) for c in model.cards.values() for p in c.ports}
    rules = of_type("espoo", "networking/secGroupRule:SecGroupRule")
    assert rules
    for rule in rules:
        card = rule.inputs["description"].split("@", 1)[0]
        assert (card, rule.inputs["protocol"], rule.inputs.get("portRangeMin")) in allowed
        assert rule.inputs["remoteIpPrefix"] != "0.0.0.0/0", "no card opens anything to the world"


def test_ssh_only_from_management_network() -> None:
    ssh = [r for r in of_type("espoo", "SecGroupRule") if r.inputs.get("portRangeMin") == 22]
    assert [r.inputs["remoteIpPrefix"] for r in ssh] == ["10.80.0.0/24"]


def test_office_servers_get_cloud_init() -> None:
    instances = {r.inputs["name"]: r for r in of_type("kajaani", "compute/instance:Instance")}
    assert set(instances) == {
        "kajaani-file-share",
        "kajaani-print",
        "kajaani-mail-relay",
        "kajaani-directory",
        "kajaani-time",
        "kajaani-mailbox",
    }
    share = yaml.safe_load(instances["kajaani-file-share"].inputs["userData"])
    assert "samba" in share["packages"]
    smb = next(f for f in share["write_files"] if f["path"] == "/etc/samba/smb.conf")
    assert "[yhteiset]" in smb["content"]
    assert "hosts allow = 10.72.0.0/21" in smb["content"]


def test_every_cloud_resource_of_a_tenant_has_a_family_component_as_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pulumi puts a child's parent type into its URN; a resource built without parent= (or
    with the wrong one) shows up here as a top-level one."""
    urns: list[str] = []
    make_urn = pulumi.runtime.mocks.MockMonitor.make_urn

    def recording(self: Any, parent: str, type_: str, name: str) -> str:
        urn = make_urn(self, parent, type_, name)
        urns.append(urn)
        return urn

    monkeypatch.setattr(pulumi.runtime.mocks.MockMonitor, "make_urn", recording)
    dry_run(PATHS, "kajaani", today=TODAY)
    # urn:pulumi:<stack>::<project>::<parent types joined by $>$<type>::<name>
    types = [u.split("::")[2] for u in urns]
    cloud = [t for t in types if t.split("$")[-1].startswith("openstack:")]
    assert len(cloud) > 20
    # Only the stack's own plumbing (its providers, its key pair) hangs off the stack itself.
    direct = sorted({t for t in cloud if t.split("$")[-2:-1] == ["pulumi:pulumi:Stack"]})
    assert direct == ["pulumi:pulumi:Stack$openstack:compute/keypair:Keypair"], direct
    parents = {t.split("$")[-2] for t in cloud if t not in direct}
    assert parents and all(p.startswith("kuntapilvi:") for p in parents), parents


def test_instances_use_scoped_provider_and_ports_the_admin_one() -> None:
    instance = of_type("kajaani", "compute/instance:Instance")[0]
    port = of_type("kajaani", "networking/port:Port")[0]
    assert "kajaani-scoped" in instance.provider
    assert "kajaani-admin" in port.provider


def test_staged_service_is_not_provisioned_before_its_start() -> None:
    names = {r.inputs.get("name") for r in resources("lahti")}
    assert "lahti-file-share" not in names
    later = dry_run(PATHS, "lahti", today="2027-04-01").resources
    assert "lahti-file-share" in {r.inputs.get("name") for r in later}


def test_data_volume_of_file_share_matches_size_tier() -> None:
    volumes = {r.inputs["name"]: r.inputs for r in of_type("espoo", "blockstorage/volume:Volume")}
    assert volumes["espoo-file-share-data"]["size"] == 1000  # size M
    assert volumes["espoo-sovellusdata-data"]["size"] == 500
    assert (
        volumes["espoo-sovellusdata-data"]["metadata"]["kuntapilvi-backup-retention-days"] == "30"
    )


def test_wan_link_routes_every_prefix() -> None:
    routes = of_type("espoo", "networking/routerRoute:RouterRoute")
    assert sorted(r.inputs["destinationCidr"] for r in routes) == ["172.20.0.0/16", "172.21.0.0/16"]
    assert {r.inputs["nextHop"] for r in routes} == {"100.64.0.1"}


def test_centre_creates_a_flavor_for_every_server_size() -> None:
    flavors = {r.inputs["name"] for r in of_type("centre", "compute/flavor:Flavor")}
    assert "kp-2c-4g-20g" in flavors  # office.file-share S and M
    counts = collections.Counter(r.type for r in resources("centre"))
    assert counts["openstack:networking/network:Network"] == 4  # external + WAN, two regions


HOSTILE = 'Kunta": {evil: 1} runcmd: [["rm", "-rf", "/"]] # ' + "'; :"
# A line break would also add a line to slapd's debconf answers: refused at render (and by the
# card's pattern and the parameter check before that).
HOSTILE_LINES = 'Kunta": {evil: 1}\nruncmd: [["rm", "-rf", "/"]]\n# ' + "'; :"


def test_hostile_tenant_text_cannot_change_cloud_init_structure() -> None:
    model = validate(PATHS, ["kajaani"]).model
    tenant = model.tenants["kajaani"]
    service = next(s for s in tenant.services if s.card.id == "office.directory")
    benign = userdata_context(model, tenant, service)
    hostile = {**benign, "params": {**benign["params"], "organization": HOSTILE}}
    template = service.card.server.template
    a = yaml.safe_load(render(PATHS.templates, template, benign))
    b = yaml.safe_load(render(PATHS.templates, template, hostile))
    assert a.keys() == b.keys()
    assert a["runcmd"] == b["runcmd"]
    # The organisation reaches slapd's debconf answers as one string, never as YAML.
    assert a["apt"].keys() == b["apt"].keys()
    assert HOSTILE in b["apt"]["debconf_selections"]["slapd"]
    lines = {**benign, "params": {**benign["params"], "organization": HOSTILE_LINES}}
    with pytest.raises(InvalidInput, match="configuration file"):
        render(PATHS.templates, template, lines)


def test_servers_of_an_anti_affinity_card_share_one_soft_group() -> None:
    groups = of_type("espoo", "compute/serverGroup:ServerGroup")
    assert [g.inputs["policies"] for g in groups] == ["soft-anti-affinity"]
    app_servers = [
        r
        for r in of_type("espoo", "compute/instance:Instance")
        if r.inputs["name"].startswith("espoo-sovellus")
    ]
    assert len(app_servers) == 2
    assert all(
        r.inputs["schedulerHints"][0]["group"] == f"{groups[0].name}-id" for r in app_servers
    )
