"""The policy pack (policy/) through the real engine, our language host's RunPlugin and the real
provider against devcloud: shipped stacks pass, a catalogue that opens SSH to the world is
stopped with a message naming the card and the rule, and an `up` runs with the pack enforcing.

Tenant stacks read the centre stack's outputs. Instead of building a centre (cloud-wide flavors
and networks that other sessions' centres already hold), each project copy gets a centre stack
that holds only those outputs, imported into its private backend."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kuntapilvi.dryrun import mock_centre_regions
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "policy"
LOCK = "/tmp/kuntapilvi-devcloud.lock"
TENANTS = ["espoo", "turku", "lahti", "kajaani", "kainuunliitto"]


class Project:
    """A private copy of the project with its own backend and an outputs-only centre stack."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def pulumi(self, *args: str, lock: bool = False) -> subprocess.CompletedProcess[str]:
        cmd = ["pulumi", *args, "--non-interactive"]
        return subprocess.run(
            ["flock", LOCK, *cmd] if lock else cmd,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    def stack(self, name: str) -> None:
        if self.pulumi("stack", "select", name).returncode != 0:
            assert self.pulumi("stack", "init", name).returncode == 0

    def preview(self, stack: str) -> subprocess.CompletedProcess[str]:
        self.stack(stack)
        return self.pulumi("preview", "--stack", stack, "--policy-pack", str(PACK))


def make_project(root: Path, private_project: Callable[[Path, str], dict[str, str]]) -> Project:
    env = private_project(root, "policy-tests")
    p = Project(root, env)
    model = validate(ProjectPaths(root), ["kajaani"]).model
    deployment = {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "", "version": "v3.259.0"},
            "resources": [
                {
                    "urn": "urn:pulumi:centre::kuntapilvi::pulumi:pulumi:Stack::kuntapilvi-centre",
                    "custom": False,
                    "type": "pulumi:pulumi:Stack",
                    "outputs": {"regions": mock_centre_regions(model.cards, model.centre)},
                }
            ],
        },
    }
    (root / "centre.json").write_text(json.dumps(deployment))
    p.stack("centre")
    imported = p.pulumi("stack", "import", "--stack", "centre", "--file", "centre.json", "--force")
    assert imported.returncode == 0, imported.stderr
    return p


@pytest.fixture(scope="module")
def shipped(
    devcloud: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    private_project: Callable[[Path, str], dict[str, str]],
) -> Project:
    return make_project(tmp_path_factory.mktemp("policy-shipped"), private_project)


@pytest.mark.parametrize("stack", TENANTS)
def test_shipped_tenant_stacks_pass_the_pack(shipped: Project, stack: str) -> None:
    result = shipped.preview(stack)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "kuntapilvi@v0.0.1" in result.stdout  # the pack really ran
    assert "mandatory" not in result.stdout


def test_a_card_opening_ssh_to_the_world_is_stopped(
    devcloud: dict[str, Any],
    tmp_path: Path,
    private_project: Callable[[Path, str], dict[str, str]],
) -> None:
    """`kuntapilvi validate` refuses a card that opens SSH to the world, so the rule here comes
    from a code change instead (the firewall module widened to 0.0.0.0/0): the pack stops it
    whatever produced it."""
    p = make_project(tmp_path / "project", private_project)
    main = p.root / "__main__.py"
    main.write_text(
        "import kuntapilvi_modules.firewall as firewall\n"
        "from kuntapilvi.reach import Source\n"
        "_sources = firewall.sources\n"
        "firewall.sources = lambda port, *rest: (\n"
        "    [Source('world', '0.0.0.0/0')] if port.port == 22 else _sources(port, *rest)\n"
        ")\n" + main.read_text()
    )
    result = p.preview("kajaani")
    assert result.returncode != 0
    out = result.stdout
    assert "[mandatory]  admin-ports-closed-to-world" in out, out[-3000:]
    assert (
        "security-group rule 'kajaani-baseline-tcp-22-world' of card network.baseline-firewall "
        "opens SSH (tcp/22) to the world: ingress tcp port 22 from 0.0.0.0/0"
    ) in out
    assert "catalog/cards/network/baseline-firewall.yaml" in out


