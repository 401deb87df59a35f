"""The README's main job exactly as a newcomer runs it, in a copy of the project.

`scripts/demo`, `scripts/demo` again, `kuntapilvi devcloud reset --yes`, `scripts/demo` once more:
each prints the tenant's outputs and its cost, and the copy's `git status` stays clean. The copy
runs in a network namespace of its own (scripts/isolated), so its devcloud is a fresh one beside
the tiers' own, exactly as on a fresh machine.

What is prepared instead of downloaded: the copy's .venv (no network in the namespace) is a venv
of its own whose third-party packages come from this checkout's .venv, with the copy itself
installed editable; the engine comes from the shared cache as it would for any second checkout.
Real hosts behind the servers are turned off (KUNTAPILVI_DEVCLOUD_HOSTS=off): the hosts tier and
CI's own run of `scripts/demo` cover them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def make_copy(root: Path) -> Path:
    """A git checkout of this working tree (uncommitted changes included) with a ready .venv."""
    copy = root / "kuntapilvi"
    copy.mkdir()
    files = _git(REPO, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if not src.is_file():
            continue  # deleted in the working tree
        dst = copy / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        dst.chmod(src.stat().st_mode)
    _git(copy, "init", "-q")
    _git(copy, "add", "-A")
    _git(copy, "-c", "user.name=journey", "-c", "user.email=journey@example.invalid",
         "commit", "-q", "-m", "copy")  # fmt: skip
    venv = copy / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    # Third-party packages of this checkout's venv (a plain path entry: its own .pth files,
    # among them this checkout's editable finder, are not processed, so `kuntapilvi` comes
    # from the copy's own editable install below).
    (site / "_journey_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # The venv's own bundled setuptools is older than the build needs; the locked one from this
    # checkout's venv (reached through the .pth above) builds the copy's editable install.
    for bundled in site.glob("setuptools*"):
        shutil.rmtree(bundled)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--no-deps",
         "--no-build-isolation", "-e", str(copy)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    # What scripts/bootstrap records after installing requirements.lock; it then has nothing
    # to do (and nothing it could download here).
    digest = subprocess.run(
        ["bash", "-c", "cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1"],
        cwd=copy, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (venv / ".kuntapilvi-installed").write_text(digest + "\n")
    return copy


def test_the_readme_main_job_on_a_fresh_copy_again_and_after_a_reset(tmp_path: Path) -> None:
    # A short folder: MariaDB refuses a socket path over 107 bytes, and pytest's tmp_path plus
    # the copy's .state/isolated/journey/devcloud/run/mysqld.sock is longer than that.
    short = Path(tempfile.mkdtemp(prefix="kpj-", dir="/tmp"))
    copy = make_copy(short)
    env = {
        k: v
        for k, v in os.environ.items()
        # The copy's own scripts set these, as on a newcomer's machine.
        if not k.startswith(("PULUMI_", "KUNTAPILVI_", "OS_", "VIRTUAL_ENV"))
    }
    env.update(
        {
            "KUNTAPILVI_DEVCLOUD_HOSTS": "off",
            "KUNTAPILVI_CACHE": os.environ.get("KUNTAPILVI_CACHE", str(Path.home() / ".cache"
                                                                        / "kuntapilvi")),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
    )
    steps = [
        ("demo 1", "scripts/demo"),
        ("demo 2", "scripts/demo"),
        ("devcloud reset", ".venv/bin/kuntapilvi devcloud reset --yes && scripts/demo"),
    ]
    timings: dict[str, float] = {}
    # One namespace for the whole journey, as one newcomer's shell on one machine.
    script = "set -euo pipefail\n" + "\n".join(
        f"echo '#### {name}'; start=$(date +%s%N); {cmd}; "
        f"echo \"#### {name} took $(( ($(date +%s%N) - start) / 1000000 )) ms\""
        for name, cmd in steps
    )
    started = time.monotonic()
    done = subprocess.run(
        ["scripts/isolated", "journey", "bash", "-c", script],
        cwd=copy, env=env, capture_output=True, text=True, timeout=2400,
    )  # fmt: skip
    output = done.stdout + done.stderr
    (tmp_path / "journey.log").write_text(output)
    assert done.returncode == 0, output[-6000:]
    for name, _ in steps:
        line = next(ln for ln in output.splitlines() if ln.startswith(f"#### {name} took"))
        timings[name] = int(line.split()[-2]) / 1000
    parts = output.split("#### ")
    demos = [p for p in parts if p.startswith(("demo 1\n", "demo 2\n", "devcloud reset\n"))]
    assert len(demos) == 3
    for part in demos:
        # Every run ends with the tenant's outputs and its monthly and yearly cost.
        assert "==> Outputs of kajaani" in part, part[-3000:]
        assert "==> Monthly and yearly cost of kajaani" in part, part[-3000:]
        assert "€" in part.split("==> Monthly and yearly cost of kajaani", 1)[1]
    # After the reset the demo noticed that its state described the old devcloud.
    assert "starting the stack afresh" in demos[2], demos[2][-4000:]
    assert "starting the stack afresh" not in demos[1]
    assert _git(copy, "status", "--porcelain") == ""
    shutil.rmtree(short, ignore_errors=True)
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "readme-journey.json").write_text(
        json.dumps({"seconds": timings, "total": time.monotonic() - started}, indent=2) + "\n"
    )
