"""Shared devcloud for integration tests: started once per session, through the real CLI.

If devcloud was already running (a developer's own, or an earlier session's), it is reused
and left running; if this session started it, this session stops it at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "kuntapilvi", "devcloud"]
UP_TIMEOUT = 1800  # a cold start installs Debian packages and the service venv


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


@pytest.fixture(scope="session")
def devcloud_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`kuntapilvi devcloud ARGS...` as a subprocess, the way a developer runs it."""
    return run_cli


def _status_rows() -> tuple[int, dict[str, dict[str, Any]]]:
    done = run_cli("status", "--json")
    try:
        rows = {r["name"]: r for r in json.loads(done.stdout)}
    except ValueError:
        rows = {}
    return done.returncode, rows


@pytest.fixture(scope="session")
def devcloud() -> Iterator[dict[str, Any]]:
    """connection_info() of a running devcloud, with its host watcher running if it can."""
    from kuntapilvi.devcloud import connection_info, watcherprocess
    from kuntapilvi.devcloud.paths import Paths

    code, before = _status_rows()
    # Judged by Keystone, not by the exit code: a devcloud someone else runs, which only lacks
    # a part (its watcher, a newer service), is completed by `up` below but never stopped here.
    started_here = not before.get("keystone", {}).get("answering", False)
    watcher_before = before.get(watcherprocess.NAME, {}).get("answering", False)
    if code != 0:
        up = run_cli("up", timeout=UP_TIMEOUT)
        if up.returncode != 0:
            pytest.fail(f"`kuntapilvi devcloud up` failed:\n{up.stdout}\n{up.stderr}")
    info = connection_info()
    info["started_here"] = started_here
    yield info
    if os.environ.get("KUNTAPILVI_KEEP_DEVCLOUD"):
        return
    if started_here:
        run_cli("down")
    elif not watcher_before:
        # Leave a shared devcloud as found: no watcher, and none of the hosts it made.
        watcherprocess.stop(Paths.default())


@pytest.fixture(scope="session")
def admin_conn(devcloud: dict[str, Any]) -> Any:
    import openstack.config
    import openstack.connection

    # Only devcloud's clouds.yaml: a developer's own OS_* variables must not redirect tests.
    region = openstack.config.OpenStackConfig(
        config_files=[devcloud["clouds_yaml"]], load_envvars=False
    ).get_one(cloud=devcloud["os_cloud"])
    return openstack.connection.Connection(config=region)


@pytest.fixture
def base_image(devcloud: dict[str, Any]) -> Path:
    return Path(devcloud["base_image"])


def copy_project(root: Path, passphrase: str) -> dict[str, str]:
    """A private copy of the project in `root` with its own file backend; returns the
    environment that runs the real engine on it against devcloud.

    Tests never touch the developer's stacks or the tracked stack files (Pulumi writes salts
    into them)."""
    for name in ("catalog", "stacks", "templates"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "__main__.py", root / "__main__.py")
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (root / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    shell = subprocess.run(
        ["bash", "-c", f". {REPO}/scripts/env.sh >/dev/null 2>&1 && env -0"],
        capture_output=True,
        text=True,
        check=True,
    )
    env = dict(kv.split("=", 1) for kv in shell.stdout.split("\0") if "=" in kv)
    state = root / ".state-pulumi"
    state.mkdir()
    # Ambient OS_* variables (an engineer's own cloud) must not redirect the tests: the program
    # reaches devcloud the way it reaches any cloud, through the variables `devcloud env` prints.
    for key in [k for k in env if k.startswith("OS_")]:
        env.pop(key)
    from kuntapilvi.devcloud import connection_info

    env.update(connection_info()["environ"])
    env.update(
        {
            "PULUMI_BACKEND_URL": f"file://{state}",
            "KUNTAPILVI_ROOT": str(root),
            "PULUMI_CONFIG_PASSPHRASE": passphrase,
        }
    )
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    return env


@pytest.fixture(scope="session")
def private_project() -> Callable[[Path, str], dict[str, str]]:
    """copy_project, for fixtures that build their own project copies."""
    return copy_project
