"""The cloud side: tagged resources of a tenant, and the few untagged ones a create may have
made, read through openstacksdk with the centre's admin account (all projects)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kuntapilvi.recovery.match import (
    DNS_ZONE,
    FLOATING_IP,
    FLOATING_IP_ASSOCIATE,
    GROUP,
    INSTANCE,
    KEYPAIR,
    NETWORK,
    PORT,
    PROJECT,
    QOS_BANDWIDTH_RULE,
    QOS_POLICY,
    QUOTA_COMPUTE,
    QUOTA_NETWORK,
    QUOTA_VOLUME,
    RBAC_POLICY,
    ROLE_ASSIGNMENT,
    ROUTER,
    ROUTER_INTERFACE,
    ROUTER_ROUTE,
    SEC_GROUP,
    SEC_GROUP_RULE,
    SERVER_GROUP,
    SUBNET,
    TENANT_KEY,
    USER,
    USER_MEMBERSHIP,
    VOLUME,
    VOLUME_ATTACH,
    CloudResource,
    labels_of,
)
from kuntapilvi.recovery.state import PendingOp

# Resources on their way out are not there to adopt, nor orphans to report.
_GONE = {"deleting", "deleted", "soft_deleted", "error_deleting"}


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _neutron(conn: Any, tenant: str) -> Iterator[CloudResource]:
    tag = f"{TENANT_KEY}={tenant}"
    listings = (
        (NETWORK, conn.network.networks),
        (SUBNET, conn.network.subnets),
        (ROUTER, conn.network.routers),
        (PORT, conn.network.ports),
        (SEC_GROUP, conn.network.security_groups),
        (FLOATING_IP, conn.network.ips),
    )
    for type_token, listing in listings:
        for r in listing(tags=tag):
            yield CloudResource(
                type=type_token,
                id=r.id,
                name=getattr(r, "name", None) or getattr(r, "floating_ip_address", "") or "",
                project_id=r.project_id or "",
                labels=labels_of(r.tags),
                created=_time(getattr(r, "created_at", None)),
                status=str(getattr(r, "status", "") or ""),
            )


def _nova(conn: Any, tenant: str) -> Iterator[CloudResource]:
    for s in conn.compute.servers(details=True, all_projects=True):
        labels = labels_of(s.tags, s.metadata)
        if labels.get(TENANT_KEY) != tenant or str(s.status).lower() in _GONE:
            continue
        flavor = (s.flavor or {}).get("original_name") or (s.flavor or {}).get("name")
        yield CloudResource(
            type=INSTANCE, id=s.id, name=s.name, project_id=s.project_id or "", labels=labels,
            created=_time(s.created_at), status=str(s.status), flavor=flavor,
        )  # fmt: skip


def _cinder(conn: Any, tenant: str) -> Iterator[CloudResource]:
    for v in conn.block_storage.volumes(details=True, all_projects=True):
        labels = labels_of(None, v.metadata)
        if labels.get(TENANT_KEY) != tenant or str(v.status).lower() in _GONE:
            continue
        yield CloudResource(
            type=VOLUME, id=v.id, name=v.name or "", project_id=v.project_id or "",
            labels=labels, created=_time(v.created_at), status=str(v.status), size_gb=v.size,
        )  # fmt: skip


def tagged(conn: Any, tenant: str) -> list[CloudResource]:
    """Every server, volume and network-side resource that carries the tenant's tag."""
    return [*_neutron(conn, tenant), *_nova(conn, tenant), *_cinder(conn, tenant)]


