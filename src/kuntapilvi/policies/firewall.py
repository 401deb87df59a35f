"""No security-group rule lets the whole internet reach an administration port."""

from __future__ import annotations

import ipaddress
import re

from kuntapilvi.policies.resources import COMPUTED, Resource
from kuntapilvi.schema.adminports import ADMIN_PORTS

SEC_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"


WORLD = ("0.0.0.0/0", "::/0")
ANY_PROTOCOL = {None, "", "any"}
PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp"}

# modules/firewall.py writes "<card>@<version>: <what the port is for>" as the description.
CARD_IN_DESCRIPTION = re.compile(r"^(?P<card>[a-z0-9-]+\.[a-z0-9.-]+)@[^:\s]+:")


def card_of(rule: Resource) -> str | None:
    description = rule.props.get("description")
    if isinstance(description, str):
        m = CARD_IN_DESCRIPTION.match(description)
        if m:
            return m.group("card")
    return None


def world_source(rule: Resource) -> str | None:
    """How the rule admits everyone, or None when it does not (or cannot be known yet)."""
    prefix = rule.props.get("remoteIpPrefix")
    group = rule.props.get("remoteGroupId")
    if prefix is COMPUTED:
        return None
    if prefix:
        try:
            network = ipaddress.ip_network(str(prefix), strict=False)
        except ValueError:
            return None
        return str(prefix) if network.prefixlen == 0 else None
    if group:  # set or computed: only members of that group
        return None
    return "no remote prefix and no remote group, i.e. anyone"


def port_range(rule: Resource) -> tuple[int, int] | None:
    low, high = rule.props.get("portRangeMin"), rule.props.get("portRangeMax")
    if COMPUTED in (low, high):
        return None
    low = int(low) if low else 0
    high = int(high) if high else 0
    if not low and not high:
        return (1, 65535)  # no range: every port
    return (low or 1, high or low)


def protocol_of(rule: Resource) -> str | None:
    """'tcp', 'udp', 'any', another name, or None when not known yet."""
    protocol = rule.props.get("protocol")
    if protocol is COMPUTED:
        return None
    if protocol in ANY_PROTOCOL:
        return "any"
    name = str(protocol).lower()
    return PROTOCOL_NUMBERS.get(name, name)


def admin_ports_open_to_world(rule: Resource) -> str | None:
    """The violation message for an ingress rule that opens SSH or RDP to the world."""
    if rule.type != SEC_GROUP_RULE:
        return None
    direction = rule.props.get("direction")
    if direction is COMPUTED or (direction and str(direction).lower() != "ingress"):
        return None
    source = world_source(rule)
    protocol = protocol_of(rule)
    ports = port_range(rule)
    if source is None or protocol is None or ports is None:
        return None
    low, high = ports
    opened = [p for p in ADMIN_PORTS if protocol in ("any", p.protocol) and low <= p.port <= high]
    if not opened:
        return None
    services = ", ".join(sorted({f"{p.service} ({p.protocol}/{p.port})" for p in opened}))
    card = card_of(rule)
    span = f"port {low}" if low == high else f"ports {low}-{high}"
    owner = (
        f"of card {card}"
        if card
        else "of an unknown card (its description does not start with '<card>@<version>:')"
    )
    fix = (
        f"in catalog/cards/{card.split('.', 1)[0]}/{card.split('.', 1)[1]}.yaml set the port's "
        "source to management (or tenant/wan)"
        if card
        else "restrict remote_ip_prefix to the management network or the tenant's block"
    )
    return (
        f"security-group rule '{rule.name}' {owner} opens {services} to the world: "
        f"ingress {protocol} {span} from {source}; {fix}."
    )
