"""Settings are read at the edge and passed down: no shell variable is a hidden input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from kuntapilvi.cloud import MOCK_AUTH, provider_args
from kuntapilvi.dryrun import dry_run
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.project import ProjectPaths
from kuntapilvi.settings import OpenStackEnv, Settings
from tests.conftest import REPO

PATHS = ProjectPaths(REPO)


def user_data(resources: list) -> list[str]:  # type: ignore[type-arg]
    return [r.inputs["userData"] for r in resources if r.type.endswith("instance:Instance")]


def test_a_dry_run_leaves_the_environment_as_it_found_it() -> None:
    before = dict(os.environ)
    dry_run(PATHS, "kajaani", today="2027-01-15")
    assert dict(os.environ) == before


def test_a_shell_apt_proxy_does_not_reach_user_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUNTAPILVI_APT_PROXY", "http://192.0.2.9:3142")
    plain = user_data(dry_run(PATHS, "kajaani", today="2027-01-15").resources)
    assert plain and not any("192.0.2.9" in u for u in plain)
    explicit = Settings.defaults().model_copy(update={"apt_proxy": "http://192.0.2.9:3142"})
    proxied = user_data(dry_run(PATHS, "kajaani", "2027-01-15", explicit).resources)
    assert all("192.0.2.9:3142" in u for u in proxied)


@pytest.mark.parametrize(
    "proxy", ["http://user:secret@192.0.2.9:3142", "http://token@proxy.example:3142"]
)
def test_an_apt_proxy_with_credentials_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    monkeypatch.setenv("KUNTAPILVI_APT_PROXY", proxy)
    with pytest.raises(KuntapilviError, match=r"KUNTAPILVI_APT_PROXY.*credentials"):
        Settings.from_env()


def test_settings_are_read_from_the_environment_only_by_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUNTAPILVI_TODAY", "2030-01-01")
    monkeypatch.setenv("OS_CLOUD", "somewhere")
    assert str(Settings.from_env().today) == "2030-01-01"
    assert Settings.from_env().openstack.cloud == "somewhere"
    assert Settings.defaults().today is None
    assert Settings.defaults().openstack.cloud == ""


def test_the_provider_signs_in_with_the_named_clouds_yaml_entry(tmp_path: Path) -> None:
    clouds = tmp_path / "clouds.yaml"
    auth = {
        "auth_url": "http://192.0.2.1:5000/v3",
        "username": "operaattori",
        "password": "s3cret",
        "project_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    clouds.write_text(yaml.safe_dump({"clouds": {"kuntakeskus": {"auth": auth}}}))
    os_env = OpenStackEnv.model_construct(cloud="kuntakeskus", client_config_file=clouds)
    settings = Settings.defaults().model_copy(update={"openstack": os_env})
    args = provider_args(settings, "fi-kaj-1")
    assert args["auth_url"] == "http://192.0.2.1:5000/v3"
    assert (args["user_name"], args["password"], args["region"]) == (
        "operaattori",
        "s3cret",
        "fi-kaj-1",
    )
    missing = OpenStackEnv.model_construct(cloud="nowhere", client_config_file=clouds)
    with pytest.raises(KuntapilviError, match="OS_CLOUD=nowhere"):
        provider_args(Settings.defaults().model_copy(update={"openstack": missing}), "fi-kaj-1")


def test_without_a_cloud_the_program_says_how_to_name_one_but_mocks_need_none() -> None:
    with pytest.raises(KuntapilviError, match=r"OS_CLOUD.*devcloud env"):
        provider_args(Settings.defaults(), "fi-kaj-1")
    assert provider_args(Settings.defaults(), "fi-kaj-1", mocks=True) == {
        **MOCK_AUTH,
        "cloud": "",  # never an ambient OS_CLOUD (kuntapilvi.cloud.NO_CLOUD)
        "region": "fi-kaj-1",
    }
