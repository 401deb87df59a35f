"""Where the provider points: the engineer's own cloud when OS_* credentials are set,
otherwise the local devcloud."""

from __future__ import annotations

import os

DEVCLOUD_DEFAULTS = {
    "auth_url": "http://127.0.0.1:5000/v3",
    "user_name": "admin",
    "password": "devcloud-admin",
    "tenant_name": "admin",
    "user_domain_name": "Default",
    "project_domain_name": "Default",
}


def provider_args(region: str) -> dict[str, str]:
    """Keyword arguments for openstack.Provider in `region` (OS_* wins over devcloud)."""
    if os.environ.get("OS_AUTH_URL"):
        return {
            "auth_url": os.environ["OS_AUTH_URL"],
            "user_name": os.environ.get("OS_USERNAME", ""),
            "password": os.environ.get("OS_PASSWORD", ""),
            "tenant_name": os.environ.get("OS_PROJECT_NAME", ""),
            "user_domain_name": os.environ.get("OS_USER_DOMAIN_NAME", "Default"),
            "project_domain_name": os.environ.get("OS_PROJECT_DOMAIN_NAME", "Default"),
            "region": region,
        }
    return {**DEVCLOUD_DEFAULTS, "region": region}
