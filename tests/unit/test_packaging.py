"""The installed import names: no generic `modules` in site-packages, no package forgotten."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import kuntapilvi_modules

REPO = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_design_cards_modules_folder_installs_under_a_name_of_its_own() -> None:
    top_level = importlib.metadata.distribution("kuntapilvi").read_text("top_level.txt") or ""
    assert "modules" not in top_level.split()
    assert "kuntapilvi_modules" in top_level.split()
    assert SETUPTOOLS["package-dir"]["kuntapilvi_modules"] == "modules"
    assert Path(kuntapilvi_modules.__file__).parent == REPO / "modules"


def test_every_package_folder_is_listed_for_setuptools() -> None:
    folders = {
        ".".join(init.parent.relative_to(REPO / "src").parts)
        for init in (REPO / "src" / "kuntapilvi").rglob("__init__.py")
        if "templates" not in init.parts
    }
    folders |= {
        ".".join(("kuntapilvi_modules", *init.parent.relative_to(REPO / "modules").parts))
        for init in (REPO / "modules").rglob("__init__.py")
    }
    assert folders == set(SETUPTOOLS["packages"])
