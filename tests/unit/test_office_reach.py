"""Office services are reached from the tenant's offices: its cloud block, its office networks
(the WAN link's wan_prefixes) and the centre's management network, no more, in the security
group and in each service's own config alike."""

from __future__ import annotations

import pytest
import yaml

from kuntapilvi.dryrun import dry_run
from kuntapilvi.project import ProjectPaths
from kuntapilvi.render import render
from kuntapilvi.servicecontext import userdata_context
from kuntapilvi.validate import validate
from tests.conftest import REPO
from tests.unit.test_validate_bad_inputs import edit

PATHS = ProjectPaths(REPO)
ESPOO = "stacks/Pulumi.espoo.yaml"
# Written out from stacks/Pulumi.espoo.yaml and catalog/centre.yaml, not from the program.
ESPOO_ADMITTED = {"10.64.0.0/19", "172.20.0.0/16", "172.21.0.0/16", "10.80.0.0/24"}
KAJAANI_ADMITTED = {"10.72.0.0/21", "172.30.0.0/16", "10.80.0.0/24"}
OTHERS = ["10.72.0.0/21", "172.22.0.0/16", "10.64.32.0/20"]  # kajaani, turku's offices, turku


@pytest.mark.parametrize(("stack", "expected"), [("espoo", ESPOO_ADMITTED),
                                                 ("kajaani", KAJAANI_ADMITTED)])  # fmt: skip
def test_each_office_security_group_admits_exactly_the_tenants_networks(
    stack: str, expected: set[str]
) -> None:
    recorded = dry_run(PATHS, stack, today="2027-01-15").resources
    rules = [r for r in recorded if r.type.endswith("secGroupRule:SecGroupRule")]
    office = {
        r.inputs["description"].split("@")[0]
        for r in rules
        if r.inputs["description"].startswith("office.")
    }
    assert {"office.file-share", "office.print", "office.time", "office.directory",
            "office.mail-relay"} <= office  # fmt: skip
    for card in office:
        mine = [r for r in rules if r.inputs["description"].startswith(f"{card}@")]
        for port in {r.inputs.get("portRangeMin") for r in mine}:
            admitted = {
                r.inputs["remoteIpPrefix"] for r in mine if r.inputs.get("portRangeMin") == port
            }
            assert admitted == expected, (card, port)
    if stack == "kajaani":
        mailbox = [r.inputs for r in rules if r.inputs["description"].startswith("user.mailbox@")]
        imaps = {r["remoteIpPrefix"] for r in mailbox if r["portRangeMin"] == 993}
        lmtp = {r["remoteIpPrefix"] for r in mailbox if r["portRangeMin"] == 24}
        assert (imaps, lmtp) == (expected, {"10.72.0.0/21"})  # delivery only from the relay's block


def _configs(stack: str) -> dict[str, str]:
    model = validate(PATHS, [stack]).model
    tenant = model.tenants[stack]
    out = {}
    for service in tenant.by_module("office.server"):
        assert service.card.server is not None
        out[service.card.id] = render(
            PATHS.templates, service.card.server.template, userdata_context(model, tenant, service)
        )
    return out


def _file(userdata: str, path: str) -> str:
    return next(f["content"] for f in yaml.safe_load(userdata)["write_files"] if f["path"] == path)


