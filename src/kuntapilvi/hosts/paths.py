"""Where the host machinery keeps its cache (shared, survives worktrees) and its state (per
project)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Template roots and downloaded packages: expensive to make, so kept outside any work tree."""
    base = os.environ.get("KUNTAPILVI_CACHE") or str(Path.home() / ".cache" / "kuntapilvi")
    return Path(base) / "hosts"


def project_root() -> Path:
    """The checkout this package runs from (editable install), else the current directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "kuntapilvi").is_dir():
            return parent
    return Path.cwd()


def default_state_dir() -> Path:
    """Runtime state (PIDs, overlays, seeds, logs); git-ignored because it only means something
    here."""
    override = os.environ.get("KUNTAPILVI_HOSTS_STATE")
    if override:
        return Path(override)
    return project_root() / ".state" / "hosts"
