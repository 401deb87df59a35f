"""Fixtures shared by every test tier."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kuntapilvi.project import ProjectPaths

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
