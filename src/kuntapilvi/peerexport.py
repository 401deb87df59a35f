"""`kuntapilvi export`: a tenant stack as an OpenTofu configuration (HCL) or Heat templates (HOT).

Both come from the resources the Pulumi program itself registers (kuntapilvi.dryrun runs it
under mocks), so they hold the same resources with the same arguments, and cannot drift
from what `pulumi up` builds. Only the plumbing differs, per tool:

- references: under the mocks every resource's id is "<logical name>-id" and each port's
  address is a made-up 192.0.2.x one; both become references (HCL expressions, HOT
  get_resource / get_attr) wherever the program used them, user data included;
- what the centre stack provides (external and WAN networks, flavors, images) and the
  operator's own user and roles are looked up by name (HCL data sources, HOT names);
- the program's two providers (admin, and scoped to the tenant's project) become an admin
  provider and a `scoped` alias in HCL; Heat creates everything in the project of the token
  that creates the stack, so HOT comes as two stacks: `<tenant>-identity` (admin: the
  project, its groups, users, roles, quotas, RBAC) and `<tenant>` (created with a token
  scoped to the tenant's project, everything else; no tenant_id needed there).

docs/performance.md (Peers) lists what each format leaves out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kuntapilvi.dryrun import Recorded
from kuntapilvi.errors import InvalidInput
from kuntapilvi.model import Model, Tenant

# Pulumi token (module/Resource) -> Terraform resource type of terraform-provider-openstack.
TF_TYPES: dict[str, str] = {
    "identity/project:Project": "openstack_identity_project_v3",
    "identity/groupV3:GroupV3": "openstack_identity_group_v3",
    "identity/roleAssignment:RoleAssignment": "openstack_identity_role_assignment_v3",
    "identity/user:User": "openstack_identity_user_v3",
    "identity/userMembershipV3:UserMembershipV3": "openstack_identity_user_membership_v3",
    "compute/quotaSetV2:QuotaSetV2": "openstack_compute_quotaset_v2",
    "blockstorage/quoteSetV3:QuoteSetV3": "openstack_blockstorage_quotaset_v3",
    "networking/quotaV2:QuotaV2": "openstack_networking_quota_v2",
    "networking/network:Network": "openstack_networking_network_v2",
    "networking/subnet:Subnet": "openstack_networking_subnet_v2",
    "networking/router:Router": "openstack_networking_router_v2",
    "networking/routerInterface:RouterInterface": "openstack_networking_router_interface_v2",
    "networking/routerRoute:RouterRoute": "openstack_networking_router_route_v2",
    "networking/secGroup:SecGroup": "openstack_networking_secgroup_v2",
    "networking/secGroupRule:SecGroupRule": "openstack_networking_secgroup_rule_v2",
    "networking/port:Port": "openstack_networking_port_v2",
    "networking/qosPolicy:QosPolicy": "openstack_networking_qos_policy_v2",
    "networking/qosBandwidthLimitRule:QosBandwidthLimitRule":
        "openstack_networking_qos_bandwidth_limit_rule_v2",
    "networking/rbacPolicyV2:RbacPolicyV2": "openstack_networking_rbac_policy_v2",
    "networking/floatingIp:FloatingIp": "openstack_networking_floatingip_v2",
    "networking/floatingIpAssociate:FloatingIpAssociate":
        "openstack_networking_floatingip_associate_v2",
    "compute/keypair:Keypair": "openstack_compute_keypair_v2",
    "compute/instance:Instance": "openstack_compute_instance_v2",
    "compute/volumeAttach:VolumeAttach": "openstack_compute_volume_attach_v2",
    "compute/serverGroup:ServerGroup": "openstack_compute_servergroup_v2",
    "blockstorage/volume:Volume": "openstack_blockstorage_volume_v3",
    "dns/zone:Zone": "openstack_dns_zone_v2",
}

# Pulumi list properties that are nested blocks in HCL, under their Terraform block name.
TF_BLOCKS: dict[str, str] = {
    "fixedIps": "fixed_ip", "networks": "network", "schedulerHints": "scheduler_hints",
}

QUOTA_TYPES = ("compute/quotaSetV2:QuotaSetV2", "blockstorage/quoteSetV3:QuoteSetV3",
               "networking/quotaV2:QuotaV2")
# Made by the admin in the program and in the identity stack of HOT.
IDENTITY_TYPES = (
    "identity/project:Project", "identity/groupV3:GroupV3",
    "identity/roleAssignment:RoleAssignment", "identity/user:User",
    "identity/userMembershipV3:UserMembershipV3", *QUOTA_TYPES,
    "networking/rbacPolicyV2:RbacPolicyV2",
)

MOCK_ADDRESS = re.compile(r"192\.0\.2\.(\d+)(?!\d)")


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def short_type(token: str) -> str:
    """'openstack:networking/port:Port' -> 'networking/port:Port'."""
    return token.split(":", 1)[1]


@dataclass(frozen=True)
class Ref:
    """A reference to another resource's attribute (id, or a port's first address)."""

    target: str  # logical name
    attr: str = "id"


@dataclass(frozen=True)
class Lookup:
    """Something the centre stack or the cloud provides, found by name."""

    kind: str  # external_network, wan_network, flavor, image, operator_user, role
    name: str


@dataclass(frozen=True)
class Template:
    """A string with references inside it (user data naming another server's address)."""

    parts: tuple[str | Ref, ...]


@dataclass
class Resource:
    token: str  # short Pulumi type, e.g. networking/port:Port
    name: str
    inputs: dict[str, Any]
    scoped: bool
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Export:
    tenant: Tenant
    region: str
    resources: list[Resource]

    def by_name(self) -> dict[str, Resource]:
        return {r.name: r for r in self.resources}


def collect(model: Model, stack: str, recorded: list[Recorded],
            centre_outputs: dict[str, Any] | None = None) -> Export:
    """The program's resources with mock ids, addresses and lookups turned into references.

    `centre_outputs`: the centre stack's `regions` output (`pulumi stack output regions --stack
    centre`). With it, what the centre provides is written as the ids it holds, as the program
    reads them; without it, as look-ups by name (a cloud where every name is unique)."""
    if stack not in model.tenants:
        raise InvalidInput(f"export works on tenant stacks; '{stack}' is not one")
    tenant = model.tenants[stack]
    region = tenant.region
    centre = model.centre
    ids: dict[str, Any] = {}
    addresses: dict[str, str] = {}
    port_count = 10
    kept = [r for r in recorded if r.type.startswith("openstack:")]
    for r in kept:
        ids[f"{r.name}-id"] = Ref(r.name)
        if r.type == "openstack:networking/port:Port":
            # The mocks number ports in registration order (dryrun.RecordingMocks).
            port_count += 1
            addresses[str(port_count % 250)] = r.name
    for reg in centre.regions:
        ids[f"ext-{reg.id}"] = Lookup("external_network", reg.external_network.name)
        ids[f"wan-{reg.id}"] = Lookup("wan_network", centre.wan.network_name)
    for image in centre.images:
        ids[f"image-{image.id}"] = Lookup("image", image.name)
    ids["operator-user-id"] = Lookup("operator_user", "operator")
    given = (centre_outputs or {}).get(region.id)
    if given:
        ids[f"ext-{region.id}"] = given["external_network_id"]
        ids[f"wan-{region.id}"] = given["wan_network_id"]
        ids.update({f"image-{k}": v for k, v in given["image_ids"].items()})
        ids.update({f"flavor-{k}": v for k, v in given["flavor_ids"].items()})

    # An output name used as an input: a server's key pair is the Keypair's `name` output.
    keypairs = {r.inputs.get("name"): Ref(r.name, "name") for r in kept
                if r.type == "openstack:compute/keypair:Keypair"}

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            if value in ids:
                return ids[value]  # a Ref, a Lookup, or the centre's own id
            if value.startswith("flavor-"):
                return Lookup("flavor", value.removeprefix("flavor-"))
            if value.startswith("role-"):
                return Lookup("role", value.removeprefix("role-"))
            if MOCK_ADDRESS.search(value):
                parts: list[str | Ref] = []
                pos = 0
                for m in MOCK_ADDRESS.finditer(value):
                    port = addresses.get(m.group(1))
                    if port is None:
                        continue
                    parts += [value[pos:m.start()], Ref(port, "address")]
                    pos = m.end()
                parts.append(value[pos:])
                return Template(tuple(p for p in parts if p != ""))
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    resources: list[Resource] = []
    quotas = [r.name for r in kept if short_type(r.type) in QUOTA_TYPES]
    operator = next((r.name for r in kept
                     if r.inputs.get("userId") == "operator-user-id"), None)
    project = next((r.name for r in kept if short_type(r.type) == "identity/project:Project"),
                   None)
    for r in kept:
        token = short_type(r.type)
        if token not in TF_TYPES:
            raise InvalidInput(f"export cannot translate {r.type} ({r.name}) yet")
        inputs = {k: convert(v) for k, v in r.inputs.items()}
        if token == "compute/instance:Instance" and inputs.get("keyPair") in keypairs:
            inputs["keyPair"] = keypairs[inputs["keyPair"]]
        scoped = "-scoped::" in (r.provider or "")
        res = Resource(token, r.name, inputs, scoped)
        # The program's project_id output waits for the quotas (modules/tenant_project.py).
        waits = token not in QUOTA_TYPES and token != "identity/roleAssignment:RoleAssignment"
        if project and waits and _mentions(inputs, Ref(project)):
            res.depends_on += quotas
        # The scoped provider waits for the operator's role on the project.
        if scoped and operator:
            res.depends_on.append(operator)
        resources.append(res)
    _explicit_orderings(resources)
    return Export(tenant, region.openstack_region, resources)


def _explicit_orderings(resources: list[Resource]) -> None:
    """The program's own `depends_on` options, which the mocks do not record (modules/network.py,
    modules/capacity.py): a WAN route waits for the router's interfaces (Neutron refuses a next
    hop the router is not connected to), the WAN port for the RBAC policy that shares its
    network, a floating address association for the router interfaces."""
    interfaces = [r for r in resources if r.token == "networking/routerInterface:RouterInterface"]
    rbacs = [r for r in resources if r.token == "networking/rbacPolicyV2:RbacPolicyV2"]
    for r in resources:
        extra: list[str] = []
        if r.token == "networking/routerRoute:RouterRoute":
            extra = [i.name for i in interfaces if i.inputs.get("routerId") == r.inputs["routerId"]]
        elif r.token == "networking/port:Port":
            extra = [b.name for b in rbacs if b.inputs.get("objectId") == r.inputs.get("networkId")]
        elif r.token == "networking/floatingIpAssociate:FloatingIpAssociate":
            extra = [i.name for i in interfaces]
        r.depends_on += [e for e in extra if e not in r.depends_on]


def _mentions(value: Any, ref: Ref) -> bool:
    if value == ref:
        return True
    if isinstance(value, list):
        return any(_mentions(v, ref) for v in value)
    if isinstance(value, dict):
        return any(_mentions(v, ref) for v in value.values())
    if isinstance(value, Template):
        return ref in value.parts
    return False


# ---------------------------------------------------------------------------------------------
# OpenTofu (HCL)
# ---------------------------------------------------------------------------------------------


def tf_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _hcl_string(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    # HCL interpolation and directives start with ${ and %{; a literal one is doubled.
    return out.replace("${", "$${").replace("%{", "%%{")


class _Hcl:
    def __init__(self, export: Export) -> None:
        self.export = export
        self.types = {r.name: TF_TYPES[r.token] for r in export.resources}
        self.lookups: dict[tuple[str, str], str] = {}

    def ref(self, ref: Ref) -> str:
        base = f"{self.types[ref.target]}.{tf_name(ref.target)}"
        if ref.attr == "address":
            return f"{base}.all_fixed_ips[0]"
        return f"{base}.{ref.attr}"

    def lookup(self, lk: Lookup) -> str:
        key = (lk.kind, lk.name)
        label = tf_name(f"{lk.kind}_{lk.name}").replace("-", "_").replace(".", "_")
        self.lookups[key] = label
        return {
            "external_network": f"data.openstack_networking_network_v2.{label}.id",
            "wan_network": f"data.openstack_networking_network_v2.{label}.id",
            "flavor": f"data.openstack_compute_flavor_v2.{label}.id",
            "image": f"data.openstack_images_image_v2.{label}.id",
            "operator_user": f"data.openstack_identity_auth_scope_v3.{label}.user_id",
            "role": f"data.openstack_identity_role_v3.{label}.id",
        }[lk.kind]

    def value(self, v: Any, indent: int) -> str:
        pad = "  " * indent
        if isinstance(v, Ref):
            return self.ref(v)
        if isinstance(v, Lookup):
            return self.lookup(v)
        if isinstance(v, Template):
            text = "".join(
                _hcl_string(p)[1:-1] if isinstance(p, str) else "${" + self.ref(p) + "}"
                for p in v.parts)
            return f'"{text}"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, str):
            return _hcl_string(v)
        if isinstance(v, list):
            if not v:
                return "[]"
            items = ",\n".join(f"{pad}  {self.value(x, indent + 1)}" for x in v)
            return f"[\n{items},\n{pad}]"
        if isinstance(v, dict):
            if not v:
                return "{}"
            items = "\n".join(f"{pad}  {_hcl_string(k)} = {self.value(x, indent + 1)}"
                              for k, x in sorted(v.items()))
            return f"{{\n{items}\n{pad}}}"
        raise TypeError(f"cannot write {v!r} as HCL")

    def resource(self, r: Resource) -> str:
        lines = [f'resource "{TF_TYPES[r.token]}" "{tf_name(r.name)}" {{']
        if r.scoped:
            lines.append("  provider = openstack.scoped")
        blocks = []
        for key in sorted(r.inputs):
            v = r.inputs[key]
            if key in TF_BLOCKS and isinstance(v, list):
                for item in v:
                    body = "\n".join(f"    {snake(k)} = {self.value(x, 2)}"
                                     for k, x in sorted(item.items()))
                    blocks.append(f"  {TF_BLOCKS[key]} {{\n{body}\n  }}")
                continue
            lines.append(f"  {snake(key)} = {self.value(v, 1)}")
        lines += blocks
        if r.depends_on:
            deps = ", ".join(f"{self.types[d]}.{tf_name(d)}" for d in r.depends_on)
            lines.append(f"  depends_on = [{deps}]")
        lines.append("}")
        return "\n".join(lines)

    def data_sources(self) -> list[str]:
        out = []
        for (kind, name), label in sorted(self.lookups.items(), key=lambda kv: kv[1]):
            if kind in ("external_network", "wan_network"):
                out.append(f'data "openstack_networking_network_v2" "{label}" {{\n'
                           f'  name = {_hcl_string(name)}\n}}')
            elif kind == "flavor":
                out.append(f'data "openstack_compute_flavor_v2" "{label}" {{\n'
                           f'  name = {_hcl_string(name)}\n}}')
            elif kind == "image":
                out.append(f'data "openstack_images_image_v2" "{label}" {{\n'
                           f'  name        = {_hcl_string(name)}\n  most_recent = true\n}}')
            elif kind == "operator_user":
                out.append(f'data "openstack_identity_auth_scope_v3" "{label}" {{\n'
                           f'  name = "operator"\n}}')
            elif kind == "role":
                out.append(f'data "openstack_identity_role_v3" "{label}" {{\n'
                           f'  name = {_hcl_string(name)}\n}}')
        return out


def to_hcl(export: Export, provider_version: str = "3.4.0") -> str:
    """One main.tf: providers (admin + scoped alias), data sources, every resource."""
    w = _Hcl(export)
    body = [w.resource(r) for r in export.resources]
    stack = export.tenant.stack
    head = [
        f"# Generated by `kuntapilvi export --format tofu {stack}` from the same model as the",
        "# Pulumi program; regenerate instead of editing. Credentials come from OS_* variables.",
        "terraform {",
        "  required_providers {",
        "    openstack = {",
        '      source  = "terraform-provider-openstack/openstack"',
        f'      version = "{provider_version}"',
        "    }",
        "  }",
        "}",
        "",
        'provider "openstack" {',
        f'  region = "{export.region}"',
        "}",
        "",
        "# The tenant's own project: servers, volumes and the key pair are made inside it.",
        'provider "openstack" {',
        '  alias       = "scoped"',
        f'  region      = "{export.region}"',
        f'  tenant_name = "{stack}"',
        "}",
    ]
    return "\n".join(head) + "\n\n" + "\n\n".join([*w.data_sources(), *body]) + "\n"


# ---------------------------------------------------------------------------------------------
# Heat (HOT)
# ---------------------------------------------------------------------------------------------

# Pulumi token -> (Heat type, {pulumi property: Heat property}); unlisted properties are dropped
# (the tenant_id/project_id of resources in the scoped stack: Heat puts them in its project).
HeatMap = tuple[str, dict[str, str]]
HEAT_TYPES: dict[str, HeatMap] = {
    "identity/project:Project": ("OS::Keystone::Project", {
        "name": "name", "description": "description", "tags": "tags"}),
    "identity/groupV3:GroupV3": ("OS::Keystone::Group", {
        "name": "name", "description": "description"}),
    "identity/user:User": ("OS::Keystone::User", {
        "name": "name", "description": "description", "enabled": "enabled",
        "defaultProjectId": "default_project"}),
    "compute/quotaSetV2:QuotaSetV2": ("OS::Nova::Quota", {
        "projectId": "project", "instances": "instances", "cores": "cores", "ram": "ram"}),
    "blockstorage/quoteSetV3:QuoteSetV3": ("OS::Cinder::Quota", {
        "projectId": "project", "volumes": "volumes", "gigabytes": "gigabytes",
        "snapshots": "snapshots"}),
    "networking/quotaV2:QuotaV2": ("OS::Neutron::Quota", {
        "projectId": "project", "network": "network", "subnet": "subnet", "port": "port",
        "router": "router", "floatingip": "floatingip", "securityGroup": "security_group",
        "securityGroupRule": "security_group_rule"}),
    "networking/rbacPolicyV2:RbacPolicyV2": ("OS::Neutron::RBACPolicy", {
        "objectId": "object_id", "objectType": "object_type", "action": "action",
        "targetTenant": "target_tenant"}),
    "networking/network:Network": ("OS::Neutron::Net", {
        "name": "name", "adminStateUp": "admin_state_up", "tags": "tags"}),
    "networking/subnet:Subnet": ("OS::Neutron::Subnet", {
        "name": "name", "networkId": "network", "cidr": "cidr", "ipVersion": "ip_version",
        "gatewayIp": "gateway_ip", "tags": "tags"}),
    "networking/router:Router": ("OS::Neutron::Router", {"name": "name", "tags": "tags"}),
    "networking/routerInterface:RouterInterface": ("OS::Neutron::RouterInterface", {
        "routerId": "router", "subnetId": "subnet", "portId": "port"}),
    "networking/secGroup:SecGroup": ("OS::Neutron::SecurityGroup", {
        "name": "name", "description": "description"}),
    "networking/secGroupRule:SecGroupRule": ("OS::Neutron::SecurityGroupRule", {
        "securityGroupId": "security_group", "direction": "direction",
        "ethertype": "ethertype", "protocol": "protocol", "portRangeMin": "port_range_min",
        "portRangeMax": "port_range_max", "remoteIpPrefix": "remote_ip_prefix",
        "description": "description"}),
    "networking/port:Port": ("OS::Neutron::Port", {
        "name": "name", "networkId": "network", "securityGroupIds": "security_groups",
        "qosPolicyId": "qos_policy", "tags": "tags"}),
    "networking/qosPolicy:QosPolicy": ("OS::Neutron::QoSPolicy", {
        "name": "name", "description": "description"}),
    "networking/qosBandwidthLimitRule:QosBandwidthLimitRule": (
        "OS::Neutron::QoSBandwidthLimitRule", {
            "qosPolicyId": "policy", "maxKbps": "max_kbps", "maxBurstKbps": "max_burst_kbps",
            "direction": "direction"}),
    "networking/floatingIp:FloatingIp": ("OS::Neutron::FloatingIP", {"pool": "floating_network"}),
    "networking/floatingIpAssociate:FloatingIpAssociate": ("OS::Neutron::FloatingIPAssociation", {
        "floatingIp": "floatingip_id", "portId": "port_id"}),
    "compute/keypair:Keypair": ("OS::Nova::KeyPair", {"name": "name", "publicKey": "public_key"}),
    "compute/instance:Instance": ("OS::Nova::Server", {
        "name": "name", "flavorId": "flavor", "imageId": "image", "keyPair": "key_name",
        "userData": "user_data", "metadata": "metadata", "tags": "tags"}),
    "compute/volumeAttach:VolumeAttach": ("OS::Cinder::VolumeAttachment", {
        "instanceId": "instance_uuid", "volumeId": "volume_id"}),
    "compute/serverGroup:ServerGroup": ("OS::Nova::ServerGroup", {"name": "name"}),
    "blockstorage/volume:Volume": ("OS::Cinder::Volume", {
        "name": "name", "size": "size", "metadata": "metadata"}),
    "dns/zone:Zone": ("OS::Designate::Zone", {
        "name": "name", "email": "email", "ttl": "ttl", "description": "description"}),
}


def heat_stacks(export: Export) -> dict[str, dict[str, Any]]:
    """{stack name: HOT template}: `<tenant>-identity` (admin) and `<tenant>` (scoped)."""
    stack = export.tenant.stack
    names = {"identity": f"{stack}-identity", "main": stack}
    home = {r.name: ("identity" if r.token in IDENTITY_TYPES else "main")
            for r in export.resources}
    templates: dict[str, dict[str, Any]] = {
        part: {
            "heat_template_version": "2021-04-16",
            "description": (f"Generated by `kuntapilvi export --format heat {stack}`: "
                            + ("the tenant's project, users, roles and quotas (admin)"
                               if part == "identity" else
                               f"everything inside project {stack} (create it scoped there)")),
            "resources": {},
        }
        for part in ("identity", "main")
    }
    project = next((r.name for r in export.resources
                    if r.token == "identity/project:Project"), None)

    def value(v: Any, part: str) -> Any:
        if isinstance(v, Ref):
            if home.get(v.target) != part:
                if v.target == project:
                    # Only the identity stack names the project by id; the scoped stack is in it.
                    return stack
                raise InvalidInput(f"export: {v.target} is referenced across Heat stacks")
            if v.attr == "address":
                return {"get_attr": [v.target, "fixed_ips", 0, "ip_address"]}
            # (A key pair's resource id is its name, so `name` is get_resource too.)
            return {"get_resource": v.target}
        if isinstance(v, Lookup):
            if v.kind == "operator_user":
                return {"get_param": "operator_user"}
            return v.name
        if isinstance(v, Template):
            template = "".join(p if isinstance(p, str) else f"@@{i}@@"
                               for i, p in enumerate(v.parts))
            params = {f"@@{i}@@": value(p, part) for i, p in enumerate(v.parts)
                      if isinstance(p, Ref)}
            return {"str_replace": {"template": template, "params": params}}
        if isinstance(v, list):
            return [value(x, part) for x in v]
        if isinstance(v, dict):
            return {k: value(x, part) for k, x in v.items()}
        return v

    by_name = export.by_name()
    # Heat has no membership resource: a user's groups are a property of OS::Keystone::User.
    groups: dict[str, list[Any]] = {}
    for r in export.resources:
        if r.token == "identity/userMembershipV3:UserMembershipV3":
            user = r.inputs["userId"]
            if isinstance(user, Ref):
                groups.setdefault(user.target, []).append(r.inputs["groupId"])
    for r in export.resources:
        part = home[r.name]
        if r.token == "identity/userMembershipV3:UserMembershipV3":
            continue
        props = heat_properties(r, lambda v, p=part: value(v, p))  # type: ignore[misc]
        if props is None:
            continue
        htype, body = props
        if r.name in groups:
            body["groups"] = [value(g, part) for g in groups[r.name]]
        res: dict[str, Any] = {"type": htype, "properties": body}
        deps = [d for d in r.depends_on if home.get(d) == part and d in by_name]
        if deps:
            res["depends_on"] = deps
        templates[part]["resources"][r.name] = res
    templates["identity"]["parameters"] = {"operator_user": {
        "type": "string", "default": "admin",
        "description": "The account that creates the stacks; it gets admin on the project"}}
    if project:
        templates["identity"]["outputs"] = {"project_id": {"value": {"get_resource": project}}}
    return {names[p]: t for p, t in templates.items()}


def heat_properties(r: Resource, value: Callable[[Any], Any]) -> tuple[str, dict[str, Any]] | None:
    inp = r.inputs
    if r.token == "identity/roleAssignment:RoleAssignment":
        roles = [{"role": value(inp["roleId"]), "project": value(inp["projectId"])}]
        if "groupId" in inp:
            return "OS::Keystone::GroupRoleAssignment", {"group": value(inp["groupId"]),
                                                         "roles": roles}
        return "OS::Keystone::UserRoleAssignment", {"user": value(inp["userId"]), "roles": roles}
    if r.token == "networking/routerRoute:RouterRoute":
        return "OS::Neutron::ExtraRouteSet", {
            "router": value(inp["routerId"]),
            "routes": [{"destination": inp["destinationCidr"], "nexthop": inp["nextHop"]}]}
    htype, names = HEAT_TYPES[r.token]
    body = {names[k]: value(v) for k, v in inp.items() if k in names}
    if r.token == "identity/project:Project":
        body["domain"] = "default"
    if r.token == "identity/user:User":
        body["domain"] = "default"
    if r.token == "networking/router:Router" and "externalNetworkId" in inp:
        body["external_gateway_info"] = {"network": value(inp["externalNetworkId"])}
    if r.token == "networking/port:Port" and "fixedIps" in inp:
        body["fixed_ips"] = [{"subnet": value(f["subnetId"])} for f in inp["fixedIps"]]
    if r.token == "compute/instance:Instance":
        body["networks"] = [{"port": value(n["port"])} for n in inp.get("networks", [])]
        body["user_data_format"] = "RAW"
        hints = inp.get("schedulerHints")
        if hints:
            body["scheduler_hints"] = {"group": value(hints[0]["group"])}
    if r.token == "compute/serverGroup:ServerGroup":
        body["policies"] = [inp["policies"]] if isinstance(inp.get("policies"), str) else \
            inp.get("policies", [])
    return htype, body


def to_hot(export: Export) -> dict[str, str]:
    """{file name: HOT text} for heat_stacks(export)."""
    import yaml

    return {f"{name}.yaml": yaml.safe_dump(t, sort_keys=False, allow_unicode=True, width=100)
            for name, t in heat_stacks(export).items()}