def keyed(conn: Any, op: PendingOp, region: str = "") -> list[CloudResource]:
    """The untagged resources whose identifying inputs equal the pending create's."""
    i = op.inputs
    if op.type in (QUOTA_COMPUTE, QUOTA_VOLUME, QUOTA_NETWORK):
        # A project always has its quotas; "creating" them only sets numbers, which the
        # refresh reads back and the next `up` sets again if they differ.
        project = i.get("projectId")
        if not project or conn.identity.find_project(project, ignore_missing=True) is None:
            return []
        return [CloudResource(op.type, f"{project}/{i.get('region') or region}", project)]
    if op.type == ROLE_ASSIGNMENT:
        found = conn.identity.role_assignments(
            role_id=i.get("roleId"), scope_project_id=i.get("projectId"),
            **({"user_id": i["userId"]} if i.get("userId") else {}),
            **({"group_id": i["groupId"]} if i.get("groupId") else {}),
        )  # fmt: skip
        key = "/".join(
            i.get(k) or "" for k in ("domainId", "projectId", "groupId", "userId", "roleId")
        )
        return [CloudResource(op.type, key, "") for _ in list(found)[:1]]
    if op.type == KEYPAIR:
        pair = conn.compute.find_keypair(i.get("name"), ignore_missing=True)
        return [CloudResource(op.type, pair.name, pair.name)] if pair else []
    if op.type == GROUP:
        return [
            CloudResource(op.type, g.id, g.name) for g in conn.identity.groups(name=i.get("name"))
        ]
    if op.type == PROJECT:
        return [
            CloudResource(op.type, p.id, p.name)
            for p in conn.identity.projects(name=i.get("name"))
            if set(i.get("tags") or ()) <= set(p.tags or ())
        ]
    if op.type == VOLUME_ATTACH:
        server, volume = i.get("instanceId"), i.get("volumeId")
        if not server or not volume:
            return []
        return [
            # The provider's id for an attachment is "<server id>/<attachment id>".
            CloudResource(VOLUME_ATTACH, f"{server}/{a.id}", a.id)
            for a in conn.compute.volume_attachments(server)
            if a.volume_id == volume
        ]
    if op.type == ROUTER_INTERFACE:
        router = i.get("routerId")
        if not router:
            return []
        out = []
        for p in conn.network.ports(device_id=router):
            if i.get("portId"):
                hit = p.id == i["portId"]
            else:
                hit = any(ip.get("subnet_id") == i.get("subnetId") for ip in p.fixed_ips or [])
            if hit:
                out.append(CloudResource(ROUTER_INTERFACE, p.id, p.name or ""))
        return out
    if op.type == SEC_GROUP_RULE:
        group = i.get("securityGroupId")
        if not group:
            return []
        return [
            CloudResource(SEC_GROUP_RULE, r.id, "")
            for r in conn.network.security_group_rules(security_group_id=group)
            if r.direction == i.get("direction")
            and (r.ether_type or "IPv4") == i.get("ethertype", "IPv4")
            and r.protocol == i.get("protocol")
            and r.port_range_min == i.get("portRangeMin")
            and r.port_range_max == i.get("portRangeMax")
            and r.remote_ip_prefix == i.get("remoteIpPrefix")
            and r.remote_group_id == i.get("remoteGroupId")
        ]
    if op.type in _KEYED_MORE:
        return _KEYED_MORE[op.type](conn, i)
    if op.type == FLOATING_IP_ASSOCIATE:
        address, port = i.get("floatingIp"), i.get("portId")
        return [
            CloudResource(FLOATING_IP_ASSOCIATE, f.id, f.floating_ip_address)
            for f in conn.network.ips(floating_ip_address=address)
            if port and f.port_id == port
        ]
    return []


def _router_route(conn: Any, i: dict[str, Any]) -> list[CloudResource]:
    # A route is an entry of its router's `routes`, with no id of its own; the provider names
    # it "<router id>-route-<destination>-<next hop>".
    router = conn.network.find_router(i.get("routerId") or "", ignore_missing=True)
    destination, hop = i.get("destinationCidr"), i.get("nextHop")
    if router is None or not any(
        r.get("destination") == destination and r.get("nexthop") == hop for r in router.routes or []
    ):
        return []
    return [CloudResource(ROUTER_ROUTE, f"{router.id}-route-{destination}-{hop}", "")]


def _qos_policy(conn: Any, i: dict[str, Any]) -> list[CloudResource]:
    query = {"name": i.get("name")}
    if i.get("projectId"):
        query["project_id"] = i["projectId"]
    return [CloudResource(QOS_POLICY, q.id, q.name) for q in conn.network.qos_policies(**query)]


def _qos_rule(conn: Any, i: dict[str, Any]) -> list[CloudResource]:
    policy = i.get("qosPolicyId")
    if not policy or conn.network.find_qos_policy(policy, ignore_missing=True) is None:
        return []
    return [
        # The provider's id for a QoS rule is "<policy id>/<rule id>".
        CloudResource(QOS_BANDWIDTH_RULE, f"{policy}/{r.id}", "")
        for r in conn.network.qos_bandwidth_limit_rules(policy)
        if (r.direction or "egress") == (i.get("direction") or "egress")
    ]


def _rbac_policy(conn: Any, i: dict[str, Any]) -> list[CloudResource]:
    return [
        CloudResource(RBAC_POLICY, r.id, "")
        for r in conn.network.rbac_policies(
            object_id=i.get("objectId"),
            object_type=i.get("objectType"),
            action=i.get("action"),
            target_project_id=i.get("targetTenant"),
        )
    ]


def _user(conn: Any, i: dict[str, Any]) -> list[CloudResource]:
    query = {"name": i.get("name"), **({"domain_id": i["domainId"]} if i.get("domainId") else {})}
    return [CloudResource(USER, u.id, u.name) for u in conn.identity.users(**query)]


def _membership(conn: Any, i: dict[str, Any]) -> list[CloudResource]:
    user, group = i.get("userId"), i.get("groupId")
    if not user or not group:
        return []
    from openstack import exceptions

    try:
        member = conn.identity.check_user_in_group(user, group)
    except exceptions.NotFoundException:  # the user or the group is gone: nothing to adopt
        return []
    # The provider's id for a membership is "<user id>/<group id>".
    return [CloudResource(USER_MEMBERSHIP, f"{user}/{group}", "")] if member else []


def _server_group(conn: Any, i: dict[str, Any]) -> list[CloudResource]:
    # Server groups carry neither tags nor metadata; their names carry the tenant's stack.
    return [
        CloudResource(SERVER_GROUP, g.id, g.name, project_id=g.project_id or "")
        for g in conn.compute.server_groups(all_projects=True)
        if g.name == i.get("name")
    ]


