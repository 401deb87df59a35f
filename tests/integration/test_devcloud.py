"""devcloud end to end: the CLI brings it up, and a tenant's whole life runs on it.

Every create registers its delete at once, so a failure half-way still leaves nothing
behind (pytest runs finalizers last-in first-out: the reverse of creation).
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kuntapilvi.devcloud.services import FLAT_PHYSNETS

pytestmark = pytest.mark.integration

Cleanup = Callable[[Callable[[], object]], None]


@pytest.fixture
def cleanup(request: pytest.FixtureRequest) -> Cleanup:
    def register(action: Callable[[], object]) -> None:
        request.addfinalizer(lambda: action())

    return register


def test_tenant_lifecycle(admin_conn: Any, base_image: Path, cleanup: Cleanup) -> None:
    conn = admin_conn
    tag = f"it-{uuid.uuid4().hex[:8]}"

    # --- project with quotas -----------------------------------------------------------
    project = conn.identity.create_project(name=tag, domain_id="default")
    cleanup(lambda: conn.identity.delete_project(project))
    # Neutron creates a default security group per project on first use; remove it last.
    cleanup(
        lambda: [
            conn.network.delete_security_group(sg)
            for sg in conn.network.security_groups(project_id=project.id)
        ]
    )
    admin_user = conn.identity.find_user("admin", ignore_missing=False)
    admin_role = conn.identity.find_role("admin", ignore_missing=False)
    conn.identity.assign_project_role_to_user(project, admin_user, admin_role)
    cleanup(lambda: conn.identity.unassign_project_role_from_user(project, admin_user, admin_role))

    conn.set_compute_quotas(project.id, cores=8, ram=8192, instances=4)
    conn.set_network_quotas(
        project.id, network=5, subnet=5, router=2, port=20, security_group=5, security_group_rule=50
    )
    conn.set_volume_quotas(project.id, volumes=4, gigabytes=20)
    assert conn.get_compute_quotas(project.id).cores == 8
    assert conn.get_network_quotas(project.id)["router"] == 2
    assert conn.get_volume_quotas(project.id).gigabytes == 20

    # --- admin-owned: external network on the first flat physnet, flavor, image ----------
    ext = conn.network.create_network(
        name=f"{tag}-ext",
        is_router_external=True,
        provider_network_type="flat",
        provider_physical_network=FLAT_PHYSNETS[0],
        is_shared=False,
    )
    cleanup(lambda: conn.network.delete_network(ext))
    ext_subnet = conn.network.create_subnet(
        network_id=ext.id,
        name=f"{tag}-ext-subnet",
        ip_version=4,
        cidr="198.51.100.0/24",
        gateway_ip="198.51.100.1",
        is_dhcp_enabled=False,
    )
    cleanup(lambda: conn.network.delete_subnet(ext_subnet))

    flavor = conn.compute.create_flavor(name=f"{tag}-tiny", vcpus=1, ram=128, disk=1)
    cleanup(lambda: conn.compute.delete_flavor(flavor))

    image = conn.create_image(
        f"{tag}-debian-12",
        filename=str(base_image),
        disk_format="raw",
        container_format="bare",
        wait=True,
        timeout=120,
    )
    cleanup(lambda: conn.image.delete_image(image))
    assert conn.image.get_image(image.id).status == "active"

    # --- as the tenant: network, subnet, router, security group ------------------------
    tenant = conn.connect_as_project(project)
    net = tenant.network.create_network(name=f"{tag}-net")
    cleanup(lambda: tenant.network.delete_network(net))
    assert net.provider_network_type in (None, "vxlan")  # hidden from non-admin views
    assert conn.network.get_network(net.id).provider_network_type == "vxlan"
    subnet = tenant.network.create_subnet(
        network_id=net.id, name=f"{tag}-subnet", ip_version=4, cidr="10.10.0.0/24"
    )
    cleanup(lambda: tenant.network.delete_subnet(subnet))
    router = tenant.network.create_router(
        name=f"{tag}-router", external_gateway_info={"network_id": ext.id}
    )
    cleanup(lambda: tenant.network.delete_router(router))
    tenant.network.add_interface_to_router(router, subnet_id=subnet.id)
    cleanup(lambda: tenant.network.remove_interface_from_router(router, subnet_id=subnet.id))
    assert tenant.network.get_router(router.id).external_gateway_info["network_id"] == ext.id

    sg = tenant.network.create_security_group(name=f"{tag}-ssh")
    cleanup(lambda: tenant.network.delete_security_group(sg))
    rule = tenant.network.create_security_group_rule(
        security_group_id=sg.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="192.0.2.0/24",
    )
    cleanup(lambda: tenant.network.delete_security_group_rule(rule))

    # --- server and volume ------------------------------------------------------------
    server = tenant.compute.create_server(
        name=f"{tag}-vm",
        flavor_id=flavor.id,
        image_id=image.id,
        networks=[{"uuid": net.id}],
        security_groups=[{"name": sg.name}],
    )

    def delete_server() -> None:
        tenant.compute.delete_server(server)
        tenant.compute.wait_for_delete(server, wait=120)

    cleanup(delete_server)
    server = tenant.compute.wait_for_server(server, status="ACTIVE", wait=180)
    assert server.status == "ACTIVE"
    ports = list(conn.network.ports(device_id=server.id))
    assert ports and ports[0].status == "ACTIVE"
    assert ports[0].binding_vif_type == "ovs"

    volume = tenant.block_storage.create_volume(name=f"{tag}-vol", size=1)

    def delete_volume() -> None:
        tenant.block_storage.delete_volume(volume)
        tenant.block_storage.wait_for_delete(volume, wait=120)

    cleanup(delete_volume)
    tenant.block_storage.wait_for_status(volume, status="available", wait=120)

    tenant.compute.create_volume_attachment(server, volume_id=volume.id)

    def detach() -> None:
        tenant.compute.delete_volume_attachment(server, volume.id)
        tenant.block_storage.wait_for_status(volume, status="available", wait=120)

    cleanup(detach)
    attached = tenant.block_storage.wait_for_status(volume, status="in-use", wait=120)
    assert attached.attachments[0]["server_id"] == server.id


def test_second_up_says_running(devcloud: dict[str, Any], devcloud_cli: Any) -> None:
    result = devcloud_cli("up")
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stdout


def test_status_exits_zero(devcloud: dict[str, Any], devcloud_cli: Any) -> None:
    result = devcloud_cli("status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(r["answering"] for r in rows)


def test_env_prints_pulumi_and_os_variables(devcloud: dict[str, Any], devcloud_cli: Any) -> None:
    result = devcloud_cli("env")
    assert result.returncode == 0
    assert "export OS_CLOUD=devcloud" in result.stdout
    for key in (
        "authUrl",
        "userName",
        "password",
        "tenantName",
        "userDomainName",
        "projectDomainName",
        "region",
        "insecure",
    ):
        assert f"openstack:{key}" in devcloud["pulumi_config"]
    assert devcloud["pulumi_config"]["openstack:region"] == "fi-kuo-1"


def test_catalogue_has_both_regions(admin_conn: Any) -> None:
    regions = {e.region_id for e in admin_conn.identity.endpoints()}
    assert {"fi-kuo-1", "fi-kaj-1"} <= regions


def _devcloud_pids() -> set[int]:
    """PIDs in the process groups devcloud's PID files name."""
    from kuntapilvi.devcloud.paths import Paths
    from kuntapilvi.devcloud.processes import running_record
    from kuntapilvi.devcloud.services import SERVICES

    paths = Paths.default()
    groups = {r.pid for s in SERVICES if (r := running_record(paths.pidfile(s.name)))}
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2 :].split()[2]) in groups:
            pids.add(int(stat.parent.name))
    return pids


def test_listens_on_loopback_only(devcloud: dict[str, Any]) -> None:
    ours = _devcloud_pids()
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    seen = 0
    for line in out.splitlines():
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if not pids & ours:
            continue
        seen += 1
        local = line.split()[3]
        assert local.startswith("127.0.0.1:"), line
    assert seen >= 9  # epmd, rabbitmq (2), six APIs
