"""Server names and network ids become Linux names: hostnames, netns, interfaces (15 bytes)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuntapilvi.hosts.names import (
    IFNAME_MAX,
    bridge_name,
    host_id,
    hostname_for,
    machine_name,
    netns_name,
    veth_name,
)

HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tiedosto", "tiedosto"),
        ("Kunta A: Tiedostopalvelin #1", "kunta-a-tiedostopalvelin-1"),
        ("  --x--  ", "x"),
        ("äö", "host"),
        ("a_b", "a-b"),
    ],
)
def test_hostname_for(name: str, expected: str) -> None:
    assert hostname_for(name) == expected


def test_plain_names_are_their_own_id() -> None:
    assert host_id("posti-1") == "posti-1"


def test_names_that_lose_information_get_a_hash() -> None:
    assert host_id("a b") != host_id("a_b")
    assert host_id("a b").startswith("a-b-")


def test_empty_name_is_refused() -> None:
    with pytest.raises(ValueError):
        host_id("   ")


@given(st.text(min_size=1, max_size=300).filter(lambda s: s.strip()))
def test_any_name_gives_valid_linux_names(name: str) -> None:
    hid = host_id(name)
    assert HOSTNAME.match(hostname_for(name))
    assert re.match(r"^[a-z0-9-]+$", hid) and len(hid) <= 48
    assert len(veth_name(hid)) <= IFNAME_MAX
    assert len(machine_name(hid)) <= 64
    assert "/" not in netns_name(hid)


@given(st.text(min_size=1, max_size=200))
def test_bridge_names_fit_ifnamsiz(network_id: str) -> None:
    name = bridge_name(network_id)
    assert len(name) <= IFNAME_MAX and re.match(r"^kpbr[0-9a-f]{10}$", name)


def test_bridge_name_is_stable_per_network() -> None:
    nid = "3f1c2d4e-0000-4000-8000-000000000001"
    assert bridge_name(nid) == bridge_name(nid) != bridge_name(nid + "x")
