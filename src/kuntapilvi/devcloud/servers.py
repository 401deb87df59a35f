"""What the host watcher needs to know about devcloud's servers, read as admin from the APIs.

One Nova list call per poll gives every server of every project with its status and user data
(microversion 2.3 and later show `OS-EXT-SRV-ATTR:user_data` to admins), and one Cinder list call
every volume with its size and attachments; Neutron is only asked for a server's port and subnet
when its host has to be (re)made.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuntapilvi.hosts.seed import decode_nova_user_data

# Nova statuses of a server that is on its way out or gone; its host goes too.
GONE_STATUSES = frozenset({"DELETED", "SOFT_DELETED"})


@dataclass(frozen=True)
class Server:
    """A Nova server as the watcher sees it."""

    id: str
    name: str
    project_id: str
    status: str
    user_data: bytes | None
    key_name: str | None
    user_id: str
    # Fixed addresses Nova reports; with the user data they decide whether a host is stale.
    addresses: tuple[str, ...]
    task_state: str | None = None

    @property
    def gone(self) -> bool:
        """Deleted, or being deleted: Neutron drops the port before Nova drops the server, and a
        server that lost its address on the way out must not look like one to rebuild."""
        return self.status in GONE_STATUSES or self.task_state == "deleting"

    @property
    def fingerprint(self) -> str:
        """Changes when the host would have to be rebuilt (new user data, address or name)."""
        digest = hashlib.sha256(self.user_data or b"")
        digest.update(",".join([self.name, *sorted(self.addresses)]).encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Volume:
    """A Cinder volume as the watcher sees it: its size and where it is attached."""

    id: str
    size_gb: int
    # (server id, device name Nova reported) per attachment.
    attachments: tuple[tuple[str, str], ...] = ()


def volume_from_sdk(raw: Any) -> Volume:
    attachments = tuple(
        (str(a.get("server_id") or ""), str(a.get("device") or ""))
        for a in (raw.attachments or ())
        if a.get("server_id")
    )
    return Volume(str(raw.id), int(raw.size or 0), attachments)


@dataclass(frozen=True)
class Wiring:
    """Where a server's host goes: its fixed address on its subnet, the gateway, the network."""

    address_cidr: str  # 10.72.0.11/24
    gateway: str
    network_id: str
    # Said in the log when a server has more ports than the one its host gets.
    note: str = ""


class NoWiring(Exception):
    """The server has nothing a host can be put on (no IPv4 port, no gateway); one sentence."""


def _fixed_addresses(addresses: dict[str, Any] | None) -> tuple[str, ...]:
    found = []
    for entries in (addresses or {}).values():
        for entry in entries or ():
            if entry.get("OS-EXT-IPS:type", "fixed") == "fixed" and entry.get("addr"):
                found.append(str(entry["addr"]))
    return tuple(sorted(found))


def server_from_sdk(raw: Any) -> Server:
    """A Server from openstacksdk's compute Server resource (or anything with its attributes)."""
    try:
        user_data = decode_nova_user_data(raw.user_data)
    except ValueError:
        # Nova itself validates base64 on create, so this is not expected; an empty seed boots.
        user_data = None
    return Server(
        id=str(raw.id),
        name=str(raw.name),
        project_id=str(raw.project_id or ""),
        status=str(raw.status or "").upper(),
        user_data=user_data,
        key_name=raw.key_name or None,
        user_id=str(raw.user_id or ""),
        addresses=_fixed_addresses(raw.addresses),
        task_state=getattr(raw, "task_state", None) or None,
    )


class Cloud:
    """The admin view of devcloud the watcher polls: servers, their wiring, projects, keys."""

    def __init__(self, clouds_yaml: Path | str, cloud: str) -> None:
        self.clouds_yaml = str(clouds_yaml)
        self.cloud = cloud
        self._conn: Any = None
        self._projects: dict[str, str] = {}

    @property
    def conn(self) -> Any:
        if self._conn is None:
            import openstack.config
            import openstack.connection

            # Only devcloud's own clouds.yaml: an OS_* variable must not point the watcher at
            # another cloud whose servers it would then try to mirror.
            region = openstack.config.OpenStackConfig(
                config_files=[self.clouds_yaml], load_envvars=False
            ).get_one(cloud=self.cloud)
            self._conn = openstack.connection.Connection(config=region)
        return self._conn

    def reset(self) -> None:
        """Forget the session (after an API error), so the next call logs in afresh."""
        if self._conn is not None:
            # Closing a broken session must not hide the error that made us close it.
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def servers(self) -> list[Server]:
        return [server_from_sdk(s) for s in self.conn.compute.servers(all_projects=True)]

    def volumes(self) -> list[Volume]:
        """Every project's volumes, with their attachments, in one Cinder call."""
        return [volume_from_sdk(v) for v in self.conn.block_storage.volumes(all_projects=True)]

    def project_name(self, project_id: str) -> str:
        if project_id not in self._projects:
            project = self.conn.identity.get_project(project_id)
            self._projects[project_id] = str(project.name)
        return self._projects[project_id]

    def public_keys(self, server: Server) -> tuple[str, ...]:
        """The server's key pair, which Nova's metadata would hand to the image's default user."""
        if not server.key_name:
            return ()
        keypair = self.conn.compute.get_keypair(server.key_name, user_id=server.user_id or None)
        return (str(keypair.public_key).strip(),) if keypair.public_key else ()

    def wiring(self, server: Server) -> Wiring:
        ports = sorted(self.conn.network.ports(device_id=server.id), key=lambda p: p.id)
        return wiring_from_ports(server, ports, self.conn.network.get_subnet)


def wiring_from_ports(server: Server, ports: list[Any], get_subnet: Any) -> Wiring:
    """The first port with an IPv4 fixed address, on a subnet with a gateway, wires the host.

    A host has one interface; a server with more ports gets its host on the first one and a note.
    """
    candidates = []
    for port in ports:
        for fixed in port.fixed_ips or ():
            address = ipaddress.ip_address(fixed["ip_address"])
            if address.version == 4:
                candidates.append((port, fixed))
    if not candidates:
        raise NoWiring(f"server {server.name} has no port with an IPv4 fixed address")
    port, fixed = candidates[0]
    subnet = get_subnet(fixed["subnet_id"])
    if not subnet.gateway_ip:
        raise NoWiring(
            f"subnet {subnet.cidr} of server {server.name} has no gateway; a host's bridge "
            "holds the gateway address, so the subnet needs one"
        )
    prefix = ipaddress.ip_network(subnet.cidr).prefixlen
    note = ""
    if len(candidates) > 1:
        others = ", ".join(f["ip_address"] for _, f in candidates[1:])
        note = f"host is on {fixed['ip_address']} only; not wired: {others}"
    return Wiring(f"{fixed['ip_address']}/{prefix}", str(subnet.gateway_ip), str(port.network_id),
                  note)  # fmt: skip
