"""The devcloud CLI turns environment problems into one sentence, never a traceback."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.devcloud import credentials, lifecycle, processes
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.lifecycle import Step
from kuntapilvi.devcloud.paths import Paths

runner = CliRunner()


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("KUNTAPILVI_DEVCLOUD_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("KUNTAPILVI_CACHE", str(tmp_path / "cache"))
    return Paths.default()


def test_port_conflict_during_up_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]

        def fake_up(paths: Paths, console: Any) -> Any:
            processes.require_port_free(port, "keystone")

        monkeypatch.setattr(lifecycle, "up", fake_up)
        result = runner.invoke(app, ["devcloud", "up"])
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert f"Port {port} on 127.0.0.1" in result.output


def test_failed_service_names_its_log(monkeypatch: pytest.MonkeyPatch, state: Paths) -> None:
    def fake_up(paths: Paths, console: Any) -> Any:
        raise DevcloudError(
            "neutron-api exited during start-up (exit code 3).", paths.log("neutron-api")
        )

    monkeypatch.setattr(lifecycle, "up", fake_up)
    result = runner.invoke(app, ["devcloud", "up"])
    assert result.exit_code == 3
    assert "neutron-api exited" in result.output
    assert "neutron-api.log" in result.output.replace("\n", "")


def test_status_without_state_exits_nonzero() -> None:
    result = runner.invoke(app, ["devcloud", "status", "--json"])
    assert result.exit_code == 1
    rows = json.loads(result.output)
    assert {r["name"] for r in rows} >= {"keystone", "nova-compute", "mariadb"}
    assert not any(r["answering"] for r in rows)


def test_env_before_up_says_run_up() -> None:
    result = runner.invoke(app, ["devcloud", "env"])
    assert result.exit_code == 3
    assert "devcloud up" in result.output


def test_connection_info_and_env_output(state: Paths) -> None:
    state.ensure()
    lifecycle.context(state)  # generates secrets
    info = credentials.connection_info(state)
    assert info["pulumi_config"]["openstack:authUrl"] == "http://127.0.0.1:5000/v3"
    assert info["pulumi_config"]["openstack:region"] == "fi-kuo-1"
    assert set(info["pulumi_config"]) == {
        f"openstack:{k}"
        for k in (
            "authUrl",
            "userName",
            "password",
            "tenantName",
            "userDomainName",
            "projectDomainName",
            "region",
            "insecure",
        )
    }
    assert info["environ"]["OS_CLOUD"] == "devcloud"
    assert credentials.connection_info(state, "fi-kaj-1")["environ"]["OS_REGION_NAME"] == (
        "fi-kaj-1"
    )
    credentials.write_clouds_yaml(state)
    result = runner.invoke(app, ["devcloud", "env"])
    assert result.exit_code == 0
    assert "export OS_PASSWORD=" in result.output
    assert "openstack:tenantName" in result.output


def test_down_when_nothing_runs() -> None:
    result = runner.invoke(app, ["devcloud", "down"])
    assert result.exit_code == 0
    assert "not running" in result.output


def test_reset_refuses_a_foreign_folder(state: Paths) -> None:
    state.state.mkdir(parents=True)
    (state.state / "precious.txt").write_text("x")
    result = runner.invoke(app, ["devcloud", "reset", "--yes"])
    assert result.exit_code == 3
    assert (state.state / "precious.txt").exists()


def test_reset_wipes_devcloud_state(state: Paths) -> None:
    state.ensure()
    result = runner.invoke(app, ["devcloud", "reset", "--yes"])
    assert result.exit_code == 0
    assert not state.state.exists()


def test_logs_lists_every_service() -> None:
    result = runner.invoke(app, ["devcloud", "logs"])
    assert result.exit_code == 0
    assert "nova-compute" in result.output and "keystone" in result.output


def test_steps_run_after_their_dependencies() -> None:
    from rich.console import Console

    order: list[str] = []
    steps = [
        Step("c", lambda: order.append("c") and None, after=("a", "b")),
        Step("a", lambda: order.append("a") and None),
        Step("b", lambda: order.append("b") and None, after=("a",)),
    ]
    timings = lifecycle.run_steps(steps, Console(quiet=True))
    assert order == ["a", "b", "c"]
    assert set(timings) == {"a", "b", "c"}


def test_first_failing_step_stops_the_run() -> None:
    from rich.console import Console

    ran: list[str] = []

    def boom() -> None:
        raise DevcloudError("boom")

    steps = [Step("bad", boom), Step("later", lambda: ran.append("later") and None, after=("bad",))]
    with pytest.raises(DevcloudError):
        lifecycle.run_steps(steps, Console(quiet=True))
    assert ran == []


def test_unexpected_step_error_becomes_one_sentence(tmp_path: Path) -> None:
    from rich.console import Console

    def sdk_fails() -> None:
        raise ConnectionError("Failed to connect to 127.0.0.1:5000\nlong detail")

    steps = [Step("catalogue", sdk_fails, log=tmp_path / "keystone.log")]
    with pytest.raises(DevcloudError) as info:
        lifecycle.run_steps(steps, Console(quiet=True))
    assert info.value.message == (
        "Step 'catalogue' failed: ConnectionError: Failed to connect to 127.0.0.1:5000")
    assert info.value.log == tmp_path / "keystone.log"


def test_the_program_reaches_devcloud_through_what_devcloud_env_exports(
    state: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No devcloud import in the program: `eval "$(kuntapilvi devcloud env)"` is the link."""
    from kuntapilvi.cloud import provider_args
    from kuntapilvi.settings import Settings

    state.ensure()
    lifecycle.context(state)
    credentials.write_clouds_yaml(state)
    for key in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(key)
    info = credentials.connection_info(state)
    for key, value in info["environ"].items():
        if key in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE") or key.startswith("KUNTAPILVI_"):
            monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    assert settings.shared_control_plane
    assert settings.image_dir == Path(info["base_image"]).parent
    args = provider_args(settings, "fi-kaj-1")
    config = info["pulumi_config"]
    assert (args["auth_url"], args["user_name"], args["password"], args["tenant_name"]) == (
        config["openstack:authUrl"],
        config["openstack:userName"],
        config["openstack:password"],
        config["openstack:tenantName"],
    )
    assert args["region"] == "fi-kaj-1"
