"""The CLI's edge: the settings are read from the environment here, when a command starts,
and everything below gets them (or what is derived from them) as arguments.

Not cached: typer's test runner invokes many commands in one process, each with its own
environment."""

from __future__ import annotations

from pathlib import Path

from kuntapilvi import project
from kuntapilvi.settings import Settings


def settings() -> Settings:
    return Settings.from_env()


def find_root() -> project.ProjectPaths:
    """The project the command works on: KUNTAPILVI_ROOT, or upwards from the working folder."""
    return project.find_root(Path.cwd(), settings().root)
