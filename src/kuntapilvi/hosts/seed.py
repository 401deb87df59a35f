"""The NoCloud seed a host boots with: meta-data, the server's own user-data, and network-config.

This is what Nova's config drive or metadata service would give a real server; cloud-init in the
host reads it from /var/lib/cloud/seed/nocloud/ with no network access needed.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field

import yaml

# Tenant address blocks are carved from this range (issue 6), so a host outside it is a caller bug
# and could shadow the machine's own network; KUNTAPILVI_HOSTS_ALLOWED_NET may widen it for
# experiments.
DEFAULT_ALLOWED_NET = "10.64.0.0/12"


@dataclass(frozen=True)
class HostAddress:
    """A host's fixed address on its Neutron subnet, and that subnet's gateway (the bridge's
    address)."""

    interface: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address

    @property
    def address(self) -> str:
        return str(self.interface.ip)

    @property
    def network(self) -> ipaddress.IPv4Network:
        return self.interface.network

    @property
    def gateway_cidr(self) -> str:
        return f"{self.gateway}/{self.network.prefixlen}"


def parse_address(
    address_cidr: str, gateway: str, allowed: str = DEFAULT_ALLOWED_NET
) -> HostAddress:
    """Validate an address like '10.64.1.10/24' and its gateway; ValueError says what is wrong."""
    try:
        iface = ipaddress.IPv4Interface(address_cidr)
    except ValueError as exc:
        raise ValueError(
            f"{address_cidr!r} is not an IPv4 address with a prefix (10.64.1.10/24)"
        ) from exc
    if "/" not in address_cidr:
        raise ValueError(f"{address_cidr!r} has no prefix length; give it as 10.64.1.10/24")
    try:
        gw = ipaddress.IPv4Address(gateway)
    except ValueError as exc:
        raise ValueError(f"gateway {gateway!r} is not an IPv4 address") from exc
    net = iface.network
    if net.prefixlen > 30:
        raise ValueError(f"{address_cidr} leaves no room for a gateway and a host")
    if gw not in net:
        raise ValueError(f"gateway {gw} is not inside the host's subnet {net}")
    if gw == iface.ip:
        raise ValueError(f"host address {iface.ip} equals its gateway")
    if iface.ip in (net.network_address, net.broadcast_address):
        raise ValueError(f"{iface.ip} is the network or broadcast address of {net}")
    if not net.subnet_of(ipaddress.IPv4Network(allowed)):
        raise ValueError(f"subnet {net} is outside the tenant range {allowed}")
    return HostAddress(iface, gw)


@dataclass(frozen=True)
class Seed:
    instance_id: str
    hostname: str
    address: HostAddress
    user_data: str | bytes | None
    public_keys: tuple[str, ...] = field(default_factory=tuple)


def meta_data(seed: Seed) -> str:
    data: dict = {"instance-id": seed.instance_id, "local-hostname": seed.hostname}
    if seed.public_keys:
        # Where Nova puts the server's key pair; cloud-init gives it to the image's default user.
        data["public-keys"] = list(seed.public_keys)
    return yaml.safe_dump(data, sort_keys=False)


def network_config(addr: HostAddress, interface: str = "eth0") -> str:
    """Network config v1: the fixed address and the subnet's gateway as default route.

    Version 1 because Debian's cloud-init renders it for ifupdown as a plain `gateway` line; a v2
    default route becomes `post-up route add ...`, which needs net-tools that images lack. The route
    mirrors a real Neutron subnet; on this machine it leads nowhere further, because the machinery
    turns forwarding off on every bridge.
    """
    doc = {
        "version": 1,
        "config": [
            {
                "type": "physical",
                "name": interface,
                "subnets": [
                    {"type": "static", "address": str(addr.interface), "gateway": str(addr.gateway)}
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def user_data_bytes(user_data: str | bytes | None) -> bytes:
    """User data as cloud-init gets it on disk, byte for byte.

    Bytes stay bytes: cloud-init itself handles gzip and MIME multipart, which a text round trip
    would corrupt. No user data at all becomes an empty cloud-config.
    """
    if user_data is None or user_data == "" or user_data == b"":
        return b"#cloud-config\n{}\n"
    if isinstance(user_data, bytes):
        return user_data
    return user_data.encode("utf-8")


def decode_nova_user_data(encoded: str | None) -> bytes | None:
    """Nova's API returns user data base64-encoded (OS-EXT-SRV-ATTR:user_data); this undoes it."""
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("user data from Nova is not valid base64") from exc


def files(seed: Seed) -> dict[str, bytes]:
    """The seed folder's files by name."""
    return {
        "meta-data": meta_data(seed).encode(),
        "user-data": user_data_bytes(seed.user_data),
        "network-config": network_config(seed.address).encode(),
    }
