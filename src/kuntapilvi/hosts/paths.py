"""Where the host machinery keeps its cache (shared, survives worktrees) and its state (per
project)."""

from __future__ import annotations

from pathlib import Path

from kuntapilvi.project import cache_root, checkout_root
from kuntapilvi.settings import Settings


def cache_dir() -> Path:
    """Template roots and downloaded packages: expensive to make, so kept outside any work tree."""
    return cache_root() / "hosts"


def project_root() -> Path:
    return checkout_root()


def default_state_dir() -> Path:
    """Runtime state (PIDs, overlays, seeds, logs); git-ignored because it only means something
    here.

    Hosts stand behind one devcloud's servers, so by default they live in that devcloud's state
    folder: every checkout that points at the same devcloud (KUNTAPILVI_DEVCLOUD_STATE) sees, and
    `devcloud down` stops, the same hosts.
    """
    # Settings knows where devcloud's state is, so hosts need not import devcloud (which
    # imports hosts: the tools layer points one way too).
    return Settings.from_env().hosts_state_dir(project_root())
