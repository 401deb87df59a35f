"""Fixtures shared by every test tier."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from kuntapilvi.project import ProjectPaths

# No per-example deadline: a property test asserts what is true, never how fast (speed targets
# live in bench/), and a loaded 2-core machine must not turn a slow example into a failure.
settings.register_profile("kuntapilvi", deadline=None)
settings.load_profile("kuntapilvi")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> ProjectPaths:
    """A private copy of the project's data files, safe to break."""
    for name in ("catalog", "stacks", "templates"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    return ProjectPaths(tmp_path)


@pytest.fixture
def repo() -> ProjectPaths:
    return ProjectPaths(REPO)
