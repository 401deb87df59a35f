"""The engine that scripts/install-engine installs: pinned versions, the registered OpenStack
plugin, and a real `pulumi preview` of a tiny OpenStack program through our language host.

Every command runs in the environment scripts/env.sh sets up. The tests fail (with the command
to run) when the engine has not been installed on this machine yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300


def _pins() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {name: version for name, _, version in (d.partition("==") for d in deps) if version}


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", ". scripts/env.sh >/dev/null 2>&1 && env -0"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=TIMEOUT,
    ).stdout.decode()
    env = dict(kv.split("=", 1) for kv in out.split("\0") if "=" in kv)
    if not (Path(env["KUNTAPILVI_ENGINE_BIN"]) / "pulumi").exists():
        pytest.fail("the engine is not installed here: run scripts/install-engine first")
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> str:
    p = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert p.returncode == 0, f"{' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_pulumi_is_the_pinned_version(engine_env: dict[str, str]) -> None:
    assert _run(["pulumi", "version"], engine_env).strip() == "v" + _pins()["pulumi"]


def test_language_host_is_the_pinned_version(engine_env: dict[str, str]) -> None:
    out = _run(["pulumi-language-python", "-version"], engine_env)
    assert out.strip() == "v" + _pins()["pulumi"]
    exec_script = Path(engine_env["KUNTAPILVI_ENGINE_BIN"]) / "pulumi-language-python-exec"
    assert os.access(exec_script, os.X_OK)


def test_openstack_plugin_matches_the_python_sdk(engine_env: dict[str, str]) -> None:
    import pulumi_openstack

    wanted = json.loads((Path(pulumi_openstack.__file__).parent / "pulumi-plugin.json").read_text())
    assert wanted["version"] == _pins()["pulumi-openstack"]
    plugins = json.loads(_run(["pulumi", "plugin", "ls", "--json"], engine_env))
    found = {(p["kind"], p["name"], p["version"]) for p in plugins}
    assert ("resource", "openstack", wanted["version"]) in found, found


def test_preview_of_an_openstack_network(engine_env: dict[str, str], tmp_path: Path) -> None:
    """Preview needs no reachable cloud: the provider authenticates only on its first API
    call, and planning a create makes none."""
    (tmp_path / "Pulumi.yaml").write_text("name: kp-smoke\nruntime:\n  name: python\n")
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent("""\
        import pulumi
        import pulumi_openstack as openstack

        cloud = openstack.Provider(
            "devcloud", auth_url="http://127.0.0.1:5000/v3", user_name="demo",
            password="not-a-secret", tenant_name="demo", region="RegionOne")
        net = openstack.networking.Network(
            "net", name="kp-smoke-net", opts=pulumi.ResourceOptions(provider=cloud))
        pulumi.export("network_name", net.name)
        """)
    )
    env = {
        **engine_env,
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "kp-smoke",
        "PULUMI_PYTHON_CMD": sys.executable,  # the project venv running this test
    }
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    (tmp_path / "state").mkdir()
    _run(["pulumi", "stack", "init", "smoke", "--non-interactive"], env, cwd=tmp_path)
    preview = json.loads(
        _run(["pulumi", "preview", "--json", "--non-interactive"], env, cwd=tmp_path)
    )
    steps = {(s["op"], s["urn"].split("::")[-2]) for s in preview["steps"]}
    assert ("create", "openstack:networking/network:Network") in steps, steps
    assert ("create", "pulumi:providers:openstack") in steps, steps
    assert preview["changeSummary"] == {"create": 3}
