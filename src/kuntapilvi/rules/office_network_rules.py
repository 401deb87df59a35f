"""Rules across tenants on office networks (a WAN link's wan_prefixes).

An office network is admitted by every office service of its tenant (kuntapilvi.reach), so it
must be the tenant's own: never the world or a default route, never another tenant's cloud
block or office network, never the centre's own networks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kuntapilvi import findings as fnd
from kuntapilvi.errors import Finding
from kuntapilvi.model import Model
from kuntapilvi.reach import WAN_LINK_MODULE
from kuntapilvi.schema.stack import TENANT_KEY

# Shorter prefixes than this are a large part of the Internet, not a municipality's offices.
WIDEST_OFFICE_PREFIX = 8


@dataclass(frozen=True, slots=True)
class _Net:
    net: ipaddress.IPv4Network
    stack: str
    what: str
    loc: tuple[str | int, ...] | None
    """Where an office network is written; None for blocks that are not office networks."""
    extra: bool = False
    """A mail relay's extra_networks: judged only against other tenants' networks."""


def check(model: Model) -> list[Finding]:
    out: list[Finding] = []
    nets: list[_Net] = [
        _Net(ipaddress.IPv4Network(model.centre.management_cidr), "", "the centre's management "
             "network", None),
        _Net(ipaddress.IPv4Network(model.centre.wan.cidr), "", "the centre's WAN transit "
             "network", None),
    ]  # fmt: skip
    for name, stack in model.tenant_stacks.items():
        block = ipaddress.IPv4Network(stack.request.address_block)
        nets.append(_Net(block, name, f"the cloud block of stack '{name}'", None))
    for name, tenant in model.tenants.items():
        doc = model.tenant_stacks[name].doc
        for service in tenant.by_module(WAN_LINK_MODULE):
            for j, prefix in enumerate(service.params.get("wan_prefixes", ())):
                net = ipaddress.IPv4Network(prefix)
                loc = ("config", TENANT_KEY, "services", service.index, "params", "wan_prefixes", j)
                if net.prefixlen < WIDEST_OFFICE_PREFIX:
                    out.append(
                        fnd.error(
                            "office-network.too-wide",
                            doc,
                            loc,
                            f"{net} is "
                            + ("the default route (the whole world)" if net.prefixlen == 0 else
                               f"a /{net.prefixlen}, a large part of the Internet")
                            + ", not an office network; every office service would admit it.",
                            "list the municipality's own office networks, each at most a /8",
                        )
                    )  # fmt: skip
                    continue
                nets.append(_Net(net, name, f"office network {net} of stack '{name}'", loc))
        # A relay's extra networks may relay mail, so they must not be another tenant's.
        for service in tenant.by_card("office.mail-relay"):
            for j, prefix in enumerate(service.params.get("extra_networks", ())):
                loc = ("config", TENANT_KEY, "services", service.index, "params",
                       "extra_networks", j)  # fmt: skip
                net = ipaddress.IPv4Network(prefix)
                nets.append(_Net(net, name, f"extra network {net} of stack '{name}'", loc, True))
    out.extend(_overlaps(model, nets))
    return out


def _overlaps(model: Model, nets: list[_Net]) -> list[Finding]:
    """Every overlapping pair with an office network in it, in one sorted pass: CIDR blocks
    either nest or are apart, so the blocks still open at a start are a short nested chain."""
    out: list[Finding] = []
    ordered = sorted(nets, key=lambda n: (int(n.net.network_address), n.net.prefixlen))
    open_: list[_Net] = []
    for cur in ordered:
        open_ = [o for o in open_ if o.net.broadcast_address >= cur.net.network_address]
        for other in open_:
            if cur.loc is None and other.loc is None:
                continue  # blocks against blocks: address_rules judges those
            if (cur.extra or other.extra) and (
                cur.stack == other.stack
                or "" in (cur.stack, other.stack)
                or (cur.extra and other.extra)
            ):
                continue  # a relay may admit its own tenant's or the centre's networks
            for mine, theirs in ((cur, other), (other, cur)):
                if mine.loc is not None and not (theirs.extra and not mine.extra):
                    out.append(
                        fnd.error(
                            "office-network.overlap",
                            model.tenant_stacks[mine.stack].doc,
                            mine.loc,
                            f"{'extra' if mine.extra else 'office'} network {mine.net} overlaps "
                            f"{theirs.what}; its office services would admit addresses that are "
                            "not the municipality's own.",
                            "list only the municipality's own office networks (ask the WAN "
                            "operator), apart from every cloud block and other office network",
                        )
                    )
        open_.append(cur)
    return out
