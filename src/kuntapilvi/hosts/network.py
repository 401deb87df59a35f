"""Layer 2 for hosts: a bridge per Neutron network in the root namespace, a netns and veth per host.

The bridge holds the subnet's gateway address, so this machine reaches every host directly and the
hosts reach the apt proxy on that address. Forwarding is turned off on each bridge: hosts talk to
each other on their own network and to this machine, never through it to anywhere else.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from kuntapilvi.hosts import system
from kuntapilvi.hosts.errors import HostsError

NETNS_DIR = Path("/run/netns")


def link_exists(name: str) -> bool:
    return system.quiet(["ip", "link", "show", "dev", name]).returncode == 0


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def _addresses() -> list[tuple[str, ipaddress.IPv4Interface]]:
    """(interface, address/prefix) of every IPv4 address in the root namespace."""
    out = system.quiet(["ip", "-j", "-4", "addr", "show"]).stdout or "[]"
    result = []
    for link in json.loads(out):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                iface = ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}")
                result.append((link["ifname"], iface))
    return result


def _sysctl(path: str, value: str) -> None:
    p = Path("/proc/sys") / path
    if p.exists():
        p.write_text(value)


def ensure_bridge(bridge: str, gateway_cidr: str, log: Path) -> None:
    """Create BRIDGE with GATEWAY_CIDR (idempotent); refuse subnets that clash with the
    machine's."""
    gw = ipaddress.IPv4Interface(gateway_cidr)
    for ifname, iface in _addresses():
        if ifname == bridge:
            continue
        if iface.network.overlaps(gw.network):
            raise HostsError(
                f"Subnet {gw.network} overlaps {iface} on interface {ifname}; "
                "a host network must not shadow one the machine already has"
            )
    if not link_exists(bridge):
        system.run(["ip", "link", "add", bridge, "type", "bridge"], log, f"create bridge {bridge}")
    # Set before any address exists, so no packet is ever routed off the tenant network.
    _sysctl(f"net/ipv4/conf/{bridge}/forwarding", "0")
    _sysctl(f"net/ipv6/conf/{bridge}/disable_ipv6", "1")
    have = [iface for ifname, iface in _addresses() if ifname == bridge]
    if gw not in have:
        if have:
            raise HostsError(
                f"Bridge {bridge} already has {have[0]}, not {gw}; stop its hosts before changing "
                "the subnet"
            )
        system.run(["ip", "addr", "add", str(gw), "dev", bridge], log, f"address {bridge}")
    system.run(["ip", "link", "set", bridge, "up"], log, f"bring {bridge} up")


def delete_bridge(bridge: str, log: Path) -> None:
    if link_exists(bridge):
        system.run(["ip", "link", "del", bridge], log, f"delete bridge {bridge}", check=False)


def create_host_link(netns: str, veth: str, bridge: str, log: Path) -> None:
    """A netns for the host with 'eth0' in it, wired by a veth pair to BRIDGE.

    The inner end is created directly inside the namespace, so the name eth0 never meets the
    machine's own eth0. nspawn joins this namespace instead of making one, so the wiring stays
    ours to remove.
    """
    delete_host_link(netns, veth, log)
    system.run(["ip", "netns", "add", netns], log, f"create network namespace {netns}")
    system.run(
        ["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns],
        log,
        f"create veth {veth}",
    )
    _sysctl(f"net/ipv6/conf/{veth}/disable_ipv6", "1")
    system.run(["ip", "link", "set", veth, "master", bridge, "up"], log, f"attach {veth}")
    system.run(["ip", "-n", netns, "link", "set", "lo", "up"], log, f"bring up lo in {netns}")


def delete_host_link(netns: str, veth: str, log: Path) -> None:
    # Deleting one end of a veth pair deletes the other, wherever it is.
    if link_exists(veth):
        system.run(["ip", "link", "del", veth], log, f"delete veth {veth}", check=False)
    if netns_exists(netns):
        system.run(["ip", "netns", "del", netns], log, f"delete netns {netns}", check=False)


def our_links(prefix: str = "kp") -> list[str]:
    """Interfaces in the root namespace named like ours (kpbr*, kpv*), for leak checks and
    stop-all."""
    out = system.quiet(["ip", "-j", "link", "show"]).stdout or "[]"
    return [
        link["ifname"]
        for link in json.loads(out)
        if link["ifname"].startswith((f"{prefix}br", f"{prefix}v"))
    ]


def our_netns(prefix: str = "kp-") -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
