"""Rules across tenants: address blocks must not overlap."""

from __future__ import annotations

import ipaddress

from kuntapilvi import findings as fnd
from kuntapilvi.errors import Finding
from kuntapilvi.schema.stack import TENANT_KEY
from kuntapilvi.stacks import TenantStack


def check(stacks: list[TenantStack]) -> list[Finding]:
    out: list[Finding] = []
    # Sorting by block start turns the pairwise overlap test into one linear pass.
    ordered = sorted(
        stacks, key=lambda s: int(ipaddress.IPv4Network(s.request.address_block).network_address)
    )
    furthest: TenantStack | None = None
    for stack in ordered:
        block = ipaddress.IPv4Network(stack.request.address_block)
        if furthest is not None:
            other = ipaddress.IPv4Network(furthest.request.address_block)
            if block.overlaps(other):
                out.append(
                    fnd.error(
                        "address.overlap",
                        stack.doc,
                        ("config", TENANT_KEY, "address_block"),
                        f"{block} overlaps {other} of stack '{furthest.name}' ({furthest.file}).",
                        "ask the centre for a free block (kuntapilvi capacity lists the used ones)",
                    )
                )
        if (
            furthest is None
            or block.broadcast_address
            > ipaddress.IPv4Network(furthest.request.address_block).broadcast_address
        ):
            furthest = stack
    return out
