"""The policy pack's rules (kuntapilvi.policies) on plain resource data: the shipped stacks as the
program registers them under mocks, and hand-made resources that break one rule each."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from pulumi_policy import proxy as policy_proxy

from kuntapilvi.dryrun import dry_run
from kuntapilvi.policies.firewall import SEC_GROUP_RULE, admin_ports_open_to_world
from kuntapilvi.policies.placement import (
    INSTANCE,
    PROJECT,
    PROVIDER,
    STACK_REFERENCE,
    catalogue_sources,
    own_project_only,
)
from kuntapilvi.policies.resources import (
    COMPUTED,
    Resource,
    StackFacts,
    load_catalogue_facts,
    load_stack_facts,
    plain,
)
from kuntapilvi.policies.tagging import labels_of, missing_labels
from kuntapilvi.project import ProjectPaths
from tests.conftest import REPO

PATHS = ProjectPaths(REPO)
CATALOGUE = load_catalogue_facts(PATHS)
TENANTS = ["espoo", "turku", "lahti", "kajaani", "kainuunliitto"]
KAJAANI = StackFacts("kajaani", "tenant", frozenset(TENANTS))
CENTRE = StackFacts("centre", "centre")


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::kuntapilvi::{type_}::{name}"


def res(type_: str, name: str, stack: str = "kajaani", /, **props: Any) -> Resource:
    return Resource(type=type_, name=name, urn=urn(stack, type_, name), props=props)


@cache
def shipped(stack: str) -> tuple[Resource, ...]:
    """The stack's resources as the real program registers them (under Pulumi's mocks)."""
    recorded = dry_run(PATHS, stack, today="2027-01-15").resources
    return tuple(
        Resource(type=r.type, name=r.name, urn=urn(stack, r.type, r.name), props=r.inputs)
        for r in recorded
    )


# --- the shipped stacks pass -------------------------------------------------------------


@pytest.mark.parametrize("stack", [*TENANTS, "centre"])
def test_shipped_stacks_break_no_resource_rule(stack: str) -> None:
    facts = load_stack_facts(PATHS, stack)
    assert facts.kind == ("centre" if stack == "centre" else "tenant")
    found = [
        m
        for r in shipped(stack)
        for m in (admin_ports_open_to_world(r), missing_labels(r, facts, CATALOGUE))
        if m
    ]
    assert found == []


@pytest.mark.parametrize("stack", [*TENANTS, "centre"])
def test_shipped_stacks_use_only_catalogue_flavors_and_images(stack: str) -> None:
    resources = list(shipped(stack))
    if stack != "centre":
        # The mocks answer the centre stack reference the way dry_run publishes it.
        from kuntapilvi.dryrun import mock_centre_regions
        from kuntapilvi.validate import validate

        model = validate(PATHS, [stack]).model
        regions = mock_centre_regions(model.cards, model.centre)
        resources.append(res(STACK_REFERENCE, "centre", stack, outputs={"regions": regions}))
    assert catalogue_sources(resources, load_stack_facts(PATHS, stack), CATALOGUE) == []


def test_every_tenant_resource_that_takes_tags_is_judged() -> None:
    judged = {r.type for r in shipped("kajaani") if labels_of(r.type)}
    assert {
        "openstack:identity/project:Project",
        "openstack:networking/network:Network",
        "openstack:networking/secGroup:SecGroup",
        "openstack:compute/instance:Instance",
        "openstack:blockstorage/volume:Volume",
    } <= judged
    assert not labels_of(SEC_GROUP_RULE), "rules have no tags; their description names the card"


# --- SSH and RDP to the world -------------------------------------------------------------


def rule(**props: Any) -> Resource:
    base = {
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "description": "network.baseline-firewall@1.0.0: Administrative SSH",
    }
    return res(SEC_GROUP_RULE, "kajaani-baseline-tcp-22-0-0", **{**base, **props})


@pytest.mark.parametrize(
    ("props", "opened"),
    [
        ({"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "0.0.0.0/0"}, "SSH"),
        ({"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "::/0"}, "SSH"),
        ({"portRangeMin": 3389, "portRangeMax": 3389, "remoteIpPrefix": "0.0.0.0/0"}, "RDP"),
        (
            {
                "protocol": "udp",
                "portRangeMin": 3389,
                "portRangeMax": 3389,
                "remoteIpPrefix": "0.0.0.0/0",
            },
            "RDP (udp/3389)",
        ),
        ({"protocol": "6", "portRangeMin": 22, "portRangeMax": 22}, "SSH"),
        ({"portRangeMin": 20, "portRangeMax": 25, "remoteIpPrefix": "0.0.0.0/0"}, "SSH"),
        ({"portRangeMin": 1, "portRangeMax": 65535, "remoteIpPrefix": "0.0.0.0/0"}, "RDP"),
        ({"protocol": None, "remoteIpPrefix": "0.0.0.0/0"}, "SSH"),
        ({"protocol": "", "portRangeMin": 0, "portRangeMax": 0}, "RDP (tcp/3389)"),
        ({"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "0.0.0.0/00"}, "SSH"),
    ],
)
def test_rules_opening_admin_ports_to_the_world_are_violations(
    props: dict[str, Any], opened: str
) -> None:
    message = admin_ports_open_to_world(rule(**props))
    assert message is not None
    assert opened in message
    assert "'kajaani-baseline-tcp-22-0-0'" in message, "names the rule"
    assert "card network.baseline-firewall" in message, "names the card"
    assert "catalog/cards/network/baseline-firewall.yaml" in message, "says where to fix it"


@pytest.mark.parametrize(
    "props",
    [
        {"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "10.80.0.0/24"},
        {"portRangeMin": 22, "portRangeMax": 22, "remoteGroupId": "some-group"},
        {"portRangeMin": 22, "portRangeMax": 22, "remoteGroupId": COMPUTED},
        {"portRangeMin": 443, "portRangeMax": 443, "remoteIpPrefix": "0.0.0.0/0"},
        {"portRangeMin": 23, "portRangeMax": 3388, "remoteIpPrefix": "0.0.0.0/0"},
        {"protocol": "udp", "portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "::/0"},
        {"protocol": "icmp", "remoteIpPrefix": "0.0.0.0/0"},
        {"direction": "egress", "remoteIpPrefix": "0.0.0.0/0"},
        {"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": COMPUTED},
    ],
)
def test_rules_that_keep_admin_ports_closed_pass(props: dict[str, Any]) -> None:
    assert admin_ports_open_to_world(rule(**props)) is None


def test_a_rule_without_a_card_in_its_description_still_fails_and_says_so() -> None:
    message = admin_ports_open_to_world(
        rule(description="hand-made", portRangeMin=22, portRangeMax=22, remoteIpPrefix="0.0.0.0/0")
    )
    assert message is not None and "unknown card" in message


# --- tags ---------------------------------------------------------------------------------


NETWORK = "openstack:networking/network:Network"
VOLUME = "openstack:blockstorage/volume:Volume"


def test_a_network_without_its_card_tag_is_a_violation() -> None:
    message = missing_labels(
        res(NETWORK, "kajaani-lan-net", tags=["kuntapilvi-tenant=kajaani"]), KAJAANI, CATALOGUE
    )
    assert message is not None
    assert "Network 'kajaani-lan-net'" in message and "kuntapilvi-card" in message


def test_another_tenants_tag_or_an_unknown_card_is_a_violation() -> None:
    tags = ["kuntapilvi-tenant=lahti", "kuntapilvi-card=office.print"]
    message = missing_labels(res(NETWORK, "n", tags=tags), KAJAANI, CATALOGUE)
    assert message is not None and "it has lahti" in message
    tags = ["kuntapilvi-tenant=kajaani", "kuntapilvi-card=office.fax"]
    message = missing_labels(res(NETWORK, "n", tags=tags), KAJAANI, CATALOGUE)
    assert message is not None and "office.fax" in message


def test_volumes_carry_the_facts_in_metadata() -> None:
    ok = {"kuntapilvi-tenant": "kajaani", "kuntapilvi-card": "capacity.block-storage"}
    assert missing_labels(res(VOLUME, "v", metadata=ok), KAJAANI, CATALOGUE) is None
    message = missing_labels(res(VOLUME, "v", metadata={}), KAJAANI, CATALOGUE)
    assert message is not None and "`metadata`" in message


def test_resources_without_tags_and_unknown_tags_are_not_judged() -> None:
    assert missing_labels(rule(), KAJAANI, CATALOGUE) is None
    assert missing_labels(res(NETWORK, "n", tags=COMPUTED), KAJAANI, CATALOGUE) is None


def test_centre_resources_carry_their_region() -> None:
    tagged = res(NETWORK, "ext", "centre", tags=["kuntapilvi-centre=fi-kaj-1"])
    assert missing_labels(tagged, CENTRE, CATALOGUE) is None
    message = missing_labels(res(NETWORK, "ext", "centre", tags=[]), CENTRE, CATALOGUE)
    assert message is not None and "kuntapilvi-centre" in message


# --- flavors and images ---------------------------------------------------------------------


def centre_ref() -> Resource:
    return res(
        STACK_REFERENCE,
        "organization/kuntapilvi/centre",
        outputs={
            "regions": {
                "fi-kaj-1": {
                    "flavor_ids": {"kp-2c-4g-40g": "f-2c", "kp-99c-1g-1g": "f-odd"},
                    "image_ids": {"debian-12": "i-deb"},
                }
            }
        },
    )


def server(**props: Any) -> Resource:
    return res(
        INSTANCE, "kajaani-print-server", **{"flavorId": "f-2c", "imageId": "i-deb", **props}
    )


def test_servers_boot_what_the_centre_publishes_from_the_catalogue() -> None:
    assert catalogue_sources([centre_ref(), server()], KAJAANI, CATALOGUE) == []
    assert catalogue_sources([centre_ref(), server(flavorId=COMPUTED)], KAJAANI, CATALOGUE) == []


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ({"flavorId": "f-odd"}, "flavor id f-odd"),  # published, but not a catalogue size
        ({"flavorId": "handmade"}, "flavor id handmade"),
        ({"flavorId": None, "flavorName": "m1.huge"}, "flavor m1.huge"),
        ({"imageId": "someones-image"}, "image id someones-image"),
        ({"imageId": None, "imageName": "windows-2019"}, "image windows-2019"),
    ],
)
def test_servers_with_other_flavors_or_images_are_violations(
    props: dict[str, Any], words: str
) -> None:
    [violation] = catalogue_sources([centre_ref(), server(**props)], KAJAANI, CATALOGUE)
    assert words in violation.message and "kajaani-print-server" in violation.message


def test_the_centre_defines_only_catalogue_flavors_and_images() -> None:
    flavor = res("openstack:compute/flavor:Flavor", "f", "centre", name="m1.huge")
    image = res("openstack:images/image:Image", "i", "centre", name="windows-2019")
    messages = [v.message for v in catalogue_sources([flavor, image], CENTRE, CATALOGUE)]
    assert len(messages) == 2
    assert "m1.huge" in messages[0] and "windows-2019" in messages[1]


# --- own project only -----------------------------------------------------------------------


def project(name: str = "kajaani", **props: Any) -> Resource:
    return res(PROJECT, "kajaani-project", name=name, tags=[f"kuntapilvi-tenant={name}"], **props)


def in_project(
    type_: str,
    name: str,
    value: Any,
    deps: tuple[str, ...],
    field: str = "tenantId",
    provider: str | None = None,
) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=urn("kajaani", type_, name),
        props={field: value},
        provider_urn=provider,
        property_dependencies={field: deps},
    )


def test_everything_built_in_the_own_project_passes() -> None:
    own = project()
    provider = Resource(
        type=PROVIDER,
        name="kajaani-scoped",
        urn=urn("kajaani", PROVIDER, "kajaani-scoped"),
        props={"tenantId": COMPUTED, "tenantName": "kajaani"},
        property_dependencies={"tenantId": (own.urn,)},
    )
    resources = [
        own,
        provider,
        in_project(NETWORK, "net", COMPUTED, (own.urn,)),
        in_project(
            "openstack:identity/roleAssignment:RoleAssignment",
            "ra",
            COMPUTED,
            (own.urn,),
            field="projectId",
        ),
        in_project(INSTANCE, "vm", None, (), provider=provider.urn),
    ]
    assert own_project_only(resources, KAJAANI) == []
    assert own_project_only(resources, CENTRE) == [], "the centre stack is not a tenant"


def test_a_literal_project_id_is_a_violation() -> None:
    own = project()
    net = in_project(NETWORK, "net", "0123456789abcdef", ())
    [violation] = own_project_only([own, net], KAJAANI)
    assert violation.urn == net.urn
    assert "'0123456789abcdef'" in violation.message and "Network 'net'" in violation.message


def test_a_project_id_from_elsewhere_is_a_violation_even_when_unknown_at_preview() -> None:
    own = project()
    ref = res(STACK_REFERENCE, "organization/kuntapilvi/lahti")
    net = in_project(NETWORK, "net", COMPUTED, (ref.urn,))
    [violation] = own_project_only([own, ref, net], KAJAANI)
    assert "a computed value" in violation.message


def test_a_project_for_another_tenant_is_a_violation() -> None:
    other = project("lahti")
    violations = own_project_only([other], KAJAANI)
    assert any("creates Project 'kajaani-project' for 'lahti'" in v.message for v in violations)


def test_servers_through_an_unscoped_provider_are_violations() -> None:
    own = project()
    admin = Resource(PROVIDER, "kajaani-admin", urn("kajaani", PROVIDER, "kajaani-admin"), {})
    vm = in_project(INSTANCE, "vm", None, (), provider=admin.urn)
    [violation] = own_project_only([own, admin, vm], KAJAANI)
    assert "provider 'kajaani-admin'" in violation.message


def test_a_provider_logging_in_to_another_project_is_a_violation() -> None:
    own = project()
    provider = Resource(
        type=PROVIDER,
        name="p",
        urn=urn("kajaani", PROVIDER, "p"),
        props={"tenantName": "lahti", "tenantId": COMPUTED},
        property_dependencies={"tenantId": (own.urn,)},
    )
    [violation] = own_project_only([own, provider], KAJAANI)
    assert "'lahti' of another tenant" in violation.message
    admin = Resource(
        PROVIDER, "kajaani-admin", urn("kajaani", PROVIDER, "a"), {"tenantName": "admin"}
    )
    assert own_project_only([own, admin], KAJAANI) == [], "the operator's own login is fine"


# --- what pulumi-policy hands over ---------------------------------------------------------


def test_plain_turns_policy_proxies_into_data_with_computed_markers() -> None:
    unknown = policy_proxy.UNKNOWN_STRING_VALUE
    props = policy_proxy.unknown_checking_proxy(
        {"tenantId": unknown, "tags": ["a=b", unknown], "nested": {"x": [1, {"y": unknown}]}}
    )
    sentinels = frozenset(
        getattr(policy_proxy, n) for n in dir(policy_proxy) if n.startswith("UNKNOWN_")
    )
    assert plain(props, sentinels) == {
        "tenantId": COMPUTED,
        "tags": ["a=b", COMPUTED],
        "nested": {"x": [1, {"y": COMPUTED}]},
    }


def test_only_input_properties_name_the_project() -> None:
    """An RBAC policy's projectId is its owner, filled in by the cloud (the operator's
    project); what it opens, targetTenant, must be the own project."""
    own = project()
    rbac = "openstack:networking/rbacPolicyV2:RbacPolicyV2"
    owner = in_project(rbac, "wan-rbac", "operator-project-id", (), field="projectId")
    assert own_project_only([own, owner], KAJAANI) == []
    shared_out = in_project(rbac, "wan-rbac", "lahti-project-id", (), field="targetTenant")
    [violation] = own_project_only([own, shared_out], KAJAANI)
    assert "targetTenant" in violation.message


def test_qos_policies_are_not_judged_by_tags_neutron_refuses_them() -> None:
    from kuntapilvi.policies.tagging import UNTAGGABLE

    [qos] = UNTAGGABLE
    assert labels_of(qos) == frozenset()
    assert labels_of("openstack:networking/port:Port") == frozenset({"tags"})
