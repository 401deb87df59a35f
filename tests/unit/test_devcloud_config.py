"""Rendered devcloud configs: loopback only, the centre's networks, each service's files."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import pytest
import yaml

from kuntapilvi.devcloud import config, services
from kuntapilvi.devcloud.config import Context
from kuntapilvi.devcloud.paths import Paths

SECRETS = {
    "admin": "a" * 24, "service": "s" * 24, "db": "d" * 24, "rabbit": "r" * 24, "rndc": "c" * 32,
}


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(state=tmp_path / "state", cache=tmp_path / "cache")


@pytest.fixture
def rendered(paths: Paths) -> dict[str, str]:
    return config.render_all(Context(paths=paths, secrets=SECRETS))


def ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False, allow_no_value=True)
    parser.read_string(text)
    return parser


INI_FILES = [
    t
    for t in config.TEMPLATES
    if t.endswith((".conf", ".ini", ".cnf")) and not t.startswith(("rabbitmq/", "bind/"))
]


def test_every_template_renders(rendered: dict[str, str]) -> None:
    assert set(config.TEMPLATES) <= set(rendered)
    for name, text in rendered.items():
        assert "{{" not in text and "{%" not in text, name


@pytest.mark.parametrize("name", INI_FILES)
def test_ini_files_parse(rendered: dict[str, str], name: str) -> None:
    ini(rendered[name])


def test_nothing_binds_a_wildcard_or_foreign_address(rendered: dict[str, str]) -> None:
    listen_keys = re.compile(
        r"^\s*(bind[-_]host|bind-address|\w*listen\w*|my_ip|NODE_IP_ADDRESS|"
        r"listeners\.tcp\.\w+|ERL_EPMD_ADDRESS|export ERL_EPMD_ADDRESS)\s*[=:]\s*(\S+)",
        re.MULTILINE,
    )
    found = 0
    for name, rendered_text in rendered.items():
        # Comments may explain what is avoided (e.g. epmd on 0.0.0.0); settings may not.
        text = "\n".join(
            line for line in rendered_text.splitlines() if not line.lstrip().startswith("#")
        )
        assert "0.0.0.0" not in text, name
        for match in listen_keys.finditer(text):
            found += 1
            value = match.group(2)
            assert value.startswith("127.0.0.1") or value.isdigit(), (name, match.group(0))
    assert found >= 8


def test_api_processes_bind_loopback(paths: Paths) -> None:
    for service in services.SERVICES:
        argv = services.argv_for(service, paths)
        if service.kind == "api":
            assert argv[argv.index("--bind") + 1] == f"127.0.0.1:{service.port}"
            # Keep-alive races with clients reusing a closing connection (reset on POST).
            assert argv[argv.index("--keep-alive") + 1] == "0"
        if service.name == "epmd":
            # Socket activation: epmd opens no socket of its own (it would add [::1]).
            assert "-systemd" in argv[2] and "-address" not in argv


def test_mariadb_has_no_tcp_listener(rendered: dict[str, str]) -> None:
    mysqld = ini(rendered["mariadb/my.cnf"])["mysqld"]
    assert "skip-networking" in mysqld
    assert mysqld["socket"].endswith("run/mysqld.sock")


def test_services_reach_the_db_through_its_socket(rendered: dict[str, str], paths: Paths) -> None:
    conn = ini(rendered["nova/nova.conf"])["database"]["connection"]
    assert conn.startswith("mysql+pymysql://openstack:")
    assert f"unix_socket={paths.mysql_socket}" in conn


def test_rabbitmq_and_epmd_stay_on_loopback(rendered: dict[str, str]) -> None:
    assert "listeners.tcp.default = 127.0.0.1:5672" in rendered["rabbitmq/rabbitmq.conf"]
    env = rendered["rabbitmq/rabbitmq-env.conf"]
    assert "export ERL_EPMD_ADDRESS=127.0.0.1" in env
    assert "inet_dist_use_interface {127,0,0,1}" in env
    assert "NODE_IP_ADDRESS=127.0.0.1" in env


def test_neutron_allows_public_flat_and_vxlan_tenant_networks(rendered: dict[str, str]) -> None:
    ml2 = ini(rendered["neutron/ml2_conf.ini"])
    # Every region's external network in catalog/centre.yaml must land on a flat physnet.
    from kuntapilvi.catalogue import load_catalogue
    from kuntapilvi.project import ProjectPaths

    repo = Path(__file__).resolve().parents[2]
    centre = load_catalogue(ProjectPaths(repo))[0].centre
    wanted = {r.external_network.physical_network for r in centre.regions}
    assert set(ml2["ml2_type_flat"]["flat_networks"].split(",")) == wanted
    assert set(ml2["ml2"]["type_drivers"].split(",")) == {"flat", "vxlan"}
    assert ml2["ml2"]["tenant_network_types"] == "vxlan"
    # openvswitch only for its QoS driver (WAN tiers); `test` binds the ports.
    assert ml2["ml2"]["mechanism_drivers"] == "test,openvswitch"
    assert ml2["ml2_type_vxlan"]["vni_ranges"]
    assert "qos" in ml2["ml2"]["extension_drivers"].split(",")


def test_neutron_has_placement_credentials(rendered: dict[str, str]) -> None:
    neutron = ini(rendered["neutron/neutron.conf"])
    assert neutron["placement"]["auth_type"] == "password"
    assert neutron["DEFAULT"]["service_plugins"] == "router,qos"


def test_nova_compute_config_has_no_database(rendered: dict[str, str]) -> None:
    compute = ini(rendered["nova/nova-compute.conf"])
    api = ini(rendered["nova/nova.conf"])
    assert "database" not in compute and "api_database" not in compute
    assert "database" in api and "api_database" in api
    assert compute["DEFAULT"]["host"] == services.COMPUTE_HOST
    assert compute["DEFAULT"]["compute_driver"] == "fake.FakeDriverWithoutFakeNodes"


def test_services_talk_to_each_other_in_the_first_region(rendered: dict[str, str]) -> None:
    nova = ini(rendered["nova/nova.conf"])
    assert nova["placement"]["region_name"] == services.REGIONS[0] == "fi-kuo-1"
    assert "fi-kaj-1" in services.REGIONS


def test_cinder_uses_the_fake_backend_and_filter_file(rendered: dict[str, str]) -> None:
    cinder = ini(rendered["cinder/cinder.conf"])
    assert cinder["fake"]["volume_driver"].endswith("FakeLoggingVolumeDriver")
    assert cinder["DEFAULT"]["resource_query_filters_file"].endswith("resource_filters.json")


def test_wsgi_wrappers_compile_and_trim_argv(rendered: dict[str, str]) -> None:
    wrappers = {k: v for k, v in rendered.items() if k.startswith("wsgi/")}
    assert len(wrappers) == sum(1 for s in services.SERVICES if s.kind == "api")
    for name, text in wrappers.items():
        compile(text, name, "exec")
        assert "sys.argv = [" in text
    cinder = rendered["wsgi/devcloud_cinder_api.py"]
    assert "--config-file" in cinder and "cinder.conf" in cinder
    assert "OS_KEYSTONE_CONFIG_DIR" in rendered["wsgi/devcloud_keystone.py"]


def test_secrets_are_generated_once_and_kept(paths: Paths) -> None:
    first = config.load_secrets(paths)
    assert config.load_secrets(paths) == first
    assert oct(paths.secrets.stat().st_mode)[-3:] == "600"


def test_secrets_added_later_keep_the_existing_ones(paths: Paths) -> None:
    """A state folder made before Designate has no rndc secret; the DB password must stay."""
    paths.state.mkdir(parents=True)
    old = {"admin": "1" * 24, "service": "2" * 24, "db": "3" * 24, "rabbit": "4" * 24}
    paths.secrets.write_text(json.dumps(old))
    loaded = config.load_secrets(paths)
    assert {k: loaded[k] for k in old} == old
    assert re.fullmatch(r"[0-9a-f]{32}", loaded["rndc"])
    assert config.load_secrets(paths) == loaded


def test_named_answers_only_on_loopback_and_takes_zones_from_mdns(
    rendered: dict[str, str],
) -> None:
    named = rendered["bind/named.conf"]
    assert f"listen-on port {services.PORTS['named']} {{ 127.0.0.1; }};" in named
    assert "listen-on-v6 { none; };" in named
    assert f"inet 127.0.0.1 port {services.PORTS['rndc']} allow {{ 127.0.0.1; }}" in named
    assert "allow-new-zones yes;" in named and "recursion no;" in named
    assert 'secret "' + "c" * 32 + '";' in rendered["bind/rndc.key"]
    [pool] = yaml.safe_load(rendered["designate/pools.yaml"])
    [target] = pool["targets"]
    assert target["type"] == "bind9"
    assert target["masters"] == [{"host": "127.0.0.1", "port": services.PORTS["designate-mdns"]}]
    assert target["options"]["rndc_port"] == services.PORTS["rndc"]
    assert pool["nameservers"] == [{"host": "127.0.0.1", "port": services.PORTS["named"]}]
    assert pool["id"] == config.DEFAULT_POOL_ID


def test_base_image_is_one_mebibyte(paths: Paths) -> None:
    image = config.write_base_image(paths)
    assert image.stat().st_size == 1024 * 1024


def test_catalogue_has_every_service_once() -> None:
    types = [e.type for e in services.CATALOG]
    assert len(types) == len(set(types))
    assert {"identity", "compute", "network", "image", "placement", "volumev3", "dns"} <= set(types)
    for entry in services.CATALOG:
        assert entry.url.startswith("http://127.0.0.1:")
