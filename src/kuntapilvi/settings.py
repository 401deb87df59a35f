"""Every setting the program takes from its environment, read in one place.

The edges (the CLI, the Pulumi entry point `__main__.py`, the policy pack) call
`Settings.from_env()` once and pass the object down; nothing below them reads os.environ.
docs/environment.md lists every variable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kuntapilvi.errors import KuntapilviError


class OpenStackEnv(BaseSettings):
    """The standard OS_* variables every OpenStack client reads: the program reaches a real
    cloud and devcloud the same way (`eval "$(kuntapilvi devcloud env)"` sets them)."""

    model_config = SettingsConfigDict(env_prefix="OS_", frozen=True, extra="ignore")

    cloud: str = ""
    client_config_file: Path | None = None
    auth_url: str = ""
    username: str = ""
    password: str = Field(default="", repr=False)
    project_name: str = ""
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"

    @property
    def configured(self) -> bool:
        return bool(self.cloud or self.auth_url)


class Settings(BaseSettings):
    """KUNTAPILVI_* variables (the prefix is not repeated in the field names)."""

    model_config = SettingsConfigDict(env_prefix="KUNTAPILVI_", frozen=True, extra="ignore")

    root: Path | None = None
    cache: Path | None = None
    today: dt.date | None = None
    image_dir: Path | None = None
    shared_control_plane: bool = False
    apt_proxy: str = ""
    devcloud_state: Path | None = None
    hosts_state: Path | None = None
    openstack: OpenStackEnv = Field(default_factory=lambda: OpenStackEnv.model_construct())

    @classmethod
    def from_env(cls) -> Settings:
        """Read once, at an edge; a bad value is a user error naming the variable."""
        try:
            return cls(openstack=OpenStackEnv())
        except ValidationError as exc:
            problems = "; ".join(
                f"{_variable(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise KuntapilviError(f"environment variable not usable: {problems}") from None

    @classmethod
    def defaults(cls) -> Settings:
        """Every default, whatever the environment holds (dry runs, tests)."""
        # model_construct: BaseSettings' __init__ and model_validate both read the environment.
        return cls.model_construct(openstack=OpenStackEnv.model_construct())

    @field_validator("apt_proxy")
    @classmethod
    def _proxy_without_credentials(cls, value: str) -> str:
        # It is written into every server's user data (readable in the cloud's metadata).
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"KUNTAPILVI_APT_PROXY={value!r}: give an http:// URL of the proxy")
        if parts.username or parts.password:
            raise ValueError(
                "KUNTAPILVI_APT_PROXY carries credentials, which would land in every server's "
                "user data; give a proxy that needs none (allow the servers' addresses instead)"
            )
        return value

    @property
    def cache_dir(self) -> Path:
        return self.cache or Path.home() / ".cache" / "kuntapilvi"

    def devcloud_state_dir(self, checkout: Path) -> Path:
        return (self.devcloud_state or checkout / ".state" / "devcloud").absolute()

    def hosts_state_dir(self, checkout: Path) -> Path:
        """Hosts stand behind devcloud's servers, so by default they live in its state folder."""
        return (self.hosts_state or self.devcloud_state_dir(checkout) / "hosts").absolute()



def _variable(loc: tuple[int | str, ...]) -> str:
    if loc and loc[0] == "openstack":
        return "OS_" + "_".join(str(p) for p in loc[1:]).upper()
    return "KUNTAPILVI_" + "_".join(str(p) for p in loc).upper()
