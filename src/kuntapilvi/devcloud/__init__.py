"""devcloud: a real OpenStack control plane (Keystone, Placement, Nova, Neutron, Cinder,
Glance) on 127.0.0.1, for trying the centre's stacks before production."""

from kuntapilvi.devcloud.credentials import connection_info
from kuntapilvi.devcloud.services import REGIONS

__all__ = ["REGIONS", "connection_info"]
