"""Real Debian hosts for devcloud servers: debootstrap template, systemd-nspawn, cloud-init NoCloud.

Use HostManager; everything else is its parts.
"""

from kuntapilvi.hosts.errors import HostsError
from kuntapilvi.hosts.manager import HostInfo, HostManager

__all__ = ["HostInfo", "HostManager", "HostsError"]
