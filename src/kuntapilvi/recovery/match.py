"""Which cloud resource an interrupted create made: found by tags, never by guessing.

A pending create names its URN and the inputs it sent. Resources that take tags or metadata
carry `kuntapilvi-tenant` and `kuntapilvi-name` (the logical name), so the one that create made
is the single resource of that type with both. Attachment-like resources (a rule, a router
interface, a volume attachment, a floating-IP association) take no tags; the cloud allows
only one of each for the same inputs, so the inputs identify it."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kuntapilvi.recovery.state import PendingOp
from kuntapilvi_modules.tags import NAME_KEY, PREFIX

TENANT_KEY = f"{PREFIX}-tenant"

INSTANCE = "openstack:compute/instance:Instance"
PORT = "openstack:networking/port:Port"
NETWORK = "openstack:networking/network:Network"
SUBNET = "openstack:networking/subnet:Subnet"
ROUTER = "openstack:networking/router:Router"
SEC_GROUP = "openstack:networking/secGroup:SecGroup"
FLOATING_IP = "openstack:networking/floatingIp:FloatingIp"
VOLUME = "openstack:blockstorage/volume:Volume"
VOLUME_ATTACH = "openstack:compute/volumeAttach:VolumeAttach"
ROUTER_INTERFACE = "openstack:networking/routerInterface:RouterInterface"
SEC_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
FLOATING_IP_ASSOCIATE = "openstack:networking/floatingIpAssociate:FloatingIpAssociate"
QUOTA_COMPUTE = "openstack:compute/quotaSetV2:QuotaSetV2"
QUOTA_VOLUME = "openstack:blockstorage/quoteSetV3:QuoteSetV3"
QUOTA_NETWORK = "openstack:networking/quotaV2:QuotaV2"
ROLE_ASSIGNMENT = "openstack:identity/roleAssignment:RoleAssignment"
KEYPAIR = "openstack:compute/keypair:Keypair"
GROUP = "openstack:identity/groupV3:GroupV3"
PROJECT = "openstack:identity/project:Project"
USER = "openstack:identity/user:User"
USER_MEMBERSHIP = "openstack:identity/userMembershipV3:UserMembershipV3"
ROUTER_ROUTE = "openstack:networking/routerRoute:RouterRoute"
QOS_POLICY = "openstack:networking/qosPolicy:QosPolicy"
QOS_BANDWIDTH_RULE = "openstack:networking/qosBandwidthLimitRule:QosBandwidthLimitRule"
RBAC_POLICY = "openstack:networking/rbacPolicyV2:RbacPolicyV2"
SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
DNS_ZONE = "openstack:dns/zone:Zone"

TAGGED = (INSTANCE, PORT, NETWORK, SUBNET, ROUTER, SEC_GROUP, FLOATING_IP, VOLUME)
"""Types found by their tenant and logical-name tags (or metadata)."""
KEYED = (
    VOLUME_ATTACH, ROUTER_INTERFACE, SEC_GROUP_RULE, FLOATING_IP_ASSOCIATE,
    QUOTA_COMPUTE, QUOTA_VOLUME, QUOTA_NETWORK, ROLE_ASSIGNMENT, KEYPAIR, GROUP, PROJECT,
    USER, USER_MEMBERSHIP, ROUTER_ROUTE, QOS_POLICY, QOS_BANDWIDTH_RULE, RBAC_POLICY,
    SERVER_GROUP, DNS_ZONE,
)  # fmt: skip
"""Types found by the inputs the cloud keeps unique (a project's quotas, a name in a domain)."""


@dataclass(frozen=True, slots=True)
class CloudResource:
    type: str
    id: str
    """The id the provider uses for the resource (what `pulumi import` takes)."""
    name: str
    project_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    """Tags (`key=value`) and metadata, merged."""
    created: dt.datetime | None = None
    status: str = ""
    size_gb: int | None = None
    flavor: str | None = None

    @property
    def tenant(self) -> str | None:
        return self.labels.get(TENANT_KEY)


class Outcome(enum.StrEnum):
    FOUND = "found"
    ABSENT = "absent"
    AMBIGUOUS = "ambiguous"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class Match:
    op: PendingOp
    outcome: Outcome
    resource: CloudResource | None = None
    candidates: tuple[CloudResource, ...] = ()
    reason: str = ""


def labels_of(
    tags: Iterable[str] | None = None, metadata: dict[str, Any] | None = None
) -> dict[str, str]:
    out = {}
    for tag in tags or ():
        key, sep, value = str(tag).partition("=")
        if sep:
            out[key] = value
    out.update({str(k): str(v) for k, v in (metadata or {}).items()})
    return out


def expected_labels(op: PendingOp) -> dict[str, str]:
    return labels_of(op.inputs.get("tags"), op.inputs.get("metadata"))


def match(op: PendingOp, tenant: str, cloud: Iterable[CloudResource], known: set[str]) -> Match:
    """The one cloud resource `op` created, or why there is none to adopt."""
    if op.type not in TAGGED and op.type not in KEYED:
        return Match(op, Outcome.UNSUPPORTED, reason=f"no way to find a {op.type} by its inputs")
    pool = [c for c in cloud if c.type == op.type and c.id not in known]
    if op.type in TAGGED:
        wanted = expected_labels(op)
        if wanted.get(TENANT_KEY) != tenant:
            # Only what the program tagged for this tenant is looked up: anything else could be
            # absent from the listing, and "absent" would wrongly let the next `up` create it.
            return Match(
                op, Outcome.UNSUPPORTED, reason=f"its inputs carry no {TENANT_KEY}={tenant} tag"
            )
        pool = [c for c in pool if c.tenant == tenant]
        if NAME_KEY in wanted:
            hits = [c for c in pool if c.labels.get(NAME_KEY) == wanted[NAME_KEY]]
            how = f"{NAME_KEY}={wanted[NAME_KEY]}"
        else:
            # Made by a program older than the name tag: the name and every tag must agree.
            name = op.inputs.get("name")
            project = op.inputs.get("tenantId")
            hits = [
                c
                for c in pool
                if name is not None
                and c.name == name
                and NAME_KEY not in c.labels
                and wanted.items() <= c.labels.items()
                and (not project or not c.project_id or c.project_id == project)
            ]
            how = f"name '{name}' and the tags {sorted(wanted)}"
    else:
        hits = pool
        how = "its inputs"
    if not hits:
        return Match(op, Outcome.ABSENT, reason=f"no {short(op.type)} with {how} in the cloud")
    if len(hits) > 1:
        ids = ", ".join(c.id for c in hits)
        return Match(
            op, Outcome.AMBIGUOUS, candidates=tuple(hits),
            reason=f"{len(hits)} resources match {how}: {ids}",
        )  # fmt: skip
    return Match(op, Outcome.FOUND, resource=hits[0], reason=f"found by {how}")


def short(type_token: str) -> str:
    """`openstack:compute/instance:Instance` → `Instance`."""
    return type_token.rsplit(":", 1)[-1]
