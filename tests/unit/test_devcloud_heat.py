"""Heat in devcloud: only on request, configured like the other services, stopped by `down`."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.devcloud import config, heat, lifecycle, services
from kuntapilvi.devcloud.config import Context
from kuntapilvi.devcloud.paths import Paths
from tests.unit.test_devcloud_config import SECRETS


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(state=tmp_path / "state", cache=tmp_path / "cache")


def test_heat_conf_reaches_keystone_db_and_queue_on_loopback(paths: Paths) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(heat.render_config(Context(paths=paths, secrets=SECRETS)))
    assert parser["database"]["connection"].startswith("mysql+pymysql://openstack:")
    assert "/heat?" in parser["database"]["connection"]
    assert parser["DEFAULT"]["transport_url"].startswith("rabbit://openstack:")
    assert parser["keystone_authtoken"]["username"] == "heat"
    assert parser["trustee"]["password"] == SECRETS["service"]
    assert parser["heat_api"]["bind_host"] == "127.0.0.1"
    assert parser["DEFAULT"]["stack_user_domain_name"] == heat.STACK_DOMAIN
    assert parser["paste_deploy"]["api_paste_config"].startswith(str(paths.etc))


def test_heat_is_not_part_of_the_default_devcloud(paths: Paths) -> None:
    assert not {"heat-api", "heat-engine"} & {s.name for s in services.SERVICES}
    assert "heat" not in services.DATABASES
    assert not any("heat" in name for name in config.render_all(
        Context(paths=paths, secrets=SECRETS)))
    # ...yet `down` stops it with the other OpenStack services.
    assert set(heat.SERVICE_NAMES) <= set(lifecycle.STOP_WAVES[0])
    # Its own venv: the shared service venv (and its name) stay as they are.
    assert heat.venv(paths) != paths.venv and heat.venv(paths).parent == paths.cache


def test_heat_api_is_gunicorn_on_loopback_with_an_access_log(paths: Paths) -> None:
    argv = heat.argv_for("heat-api", paths)
    assert argv[0] == str(heat.venv(paths) / "bin" / "gunicorn")
    assert argv[argv.index("--bind") + 1] == f"127.0.0.1:{heat.API_PORT}"
    assert argv[argv.index("--access-logfile") + 1] == str(paths.logs / "heat-api.access.log")
    engine = heat.argv_for("heat-engine", paths)
    assert engine[0].endswith("/heat-engine") and engine[-1].endswith("heat/heat.conf")


def test_every_api_writes_an_access_log(paths: Paths) -> None:
    for service in services.SERVICES:
        if service.kind == "api":
            argv = services.argv_for(service, paths)
            assert argv[argv.index("--access-logfile") + 1] == str(
                services.access_log(service.name, paths))
            assert "%(D)s" in argv[argv.index("--access-logformat") + 1]


def test_up_refuses_an_unknown_optional_service() -> None:
    result = CliRunner().invoke(app, ["devcloud", "up", "--with", "swift"])
    assert result.exit_code == 2
    assert "swift" in result.output
