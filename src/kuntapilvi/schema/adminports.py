"""Administration ports: the catalogue rules refuse them to the world at review time, the
policy pack at preview time. One list, at the bottom layer, so both read the same one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdminPort:
    service: str
    protocol: str
    port: int


# SSH and RDP: remote administration, reached only from the centre's management network.
ADMIN_PORTS = (
    AdminPort("SSH", "tcp", 22),
    AdminPort("RDP", "tcp", 3389),
    AdminPort("RDP", "udp", 3389),
)