def _dns_zone(conn: Any, i: dict[str, Any]) -> list[CloudResource]:
    # Zone names are unique in the whole cloud, whichever project holds them.
    return [
        CloudResource(DNS_ZONE, z.id, z.name, project_id=z.project_id or "")
        for z in conn.dns.zones(name=i.get("name"), all_projects=True)
    ]


_KEYED_MORE: dict[str, Callable[[Any, dict[str, Any]], list[CloudResource]]] = {
    ROUTER_ROUTE: _router_route,
    QOS_POLICY: _qos_policy,
    QOS_BANDWIDTH_RULE: _qos_rule,
    RBAC_POLICY: _rbac_policy,
    USER: _user,
    USER_MEMBERSHIP: _membership,
    SERVER_GROUP: _server_group,
    DNS_ZONE: _dns_zone,
}


def inventory(
    conn: Any, tenant: str, ops: Iterable[PendingOp], region: str = ""
) -> list[CloudResource]:
    """What the matcher needs for these pending creates: tagged resources plus keyed ones."""
    found = tagged(conn, tenant)
    for op in ops:
        found += keyed(conn, op, region)
    return found


def delete(conn: Any, resource: CloudResource, timeout: float = 300) -> None:
    """Remove a resource an interrupted create made (`recover --delete`), and wait for it to go
    when something else (a port, a volume) stays bound to it until it is gone."""
    t = resource.type
    if t == INSTANCE:
        conn.compute.delete_server(resource.id, ignore_missing=True)
        server = conn.compute.find_server(resource.id, ignore_missing=True)
        if server is not None:
            conn.compute.wait_for_delete(server, wait=timeout)
    elif t == VOLUME:
        conn.block_storage.delete_volume(resource.id, ignore_missing=True)
    elif t == VOLUME_ATTACH:
        server, attachment = resource.id.split("/", 1)
        conn.compute.delete_volume_attachment(server, attachment, ignore_missing=True)
    elif t == ROUTER_INTERFACE:
        port = conn.network.get_port(resource.id)
        conn.network.remove_interface_from_router(port.device_id, port_id=resource.id)
    elif t == SEC_GROUP_RULE:
        conn.network.delete_security_group_rule(resource.id, ignore_missing=True)
    elif t == FLOATING_IP_ASSOCIATE:
        conn.network.update_ip(resource.id, port_id=None)
    elif t in (QUOTA_COMPUTE, QUOTA_VOLUME, QUOTA_NETWORK, ROLE_ASSIGNMENT):
        pass  # nothing to delete: the next `up` sets the same quotas and role again
    elif t == KEYPAIR:
        conn.compute.delete_keypair(resource.id, ignore_missing=True)
    elif t == GROUP:
        conn.identity.delete_group(resource.id, ignore_missing=True)
    elif t == PROJECT:
        conn.identity.delete_project(resource.id, ignore_missing=True)
    elif t == ROUTER_ROUTE:
        router, _, route = resource.id.partition("-route-")
        destination, _, hop = route.rpartition("-")
        body = {"router": {"routes": [{"destination": destination, "nexthop": hop}]}}
        conn.network.remove_extra_routes_from_router(router, body)
    elif t == QOS_BANDWIDTH_RULE:
        policy, _, rule = resource.id.partition("/")
        conn.network.delete_qos_bandwidth_limit_rule(rule, policy, ignore_missing=True)
    elif t == USER_MEMBERSHIP:
        user, _, group = resource.id.partition("/")
        conn.identity.remove_user_from_group(user, group)
    else:
        deleter = {
            NETWORK: conn.network.delete_network,
            SUBNET: conn.network.delete_subnet,
            ROUTER: conn.network.delete_router,
            PORT: conn.network.delete_port,
            SEC_GROUP: conn.network.delete_security_group,
            FLOATING_IP: conn.network.delete_ip,
            QOS_POLICY: conn.network.delete_qos_policy,
            RBAC_POLICY: conn.network.delete_rbac_policy,
            USER: conn.identity.delete_user,
            SERVER_GROUP: conn.compute.delete_server_group,
            DNS_ZONE: conn.dns.delete_zone,
        }[t]
        deleter(resource.id, ignore_missing=True)


POLL_SECONDS = 2.0
_BUSY = {INSTANCE: ("build",), VOLUME: ("creating", "attaching", "reserved", "downloading")}
_FAILED = {INSTANCE: ("error",), VOLUME: ("error",)}


def settle(conn: Any, resource: CloudResource, timeout: float = 600) -> str:
    """Wait while the cloud finishes what the killed run asked for (a server keeps building
    after its client is gone) and return the final status; anything else returns at once."""
    busy = _BUSY.get(resource.type)
    if not busy:
        return resource.status
    deadline = time.monotonic() + timeout
    status = resource.status
    while status.lower() in busy and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        if resource.type == INSTANCE:
            status = str(conn.compute.get_server(resource.id).status)
        else:
            status = str(conn.block_storage.get_volume(resource.id).status)
    return status


def failed(resource: CloudResource, status: str) -> bool:
    return status.lower() in _FAILED.get(resource.type, ())
