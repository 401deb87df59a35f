"""Layers point one way (docs/architecture.md), and settings are read only at the edges."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = [sys.executable, "-m", "importlinter.cli"]


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_every_import_points_down() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


# Each of these once pointed up (issue 15); added back on purpose, each must break a contract.
UPWARD = {
    "kuntapilvi/rules/catalogue_rules.py": "import kuntapilvi.policies.firewall",
    "kuntapilvi/policies/resources.py": "import kuntapilvi_modules.centre",
    "kuntapilvi_modules/network.py": "import kuntapilvi.rules.stack_rules",
    "kuntapilvi/hosts/paths.py": "import kuntapilvi.devcloud.paths",
    "kuntapilvi/cloud.py": "import kuntapilvi.devcloud",
}


def test_an_upward_import_added_on_purpose_breaks_the_contracts(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    shutil.copytree(REPO / "src" / "kuntapilvi", packages / "kuntapilvi")
    shutil.copytree(REPO / "modules", packages / "kuntapilvi_modules")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    for relative, line in UPWARD.items():
        path = packages / relative
        path.write_text(f"{line}  # noqa\n{path.read_text()}")
    done = lint_imports(tmp_path, packages)
    assert done.returncode != 0, done.stdout
    assert "0 broken" not in done.stdout
    for contract in (
        "Layers point down",
        "The production program knows no development tool",
        "Modules build the validated model",
    ):
        assert f"{contract}" in done.stdout and "BROKEN" in done.stdout, done.stdout
    for relative in UPWARD:
        module = relative.removesuffix(".py").replace("/", ".")
        assert module in done.stdout, (module, done.stdout)


# The edges, which build Settings; everything else gets it passed down.
EDGES = {"src/kuntapilvi/settings.py", "__main__.py", "policy/__main__.py"}
EDGE_FOLDERS = ("src/kuntapilvi/cli/",)
# Tools that still find their own state folders from the environment (docs/environment.md,
# "Baseline"). Only ever shrinks: the test also fails when a listed file stops reading it.
BASELINE = {
    "src/kuntapilvi/project.py",  # cache_root(): KUNTAPILVI_CACHE for hosts' shared cache
    "src/kuntapilvi/devcloud/install.py",  # passes the environment on to apt-get
    "src/kuntapilvi/devcloud/watcherprocess.py",  # KUNTAPILVI_DEVCLOUD_HOSTS, child env
    "src/kuntapilvi/hosts/system.py",  # passes the environment on to subprocesses
    "src/kuntapilvi/hosts/manager.py",  # KUNTAPILVI_HOSTS_ALLOWED_NET
    "src/kuntapilvi/hosts/aptproxy.py",  # KUNTAPILVI_APT_PROXY_PORT, _HOSTS_UPLINK_NETNS
    "src/kuntapilvi/i18n.py",  # LANGUAGE/LC_ALL/LC_MESSAGES/LANG: the CLI's language
    # Tools that run the pulumi CLI pass their environment on to it; rollout.py also reads
    # KUNTAPILVI_TODAY/_LEDGER_URL, which belong in Settings (next step).
    "src/kuntapilvi/fleet/rollout.py",
    "src/kuntapilvi/fleet/engine.py",
    "src/kuntapilvi/fleet/migrate.py",
    "src/kuntapilvi/recovery/engine.py",
}


def reads_environment(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in ("environ", "getenv", "environb") for a in node.names)
        ):
            return True
    return False


def python_files() -> list[str]:
    found = [*(REPO / "src").rglob("*.py"), *(REPO / "modules").rglob("*.py")]
    found += [*(REPO / "policy").glob("*.py"), REPO / "__main__.py"]
    return sorted(str(p.relative_to(REPO)) for p in found)


def test_no_module_below_the_edges_reads_the_environment() -> None:
    readers = {f for f in python_files() if reads_environment(REPO / f)}
    below = {f for f in readers if f not in EDGES and not f.startswith(EDGE_FOLDERS)}
    assert below == BASELINE


def test_the_environment_check_sees_a_read(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import os\n\nPROXY = os.environ.get('KUNTAPILVI_APT_PROXY', '')\n")
    assert reads_environment(sneaky)
    sneaky.write_text("from os import getenv\n\nPROXY = getenv('X')\n")
    assert reads_environment(sneaky)
    sneaky.write_text("import os\n\nHERE = os.path.dirname(__file__)\n")
    assert not reads_environment(sneaky)
