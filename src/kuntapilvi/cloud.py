"""Where the provider points: the cloud the standard OpenStack settings name.

`OS_CLOUD` (with `OS_CLIENT_CONFIG_FILE` or a clouds.yaml in the usual places) or the OS_AUTH_URL
family, exactly as for the `openstack` CLI. devcloud is one such cloud: `kuntapilvi devcloud env`
prints its variables, so this module knows nothing of it."""

from __future__ import annotations

from typing import Any

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.settings import OpenStackEnv, Settings

# Under mocks nothing is contacted: the provider needs a shape, not credentials.
MOCK_AUTH = {
    "auth_url": "http://127.0.0.1:5000/v3",
    "user_name": "admin",
    "password": "",
    "tenant_name": "admin",
    "user_domain_name": "Default",
    "project_domain_name": "Default",
}


# The provider's SDK fills a missing `cloud` from OS_CLOUD in the program's environment, and the
# provider then takes that clouds.yaml entry's credentials and project instead of the explicit
# ones below: a tenant's scoped provider would build in the operator's project. An explicit empty
# value keeps it out (and scripts/install-engine's plugin wrapper keeps OS_* from the provider).
NO_CLOUD = {"cloud": ""}


def provider_args(settings: Settings, region: str, *, mocks: bool = False) -> dict[str, str]:
    """Keyword arguments for openstack.Provider in `region`: explicit credentials, never an
    ambient OS_CLOUD."""
    if mocks:
        return {**MOCK_AUTH, **NO_CLOUD, "region": region}
    os_env = settings.openstack
    if os_env.cloud:
        return {**clouds_yaml_auth(os_env), **NO_CLOUD, "region": region}
    if os_env.auth_url:
        return {
            **NO_CLOUD,
            "auth_url": os_env.auth_url,
            "user_name": os_env.username,
            "password": os_env.password,
            "tenant_name": os_env.project_name,
            "user_domain_name": os_env.user_domain_name,
            "project_domain_name": os_env.project_domain_name,
            "region": region,
        }
    raise KuntapilviError(
        "no cloud to provision into: set OS_CLOUD (and OS_CLIENT_CONFIG_FILE if its clouds.yaml "
        "is not in ~/.config/openstack) or OS_AUTH_URL and the other OS_* variables. "
        'For devcloud: eval "$(kuntapilvi devcloud env)".'
    )


def clouds_yaml_auth(os_env: OpenStackEnv) -> dict[str, str]:
    """The password credentials of cloud OS_CLOUD, read the way every OpenStack client does."""
    # openstacksdk is slow to import; only a run against a named cloud pays for it.
    import openstack.config
    from openstack import exceptions

    files = [str(os_env.client_config_file)] if os_env.client_config_file else None
    try:
        config: Any = openstack.config.OpenStackConfig(
            config_files=files, load_envvars=False
        ).get_one(cloud=os_env.cloud)
    except exceptions.ConfigException as exc:
        where = os_env.client_config_file or "clouds.yaml"
        raise KuntapilviError(
            f"OS_CLOUD={os_env.cloud}: {exc} (looked in {where}); fix OS_CLOUD or "
            "OS_CLIENT_CONFIG_FILE"
        ) from None
    auth = config.config.get("auth", {})
    missing = [k for k in ("auth_url", "username", "password") if not auth.get(k)]
    if missing:
        raise KuntapilviError(
            f"OS_CLOUD={os_env.cloud}: its clouds.yaml entry has no {', '.join(missing)} under "
            "auth; the provider signs in with a password"
        )
    return {
        "auth_url": auth["auth_url"],
        "user_name": auth["username"],
        "password": auth["password"],
        "tenant_name": auth.get("project_name", ""),
        "user_domain_name": auth.get("user_domain_name", "Default"),
        "project_domain_name": auth.get("project_domain_name", "Default"),
    }
