"""NoCloud seed rendering: what cloud-init in a host reads before it has any network."""

from __future__ import annotations

import base64
import gzip
import ipaddress

import pytest
import yaml

from kuntapilvi.hosts.seed import (
    Seed,
    decode_nova_user_data,
    files,
    meta_data,
    network_config,
    parse_address,
    user_data_bytes,
)


def test_network_config_has_static_address_and_gateway() -> None:
    addr = parse_address("10.64.1.10/24", "10.64.1.1")
    doc = yaml.safe_load(network_config(addr))
    assert doc["version"] == 1
    (eth,) = doc["config"]
    assert eth["type"] == "physical" and eth["name"] == "eth0"
    assert eth["subnets"] == [
        {"type": "static", "address": "10.64.1.10/24", "gateway": "10.64.1.1"}
    ]


def test_meta_data_names_instance_and_hostname_and_keys() -> None:
    seed = Seed(
        "iid-1", "tiedosto", parse_address("10.64.1.10/24", "10.64.1.1"), "", ("ssh-ed25519 AAA x",)
    )
    doc = yaml.safe_load(meta_data(seed))
    assert doc == {
        "instance-id": "iid-1",
        "local-hostname": "tiedosto",
        "public-keys": ["ssh-ed25519 AAA x"],
    }


def test_seed_files_keep_user_data_verbatim() -> None:
    ud = "#cloud-config\npackages: [nginx]\n"
    seed = Seed("iid", "h", parse_address("10.64.3.5/28", "10.64.3.1"), ud)
    out = files(seed)
    assert set(out) == {"meta-data", "user-data", "network-config"}
    assert out["user-data"] == ud.encode()


@pytest.mark.parametrize("value", [None, "", b""])
def test_missing_user_data_becomes_empty_cloud_config(value: str | bytes | None) -> None:
    assert yaml.safe_load(user_data_bytes(value)) == {}
    assert user_data_bytes(value).startswith(b"#cloud-config")


def test_binary_user_data_is_kept_byte_for_byte() -> None:
    gz = gzip.compress(b"#cloud-config\n{}\n")
    assert user_data_bytes(gz) == gz
    assert user_data_bytes("#cloud-config\n# ä\n") == "#cloud-config\n# ä\n".encode()


def test_nova_user_data_is_base64() -> None:
    raw = b"#cloud-config\npackages: [samba]\n"
    assert decode_nova_user_data(base64.b64encode(raw).decode()) == raw
    assert decode_nova_user_data(None) is None
    with pytest.raises(ValueError, match="base64"):
        decode_nova_user_data("#cloud-config")


def test_address_properties() -> None:
    addr = parse_address("10.64.1.10/24", "10.64.1.1")
    assert addr.address == "10.64.1.10"
    assert addr.gateway_cidr == "10.64.1.1/24"
    assert addr.network == ipaddress.IPv4Network("10.64.1.0/24")


@pytest.mark.parametrize(
    ("cidr", "gateway", "message"),
    [
        ("10.64.1.10", "10.64.1.1", "no prefix"),
        ("10.64.1.10/24", "10.64.2.1", "not inside"),
        ("10.64.1.1/24", "10.64.1.1", "equals its gateway"),
        ("10.64.1.0/24", "10.64.1.1", "network or broadcast"),
        ("10.64.1.255/24", "10.64.1.1", "network or broadcast"),
        ("192.168.1.10/24", "192.168.1.1", "outside the tenant range"),
        ("10.80.0.10/24", "10.80.0.1", "outside the tenant range"),
        ("10.64.1.10/31", "10.64.1.11", "no room"),
        ("nonsense/24", "10.64.1.1", "not an IPv4 address"),
        ("10.64.1.10/24", "gw", "not an IPv4 address"),
    ],
)
def test_bad_addresses_are_refused(cidr: str, gateway: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_address(cidr, gateway)


def test_allowed_range_can_be_widened() -> None:
    assert parse_address("10.99.0.5/24", "10.99.0.1", allowed="10.0.0.0/8").address == "10.99.0.5"
