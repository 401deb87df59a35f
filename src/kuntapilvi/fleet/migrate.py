"""Moving stacks between state backends (file:// and postgres://), with their history.

Each stack's current state moves the supported way, `pulumi stack export` from the source and
`pulumi stack import` into the target (resources, outputs, and secrets still encrypted for the
stack's own secrets provider, so the same passphrase keeps working). Pulumi has no command that
moves an update history, so the history records (`.pulumi/history/...`: one summary and one
checkpoint per past update) are copied object by object when both ends are backends this module
can read, file or PostgreSQL; `pulumi stack history` then lists the same updates in the target.
Backups the engine writes beside a checkpoint (`.json.bak`, `backups/`) are not copied.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.statestore import PROJECT, Store


@dataclass(slots=True)
class Moved:
    stack: str
    resources: int
    history: int


def _pulumi(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PULUMI_BACKEND_URL": url}
    return subprocess.run(
        ["pulumi", *args, "--non-interactive"], cwd=cwd, env=env, capture_output=True, text=True
    )


def source_stacks(url: str, cwd: Path) -> list[str]:
    result = _pulumi(url, "stack", "ls", "--json", cwd=cwd)
    if result.returncode != 0:
        raise KuntapilviError(f"cannot list the stacks of the source: {result.stderr.strip()}")
    return sorted(s["name"].rsplit("/", 1)[-1] for s in json.loads(result.stdout or "[]"))


def migrate(
    source: str, target: str, cwd: Path, stacks: list[str] | None = None, history: bool = True
) -> list[Moved]:
    names = stacks or source_stacks(source, cwd)
    moved: list[Moved] = []
    with tempfile.TemporaryDirectory(prefix="kuntapilvi-migrate-") as tmp:
        for name in names:
            exported = Path(tmp) / f"{name}.json"
            result = _pulumi(source, "stack", "export", "--stack", name, "--file", str(exported),
                             cwd=cwd)  # fmt: skip
            if result.returncode != 0:
                raise KuntapilviError(f"{name}: export failed: {result.stderr.strip()}")
            if _pulumi(target, "stack", "select", name, cwd=cwd).returncode != 0:
                made = _pulumi(target, "stack", "init", name, "--no-select", cwd=cwd)
                if made.returncode != 0:
                    raise KuntapilviError(f"{name}: cannot create it in the target: "
                                          f"{made.stderr.strip()}")  # fmt: skip
            result = _pulumi(target, "stack", "import", "--stack", name, "--file", str(exported),
                             cwd=cwd)  # fmt: skip
            if result.returncode != 0:
                raise KuntapilviError(f"{name}: import failed: {result.stderr.strip()}")
            deployment = json.loads(exported.read_text()).get("deployment") or {}
            copied = _copy_history(source, target, name) if history else 0
            moved.append(Moved(name, len(deployment.get("resources") or []), copied))
    return moved


def _copy_history(source: str, target: str, stack: str) -> int:
    src, dst = Store(source), Store(target)
    # pkg/backend/diy/store.go (project-scoped stacks): .pulumi/history/<project>/<stack>/
    prefix = f".pulumi/history/{PROJECT}/{stack}/"
    count = 0
    for key in src.keys(prefix):
        # Backups, and the file store's metadata sidecars (go-cloud's fileblob), stay behind.
        if key.endswith((".bak", ".attrs")):
            continue
        dst.write(key, src.read(key))
        count += 1
    return count
