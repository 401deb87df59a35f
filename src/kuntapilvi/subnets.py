"""Address arithmetic on the model: which subnet a tenant network gets.

The stack rules check overlaps with it and kuntapilvi_modules.network builds the subnet from
it, so it sits in the model layer below both."""

from __future__ import annotations

import ipaddress

from kuntapilvi.model import Service


def network_cidr(service: Service, block: ipaddress.IPv4Network) -> ipaddress.IPv4Network | None:
    """The subnet a tenant network gets: its cidr parameter or the block's first /24."""
    cidr = service.params.get("cidr")
    if cidr is not None:
        return ipaddress.IPv4Network(cidr)
    if block.prefixlen > 24:
        return block
    return next(block.subnets(new_prefix=24))
