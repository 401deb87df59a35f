"""How clients reach devcloud: clouds.yaml, OS_* variables and the Pulumi provider config.

`connection_info()` is the one source; `kuntapilvi devcloud env` prints it for the Pulumi
program (which reads only the variables) and tests call it directly.
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from kuntapilvi.devcloud import services as svc
from kuntapilvi.devcloud.config import load_secrets
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import Paths

CLOUD_NAME = "devcloud"
ADMIN_USER = "admin"
ADMIN_PROJECT = "admin"
DOMAIN = "Default"


def _admin_password(paths: Paths) -> str:
    if not paths.secrets.is_file():
        raise DevcloudError(
            f"devcloud has no state in {paths.state} yet; run `kuntapilvi devcloud up` first."
        )
    return load_secrets(paths)["admin"]


def clouds_yaml_data(paths: Paths, region: str = svc.REGIONS[0]) -> dict[str, Any]:
    return {
        "clouds": {
            CLOUD_NAME: {
                "auth": {
                    "auth_url": svc.KEYSTONE_URL,
                    "username": ADMIN_USER,
                    "password": _admin_password(paths),
                    "project_name": ADMIN_PROJECT,
                    "user_domain_name": DOMAIN,
                    "project_domain_name": DOMAIN,
                },
                "region_name": region,
                "regions": list(svc.REGIONS),
                "interface": "public",
                "identity_api_version": 3,
            }
        }
    }


def write_clouds_yaml(paths: Paths) -> None:
    paths.clouds_yaml.write_text(
        "# Written by kuntapilvi devcloud: admin of the loopback cloud.\n"
        + yaml.safe_dump(clouds_yaml_data(paths), sort_keys=False)
    )
    paths.clouds_yaml.chmod(0o600)


def connection_info(paths: Paths | None = None, region: str | None = None) -> dict[str, Any]:
    """Everything a client needs, as plain data.

    Keys: ``clouds_yaml`` (path), ``os_cloud``, ``environ`` (OS_* variables, usable without
    clouds.yaml), ``pulumi_config`` (pulumi-openstack provider keys, all strings) and
    ``base_image`` (path of the file the centre's stack uploads as `debian-12`).
    """
    paths = paths or Paths.default()
    region = region or svc.REGIONS[0]
    if region not in svc.REGIONS:
        raise DevcloudError(f"Region {region} is not one of devcloud's: {', '.join(svc.REGIONS)}.")
    password = _admin_password(paths)
    environ = {
        "OS_CLOUD": CLOUD_NAME,
        "OS_CLIENT_CONFIG_FILE": str(paths.clouds_yaml),
        "OS_AUTH_TYPE": "password",
        "OS_AUTH_URL": svc.KEYSTONE_URL,
        "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": ADMIN_USER,
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": ADMIN_PROJECT,
        "OS_USER_DOMAIN_NAME": DOMAIN,
        "OS_PROJECT_DOMAIN_NAME": DOMAIN,
        "OS_REGION_NAME": region,
        "OS_INTERFACE": "public",
        # The program reads these as any cloud's settings (docs/environment.md): devcloud's
        # regions share one Nova, and its base image is a file in its state folder.
        "KUNTAPILVI_SHARED_CONTROL_PLANE": "true",
        "KUNTAPILVI_IMAGE_DIR": str(paths.base_image.parent),
    }
    pulumi_config = {
        "openstack:authUrl": svc.KEYSTONE_URL,
        "openstack:userName": ADMIN_USER,
        "openstack:password": password,
        "openstack:tenantName": ADMIN_PROJECT,
        "openstack:userDomainName": DOMAIN,
        "openstack:projectDomainName": DOMAIN,
        "openstack:region": region,
        # Plain HTTP on loopback, so there is no certificate either way; "false" keeps a
        # copied config from switching verification off against a real TLS cloud.
        "openstack:insecure": "false",
    }
    return {
        "clouds_yaml": str(paths.clouds_yaml),
        "os_cloud": CLOUD_NAME,
        "environ": environ,
        "pulumi_config": pulumi_config,
        "base_image": str(paths.base_image),
        "regions": list(svc.REGIONS),
        # python-openstackclient lives in the service venv, not in kuntapilvi's.
        "openstack_cli": str(paths.venv_bin("openstack")),
    }


def shell_exports(info: dict[str, Any]) -> str:
    lines = [f"export {k}={shlex.quote(v)}" for k, v in info["environ"].items()]
    lines.append(f"# openstack CLI: {info['openstack_cli']}")
    lines.append("# Pulumi provider config (pulumi config set [--secret] KEY VALUE):")
    for key, value in info["pulumi_config"].items():
        secret = " --secret" if key == "openstack:password" else ""
        lines.append(f"#   pulumi config set{secret} {key} {shlex.quote(value)}")
    return "\n".join(lines)
