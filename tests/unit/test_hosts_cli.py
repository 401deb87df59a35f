"""The hosts sub-app: plain output, and one-sentence errors instead of tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kuntapilvi.cli.hosts import app

runner = CliRunner()


def test_list_on_empty_state(tmp_path: Path) -> None:
    result = runner.invoke(app, ["list", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "server" in result.output and "tenant" in result.output
    assert "cloud-init" in result.output


def test_list_json_names_server_and_tenant(tmp_path: Path) -> None:
    from kuntapilvi.hosts.state import HostRecord, StateStore

    StateStore(tmp_path).save_host(HostRecord(
        name="kajaani-print", host_id="kajaani-print", hostname="kajaani-print",
        address="10.72.0.11/24", gateway="10.72.0.1", network_id="n", bridge="kpbr1", veth="v",
        netns="kp-kajaani-print", machine="kp-kajaani-print", instance_id="s1", config_hash="x",
        server_id="s1", tenant="kajaani", volumes={"v1": {"size_gb": 200, "device": "/dev/sdb"}},
    ))  # fmt: skip
    result = runner.invoke(app, ["list", "--json", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert (row["name"], row["server_id"], row["tenant"], row["running"]) == (
        "kajaani-print", "s1", "kajaani", False)  # fmt: skip
    assert row["volumes"] == {"v1": {"size_gb": 200, "device": "/dev/sdb"}}
    table = runner.invoke(app, ["list", "--state-dir", str(tmp_path)])
    assert "sdb:200G" in table.output


def test_stop_unknown_host(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stop", "nope", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no host named 'nope'" in result.output


def test_bad_address_is_one_sentence(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["start", "x", "--address", "192.168.1.5/24", "--gateway", "192.168.1.1",
         "--network-id", "n", "--state-dir", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 3
    assert "outside the tenant range" in result.output
    assert "Traceback" not in result.output


def test_stop_all_on_empty_state(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stop-all", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "stopped 0 host(s)" in result.output
