"""Turning Nova server names and Neutron ids into names Linux accepts.

Server names are free text ("Kunta A: tiedostopalvelin #1"); hostnames allow [a-z0-9-] up to 63
characters
and interface names only 15 bytes, so interfaces are named by a hash and hosts by a readable slug.
"""

from __future__ import annotations

import hashlib
import re

IFNAME_MAX = 15  # IFNAMSIZ - 1


def short_hash(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def hostname_for(name: str) -> str:
    """A valid single-label hostname that stays close to the server's name."""
    slug = re.sub(r"[^a-z0-9-]+", "-", name.strip().lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-")[:63].rstrip("-")
    return slug or "host"


def host_id(name: str) -> str:
    """The key a host is stored and named under: its hostname, plus a hash if that lost information.

    Two server names that only differ in characters a hostname cannot hold ("a b" and "a_b") still
    get
    different ids, so one never overwrites the other's state.
    """
    if not name.strip():
        raise ValueError("a host needs a non-empty name")
    slug = hostname_for(name)
    if slug == name and len(slug) <= 48:
        return slug
    return f"{slug[:39].rstrip('-')}-{short_hash(name, 8)}"


def bridge_name(network_id: str) -> str:
    """One bridge per Neutron network: 'kpbr' + 10 hex digits of its id."""
    return f"kpbr{short_hash(network_id)}"


def veth_name(hid: str) -> str:
    """The root-namespace end of a host's link, on the bridge."""
    return f"kpv{short_hash(hid)}"


def instance_tag(state_dir: str) -> str:
    """Four hex digits naming one hosts state folder.

    Network namespaces (/run/netns) and nspawn machines and their cgroups are named machine-wide,
    while two devclouds (the demo's and a test run's in its own namespace) may both run a host for
    the same server name; the tag keeps their names apart.
    """
    return short_hash(state_dir, 4)


def netns_name(hid: str, instance: str = "") -> str:
    return f"kp-{instance}-{hid}" if instance else f"kp-{hid}"


def machine_name(hid: str, instance: str = "") -> str:
    """systemd-nspawn's --machine name; also the hostname until cloud-init sets one."""
    return (f"kp-{instance}-{hid}" if instance else f"kp-{hid}")[:64]
