"""The Pulumi CLI as recovery uses it: export and import a stack's state, and refresh it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuntapilvi.errors import KuntapilviError


class EngineError(KuntapilviError):
    """The engine failed or could not be run (exit code 3 of `recover` and `orphans`)."""


@dataclass
class Engine:
    cwd: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    timeout: float = 1800

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        pulumi = shutil.which("pulumi", path=self.env.get("PATH"))
        if pulumi is None:
            # An environment problem, not an engine failure: exit code 2.
            raise KuntapilviError("the pulumi CLI is not on PATH: source scripts/env.sh first")
        try:
            done = subprocess.run(
                [pulumi, *args, "--non-interactive"],
                cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=self.timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise EngineError(f"'pulumi {' '.join(args)}' took over {self.timeout:.0f} s") from None
        if check and done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip())[-2000:]
            raise EngineError(f"'pulumi {' '.join(args)}' failed (exit {done.returncode}):\n{tail}")
        return done

    @property
    def backend_url(self) -> str:
        return self.env.get("PULUMI_BACKEND_URL", "")

    def stacks(self) -> list[str]:
        done = self._run("stack", "ls", "--json")
        return [s["name"].rsplit("/", 1)[-1] for s in json.loads(done.stdout or "[]")]

    def export(self, stack: str) -> dict[str, Any]:
        done = self._run("stack", "export", "--stack", stack)
        try:
            return json.loads(done.stdout)
        except ValueError as exc:
            raise EngineError(
                f"'pulumi stack export --stack {stack}' printed no JSON: {exc}"
            ) from None

    def import_(self, stack: str, export: dict[str, Any]) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(export, f)
        try:
            self._run("stack", "import", "--stack", stack, "--file", f.name)
        finally:
            Path(f.name).unlink(missing_ok=True)

    def refresh(self, stack: str) -> str:
        done = self._run("refresh", "--stack", stack, "--yes", "--skip-preview")
        return done.stdout

    def cancel(self, stack: str) -> None:
        self._run("cancel", "--stack", stack, "--yes")