def test_up_with_the_pack_enforcing(
    devcloud: dict[str, Any],
    tmp_path: Path,
    private_project: Callable[[Path, str], dict[str, str]],
) -> None:
    """A tiny tenant (project, admins' group, roles, quotas, keypair) goes up and comes down
    with the mandatory pack loaded, so the policies also run on real, known values."""
    p = make_project(tmp_path / "project", private_project)
    (p.root / "stacks/Pulumi.policytest.yaml").write_text(
        yaml.safe_dump(
            {
                "config": {
                    "kuntapilvi:tenant": {
                        "owner": "kainuunliitto",
                        "region": "fi-kaj-1",
                        "address_block": "10.72.248.0/21",
                        "services": [{"card": "capacity.quota", "size": "S"}],
                    }
                }
            }
        )
    )
    p.stack("policytest")
    try:
        up = p.pulumi("up", "--stack", "policytest", "--yes", "--policy-pack", str(PACK), lock=True)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]
        assert "kuntapilvi@v0.0.1" in up.stdout
    finally:
        down = p.pulumi("destroy", "--stack", "policytest", "--yes", lock=True)
        assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]


def test_a_new_tenants_first_preview_leaves_nothing_behind(shipped: Project) -> None:
    """A new tenant's pull request previews a stack the backend does not have yet: the script the
    workflow runs makes it, previews it with the pack, removes it and leaves the tenant's file as
    written. An existing stack is previewed and kept."""
    stack_file = shipped.root / "stacks/Pulumi.uusikunta.yaml"
    stack_file.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "kuntapilvi:tenant": {
                        "owner": "kainuunliitto",
                        "region": "fi-kaj-1",
                        "address_block": "10.72.240.0/21",
                        "services": [{"card": "capacity.quota", "size": "S"}],
                    }
                }
            }
        )
    )
    written = stack_file.read_bytes()
    shipped.stack("kajaani")
    done = subprocess.run(
        [str(REPO / "scripts/preview-stacks"), "uusikunta", "kajaani"],
        cwd=shipped.root, env=shipped.env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "uusikunta: not in the backend yet" in done.stdout
    assert done.stdout.count("kuntapilvi@v0.0.1") == 2  # the pack ran for both
    assert "to create" in done.stdout
    listed = json.loads(shipped.pulumi("stack", "ls", "--json").stdout)
    names = {s["name"] for s in listed}
    assert "uusikunta" not in names and "kajaani" in names
    assert stack_file.read_bytes() == written


def test_a_server_with_a_flavor_the_centre_does_not_publish_is_stopped_before_it_exists(
    devcloud: dict[str, Any],
    admin_conn: Any,
    tmp_path: Path,
    private_project: Callable[[Path, str], dict[str, str]],
) -> None:
    """The README's promise: a server's flavor and image must be what the centre publishes, and
    the pack stops one that is not before Nova is asked for it. The rule is resource-level (the
    engine hands a stack-level policy no stack references, so the pack reads the centre's outputs
    itself), so `up` runs it before each create as preview does. Here the centre holds only
    outputs (no real networks), so only the preview can be taken end to end."""
    p = make_project(tmp_path / "project", private_project)
    main = p.root / "__main__.py"
    main.write_text(
        "import dataclasses\n"
        "import kuntapilvi_modules.capacity as capacity\n"
        "_build = capacity.build_server\n"
        "capacity.build_server = lambda prefix, inputs, *rest, **kw: _build(\n"
        "    prefix, dataclasses.replace(inputs, flavor_id='handmade-flavor'), *rest, **kw\n"
        ")\n" + main.read_text()
    )
    (p.root / "stacks/Pulumi.flavortest.yaml").write_text(
        yaml.safe_dump(
            {
                "config": {
                    "kuntapilvi:tenant": {
                        "owner": "kajaani",
                        "region": "fi-kaj-1",
                        "address_block": "10.72.224.0/21",
                        "services": [
                            {"card": "capacity.quota", "size": "S"},
                            {"card": "network.tenant-network"},
                            {"card": "network.baseline-firewall"},
                            {"card": "office.time"},
                        ],
                    }
                }
            }
        )
    )
    preview = p.preview("flavortest")
    assert preview.returncode != 0
    assert "[mandatory]  catalogue-flavors-and-images" in preview.stdout, preview.stdout[-3000:]
    assert "flavor id handmade-flavor" in preview.stdout