def test_service_configs_admit_the_offices_and_no_other_tenant() -> None:
    configs = _configs("espoo")
    smb = _file(configs["office.file-share"], "/etc/samba/smb.conf")
    hosts_allow = next(line for line in smb.splitlines() if "hosts allow" in line)
    assert set(hosts_allow.split("=", 1)[1].split()) == ESPOO_ADMITTED | {"127.0.0.1"}
    chrony = _file(configs["office.time"], "/etc/chrony/conf.d/kuntapilvi.conf")
    assert {line.split()[1] for line in chrony.splitlines() if line.startswith("allow ")} == (
        ESPOO_ADMITTED
    )
    cups = _file(configs["office.print"], "/etc/cups/cupsd.conf")
    root = cups.split("<Location />", 1)[1].split("</Location>", 1)[0]
    assert {line.split()[-1] for line in root.splitlines() if "Allow from" in line} == (
        ESPOO_ADMITTED | {"127.0.0.1"}
    )
    relay = yaml.safe_load(configs["office.mail-relay"])["runcmd"]
    mynetworks = next(c[2] for c in relay if isinstance(c, list) and "mynetworks =" in c[-1])
    assert set(mynetworks.split("=", 1)[1].split()) == ESPOO_ADMITTED | {"127.0.0.0/8"}
    directory = configs["office.directory"]
    for net in ("10.64.0.0%255.255.224.0", "172.20.0.0%255.255.0.0", "10.80.0.0%255.255.255.0"):
        assert f"peername.ip={net} break" in directory
    for text in configs.values():
        for other in OTHERS:
            assert other not in text


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        # The world is refused first by the parameter type itself (cidr-list, no allow_world).
        ("[172.20.0.0/16, ", "[0.0.0.0/0, ", "service.bad-param"),
        ("[172.20.0.0/16, ", "[128.0.0.0/1, ", "service.bad-param"),
        ("[172.20.0.0/16, ", "[172.22.0.0/16, ", "office-network.overlap"),  # turku's offices
        ("[172.20.0.0/16, ", "[10.72.0.0/16, ", "office-network.overlap"),  # kajaani's block
        ("[172.20.0.0/16, ", "[10.64.0.0/24, ", "office-network.overlap"),  # its own block
        ("[172.20.0.0/16, ", "[10.80.0.0/16, ", "office-network.overlap"),  # management
        ("[172.20.0.0/16, ", "[172.21.128.0/17, ", "office-network.overlap"),  # its own twice
    ],
)
def test_office_networks_that_are_not_the_tenants_own_are_refused(
    project: ProjectPaths, old: str, new: str, code: str
) -> None:
    edit(ESPOO, old, new)(project.root)
    report = validate(project, ["espoo"])
    found = [f for f in report.errors if f.code == code]
    assert found, "\n".join(f.render() for f in report.findings)
    assert found[0].file == ESPOO and "wan_prefixes" in found[0].field and found[0].line == 28


def test_overlap_is_reported_to_both_tenants(project: ProjectPaths) -> None:
    edit(ESPOO, "[172.20.0.0/16, ", "[172.22.0.0/16, ")(project.root)
    assert [f.code for f in validate(project, ["turku"]).errors] == ["office-network.overlap"]


def test_shipped_office_networks_are_valid() -> None:
    report = validate(PATHS)
    assert not [f for f in report.findings if f.code.startswith("office-network.")]


@pytest.mark.parametrize(("stack", "kbps"), [("turku", 100_000), ("espoo", 1_000_000)])
def test_wan_tier_bandwidth_is_a_qos_policy_on_the_links_port(stack: str, kbps: int) -> None:
    """100M and 1G differ in what is built: turku's default 100M, espoo's 1G."""
    recorded = dry_run(PATHS, stack, today="2027-01-15").resources
    [policy] = [r for r in recorded if r.type == "openstack:networking/qosPolicy:QosPolicy"]
    limits = [r.inputs for r in recorded if r.type.endswith(":QosBandwidthLimitRule")]
    assert sorted(r["direction"] for r in limits) == ["egress", "ingress"]
    assert {r["maxKbps"] for r in limits} == {kbps}
    assert {r["qosPolicyId"] for r in limits} == {f"{policy.name}-id"}
    [port] = [r for r in recorded if r.type.endswith("port:Port") and r.name == f"{stack}-wan-port"]
    assert port.inputs["qosPolicyId"] == f"{policy.name}-id"
    assert policy.inputs["name"] == f"{stack}-wan-{'100M' if kbps == 100_000 else '1G'}"
    assert policy.inputs["description"].startswith("network.wan-link@")


def test_a_relay_may_not_admit_another_tenants_networks(project: ProjectPaths) -> None:
    extra = "        params: {extra_networks: [10.72.0.128/25, 172.22.0.0/24]}\n"
    relay = "- card: office.mail-relay\n"
    edit("stacks/Pulumi.kajaani.yaml", relay, relay + extra)(project.root)
    report = validate(project, ["kajaani"])
    # Its own block's part is fine; turku's office network is not.
    [finding] = report.errors
    assert finding.code == "office-network.overlap" and "extra_networks" in finding.field
    assert "172.22.0.0/24" in finding.message and "'turku'" in finding.message
    # turku is not at fault.
    assert validate(project, ["turku"]).ok
