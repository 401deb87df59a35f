"""Where the provider points: the engineer's own cloud when OS_* credentials are set,
otherwise the local devcloud."""

from __future__ import annotations

import os
from pathlib import Path

from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.errors import KuntapilviError


def provider_args(region: str) -> dict[str, str]:
    """Keyword arguments for openstack.Provider in `region` (OS_AUTH_URL wins over devcloud)."""
    if os.environ.get("OS_AUTH_URL") and os.environ.get("KUNTAPILVI_CLOUD") != "devcloud":
        return {
            "auth_url": os.environ["OS_AUTH_URL"],
            "user_name": os.environ.get("OS_USERNAME", ""),
            "password": os.environ.get("OS_PASSWORD", ""),
            "tenant_name": os.environ.get("OS_PROJECT_NAME", ""),
            "user_domain_name": os.environ.get("OS_USER_DOMAIN_NAME", "Default"),
            "project_domain_name": os.environ.get("OS_PROJECT_DOMAIN_NAME", "Default"),
            "region": region,
        }
    return devcloud_args(region)


def shared_control_plane() -> bool:
    """True when every region is the same cloud (devcloud): flavors and images exist once."""
    return not os.environ.get("OS_AUTH_URL") or os.environ.get("KUNTAPILVI_CLOUD") == "devcloud"


def devcloud_args(region: str) -> dict[str, str]:
    from kuntapilvi.devcloud import connection_info

    try:
        config = connection_info()["pulumi_config"]
    except DevcloudError as exc:
        # Under mocks (plan, unit tests) no cloud is contacted, so no password is needed.
        if not os.environ.get("KUNTAPILVI_MOCKS"):
            raise KuntapilviError(
                f"{exc} Or point the stacks at a real cloud by setting OS_AUTH_URL and the "
                "other OS_* variables."
            ) from None
        config = {
            "openstack:authUrl": "http://127.0.0.1:5000/v3",
            "openstack:userName": "admin",
            "openstack:password": "",
            "openstack:tenantName": "admin",
            "openstack:userDomainName": "Default",
            "openstack:projectDomainName": "Default",
        }
    return {
        "auth_url": config["openstack:authUrl"],
        "user_name": config["openstack:userName"],
        "password": config["openstack:password"],
        "tenant_name": config["openstack:tenantName"],
        "user_domain_name": config["openstack:userDomainName"],
        "project_domain_name": config["openstack:projectDomainName"],
        "region": region,
    }


def devcloud_image_dir() -> Path | None:
    from kuntapilvi.devcloud import connection_info

    try:
        return Path(connection_info()["base_image"]).parent
    except DevcloudError:
        return None
